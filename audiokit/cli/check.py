"""``audiokit check``: a gate for Makefiles and CI, rules over the ``inspect`` columns."""

from __future__ import annotations

import functools

import click

from audiokit import checks
from audiokit.cli.common import BatchRun
from audiokit.cli.options import (
    BatchOptions,
    batch_options,
    json_option,
    silence_threshold_option,
    span_options,
)
from audiokit.inspection import inspect_row
from audiokit.rules import Rule
from audiokit.writers import json_line


def _presets_text() -> str:
    lines = []
    for name, preset in checks.PRESETS.items():
        lines.append(f"{name}: {preset.help}")
        lines += [f"  {rule}" for rule in preset.rules]
    return "\n".join(lines)


@click.command(
    "check",
    epilog="""\b
Examples:
  audiokit check data/ --rule 'samplerate == 16000' --rule 'channels == 1'
  audiokit check data/ --preset training               # the tutorials' pitfalls
  audiokit check data/ --rule 'clipped_fraction < 0.001 and duration >= 0.5'
  audiokit check data/ --rule 'format in (WAV, FLAC)' --rule 'abs(dc_offset) < 0.01'
  audiokit check masters/ --preset ebu-r128 --json | jq -r .path
  audiokit check --list-presets

\b
Rules: COLUMN OP VALUE with OP one of == != < <= > >=, COLUMN in (V, ...),
COLUMN not in (...), abs(COLUMN), and/or/not and parentheses. Columns are
inspect's (levels and --loudness columns included: measured only when a rule
names them). Values: numbers (inf, -inf), words or quoted strings (compared
without regard to case), and mode(): the most common value over the files.
A missing value (NaN, null) breaks the rule.
Exit codes: 0 every file passes, 1 some file breaks a rule or cannot be read,
2 a malformed rule, an unknown column or preset.
""",
)
@batch_options
@click.option(
    "--rule",
    "rules",
    multiple=True,
    metavar="EXPR",
    help="A rule every file must pass (repeatable), e.g. 'samplerate == 16000'.",
)
@click.option(
    "--preset",
    "presets",
    multiple=True,
    metavar="NAME",
    help=f"A named list of rules (repeatable): {', '.join(checks.PRESETS)} (--list-presets).",
)
@click.option("--list-presets", is_flag=True, help="Print the presets and their rules, and exit.")
@silence_threshold_option
@span_options
@json_option
def check_cmd(
    batch: BatchOptions,
    rules: tuple[str, ...],
    presets: tuple[str, ...],
    list_presets: bool,
    silence_threshold: float,
    start: float,
    duration: float | None,
    as_json: bool,
) -> None:
    """Check every file against rules over the inspect columns; exit 1 if one breaks a rule.

    Prints one line per broken rule on standard output, 'PATH: RULE (column =
    value)' (--json: one JSON object), and a summary on standard error.
    """
    if list_presets:
        click.echo(_presets_text())
        return
    parsed = checks.build_rules(rules, presets)
    need = checks.needs(parsed)
    run = BatchRun(batch, desc="check")
    task = functools.partial(
        inspect_row,
        levels=need.levels,
        loudness=need.loudness,
        silence_db=silence_threshold,
        start=start,
        duration=duration,
    )
    report = _Report(run, parsed, as_json)
    rows = []
    for res in run.run(task):
        if need.dataset:
            rows.append(res.value)
        else:
            report.add(res.value, {})
    if need.dataset:
        mode_values = checks.modes(rows, [c for r in parsed for c in r.mode_columns])
        for row in rows:
            report.add(row, mode_values)
    report.summary()
    raise click.exceptions.Exit(1 if report.broken or run.failures else 0)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}{'es' if noun.endswith('ch') else 's'}"


class _Report:
    """Prints the breaches as they are found, counts them, and ends with the summary."""

    def __init__(self, run: BatchRun, rules: list[Rule], as_json: bool) -> None:
        self.run = run
        self.rules = rules
        self.as_json = as_json
        self.files = 0
        self.broken = 0
        self.breaches = 0

    def add(self, row: dict[str, object], mode_values: dict[str, object]) -> None:
        self.files += 1
        found = checks.breaches(row, self.rules, mode_values)
        if found:
            self.broken += 1
            self.breaches += len(found)
        for breach in found:
            line = json_line(breach.as_json()) if self.as_json else breach.line()
            if self.run.progress is not None:
                self.run.progress.write(line, stdout=True)
            else:
                click.echo(line)

    def summary(self) -> None:
        if self.run.opts.quiet:
            return
        failed = f", {self.run.failures} could not be read" if self.run.failures else ""
        verdict = (
            f"{self.broken} break a rule ({_count(self.breaches, 'breach')})"
            if self.broken
            else "all pass"
        )
        click.echo(
            f"audiokit check: {_count(self.files, 'file')}, {_count(len(self.rules), 'rule')}: "
            f"{verdict}{failed}",
            err=True,
        )
