"""Run the benchmarks: ``python bench/run.py [NAME ...]`` (default: all of bench/bench_*.py).

Each ``bench/bench_<name>.py`` has a ``main()`` that times audiokit against a
baseline measured in the same run and prints ratios. Data is generated under
``.bench/`` (git-ignored) and reused between runs.
"""

from __future__ import annotations

import compileall
import importlib.util
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    wanted = set(argv)
    # audiokit's bytecode, as an installed wheel has it: an editable install run with
    # PYTHONDONTWRITEBYTECODE set would compile every module of it in every process.
    compileall.compile_dir(HERE.parent / "audiokit", quiet=1)
    mods = sorted(HERE.glob("bench_*.py"))
    for path in mods:
        name = path.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(HERE))
        spec.loader.exec_module(mod)
        common = sys.modules["common"]
        common.CURRENT["bench"] = name
        print(f"\n=== {name} ===", flush=True)
        t0 = time.perf_counter()
        mod.main()
        print(f"({name}: {time.perf_counter() - t0:.1f} s)", flush=True)
    if "common" in sys.modules:
        print("\n=== summary: every command against its peer, measured in this run ===")
        print(sys.modules["common"].summary(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
