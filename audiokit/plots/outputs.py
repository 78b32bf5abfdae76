"""Where pictures (and spectrogram matrices) go: the ``-o`` / ``--data`` conventions.

- One input and ``-o x.png``: that file.
- ``-o DIR`` (anything not ending in the file extension, an existing directory,
  or a name ending in ``/``): ``DIR/<input tree>/{stem}.{kind}.png``, mirroring
  the input tree (:func:`audiokit.inputs.output_path`).
- One input and no ``-o``: ``{stem}.{kind}.png`` in the current directory.
- Several inputs and no ``-o``: refused (a directory must be named).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from audiokit.errors import UsageError
from audiokit.inputs import Input, check_collisions, output_path


@dataclass(frozen=True)
class OutputSpec:
    """How to name the output of each input (picklable, sent to the workers).

    Attributes
    ----------
    file : str or None
        The single output file (one input).
    directory : str or None
        The output directory (mirrors the input tree).
    pattern : str
        File name under ``directory``, with ``{stem}``.
    """

    file: str | None
    directory: str | None
    pattern: str

    def path_for(self, inp: Input) -> Path:
        """Output path of ``inp``."""
        if self.file is not None:
            return Path(self.file)
        return output_path(inp, self.directory or ".", self.pattern)


def _is_dir_name(path: str, suffixes: Sequence[str]) -> bool:
    return (
        path.endswith(("/", os.sep))
        or Path(path).is_dir()
        or Path(path).suffix.lower() not in suffixes
    )


def plan(
    output: str | None,
    inputs: Sequence[Input],
    pattern: str,
    suffixes: Sequence[str] = (".png",),
    option: str = "-o",
) -> OutputSpec:
    """Decide where each input's output goes.

    Parameters
    ----------
    output
        The ``-o`` value (None: not given).
    inputs
        All inputs of the run.
    pattern
        Name under a directory, e.g. ``"{stem}.waveform.png"``.
    suffixes
        Extensions that make ``output`` a file name rather than a directory.
    option
        The option's name, for messages.

    Raises
    ------
    UsageError
        A file name for several inputs, no ``-o`` for several inputs, or a
        plan where two inputs would write one file or an output would replace an input.
    """
    if (
        output is not None
        and _is_dir_name(output, suffixes)
        and not output.endswith(("/", os.sep))
        and not Path(output).is_dir()
        and Path(output).suffix
    ):
        raise UsageError(
            f"{option} {output}: name a {' or '.join(suffixes)} file, or a directory "
            "(end it with '/')"
        )
    if output is None:
        if len(inputs) > 1:
            raise UsageError(f"{len(inputs)} inputs: name an output directory with {option} DIR")
        spec = OutputSpec(None, ".", pattern)
    elif _is_dir_name(output, suffixes):
        spec = OutputSpec(None, output.rstrip("/") or "/", pattern)
    elif len(inputs) > 1:
        raise UsageError(
            f"{option} {output} names one file but there are {len(inputs)} inputs: give a directory"
        )
    else:
        spec = OutputSpec(output, None, pattern)
    check_collisions((inp, spec.path_for(inp)) for inp in inputs)
    return spec
