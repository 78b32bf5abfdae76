"""Encoding and writing outputs: format, subtype, dither, names, atomic multi-file writes, report.

Integer outputs are quantised here, not by libsndfile: ``round(x * 2^(bits-1))``
clipped to the integer range (the convention soundfile reads back as
``code / 2^(bits-1)``), so samples that were not changed come back bit-exact.
TPDF dither (the difference of two uniform variables, +-1 LSB peak: :func:`tpdf`) is added
before rounding when the data holds more resolution than the output: after
any step that changes sample values, or when the input is float, lossy or
deeper than the output. ``--no-dither`` turns it off. The dither generator is
seeded per output file, so runs are reproducible.

Every file is written to a temporary file beside its target and committed
without replacing an existing file unless ``--overwrite``/``--update``
(:mod:`audiokit.output.files`); the segments of one input are committed as one
set, so a failure or a kill leaves none of them, or (a kill in the middle of the
commit) a set that the next run over the directory finishes.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf

from audiokit.errors import OutputError, UsageError
from audiokit.output import files
from audiokit.output.naming import FilePlan
from audiokit.output.policy import EXISTS_HINT

if TYPE_CHECKING:
    from audiokit.audio_io import AudioInfo
    from audiokit.inputs import Input

#: Output formats: extension -> (libsndfile format, subtypes allowed).
FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "wav": ("WAV", ("PCM_16", "PCM_24", "FLOAT")),
    "flac": ("FLAC", ("PCM_16", "PCM_24")),
    "ogg": ("OGG", ("VORBIS",)),
}
SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")
_BITS = {"PCM_16": 16, "PCM_24": 24}
DEFAULT_NAME = "{stem}.{ext}"
DEFAULT_SEGMENT_NAME = "{stem}_{index:03d}.{ext}"


@dataclass(frozen=True)
class OutputSpec:
    """Where and how outputs are written.

    Attributes
    ----------
    out : str or None
        ``-o``: a file (one input, ``single``) or a directory.
    single : bool
        ``out`` names the output file itself.
    format, subtype : str or None
        Requested format (``wav``, ``flac``, ``ogg``) and subtype; None: from the input.
    dither : bool
        Allow TPDF dither when reducing resolution.
    name : str or None
        Name template (see :mod:`audiokit.output.naming`), when no ``plan`` is given.
    overwrite : bool
        Replace existing outputs, when no ``plan`` is given.
    dry_run : bool
        Write nothing.
    protected : frozenset of str
        Real paths of every input of the batch: never written.
    plan : FilePlan or None
        The run's output plan (the CLI makes it); None: one made from ``out``,
        ``single``, ``name`` and ``overwrite``.
    """

    out: str | None = None
    single: bool = False
    format: str | None = None
    subtype: str | None = None
    dither: bool = True
    name: str | None = None
    overwrite: bool = False
    dry_run: bool = False
    protected: frozenset[str] = frozenset()
    plan: FilePlan | None = None

    def file_plan(self, segmented: bool) -> FilePlan:
        """Where this run's files go."""
        if self.plan is not None:
            return self.plan
        if self.out is None:
            raise UsageError("give -o OUT (or --dry-run)")
        if self.single:
            return FilePlan("file", self.out, "", replace=self.overwrite)
        template = self.name or (DEFAULT_SEGMENT_NAME if segmented else DEFAULT_NAME)
        return FilePlan("dir", self.out, template, replace=self.overwrite)

    @property
    def replace(self) -> bool:
        return self.plan.replace if self.plan is not None else self.overwrite


@dataclass(frozen=True)
class Encoding:
    """Resolved encoding of one input's outputs."""

    ext: str
    format: str
    subtype: str
    dither: bool

    @property
    def bits(self) -> int | None:
        return _BITS.get(self.subtype)


def check_spec(spec: OutputSpec) -> None:
    """Refuse impossible format/subtype/name combinations (UsageError)."""
    if spec.format is not None and spec.format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
    named = _suffix_format(spec.out) if spec.single else None
    if spec.format is not None and named is not None and named != spec.format:
        raise UsageError(f"-o {spec.out} does not match --format {spec.format}")
    if spec.subtype is not None:
        if spec.subtype not in SUBTYPES:
            raise UsageError(f"--subtype must be one of {', '.join(SUBTYPES)}")
        fmt = spec.format or (_suffix_format(spec.out) if spec.single else None)
        if fmt == "ogg":
            raise UsageError("--subtype does not apply to ogg (Vorbis is lossy)")
        if fmt == "flac" and spec.subtype == "FLOAT":
            raise UsageError("FLAC holds integer PCM only: use --subtype PCM_16 or PCM_24")
    if spec.name is not None:
        try:
            spec.name.format(stem="x", index=0, ext="wav")
        except (KeyError, IndexError, ValueError) as exc:
            raise UsageError(
                f"bad --name template {spec.name!r} (use {{stem}}, {{index}}, {{ext}}): {exc}"
            ) from None


def is_audio_name(path: str) -> bool:
    """True when ``path`` ends in .wav, .flac or .ogg (so ``-o`` names a file)."""
    return _suffix_format(path) is not None


def _suffix_format(path: str | None) -> str | None:
    if not path:
        return None
    suf = Path(path).suffix.lower().lstrip(".")
    return suf if suf in FORMATS else None


def planned_ext(spec: OutputSpec, input_path: str) -> str:
    """Output extension: --format, else -o FILE's suffix, else the input's (or wav)."""
    ext = spec.format or (_suffix_format(spec.out) if spec.single else None)
    return ext or _suffix_format(input_path) or "wav"


def resolve_encoding(spec: OutputSpec, info: AudioInfo, exact: bool) -> Encoding:
    """Pick format, subtype and whether to dither for one input.

    Parameters
    ----------
    spec
        The request.
    info
        The input's header.
    exact
        No step changes sample values (only cuts/pads): the input's own
        resolution is all there is.
    """
    ext = planned_ext(spec, info.path)
    fmt, allowed = FORMATS[ext]
    subtype = spec.subtype
    if subtype is None:
        if info.subtype in allowed:
            subtype = info.subtype
        elif ext == "ogg":
            subtype = "VORBIS"
        elif info.subtype in ("FLOAT", "DOUBLE"):
            subtype = "FLOAT" if "FLOAT" in allowed else "PCM_24"
        else:
            subtype = "PCM_24" if (info.bit_depth or 0) > 16 else "PCM_16"
    bits = _BITS.get(subtype)
    lossless_in = info.subtype.startswith("PCM") and info.bit_depth is not None
    kept = exact and lossless_in and bits is not None and (info.bit_depth or 99) <= bits
    return Encoding(ext, fmt, subtype, spec.dither and bits is not None and not kept)


def output_paths(inp: Input, spec: OutputSpec, ext: str, count: int | None) -> list[Path]:
    """Output paths of ``inp``: one file, or ``count`` numbered segments.

    With ``-o FILE`` segments are named ``FILE-stem_000.ext``; under a directory the
    plan's template names them (see :mod:`audiokit.output.naming`).
    """
    plan = spec.file_plan(segmented=count is not None)
    if count is None:
        return [plan.path_for(inp, ext=ext)]
    return [plan.path_for(inp, ext=ext, index=i) for i in range(count)]


def segment_path(inp: Input, spec: OutputSpec, ext: str, index: int) -> Path:
    """The path of segment ``index`` of ``inp``."""
    return spec.file_plan(segmented=True).path_for(inp, ext=ext, index=index)


def quantize(block: np.ndarray, enc: Encoding, rng: Any) -> tuple[np.ndarray, int]:
    """Turn ``(channels, n)`` floats into the ``(frames, channels)`` array to write, and clip count.

    Integer subtypes become int16 (PCM_16) or int32 holding 24-bit codes in
    the top bits (PCM_24), with TPDF dither when ``enc.dither``.
    """

    x = block.T
    bits = enc.bits
    if bits is None:
        clipped = int(np.count_nonzero(np.abs(x) > 1.0)) if enc.ext == "ogg" else 0
        return np.ascontiguousarray(x, dtype=np.float32), clipped
    scale = float(2 ** (bits - 1))
    # In place on one float64 array: the values of x.astype(float64) * scale + noise.
    v = np.multiply(x, scale, dtype=np.float64)
    if enc.dither:
        np.add(v, tpdf(rng, v.shape), out=v, where=x != 0)  # digital silence stays silent
    np.rint(v, out=v)
    clipped = 0
    if v.size and (v.max() > scale - 1 or v.min() < -scale):
        clipped = int(np.count_nonzero((v > scale - 1) | (v < -scale)))
        np.clip(v, -scale, scale - 1, out=v)
    if bits == 16:
        return v.astype(np.int16), clipped
    return (v.astype(np.int32) << 8), clipped


def tpdf(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """TPDF dither in LSB: ``(u1 - u2) / 2^32`` for two uniform 32-bit integers.

    Triangular on (-1, 1) (variance 1/6), both halves of one 64-bit draw per
    sample: half the generator's work of two float64 draws.

    Returns
    -------
    np.ndarray, shape ``shape``, float64
    """
    n = int(np.prod(shape))
    u = rng.bit_generator.random_raw(n).view(np.uint32).reshape(n, 2)
    noise = np.subtract(u[:, 0], u[:, 1], dtype=np.float64)
    noise *= 2.0**-32
    return noise.reshape(shape)


class OutputSet:
    """The outputs of one input, written to temporary files and committed together.

    Use as a context manager; :meth:`open` each target (refused if it is an
    input, or exists without permission to replace it), :meth:`write` blocks to
    it. Leaving the block cleanly commits every file as one set
    (:func:`audiokit.output.files.commit_set`); leaving it with an exception
    removes every temporary file.
    """

    def __init__(self, spec: OutputSpec, enc: Encoding, sr: int, channels: int) -> None:
        self.spec = spec
        self.enc = enc
        self.sr = sr
        self.channels = channels
        self.paths: list[Path] = []
        self.clipped = 0
        self.notes: list[str] = []
        self._files: list[Any] = []
        self._staged: list[tuple[Path, Path]] = []
        self._raw: list[Any] = []
        self._rng: Any = None

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        try:
            for i in range(len(self._files)):
                self.close(i)
        except BaseException:
            self._discard()
            if exc_type is None:
                raise
            return
        if exc_type is not None:
            self._discard()
            return
        try:
            files.commit_set(self._staged, replace=self.spec.replace)
        finally:
            self._staged = []

    def _discard(self) -> None:
        for tmp, _ in self._staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        self._staged = []

    def check(self, target: Path) -> None:
        """Refuse a target that is an input, or exists without --overwrite (OutputError)."""
        if self.spec.out is None:  # dry run without -o: nothing is written
            return
        if os.path.realpath(target) in self.spec.protected:
            raise OutputError("would overwrite an input (refused)", str(target))
        if self.spec.dry_run:  # a dry run says so and goes on
            if not self.spec.replace and target.exists():
                self.notes.append(f"{target} exists: a real run fails without --overwrite")
            return
        if not self.spec.replace and os.path.lexists(target):
            raise OutputError(EXISTS_HINT, str(target))

    def open(self, target: Path) -> int:
        """Start a new output file; returns its handle index."""

        self.check(target)
        self.paths.append(target)
        self._rng = np.random.default_rng(len(self._files) + 1)
        if self.spec.dry_run:
            self._files.append(None)
            self._raw.append(None)
            return len(self._files) - 1
        with files.signals_held():  # a stop signal must find it recorded
            tmp = files.temp_path(target)
            self._staged.append((tmp, target))
        try:
            # Through a Python file object: libsndfile then skips the fsync() it does on
            # close for paths (1 ms+ per file); the commit stays atomic.
            raw = _GuardedFile(tmp, "w+b")
            fh = sf.SoundFile(
                raw, "w", self.sr, self.channels, self.enc.subtype, format=self.enc.format
            )
        except OSError as exc:
            raise files.os_error(exc, target) from None
        except Exception as exc:
            raise OutputError(f"cannot write: {exc}", str(target)) from None
        self._files.append(fh)
        self._raw.append(raw)
        return len(self._files) - 1

    def write(self, handle: int, block: np.ndarray) -> None:
        """Append ``(channels, n)`` float samples to output ``handle``."""
        fh = self._files[handle]
        step = 1 << 18  # quantise in slices: bounded float64/dither temporaries
        for start in range(0, block.shape[-1], step):
            data, clipped = quantize(block[:, start : start + step], self.enc, self._rng)
            self.clipped += clipped
            if fh is not None:
                raw = self._raw[handle]
                try:
                    fh.write(data)
                    if raw is not None:
                        raw.check()
                except Exception as exc:
                    # soundfile asserts on the short write that a failed write leaves:
                    # the kept OSError says why.
                    cause = raw.error if raw is not None and raw.error is not None else exc
                    raise _write_error(cause, self.paths[handle]) from None
                if raw is not None and raw.error is not None:
                    raise _write_error(raw.error, self.paths[handle])

    def close(self, handle: int) -> None:
        """Finish output ``handle`` (its header, its last bytes); raises on a failed write."""
        fh, raw = self._files[handle], self._raw[handle]
        self._files[handle] = self._raw[handle] = None
        try:
            if fh is not None:
                fh.close()
            if raw is not None:
                raw.check()
                raw.close()
                if raw.error is not None:
                    raise raw.error
        except Exception as exc:
            with contextlib.suppress(Exception):
                if raw is not None:
                    raw.close()
            cause = raw.error if raw is not None and raw.error is not None else exc
            raise _write_error(cause, self.paths[handle]) from None


class _GuardedFile(io.FileIO):
    """A file for libsndfile's virtual I/O that keeps a failed write instead of raising.

    An exception raised inside libsndfile's callback would only be printed (cffi's
    "Exception ignored" traceback) and turned into a short write; here the error is
    kept and raised after the call, so a full disk fails the output instead of
    committing a truncated file.
    """

    error: OSError | None = None
    #: A stop signal (SystemExit, KeyboardInterrupt) that arrived during a callback,
    #: where cffi would swallow it: raised again once libsndfile returns.
    interrupt: BaseException | None = None

    def write(self, data: Any) -> int:
        if self.error is not None or self.interrupt is not None:
            return 0
        view = memoryview(data).cast("B")
        done = 0
        try:
            while done < len(view):  # a full disk first gives a short write, then ENOSPC
                n = super().write(view[done:])
                if not n:
                    raise OSError(errno.ENOSPC, "No space left on device")
                done += n
        except OSError as exc:
            self.error = exc
        except BaseException as exc:  # kept, raised again after the C call
            self.interrupt = exc
        return done

    def check(self) -> None:
        """Raise the stop signal that a callback had to keep."""
        if self.interrupt is not None:
            exc, self.interrupt = self.interrupt, None
            raise exc


def _write_error(exc: BaseException, target: Path) -> OutputError:
    """One line for a failed audio write (libsndfile says little; errno says more)."""
    if isinstance(exc, OSError):
        return files.os_error(exc, target)
    text = str(exc)
    if "No space" in text or "ENOSPC" in text:
        return files.os_error(OSError(errno.ENOSPC, "No space left on device"), target)
    return OutputError(
        f"cannot write: {text.splitlines()[0] if text else type(exc).__name__}", str(target)
    )


@dataclass
class FileReport:
    """What preprocessing did to one input.

    Durations in seconds, peaks in dBFS, loudness in LUFS (BS.1770).
    ``outputs`` lists every file written (several with ``--segment``);
    ``gain_db`` is the total gain of ``--gain`` and ``--normalize``; ``lufs_out`` is None
    when the output's loudness was not measured (``Job.measure_output``).
    """

    input: str
    outputs: list[str] = field(default_factory=list)
    duration_in: float = 0.0
    duration_out: float = 0.0
    sr_in: int = 0
    sr_out: int = 0
    channels_in: int = 0
    channels_out: int = 0
    peak_in_dbfs: float = float("nan")
    peak_out_dbfs: float = float("nan")
    lufs_in: float = float("nan")
    lufs_out: float | None = float("nan")
    gain_db: float = 0.0
    limited: bool = False
    gain_reduced: bool = False
    clipped_samples: int = 0
    format: str = ""
    subtype: str = ""
    dithered: bool = False
    streaming: bool = False
    dry_run: bool = False
    steps: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """Flat dict for tables (lists joined for CSV by the writer)."""
        d = asdict(self)
        d["n_outputs"] = len(self.outputs)
        return d


#: Parquet column types of :meth:`FileReport.row`.
ROW_TYPES: Mapping[str, str] = {
    "input": "string",
    "outputs": "list<string>",
    "duration_in": "float64",
    "duration_out": "float64",
    "sr_in": "int32",
    "sr_out": "int32",
    "channels_in": "int32",
    "channels_out": "int32",
    "peak_in_dbfs": "float64",
    "peak_out_dbfs": "float64",
    "lufs_in": "float64",
    "lufs_out": "float64",
    "gain_db": "float64",
    "limited": "bool",
    "gain_reduced": "bool",
    "clipped_samples": "int64",
    "format": "string",
    "subtype": "string",
    "dithered": "bool",
    "streaming": "bool",
    "dry_run": "bool",
    "steps": "list<string>",
    "warnings": "list<string>",
    "n_outputs": "int32",
}
