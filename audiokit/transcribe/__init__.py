"""Speech to text, offline: model resolution (:mod:`.models`), the faster-whisper adapter
(:mod:`.engine`), files whole or span by span (:mod:`.files`) and output formats (:mod:`.formats`).

Importing this package is cheap: faster_whisper, ctranslate2 and pyarrow are
imported inside the functions that need them.
"""

from audiokit.transcribe.assembly import cache_dir, ensure_base_model
from audiokit.transcribe.engine import (
    Segment,
    TranscribeOptions,
    Transcript,
    Word,
    load_model,
    transcribe_array,
)
from audiokit.transcribe.files import transcribe_file
from audiokit.transcribe.models import (
    DEFAULT_MODEL,
    ModelEntry,
    ResolvedModel,
    list_models,
    resolve_model,
)

__all__ = [
    "DEFAULT_MODEL",
    "ModelEntry",
    "ResolvedModel",
    "Segment",
    "TranscribeOptions",
    "Transcript",
    "Word",
    "cache_dir",
    "ensure_base_model",
    "list_models",
    "load_model",
    "resolve_model",
    "transcribe_array",
    "transcribe_file",
]
