"""``audiokit check``: the rule language, presets, exit codes, the CLI and the executable."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from audiokit import checks
from audiokit.errors import UsageError
from audiokit.inspection import inspect_file
from audiokit.rules import BoolOp, Comparison, Not, parse_rule, tokenize
from tests.conftest import sine

EXE = shutil.which("audiokit", path=str(Path(sys.executable).parent)) or shutil.which("audiokit")

# ------------------------------------------------------------------ the language


def holds(rule: str, **row: object) -> bool:
    parsed = parse_rule(rule)
    return checks.evaluate(parsed.expr, row, checks.modes([row], parsed.mode_columns))


def test_the_parser_builds_the_tree_with_precedence() -> None:
    r = parse_rule("not channels > 1 and samplerate in (16000, 22050) or format == 'FLAC'")
    assert r.expr == BoolOp(
        "or",
        (
            BoolOp(
                "and",
                (
                    Not(Comparison("channels", ">", (1.0,))),
                    Comparison("samplerate", "in", (16000.0, 22050.0)),
                ),
            ),
            Comparison("format", "==", ("FLAC",)),
        ),
    )
    assert r.columns == ("channels", "samplerate", "format")
    grouped = parse_rule("not (channels > 1 and duration < 2)")
    assert isinstance(grouped.expr, Not) and isinstance(grouped.expr.operand, BoolOp)
    assert parse_rule("abs(dc_offset) < 1e-2").expr == Comparison("dc_offset", "<", (0.01,), True)
    assert parse_rule("samplerate == mode()").mode_columns == ("samplerate",)
    assert parse_rule('subtype not in (PCM_16, "FLOAT")').expr == Comparison(
        "subtype", "not in", ("PCM_16", "FLOAT")
    )
    assert parse_rule("peak_dbfs > -inf").expr == Comparison("peak_dbfs", ">", (-math.inf,))
    assert parse_rule("channels==1").expr == Comparison("channels", "==", (1.0,))
    assert [t.kind for t in tokenize("a <= -1.5e3")] == ["word", "op", "number", "end"]


@pytest.mark.parametrize(
    ("rule", "row", "expected"),
    [
        ("samplerate == 16000", {"samplerate": 16000}, True),
        ("samplerate == 16000", {"samplerate": 44100}, False),
        ("samplerate != 16000", {"samplerate": 44100}, True),
        ("duration >= 0.5", {"duration": 0.5}, True),
        ("duration > 0.5", {"duration": 0.5}, False),
        ("duration < 0.5", {"duration": 0.49}, True),
        ("duration <= 0.5", {"duration": 0.51}, False),
        ("samplerate in (16000, 22050)", {"samplerate": 22050}, True),
        ("samplerate not in (16000, 22050)", {"samplerate": 22050}, False),
        ("format == flac", {"format": "FLAC"}, True),  # strings: any case
        ("format in (WAV, 'flac')", {"format": "OGG"}, False),
        ("abs(dc_offset) < 0.01", {"dc_offset": -0.02}, False),
        ("abs(dc_offset) < 0.01", {"dc_offset": -0.005}, True),
        ("not channels > 1", {"channels": 2}, False),
        ("channels == 1 or duration > 10", {"channels": 2, "duration": 11.0}, True),
        ("channels == 1 and duration > 10", {"channels": 1, "duration": 9.0}, False),
        # a missing value breaks the rule, whatever the operator
        ("loudness_lufs > -30", {"loudness_lufs": math.nan}, False),
        ("loudness_lufs != -30", {"loudness_lufs": math.nan}, False),
        ("bit_depth == 16", {"bit_depth": None}, False),
        ("bit_depth not in (8, 24)", {"bit_depth": None}, False),
        ("peak_dbfs > -60", {"peak_dbfs": -math.inf}, False),
    ],
)
def test_rules_evaluate(rule: str, row: dict, expected: bool) -> None:
    assert holds(rule, **row) is expected


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ("samplerate ==", "expected a value"),
        ("== 3", "expected a column name"),
        ("samplerate = 3", "use == to compare"),
        ("__import__('os')", "unknown column '__import__'"),
        ("__import__('os').system('true')", "unexpected '.'"),
        ("(samplerate == 1", "expected ')'"),
        ("samplerate == 1)", "expected 'and', 'or' or the end"),
        ("((channels == 1) and (duration > 1)", "expected ')'"),
        ("sample_rate == 16000", "did you mean samplerate"),
        ("samplerate", "expected a comparison"),
        ("", "empty rule"),
        ("and", "expected a column name"),
        ("channels == 1 and", "expected a column name"),
        ("channels == 1 or or duration > 1", "expected a column name"),
        ("channels == mono", "channels is a number"),
        ("format == 3", "format is text"),
        ("format < WAV", "compares numbers"),
        ("samplerate in ()", "expected a value"),
        ("samplerate in (1, 2", "expected ',' or ')'"),
        ("samplerate in 16000", "expected '(' after in"),
        ("format == 'FLAC", "unexpected"),
        ("channels == 1; import os", "unexpected ';'"),
        ("abs(format) < 1", "abs() takes a number"),
        ("samplerate in (mode(), 1)", "mode()"),
        ("lambda: 1", "unexpected ':'"),
    ],
)
def test_malformed_rules_are_usage_errors(rule: str, says: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_rule(rule)
    message = str(err.value)
    assert says in message and "\n" not in message


def test_the_parser_never_evaluates_python(tmp_path: Path, monkeypatch) -> None:
    marker = tmp_path / "pwned"
    monkeypatch.chdir(tmp_path)
    for text in (f"open('{marker}', 'w')", "__import__('os').system('touch pwned')"):
        with pytest.raises(UsageError):
            parse_rule(text)
    assert not marker.exists() and not (tmp_path / "pwned").exists()


def test_mode_is_the_most_common_value_ties_to_the_earlier_file() -> None:
    rows = [{"samplerate": 22050}, {"samplerate": 16000}, {"samplerate": 16000},
            {"samplerate": 22050}, {"samplerate": 8000}, {"samplerate": None}]  # fmt: skip
    assert checks.modes(rows, ["samplerate"]) == {"samplerate": 22050}
    rows.append({"samplerate": 16000})
    assert checks.modes(rows, ["samplerate"]) == {"samplerate": 16000}
    spelled = [{"subtype": "PCM_16"}, {"subtype": "pcm_16"}, {"subtype": "FLOAT"}]
    assert checks.modes(spelled, ["subtype"]) == {"subtype": "PCM_16"}


def test_presets_parse_and_say_what_they_need() -> None:
    for name, preset in checks.PRESETS.items():
        rules = checks.build_rules([], [name])
        assert [r.text for r in rules] == list(preset.rules), name
    assert checks.needs(checks.build_rules([], ["consistent"])) == checks.Needs(
        levels=False, loudness=False, dataset=True
    )
    assert checks.needs(checks.build_rules([], ["training"])) == checks.Needs(True, False, True)
    assert checks.needs(checks.build_rules([], ["ebu-r128"])) == checks.Needs(True, True, False)
    assert checks.needs([parse_rule("duration > 1")]) == checks.Needs(False, False, False)
    with pytest.raises(UsageError, match="did you mean training"):
        checks.build_rules([], ["trainig"])
    with pytest.raises(UsageError, match="no rules"):
        checks.build_rules([], [])
    # a rule given twice (by a preset and by hand) is checked once
    assert len(checks.build_rules(["channels == 1"], ["training"])) == 6


# ----------------------------------------------------------------------- the CLI


@pytest.fixture
def dataset(write_audio) -> Path:
    """Six clips with one pitfall each, and two good ones."""
    sr = 16000
    good = sine(440, sr, 1.0, amp=0.3)
    write_audio("data/good_1.wav", good, sr)
    write_audio("data/good_2.wav", good, sr)
    write_audio("data/rate.wav", sine(440, 22050, 1.0, amp=0.3), 22050)
    write_audio("data/stereo.wav", np.stack([good, good]), sr)
    write_audio("data/clipped.wav", np.clip(sine(440, sr, 1.0, amp=2.0), -1, 1), sr)
    write_audio("data/short.wav", good[: sr // 5], sr)
    y = good.copy()
    y[: int(0.7 * sr)] = 0
    write_audio("data/silent.wav", y, sr)
    write_audio("data/dc.wav", good * 0.5 + 0.1, sr)
    return Path(write_audio("data/good_1.wav", good, sr)).parent


def invoke(runner, cli, *args: str):
    return runner.invoke(cli, ["check", *args])


def test_passing_rules_exit_0_and_print_nothing(dataset, runner, cli) -> None:
    res = invoke(runner, cli, str(dataset), "--rule", "duration > 0.1", "--rule", "channels <= 2")
    assert res.exit_code == 0, res.stderr
    assert res.stdout == ""
    assert "8 files, 2 rules: all pass" in res.stderr


def test_failing_rules_print_path_rule_and_value(dataset, runner, cli) -> None:
    res = invoke(runner, cli, str(dataset), "--rule", "samplerate == 16000", "-j", "2")
    assert res.exit_code == 1
    assert res.stdout.splitlines() == [
        f"{dataset / 'rate.wav'}: samplerate == 16000 (samplerate = 22050)"
    ]
    assert "1 break a rule (1 breach)" in res.stderr


def test_the_training_preset_finds_each_pitfall(dataset, runner, cli) -> None:
    res = invoke(runner, cli, str(dataset), "--preset", "training", "--json")
    assert res.exit_code == 1
    found = [json.loads(line) for line in res.stdout.splitlines()]
    broken = {(Path(b["path"]).name, b["rule"]) for b in found}
    assert broken == {
        ("rate.wav", "samplerate == mode()"),
        ("stereo.wav", "channels == 1"),
        ("clipped.wav", "clipped_fraction < 0.001"),
        ("short.wav", "duration >= 0.5"),
        ("silent.wav", "silent_fraction < 0.5"),
        ("dc.wav", "abs(dc_offset) < 0.01"),
    }
    by_name = {Path(b["path"]).name: b for b in found}
    assert by_name["rate.wav"]["values"] == {"samplerate": 22050}
    assert by_name["rate.wav"]["modes"] == {"samplerate": 16000}
    # every value reported is the file's inspect value
    for b in found:
        row = inspect_file(b["path"]).row()
        for column, value in b["values"].items():
            assert value == pytest.approx(row[column]), (b, column)


def test_loudness_is_measured_only_when_a_rule_needs_it(dataset, runner, cli, monkeypatch) -> None:
    seen: list[tuple[bool, bool]] = []
    real = inspect_file

    def spy(path, **kw):
        seen.append((kw["levels"], kw["loudness"]))
        return real(path, **kw)

    monkeypatch.setattr("audiokit.inspection.inspect_file", spy)  # what inspect_row calls
    good = str(dataset / "good_1.wav")
    assert invoke(runner, cli, good, "--rule", "channels == 1").exit_code == 0
    assert invoke(runner, cli, good, "--rule", "peak_dbfs < 0").exit_code == 0
    res = invoke(runner, cli, good, "--rule", "loudness_lufs < -5 and true_peak_dbtp < 0")
    assert res.exit_code == 0, res.stdout + res.stderr
    assert seen == [(False, False), (True, False), (True, True)]
    res = invoke(runner, cli, good, "--rule", "loudness_lufs > -5")
    assert res.exit_code == 1 and "loudness_lufs = -1" in res.stdout  # 0.3 sine: -13.5 LUFS


@pytest.mark.parametrize(
    "args",
    [
        ["--rule", "samplerate = 16000"],
        ["--rule", "samplerate =="],
        ["--rule", "nosuchcolumn > 1"],
        ["--rule", "(channels == 1"],
        ["--preset", "nosuchpreset"],
        [],
    ],
)
def test_malformed_rules_exit_2_before_reading(dataset, runner, cli, args) -> None:
    res = invoke(runner, cli, str(dataset), *args)
    assert res.exit_code == 2, res.stdout + res.stderr
    assert res.stdout == ""
    assert len(res.stderr.strip().splitlines()) == 1


def test_an_unreadable_file_exits_1(dataset, runner, cli) -> None:
    (dataset / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    res = invoke(runner, cli, str(dataset), "--rule", "duration > 0.1")
    assert res.exit_code == 1
    assert "broken.wav" in res.stderr and res.stdout == ""
    assert "could not be read" in res.stderr


def test_list_presets(runner, cli) -> None:
    res = runner.invoke(cli, ["check", "--list-presets"])
    assert res.exit_code == 0
    for name, preset in checks.PRESETS.items():
        assert f"{name}: " in res.stdout
        assert all(f"  {rule}" in res.stdout for rule in preset.rules)


@pytest.mark.skipif(EXE is None, reason="audiokit executable not installed")
def test_the_executable_gates_a_makefile(dataset: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [EXE, "check", *args],
            capture_output=True,
            text=True,
            timeout=120,  # type: ignore[list-item]
        )

    ok = run(str(dataset / "good_1.wav"), str(dataset / "good_2.wav"), "--preset", "training")
    assert ok.returncode == 0 and ok.stdout == "", ok.stderr
    bad = run(str(dataset), "--rule", "channels == 1", "-q")
    assert bad.returncode == 1 and bad.stderr == ""
    assert bad.stdout == f"{dataset / 'stereo.wav'}: channels == 1 (channels = 2)\n"
    assert run(str(dataset), "--rule", "channels = 1").returncode == 2
    listed = subprocess.run(
        [EXE, "check", "--files-from", "-", "--rule", "samplerate == 16000"],  # type: ignore[list-item]
        input=f"{dataset / 'rate.wav'}\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 1 and "samplerate = 22050" in listed.stdout
