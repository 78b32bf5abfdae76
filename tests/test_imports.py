"""The import structure: no cycles inside audiokit, and a light start-up.

Cycles are found on the graph of every ``import`` statement of the package, the ones inside
functions included (a function-local import does not remove a cycle, it hides it); only
imports under ``if TYPE_CHECKING:`` are left out, as they never run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "audiokit"
#: What ``audiokit --help`` and ``audiokit inspect`` must not import (seconds, or 100+ MB).
HEAVY = (
    "librosa",
    "scipy",
    "matplotlib",
    "pyarrow",
    "faster_whisper",
    "ctranslate2",
    "numba",
    "sklearn",
    "skops",
    "dask",
    "pandas",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, here: str, is_package: bool, modules: set[str]) -> set[str]:
    """audiokit modules imported by the statements of ``tree`` (outside TYPE_CHECKING blocks)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = here.split(".") if is_package else here.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join([*pkg, base] if base else pkg)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    found.add(sub)
                elif base in modules:
                    found.add(base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(here)
    return found


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(files)
    return {
        name: _imports(ast.parse(path.read_text()), name, path.name == "__init__.py", modules)
        for name, path in files.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return out


def test_the_cycle_finder_finds_a_hidden_cycle(tmp_path: Path) -> None:
    a = ast.parse("import audiokit.b\n")
    b = ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from audiokit import c\n"
        "def f():\n    from audiokit import a\n"
    )
    mods = {"audiokit.a", "audiokit.b", "audiokit.c"}
    graph = {
        "audiokit.a": _imports(a, "audiokit.a", False, mods),
        "audiokit.b": _imports(b, "audiokit.b", False, mods),
        "audiokit.c": set(),
    }
    assert graph["audiokit.b"] == {"audiokit.a"}  # the TYPE_CHECKING import does not count
    assert cycles(graph) == [["audiokit.a", "audiokit.b"]]
    assert cycles({"audiokit.a": {"audiokit.b"}, "audiokit.b": set()}) == []


def test_relative_imports_resolve() -> None:
    mods = {"audiokit.x", "audiokit.x.y", "audiokit.x.z", "audiokit.w"}
    tree = ast.parse("from . import z\nfrom .. import w\nfrom .z import q\n")
    assert _imports(tree, "audiokit.x.y", False, mods) == {"audiokit.x.z", "audiokit.w"}


def test_no_import_cycles_inside_audiokit() -> None:
    graph = import_graph()
    assert len(graph) > 50 and "audiokit.cli" in graph
    found = cycles(graph)
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def _loaded_after(argv: list[str], modules: tuple[str, ...] = HEAVY) -> list[str]:
    code = (
        "import sys\nfrom audiokit.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY:' + ','.join(m for m in {modules!r} if m in sys.modules), file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("HEAVY:"), proc.stderr
    return [m for m in last.removeprefix("HEAVY:").split(",") if m]


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["inspect", "--help"],
        ["inspect", "{sample}"],
        ["inspect", "{sample}", "--json"],
        ["inspect", "{sample}", "--csv"],
        ["inspect", "{sample}", "-o", "{out}/inspect.csv"],
    ],
)
def test_help_and_inspect_import_no_heavy_library(
    argv: list[str], sample_dir: Path, tmp_path: Path
) -> None:
    args = [a.format(sample=sample_dir / "tones", out=tmp_path) for a in argv]
    assert _loaded_after(args) == []
    if "-o" in args:
        assert (tmp_path / "inspect.csv").read_text().count("\n") == 3  # header + two files


@pytest.mark.parametrize("argv", [["--help"], ["inspect", "{one}", "--json"]])
def test_one_input_starts_no_pool_and_draws_no_table(argv: list[str], sample_dir: Path) -> None:
    """One input runs in-process: no multiprocessing (~25 ms); JSON needs no rich (~60 ms)."""
    one = next(iter(sorted((sample_dir / "tones").glob("*.wav"))))
    args = [a.format(one=one) for a in argv]
    assert _loaded_after(args, ("rich", "multiprocessing", "secrets")) == []
    # and the check sees them when they are used: a terminal table of two inputs
    assert "multiprocessing" in _loaded_after(
        ["inspect", str(sample_dir / "tones")], ("multiprocessing",)
    )


def test_the_heavy_check_sees_a_heavy_import(sample_dir: Path, tmp_path: Path) -> None:
    """Writing Parquet needs pyarrow: the check must see it."""
    out = tmp_path / "i.parquet"
    assert "pyarrow" in _loaded_after(["inspect", str(sample_dir / "tones"), "-o", str(out)])


#: Packages that may be imported inside a function anywhere: each costs a third of a second
#: to seconds, and the modules that use them need them on some paths only.
LAZY = frozenset(
    {
        "librosa",
        "scipy",
        "matplotlib",
        "sklearn",
        "skops",
        "faster_whisper",
        "ctranslate2",
        "huggingface_hub",
        "dask",
        "distributed",
        "pyarrow",
        "pandas",
        "numba",
    }
)
#: And, in the modules ``audiokit --help`` and ``audiokit inspect`` load, these too.
# rich (~60 ms) draws terminal tables only; multiprocessing (~25 ms: socket, pickle) and
# ctypes serve the worker pool only, which a run of one input in-process never starts.
LAZY_AT_START = LAZY | {
    "numpy",
    "soundfile",
    "soxr",
    "tqdm",
    "threadpoolctl",
    "rich",
    "multiprocessing",
    "ctypes",
}


def start_up_modules(sample: Path, out: Path) -> set[str]:
    """audiokit modules that ``audiokit --help`` and ``audiokit inspect`` load: the ones that
    may keep an import inside a function to stay light."""
    code = (
        "import sys\nfrom audiokit.cli import main\n"
        f"for argv in (['--help'], ['inspect', {str(sample)!r}, '--csv'],"
        f" ['inspect', {str(sample)!r}, '-o', {str(out)!r}]):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "print('MODULES:' + ','.join(m for m in sys.modules if m.startswith('audiokit')),"
        " file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("MODULES:"), proc.stderr
    return set(last.removeprefix("MODULES:").split(",")) | {"audiokit.transcode"}


def local_imports(tree: ast.AST, here: str = "audiokit.x") -> list[tuple[int, str]]:
    """(line, module) of every import statement inside a function (relative ones resolved)."""
    found = []
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    found += [(node.lineno, a.name) for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = node.module or ""
                    if node.level:
                        pkg = here.split(".")[: -node.level]
                        base = ".".join([*pkg, base] if base else pkg)
                    found.append((node.lineno, base))
    return sorted(set(found))


def test_local_imports_are_only_of_heavy_packages(sample_dir: Path, tmp_path: Path) -> None:
    start = start_up_modules(sample_dir / "tones", tmp_path / "i.csv")
    assert {"audiokit.cli", "audiokit.inspection", "audiokit.audio_io"} <= start
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        allowed = LAZY_AT_START if name in start else LAZY
        for line, module in local_imports(ast.parse(path.read_text()), name):
            top = module.split(".")[0]
            if top in allowed:
                continue
            if name in start and top == "audiokit" and module not in start:
                continue  # a start-up module reaching for one it must not load at start-up
            bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {module}")
    assert not bad, "imports that belong at module top:\n" + "\n".join(bad)


def test_the_local_import_check_sees_one() -> None:
    tree = ast.parse("import os\ndef f():\n    import numpy as np\n    from . import x\n")
    assert local_imports(tree, "audiokit.cli.y") == [(3, "numpy"), (4, "audiokit.cli")]
