"""The per-file output planner: one rule for where every input's files go.

``plot``, ``spectrogram`` (and its ``--data``), ``preprocess`` and ``transcribe``
write files per input. :func:`plan_files` reads ``-o`` once for all of them:

- ``-o -``: standard output; one input and one output only;
- ``-o NAME.<ext>`` with an extension the command writes: that file (one input);
- ``-o DIR`` (no extension, an existing directory, or a name ending in ``/``):
  ``DIR/<input tree>/<name>``, the input tree mirrored (see :mod:`audiokit.inputs`
  for how several roots are mirrored below their common parent);
- no ``-o`` and one input: ``<name>`` in the current directory.

Names come from a template (``--name``) with the fields ``{stem}`` (the input's
name without its extension), ``{input_ext}`` (the input's extension), ``{name}``
(both), ``{ext}`` (the output's extension), ``{kind}`` (plot kind) and
``{index}`` (segments). Inputs that would share an output name keep their
source extension: ``{stem}`` becomes ``{name}`` for them (``a.wav.spectrogram.png``
and ``a.flac.spectrogram.png``). A template never writes outside ``-o``.

:meth:`FilePlan.decide` then sorts the inputs, before any work, into those to
run, those skipped (``--skip-existing``, or up to date with ``--update``) and
those that fail (an existing output without a flag, an output that is an input,
two inputs left on one name), each failure with its one-line reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from string import Formatter
from typing import Any

from audiokit.errors import UsageError
from audiokit.inputs import STDIN, Input
from audiokit.output import files
from audiokit.output.policy import EXISTS_HINT, Existing, OutputOptions

FIELDS = ("stem", "name", "input_ext", "ext", "kind", "index")
SAMPLE = {"stem": "x", "name": "x.wav", "input_ext": "wav", "ext": "png", "kind": "k", "index": 0}


@dataclass(frozen=True)
class FilePlan:
    """Where each input's outputs go; picklable, so the workers name files the same way.

    Attributes
    ----------
    mode : str
        ``file`` (``root`` is the output), ``dir`` (under ``root``) or ``stdout``
        (``root`` is a scratch directory whose file the command copies to stdout).
    root : str
    template : str
        File name under ``root``, with the fields of :data:`FIELDS`.
    fields : tuple of (str, str)
        Fields fixed for the whole run (``kind``, ``ext``).
    long_names : frozenset of str
        Paths of the inputs whose names keep their source extension (collisions).
    replace : bool
        Finished outputs may replace existing files (``--overwrite``, ``--update``).
    """

    mode: str
    root: str
    template: str
    fields: tuple[tuple[str, str], ...] = ()
    long_names: frozenset[str] = frozenset()
    replace: bool = False

    def name_for(self, inp: Input, **fields: Any) -> str:
        rel = PurePath(inp.rel)
        values: dict[str, Any] = {**SAMPLE, **dict(self.fields)}
        values.update(
            stem=rel.name if inp.path in self.long_names else rel.stem,
            name=rel.name,
            input_ext=rel.suffix.lstrip("."),
        )
        values.update({k: v for k, v in fields.items() if v is not None})
        return self.template.format(**values)

    def path_for(self, inp: Input, **fields: Any) -> Path:
        """The output of ``inp`` (``index=`` for a segment, ``ext=`` when it varies)."""
        if self.mode == "file":
            target = Path(self.root)
            if fields.get("index") is None:
                return target
            return target.with_name(f"{target.stem}_{fields['index']:03d}{target.suffix}")
        name = self.name_for(inp, **fields)
        if self.mode == "stdout":
            return Path(self.root, Path(name).name)
        rel = PurePath(inp.rel)
        parts = [p for p in rel.parent.parts if p not in ("..", ".", "/")]
        return Path(self.root, *parts, name)

    def escapes(self, inp: Input, **fields: Any) -> bool:
        """Whether the template would put this input's output outside ``root``."""
        if self.mode != "dir":
            return False
        name = PurePath(self.name_for(inp, **fields))
        return name.is_absolute() or ".." in name.parts or not name.parts


@dataclass
class Decisions:
    """Which inputs to run, which to skip, and which fail before any work (with why)."""

    todo: list[Input] = field(default_factory=list)
    skipped: list[Input] = field(default_factory=list)
    failures: list[tuple[Input, str]] = field(default_factory=list)


def template_fields(template: str) -> set[str]:
    """The field names a template uses."""
    try:
        return {f for _, f, _, _ in Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise UsageError(f"bad --name template {template!r}: {exc}") from None


def check_template(template: str, suffixes: Sequence[str] = (), needs: Sequence[str] = ()) -> None:
    """Refuse a template that cannot be formatted, leaves ``-o``, or names no allowed file.

    Raises
    ------
    UsageError
    """
    used = template_fields(template)
    unknown = {f.split(".")[0].split("[")[0] for f in used} - set(FIELDS)
    if unknown or "" in used:
        known = ", ".join("{" + f + "}" for f in FIELDS)
        raise UsageError(
            f"--name {template!r}: unknown field {sorted(unknown) or ['{}']} (use {known})"
        )
    for need in needs:
        if not any(f.split(":")[0] == need for f in used):
            raise UsageError(f"--name {template!r} needs {{{need}}} here")
    try:
        sample = template.format(**SAMPLE)
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise UsageError(f"bad --name template {template!r}: {exc}") from None
    p = PurePath(sample)
    if not sample or p.is_absolute() or ".." in p.parts or sample.endswith(("/", os.sep)):
        raise UsageError(f"--name {template!r} must name a file inside the output directory")
    if suffixes and "ext" not in used and p.suffix.lower() not in suffixes:
        raise UsageError(f"--name {template!r} must end in {' or '.join(suffixes)} (or {{ext}})")


def output_mode(output: str | None, suffixes: Sequence[str], option: str = "-o") -> str:
    """``stdout``, ``file``, ``dir`` or ``here`` (no ``-o``) for an ``-o`` value.

    Raises
    ------
    UsageError
        A name with an extension this command does not write (``-o a.mp3``).
    """
    if output is None:
        return "here"
    if output == STDIN:
        return "stdout"
    if not output:
        raise UsageError(f"{option} '': name a file or a directory")
    if output.endswith(("/", os.sep)) or Path(output).is_dir():
        return "dir"
    suffix = Path(output).suffix.lower()
    if suffix in suffixes:
        return "file"
    if suffix:
        raise UsageError(
            f"{option} {output}: this command writes {' or '.join(suffixes)} files; "
            "name one, or a directory (end it with '/')"
        )
    return "dir"


def plan_files(
    output: str | None,
    inputs: Sequence[Input],
    *,
    template: str,
    suffixes: Sequence[str],
    options: OutputOptions,
    fields: Mapping[str, str] | None = None,
    name: str | None = None,
    option: str = "-o",
    ext_for: Callable[[Input], str] | None = None,
    scratch: Callable[[], str] | None = None,
    needs: Sequence[str] = (),
) -> FilePlan:
    """Decide where each input's output goes (see the module notes).

    Parameters
    ----------
    output
        The ``-o`` value (None: not given).
    inputs
        All inputs of the run.
    template
        The default name under a directory, e.g. ``"{stem}.{kind}.{ext}"``.
    suffixes
        Extensions (with the dot) that make ``output`` a file name.
    options
        The run's output options.
    fields
        Fields fixed for the run (``kind``, ``ext``).
    name
        ``--name``: a template replacing ``template``.
    ext_for
        The output extension of one input, when it varies (preprocess).
    scratch
        Makes the scratch directory for ``-o -`` (None: standard output not allowed).
    needs
        Fields the template must use (``index`` for segments).

    Raises
    ------
    UsageError
        A file name for several inputs, ``-o -`` for several, no ``-o`` for several,
        or a bad template.
    """
    mode = output_mode(output, suffixes, option)
    n = len(inputs)
    if name is not None:
        check_template(name, suffixes, needs)
        if mode == "file":
            raise UsageError(f"--name needs {option} DIR (a directory), not a file name")
    chosen = name or template
    fixed = tuple(sorted((fields or {}).items()))
    if mode == "stdout":
        if scratch is None:
            raise UsageError(f"{option} -: this output cannot go to standard output")
        if n > 1:
            raise UsageError(
                f"{option} - writes one output, but there are {n} inputs: give a directory"
            )
        return FilePlan("stdout", scratch(), chosen, fixed, replace=True)
    if mode == "here":
        if n > 1:
            raise UsageError(f"{n} inputs: name an output directory with {option} DIR")
        mode, root = "dir", "."
    elif mode == "file":
        if n > 1:
            raise UsageError(
                f"{option} {output} names one file but there are {n} inputs: give a directory"
            )
        root = str(output)
    else:
        assert output is not None
        root = output.rstrip("/" + os.sep) or os.sep
    plan = FilePlan(mode, root, chosen, fixed, replace=options.replace)
    if mode == "dir":
        plan = _resolve_collisions(plan, inputs, ext_for)
    return plan


def _key(path: Path) -> str:
    return os.path.normcase(os.path.abspath(path))


def _resolve_collisions(
    plan: FilePlan, inputs: Sequence[Input], ext_for: Callable[[Input], str] | None
) -> FilePlan:
    def first(inp: Input) -> str:
        ext = ext_for(inp) if ext_for else None
        return _key(plan.path_for(inp, ext=ext, index=0))

    groups: dict[str, list[Input]] = {}
    for inp in inputs:
        groups.setdefault(first(inp), []).append(inp)
    long = frozenset(i.path for g in groups.values() if len(g) > 1 for i in g)
    return replace(plan, long_names=long) if long else plan


def decide(
    plan: FilePlan,
    inputs: Sequence[Input],
    options: OutputOptions,
    targets: Callable[[Input], Sequence[Path]],
    sweep: bool = True,
) -> Decisions:
    """Sort the inputs into run / skip / fail, before any work.

    Parameters
    ----------
    plan
        From :func:`plan_files`.
    inputs
        All inputs.
    options
        ``--overwrite`` / ``--skip-existing`` / ``--update``.
    targets
        The outputs of an input, the one that shows it done first (its image, then its
        data file; its first segment, which a set commits last). ``--skip-existing``
        skips an input whose first output exists.
    sweep
        Remove dead runs' temporaries and finish their interrupted sets in the
        directories written to (:func:`audiokit.output.files.sweep`).
    """
    out = Decisions()
    protected = {os.path.realpath(i.path) for i in inputs if i.display != STDIN}
    owner: dict[str, Input] = {}
    swept: set[str] = set()
    for inp in inputs:
        paths = list(targets(inp))
        if plan.mode == "dir" and plan.escapes(inp, ext=None, index=0):
            out.failures.append((inp, f"--name {plan.template!r} would write outside {plan.root}"))
            continue
        clash = next((p for p in paths if os.path.realpath(p) in protected), None)
        if clash is not None:
            own = os.path.realpath(clash) == os.path.realpath(inp.path)
            where = "" if own else f"{clash}: "
            out.failures.append((inp, f"{where}would overwrite an input (refused)"))
            continue
        taken = next((owner[_key(p)] for p in paths if _key(p) in owner), None)
        if taken is not None:
            out.failures.append((inp, f"{paths[0]}: also the output of {taken.display}"))
            continue
        for p in paths:
            owner[_key(p)] = inp
        if sweep and plan.mode != "stdout":
            for d in {str(p.parent) for p in paths}:
                if d not in swept:
                    swept.add(d)
                    files.sweep(d)
        if plan.mode == "stdout":
            out.todo.append(inp)
            continue
        existing = [p for p in paths if os.path.lexists(p)]
        policy = options.existing
        if not existing or policy is Existing.OVERWRITE:
            out.todo.append(inp)
        elif policy is Existing.SKIP:
            # The first output marks the input done (sets commit it last).
            out.skipped.append(inp) if os.path.lexists(paths[0]) else out.todo.append(inp)
        elif policy is Existing.UPDATE:
            out.skipped.append(inp) if _up_to_date(inp, paths) else out.todo.append(inp)
        else:
            out.failures.append((inp, f"{existing[0]}: {EXISTS_HINT}"))
    return out


def _up_to_date(inp: Input, paths: Sequence[Path]) -> bool:
    """make's rule: every output exists and none is older than the input."""
    try:
        source = os.stat(inp.path).st_mtime_ns
        return all(os.stat(p).st_mtime_ns >= source for p in paths)
    except OSError:
        return False
