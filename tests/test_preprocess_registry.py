"""The preprocess step table (``registry.STEPS``) and what is driven by it.

The plan (enabling, ``--chain``, checks), the in-memory and streaming paths and
the CLI options all come from the table; these tests hold every entry to it.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

import audiokit.preprocess
from audiokit.cli.preprocess import preprocess_cmd
from audiokit.errors import UsageError
from audiokit.inputs import Input
from audiokit.preprocess import registry, spec
from audiokit.preprocess.blocks import Processor
from audiokit.preprocess.chain import Plan, build_plan, settings_from
from audiokit.preprocess.output import OutputSpec
from audiokit.preprocess.process import Job, preprocess_file

#: For each step, option values that enable it (a new step needs its line here).
EXAMPLES: dict[str, dict[str, Any]] = {
    "channels": {"mono": True},
    "sr": {"sr": 16000},
    "trim": {"trim": True, "pad_ms": 10.0},
    "remove-silence": {"remove_silence": True},
    "denoise": {"denoise": True},
    "highpass": {"highpass": 120.0},
    "lowpass": {"lowpass": 3000.0},
    "preemphasis": {"preemphasis": 0.9},
    "gain": {"gain": -4.0},
    "normalize": {"normalize": "rms", "target": -24.0},
    "pad-to": {"pad_to": 4.0},
    "trim-to": {"trim_to": 1.5},
    "segment": {"segment": 1.0, "overlap": 0.25},
    "fade": {"fade_ms": 30.0},
}


def test_the_table_gives_the_order_and_names() -> None:
    assert registry.DEFAULT_ORDER == (
        "channels",
        "sr",
        "trim",
        "remove-silence",
        "denoise",
        "highpass",
        "lowpass",
        "preemphasis",
        "gain",
        "normalize",
        "pad-to",
        "trim-to",
        "segment",
        "fade",
    )
    assert audiokit.preprocess.DEFAULT_ORDER == registry.DEFAULT_ORDER
    assert dict(registry.ALIASES) == {
        "mono": "channels",
        "channel": "channels",
        "resample": "sr",
        "rate": "sr",
        "silence": "remove-silence",
        "remove_silence": "remove-silence",
        "hp": "highpass",
        "lp": "lowpass",
        "normalise": "normalize",
        "norm": "normalize",
        "pad_to": "pad-to",
        "trim_to": "trim-to",
        "pad": "pad-to",
        "segments": "segment",
    }
    assert set(EXAMPLES) == set(registry.DEFAULT_ORDER)


def test_every_option_sets_a_plan_field_and_every_setting_has_an_option() -> None:
    plan_fields = {f.name for f in fields(Plan)} - {"steps"}
    targets = {o.target for o in registry.OPTIONS if o.target is not None}
    targets |= {"mono"}  # --channel mix sets it too
    assert targets == plan_fields
    assert len({o.flag for o in registry.OPTIONS}) == len(registry.OPTIONS)
    for o in registry.OPTIONS:
        assert o.kind in spec.KINDS, o.flag
        assert o.flag.startswith("--") and o.help.strip(), o.flag


@pytest.mark.parametrize("name", registry.DEFAULT_ORDER)
def test_each_entry_resolves_and_its_options_enable_it(name: str) -> None:
    st = registry.step(name)
    assert callable(st.run.get())
    settings, flags = settings_from(EXAMPLES[name])
    plan = build_plan(settings, flags)
    assert plan.steps == (name,)
    assert plan.describe()[0].startswith(f"{name}=")
    assert plan.blockable == st.streams(plan) == (st.stream is not None or st.sink)
    if st.stream is not None:
        proc = st.stream.get()(2, 22050, plan, -1.0)
        assert isinstance(proc, Processor)


def _streams(step: spec.Step) -> bool:
    return step.streams(build_plan(*settings_from(EXAMPLES[step.name])))


@pytest.mark.parametrize("name", [s.name for s in registry.STEPS if _streams(s)])
def test_each_step_in_memory_equals_streaming(tmp_path: Path, name: str) -> None:
    """The table's in-memory function and its block processor (or output end) agree."""
    sr = 22050
    t = np.arange(int(sr * 2.6)) / sr
    y = np.stack([0.4 * np.sin(2 * np.pi * 330 * t), 0.2 * np.sin(2 * np.pi * 50 * t)])
    src = tmp_path / "in.wav"
    sf.write(src, y.T.astype(np.float32), sr, subtype="FLOAT")
    plan = build_plan(*settings_from(EXAMPLES[name]))
    got = {}
    for mode in ("off", "on"):
        spec = OutputSpec(out=str(tmp_path / mode), subtype="FLOAT")
        rep = preprocess_file(
            Job(plan, spec, streaming=mode, blocksize=3000), Input(str(src), str(src), "in.wav")
        )
        got[mode] = [sf.read(p, dtype="float32")[0] for p in rep.outputs]
    assert len(got["off"]) == len(got["on"]) >= 1
    for a, b in zip(got["off"], got["on"], strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"mono": True, "channel": 1}, "--mono and --channel exclude each other"),
        ({"target": -3.0}, "--target needs --normalize peak|rms|loudness"),
        ({"normalize": "peak", "target": 1.0}, "--target 1 dBFS is above the ceiling (-0.1 dBFS)"),
        ({"ceiling": 1.0}, "--ceiling must be at most 0 dBFS"),
        ({"ceiling": -61.0}, "--ceiling -61 dBFS is out of range: use -60 to 0 dBFS"),
        ({"segment": 0.001}, "--segment 0.001 s is out of range: use 0.01 to 86400 s"),
        ({"segment": 1.0, "overlap": 1.0}, "--segment must be positive and longer than --overlap"),
        ({"overlap": 0.5}, "--overlap needs --segment"),
        ({"trim_to": 0.0}, "--trim-to must be positive"),
        ({"trim_to": -1.0}, "--trim-to -1 s is out of range: use 0 to 86400 s"),
        ({"fade_ms": -1.0}, "--fade-ms -1 ms is out of range: use 0 to 60000 ms"),
        ({"top_db": 0.0}, "--top-db must be positive"),
        ({"gain_db": 200.0}, "--gain 200 dB is out of range: use -120 to 120 dB"),
        (
            {"normalize": "loudness", "target": -80.0},
            "--target -80 LUFS is out of range: use -70 to 0 LUFS",
        ),
        ({"normalize": "rms", "target": 0.5}, "--target 0.5 dBFS is out of range"),
        ({"highpass": 0.0}, "--highpass must be a positive frequency"),
        ({"highpass": -5.0}, "--highpass -5 Hz is out of range: use 0 to 384000 Hz"),
        (
            {"highpass": 9000.0, "sr": 16000},
            "--highpass 9000 Hz must be below the Nyquist frequency of --sr 16000 (8000 Hz)",
        ),
        ({"highpass": 500.0, "lowpass": 400.0}, "--highpass 500 Hz must be below --lowpass 400"),
        ({"denoise_strength": 1.5}, "--denoise-strength must be between 0 and 1"),
        ({"preemphasis": 1.0}, "--preemphasis must be in [0, 1)"),
        ({"normalize": "bogus"}, "--normalize must be one of peak, rms, loudness"),
    ],
)
def test_checks_driven_by_the_table(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match="^" + re.escape(message)):
        build_plan(Plan(**settings), set())


@pytest.mark.parametrize(
    ("chain", "message"),
    [
        ("sr", "--chain names 'sr' but it needs --sr RATE"),
        ("resample", "--chain names 'sr' but it needs --sr RATE"),
        ("channel", "--chain names 'channel' but it needs --channel N"),
        ("segment", "--chain names 'segment' but it needs --segment SECONDS"),
    ],
)
def test_chain_names_a_step_that_needs_a_value(chain: str, message: str) -> None:
    with pytest.raises(UsageError, match=f"^{message}$"):
        build_plan(Plan(), set(), chain)


def test_chain_enables_by_name_with_the_tables_defaults() -> None:
    p = build_plan(Plan(), set(), "mono,trim,remove-silence,denoise,preemphasis,normalize,fade")
    assert (p.mono, p.preemphasis, p.normalize, p.fade_ms) == (True, 0.97, "peak", 10.0)
    assert p.steps == (
        "channels",
        "trim",
        "remove-silence",
        "denoise",
        "preemphasis",
        "normalize",
        "fade",
    )


def test_cli_options_come_from_the_table() -> None:
    params = {p.name: p for p in preprocess_cmd.params if isinstance(p, click.Option)}
    arrived = preprocess_cmd.make_context("preprocess", ["a.wav"]).params
    for o in registry.OPTIONS:
        p = params[o.key]
        assert p.opts == [o.flag] and p.help == o.help
        assert p.is_flag == (o.kind in ("flag", "switch"))
        if o.kind not in ("flag", "switch"):
            assert arrived[o.key] == o.default
        if o.minimum is not None or o.maximum is not None:
            assert isinstance(p.type, click.FloatRange)
            assert (p.type.min, p.type.max, p.type.min_open) == (o.minimum, o.maximum, o.min_open)
    assert params["preemphasis"].flag_value == 0.97
    assert tuple(params["normalize"].type.choices) == registry.NORMALIZE_MODES  # type: ignore[attr-defined]


def test_cli_turns_values_into_the_plan(tmp_path: Path) -> None:
    """``--channel mix`` and ``--preemphasis`` alone, ``--sr 22.05k``, ranges refused by click."""
    src = tmp_path / "a.wav"
    sf.write(src, np.zeros((800, 2), np.float32), 8000)
    runner = CliRunner()
    res = runner.invoke(
        preprocess_cmd,
        [str(src), "--dry-run", "--json", "--channel", "mix", "--sr", "16k", "--preemphasis"],
    )
    assert res.exit_code == 0, res.output
    assert '"steps":["channels=mono","sr=16000","preemphasis=0.97"]' in res.output
    res = runner.invoke(preprocess_cmd, [str(src), "--dry-run", "--top-db", "0"])
    assert res.exit_code == 2 and "--top-db" in res.output


def test_preprocess_help_imports_no_heavy_library() -> None:
    code = (
        "import sys\nfrom audiokit.cli import cli\n"
        "try:\n    cli.main(['preprocess', '--help'], standalone_mode=False)\n"
        "except SystemExit: pass\n"
        "heavy = [m for m in ('scipy', 'librosa', 'matplotlib', 'pyarrow') if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy), file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "--preemphasis" in out.stdout
    assert "HEAVY:\n" in out.stderr, out.stderr


PACKAGE = Path(audiokit.preprocess.__file__).parent


def _imports(tree: ast.AST) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("audiokit"):
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("audiokit")}
    return out


def test_preprocess_modules_import_audiokit_at_the_top_and_without_cycles() -> None:
    modules = {p.stem: ast.parse(p.read_text()) for p in PACKAGE.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, tree in modules.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                local = _imports(ast.Module(body=node.body, type_ignores=[]))
                assert not local, f"{name}.{node.name} imports {sorted(local)} inside"
        top = set()
        for stmt in tree.body:  # module level, TYPE_CHECKING blocks excluded
            if isinstance(stmt, ast.If):
                continue
            top |= _imports(stmt)
        graph[name] = {
            m.rsplit(".", 1)[-1]
            for m in top
            if m.startswith("audiokit.preprocess.") and m.rsplit(".", 1)[-1] in modules
        } - {name}

    done: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, f"import cycle: {' -> '.join((*path, node))}"
        if node in done:
            return
        for dep in graph[node]:
            visit(dep, (*path, node))
        done.add(node)

    for name in graph:
        visit(name, ())
    assert "streaming" in graph["process"] and "process" not in graph["streaming"]


def test_every_preprocess_module_imports_on_its_own() -> None:
    for p in sorted(PACKAGE.glob("*.py")):
        mod = "audiokit.preprocess" + ("" if p.stem == "__init__" else f".{p.stem}")
        subprocess.run([sys.executable, "-c", f"import {mod}"], check=True)
