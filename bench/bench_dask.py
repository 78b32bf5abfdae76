"""Benchmark ``--scheduler``: a Dask cluster of two workers against the local pool's ``-j 2``.

On 2,000 clips of 0.5 s and on 3 files of 5 minutes, ``features`` (a table, written by
the client) and ``plot`` (a PNG per input, written by the workers) run with ``-j 2``
and with ``--scheduler local:2`` (which starts its cluster: included in the time), and
against a cluster already running (``tcp://``: what the cluster itself costs). Prints
the overhead against the local pool (target: under 20 %) and the tasks per second.

Run: ``python bench/run.py dask`` (needs ``audiokit[dask]``).
"""

from __future__ import annotations

import logging
import operator
import shutil
import time

from common import AUDIOKIT, DATA, make_clips, make_long, run_cmd

from audiokit import batch, dask_engine
from audiokit.inputs import Input

N_CLIPS = 2000
LONG = 3
LONG_SECONDS = 300.0


def main() -> None:
    try:
        import distributed
    except ImportError:
        print("dask is not installed (pip install 'audiokit[dask]'): skipped")
        return
    clips = make_clips(DATA / "clips2000_05s", N_CLIPS, seconds=0.5)
    longs = DATA / "long3x5min"
    for k in range(LONG):
        make_long(longs / f"long{k}.wav", LONG_SECONDS, seed=k)
    work = DATA / "dask"
    work.mkdir(parents=True, exist_ok=True)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as lc,
        distributed.Client(lc, set_as_default=False),
    ):
        running = lc.scheduler_address
        _engine_rate(running, sorted(clips.glob("*.wav")))
        for label, folder, n in (("2000 clips of 0.5 s", clips, N_CLIPS), ("3 x 5 min", longs, 3)):
            for command, out, per_file in (
                ("features", work / "f.parquet", False),
                ("plot", work / "pics", True),
            ):
                if command == "plot" and n == N_CLIPS:
                    n_used = 200  # 2,000 pictures take minutes: the first 200 clips
                    inputs = sorted(str(p) for p in folder.glob("*.wav"))[:n_used]
                else:
                    n_used = n
                    inputs = [str(folder)]
                _compare(f"{command} {label}", command, inputs, out, n_used, per_file, running)


def _engine_rate(address: str, paths: list[object]) -> None:
    """What the cluster costs per task: trivial tasks (an input's path) through the executor."""
    inputs = [Input(str(p), str(p), str(p)) for p in paths]
    task = operator.attrgetter("path")
    for one in (True, False):
        ex = dask_engine.DaskExecutor(dask_engine.parse_address(address), one_per_task=one)
        with ex:
            t0 = time.perf_counter()
            n = sum(1 for out in batch.run(task, inputs, executor=ex) if out.ok)
            seconds = time.perf_counter() - t0
        tasks = n if one else len(dask_engine.plan_chunks([1] * n, 2))
        print(
            f"engine alone, {n} inputs in {tasks} tasks: {seconds:6.2f} s, "
            f"{tasks / seconds:7.1f} tasks/s, {1000 * seconds / n:6.2f} ms per input",
            flush=True,
        )


def _compare(
    name: str, command: str, inputs: list[str], out: object, n: int, per_file: bool, running: str
) -> None:
    def args(extra: list[str]) -> list[str]:
        shutil.rmtree(str(out), ignore_errors=True)
        return [AUDIOKIT, command, *inputs, "-o", str(out), "-q", "--overwrite", *extra]

    local = run_cmd(args(["-j", "2"]), repeat=2)
    started = run_cmd(args(["--scheduler", "local:2"]), repeat=2)
    warm = run_cmd(args(["--scheduler", running]), repeat=2)
    sizes = [1] * n  # clips: all alike; the long files are over CHUNK_BYTES: one task each
    tasks = n if per_file or n < 10 else len(dask_engine.plan_chunks(sizes, 2))
    print(
        f"{name:<34} -j 2 {local:7.2f} s   local:2 {started:7.2f} s "
        f"({100 * (started / local - 1):+6.1f} %)   running cluster {warm:7.2f} s "
        f"({100 * (warm / local - 1):+6.1f} %)   {tasks} tasks: {tasks / warm:7.1f} tasks/s",
        flush=True,
    )


if __name__ == "__main__":
    main()
