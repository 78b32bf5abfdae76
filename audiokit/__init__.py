"""audiokit: a command-line audio analysis toolkit built on librosa.

The package root stays light: heavy libraries (librosa, scipy, matplotlib,
faster-whisper) are imported inside the functions that need them, so
``audiokit --help`` and ``audiokit inspect`` start quickly.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
