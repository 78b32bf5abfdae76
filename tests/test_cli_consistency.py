"""One option name, one meaning: every command's click parameters checked against the others.

As sqlite-utils tests its CLI against its documentation: an option that two commands
declare with different types, choices or flag-ness fails here, unless it is in
:data:`DIFFERENT_VALUES` with the reason; and every option must be documented in the
README or in its command's --help examples.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import click

from audiokit.cli import COMMANDS, cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()

#: Options whose accepted values differ by command, on purpose.
DIFFERENT_VALUES = {
    # The format of what the command writes: tables, audio files or transcripts.
    "--format": "the output's format: table formats, audio formats or transcript formats",
}


def commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(cli)
    out = []
    for name in COMMANDS:
        cmd = cli.get_command(ctx, name)
        assert cmd is not None, name
        if isinstance(cmd, click.Group):
            out += [(f"{name} {sub}", c) for sub, c in sorted(cmd.commands.items())]
        else:
            out.append((name, cmd))
    return out


def _shape(p: click.Option) -> tuple:
    t = p.type
    choices = tuple(t.choices) if isinstance(t, click.Choice) else None
    bounds = (
        (getattr(t, "min", None), getattr(t, "max", None))
        if isinstance(t, (click.IntRange, click.FloatRange))
        else None
    )
    flag_value = p.flag_value if not p.is_flag and p.flag_value is not None else None
    return (p.is_flag, type(t).__name__, choices, bounds, p.multiple, flag_value)


def test_one_option_name_has_one_meaning_in_every_command() -> None:
    seen: dict[str, dict[tuple, list[str]]] = defaultdict(lambda: defaultdict(list))
    for name, cmd in commands():
        for p in cmd.params:
            if isinstance(p, click.Option):
                for opt in p.opts:
                    seen[opt][_shape(p)].append(name)
    clashes = {
        opt: {str(k): v for k, v in shapes.items()}
        for opt, shapes in seen.items()
        if len(shapes) > 1 and opt not in DIFFERENT_VALUES
    }
    assert clashes == {}, clashes


def test_every_option_is_documented() -> None:
    missing = []
    for name, cmd in commands():
        text = README + (cmd.epilog or "")
        for p in cmd.params:
            documented = any(opt in text for opt in p.opts if opt.startswith("--"))
            if isinstance(p, click.Option) and not p.hidden and not documented:
                missing.append(f"{name} {p.opts[-1]}")
    assert missing == []


def test_short_flags_mean_the_same() -> None:
    short: dict[str, set[str]] = defaultdict(set)
    for _, cmd in commands():
        for p in cmd.params:
            if isinstance(p, click.Option):
                longs = [o for o in p.opts if o.startswith("--")]
                for o in p.opts:
                    if not o.startswith("--"):
                        short[o].add(longs[0] if longs else o)
    assert {k: v for k, v in short.items() if len(v) > 1} == {}


#: Commands that read no audio (``generate`` writes a test signal from its options).
NO_AUDIO_INPUT = {"generate"}


def test_every_command_that_reads_audio_takes_a_span() -> None:
    for name, cmd in commands():
        if name in NO_AUDIO_INPUT:
            continue
        opts = {o for p in cmd.params if isinstance(p, click.Option) for o in p.opts}
        assert {"--start", "--duration"} <= opts, name
