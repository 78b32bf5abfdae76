"""Encoding and writing outputs: format, subtype, dither, names, atomic multi-file writes, report.

Integer outputs are quantised here, not by libsndfile: ``round(x * 2^(bits-1))``
clipped to the integer range (the convention soundfile reads back as
``code / 2^(bits-1)``), so samples that were not changed come back bit-exact.
TPDF dither (the difference of two uniform variables, +-1 LSB peak) is added
before rounding when the data holds more resolution than the output: after
any step that changes sample values, or when the input is float, lossy or
deeper than the output. ``--no-dither`` turns it off. The dither generator is
seeded per output file, so runs are reproducible.

Every file goes through :func:`audiokit.writers.atomic_path`; a file cut into
segments is written as temporary files that are all renamed at the end, so a
failure leaves none of them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiokit.errors import OutputError, UsageError
from audiokit.writers import refuse_existing

if TYPE_CHECKING:
    import numpy as np

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
        Name template with ``{stem}``, ``{index}``, ``{ext}``.
    overwrite : bool
        Replace existing outputs.
    dry_run : bool
        Write nothing.
    protected : frozenset of str
        Real paths of every input of the batch: never written.
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

    With ``-o FILE`` segments are named ``FILE-stem_000.ext``; under a
    directory the input tree is mirrored (:func:`audiokit.inputs.output_path`).
    """
    from audiokit.inputs import output_path

    if spec.out is None:
        raise UsageError("give -o OUT (or --dry-run)")
    if spec.single and spec.name is None:
        target = Path(spec.out)
        if count is None:
            return [target]
        stem, folder = target.stem, target.parent
        template = DEFAULT_SEGMENT_NAME
    else:
        folder = output_path(inp, spec.out, "_").parent
        stem = inp.stem
        template = spec.name or (DEFAULT_NAME if count is None else DEFAULT_SEGMENT_NAME)
    if count is None:
        return [folder / template.format(stem=stem, index=0, ext=ext)]
    if "{index" not in template:
        raise UsageError(f"--name {template!r} needs {{index}} when --segment is used")
    return [folder / template.format(stem=stem, index=i, ext=ext) for i in range(count)]


def quantize(block: np.ndarray, enc: Encoding, rng: Any) -> tuple[np.ndarray, int]:
    """Turn ``(channels, n)`` floats into the ``(frames, channels)`` array to write, and clip count.

    Integer subtypes become int16 (PCM_16) or int32 holding 24-bit codes in
    the top bits (PCM_24), with TPDF dither when ``enc.dither``.
    """
    import numpy as np

    x = block.T
    bits = enc.bits
    if bits is None:
        clipped = int(np.count_nonzero(np.abs(x) > 1.0)) if enc.ext == "ogg" else 0
        return np.ascontiguousarray(x, dtype=np.float32), clipped
    scale = float(2 ** (bits - 1))
    v = x.astype(np.float64) * scale
    if enc.dither:
        v += rng.random(v.shape) - rng.random(v.shape)
    v = np.rint(v)
    over = (v > scale - 1) | (v < -scale)
    clipped = int(np.count_nonzero(over))
    np.clip(v, -scale, scale - 1, out=v)
    if bits == 16:
        return v.astype(np.int16), clipped
    return (v.astype(np.int32) << 8), clipped


class OutputSet:
    """The outputs of one input, written to temporary files and renamed together on commit.

    Use as a context manager; :meth:`open` each target (refused if it is an
    input, or exists without ``overwrite``), :meth:`write` blocks to it. Leaving
    the block with an exception removes every temporary file.
    """

    def __init__(self, spec: OutputSpec, enc: Encoding, sr: int, channels: int) -> None:
        self.spec = spec
        self.enc = enc
        self.sr = sr
        self.channels = channels
        self.paths: list[Path] = []
        self.clipped = 0
        self.notes: list[str] = []
        self._stack = contextlib.ExitStack()
        self._files: list[Any] = []
        self._rng: Any = None

    def __enter__(self) -> OutputSet:
        self._stack.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            for fh in self._files:
                if fh is not None:
                    fh.close()
        finally:
            self._stack.__exit__(*exc)

    def check(self, target: Path) -> None:
        """Refuse a target that is an input, or exists without --overwrite (OutputError)."""
        if self.spec.out is None:  # dry run without -o: nothing is written
            return
        if os.path.realpath(target) in self.spec.protected:
            raise OutputError("would overwrite an input (refused)", str(target))
        if self.spec.dry_run:  # a dry run says so and goes on
            if not self.spec.overwrite and target.exists():
                self.notes.append(f"{target} exists: a real run fails without --overwrite")
            return
        refuse_existing(target, self.spec.overwrite)

    def open(self, target: Path) -> int:
        """Start a new output file; returns its handle index."""
        import numpy as np
        import soundfile as sf

        from audiokit import writers

        self.check(target)
        self.paths.append(target)
        self._rng = np.random.default_rng(len(self._files) + 1)
        if self.spec.dry_run:
            self._files.append(None)
            return len(self._files) - 1
        tmp = self._stack.enter_context(writers.atomic_path(target, overwrite=True))
        try:
            # Through a Python file object: libsndfile then skips the fsync() it does on
            # close for paths (1 ms+ per file); the rename in atomic_path stays atomic.
            raw = self._stack.enter_context(open(tmp, "w+b"))
            fh = sf.SoundFile(
                raw, "w", self.sr, self.channels, self.enc.subtype, format=self.enc.format
            )
        except Exception as exc:
            raise OutputError(f"cannot write: {exc}", str(target)) from None
        self._files.append(fh)
        return len(self._files) - 1

    def write(self, handle: int, block: np.ndarray) -> None:
        """Append ``(channels, n)`` float samples to output ``handle``."""
        fh = self._files[handle]
        step = 1 << 18  # quantise in slices: bounded float64/dither temporaries
        for start in range(0, block.shape[-1], step):
            data, clipped = quantize(block[:, start : start + step], self.enc, self._rng)
            self.clipped += clipped
            if fh is not None:
                fh.write(data)

    def close(self, handle: int) -> None:
        fh = self._files[handle]
        if fh is not None:
            fh.close()


@dataclass
class FileReport:
    """What preprocessing did to one input.

    Durations in seconds, peaks in dBFS, loudness in LUFS (BS.1770).
    ``outputs`` lists every file written (several with ``--segment``);
    ``gain_db`` is the total gain of ``--gain`` and ``--normalize``.
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
    lufs_out: float = float("nan")
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
