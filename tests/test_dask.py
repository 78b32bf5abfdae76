"""``--scheduler``: a batch on a Dask cluster gives what the local pool gives, bit for bit.

One LocalCluster of two worker processes for the module (the commands connect to it as
to a remote scheduler); the outputs of every command are compared with a ``-j 2`` run
of the local pool over the same inputs.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

distributed = pytest.importorskip("distributed")

from audiokit import dask_engine  # noqa: E402
from audiokit.errors import MissingDependencyError  # noqa: E402
from audiokit.inputs import Input  # noqa: E402
from tests.conftest import ROOT, sine  # noqa: E402

os.environ["HF_HUB_OFFLINE"] = "1"  # the tests must never reach the network


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, Any]]:
    """(scheduler address, client) of a LocalCluster of two worker processes."""
    with warnings.catch_warnings():
        # Its HTTP server (health checks) takes another port when 8787 is in use.
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        lc = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    with lc, distributed.Client(lc, set_as_default=False) as client:
        yield lc.scheduler_address, client


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 short clips of tones, chirps and noise in two class folders, one stereo."""
    root = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(7)
    for k in range(40):
        folder = root / ("a" if k % 2 else "b")
        folder.mkdir(exist_ok=True)
        seconds = 0.4 + 0.05 * (k % 9)
        y = sine(110.0 * (1 + k % 7), duration=seconds, amp=0.3)
        y = y + 0.05 * rng.standard_normal(y.size).astype(np.float32)
        if k == 5:
            y = np.stack([y, 0.5 * y])  # one stereo file
        sf.write(folder / f"clip{k:02d}.wav", y.T if y.ndim == 2 else y, 22050, "PCM_16")
    return root


@pytest.fixture
def on(cluster: tuple[str, Any]) -> list[str]:
    """The options that send a batch to the module's cluster."""
    return ["--scheduler", cluster[0]]


def invoke(runner: Any, cli: Any, args: list[str], code: int = 0) -> Any:
    res = runner.invoke(cli, args)
    assert res.exit_code == code, (res.exit_code, res.stderr, res.exception)
    return res


def tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` (relative name -> bytes), lock files left out."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "audiokit.lock" not in p.name
    }


def errors(res: Any) -> list[str]:
    return [ln for ln in res.stderr.splitlines() if ln.startswith("audiokit:")]


# -- pure parts ------------------------------------------------------------------------


def test_scheduler_addresses_parse() -> None:
    parse = dask_engine.parse_address
    assert str(parse("tcp://10.0.0.5:8786")) == "tcp://10.0.0.5:8786"
    assert str(parse("tls://head.example.org:8786")) == "tls://head.example.org:8786"
    assert str(parse("head:8786")) == "tcp://head:8786"
    assert str(parse("[::1]:8786")) == "tcp://[::1]:8786"
    assert parse("local:3") == dask_engine.Address(local=3)
    for bad in ("head", "head:", "head:0", "head:99999", "udp://h:1", "local:0", "local:x", ""):
        with pytest.raises(ValueError):
            parse(bad)


def test_chunks_group_short_inputs_and_send_long_ones_alone() -> None:
    big = dask_engine.CHUNK_BYTES
    sizes = [10_000] * 2000 + [big * 3] + [10_000] * 10
    chunks = dask_engine.plan_chunks(sizes, workers=2)
    assert [i for c in chunks for i in c] == list(range(len(sizes)))  # all, in order, once
    assert max(len(c) for c in chunks) == dask_engine.MOST_PER_TASK
    assert [2000] in chunks  # the long file alone
    few = dask_engine.plan_chunks([10_000] * 40, workers=2)
    assert len(few) == 20 and all(len(c) == 2 for c in few)  # ~8 tasks per worker at least
    assert dask_engine.plan_chunks([10_000] * 5, workers=2, most=1) == [[i] for i in range(5)]


# -- same outputs as the local pool ----------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_features_tables_equal_the_local_pool(
    runner, cli, clips: Path, tmp_path: Path, on: list[str], fmt: str
) -> None:
    base = ["features", str(clips), "--label-from-parent", "-q"]
    invoke(runner, cli, [*base, "-j", "2", "-o", str(tmp_path / f"local.{fmt}")])
    invoke(runner, cli, [*base, *on, "-o", str(tmp_path / f"dask.{fmt}")])
    local = (tmp_path / f"local.{fmt}").read_bytes()
    assert (tmp_path / f"dask.{fmt}").read_bytes() == local
    if fmt == "csv":
        assert local.count(b"\n") == 41  # the header and one row per clip, in input order


def test_features_with_a_librosa_group_equal_the_local_pool(
    runner, cli, clips: Path, tmp_path: Path, on: list[str]
) -> None:
    """cens needs librosa's CQT: the workers warm it up before their first task."""
    some = [str(p) for p in sorted((clips / "a").glob("*.wav"))[:6]]
    base = ["features", *some, "--features", "mfcc,cens", "-q", "-o"]
    invoke(runner, cli, [*base, str(tmp_path / "local.csv"), "-j", "2"])
    invoke(runner, cli, [*base, str(tmp_path / "dask.csv"), *on])
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()


def test_inspect_equals_the_local_pool(runner, cli, clips: Path, tmp_path: Path, on) -> None:
    local = invoke(runner, cli, ["inspect", str(clips), "--json", "-j", "2"])
    dask = invoke(runner, cli, ["inspect", str(clips), "--json", *on])
    assert dask.stdout == local.stdout and dask.stdout.count("\n") == 40
    invoke(runner, cli, ["inspect", str(clips), "-o", str(tmp_path / "l.parquet"), "-j", "2"])
    invoke(runner, cli, ["inspect", str(clips), "-o", str(tmp_path / "d.parquet"), *on])
    assert (tmp_path / "d.parquet").read_bytes() == (tmp_path / "l.parquet").read_bytes()


def test_local_n_starts_its_own_cluster(runner, cli, clips: Path) -> None:
    local = invoke(runner, cli, ["inspect", str(clips / "a"), "--csv", "-j", "2"])
    dask = invoke(runner, cli, ["inspect", str(clips / "a"), "--csv", "--scheduler", "local:1"])
    assert dask.stdout == local.stdout and dask.stdout.count("\n") == 21


@pytest.fixture(scope="module")
def few(clips: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight of the clips (the stereo one among them), in two folders."""
    root = tmp_path_factory.mktemp("few")
    for k, clip in enumerate(sorted(clips.rglob("*.wav"))[:8]):
        folder = root / ("x" if k % 2 else "y")
        folder.mkdir(exist_ok=True)
        (folder / clip.name).write_bytes(clip.read_bytes())
    return root


def test_plots_equal_the_local_pool(runner, cli, few: Path, tmp_path: Path, on: list[str]) -> None:
    """PNG bytes, the input tree mirrored."""
    for name, extra in (("l", ["-j", "2"]), ("d", on)):
        args = ["plot", str(few), "--kind", "waveform", "-o", str(tmp_path / name), "-q"]
        invoke(runner, cli, [*args, *extra])
    local = tree(tmp_path / "l")
    assert len(local) == 8 and all(v.startswith(b"\x89PNG") for v in local.values())
    assert "y/clip05.waveform.png" in local  # the stereo clip
    assert tree(tmp_path / "d") == local


def test_spectrogram_with_data_equals_the_local_pool(
    runner, cli, few: Path, tmp_path: Path, on: list[str]
) -> None:
    for name, extra in (("l", ["-j", "2"]), ("d", on)):
        out = tmp_path / name
        args = ["spectrogram", str(few), "--scale", "mel", "-o", str(out), "--data", str(out)]
        invoke(runner, cli, [*args, "-q", *extra])
    local = tree(tmp_path / "l")
    assert len(local) == 16  # a PNG and a .npy per clip
    assert tree(tmp_path / "d") == local


def test_preprocess_audio_and_report_equal_the_local_pool(
    runner, cli, clips: Path, tmp_path: Path, on: list[str]
) -> None:
    for name, extra in (("l", ["-j", "2"]), ("d", on)):
        args = ["preprocess", str(clips), "-o", str(tmp_path / name), "--mono", "--sr", "16000"]
        args += ["--normalize", "loudness", "--report", str(tmp_path / f"{name}.csv"), "-q"]
        invoke(runner, cli, [*args, *extra])
    local = tree(tmp_path / "l")
    assert len(local) == 40
    assert tree(tmp_path / "d") == local
    report = (tmp_path / "d.csv").read_text().replace(str(tmp_path / "d"), str(tmp_path / "l"))
    assert report == (tmp_path / "l.csv").read_text() and report.count("\n") == 41


def test_transcripts_equal_the_local_pool(
    runner, cli, sample_dir: Path, tmp_path: Path, on: list[str]
) -> None:
    import pyarrow.parquet as pq

    from audiokit.transcribe.models import resolve_model

    try:
        resolve_model("tiny.en")
    except MissingDependencyError as exc:
        pytest.skip(f"tiny.en is not installed: {exc}")
    speech = [str(sample_dir / "speech" / "hello.wav"), str(sample_dir / "speech/with_pauses.flac")]
    for name, extra in (("l", ["-j", "2"]), ("d", on)):
        table = str(tmp_path / f"{name}.parquet")
        invoke(runner, cli, ["transcribe", *speech, "-o", table, *extra])
    for table in ("{}.parquet", "{}.files.parquet"):
        dask, ours = ((tmp_path / table.format(n)).read_bytes() for n in "dl")
        assert dask == ours
    segments = pq.read_table(tmp_path / "l.parquet").to_pylist()
    assert segments[0]["path"] == speech[0]
    assert "quick" in " ".join(s["text"] for s in segments).lower()


def test_update_on_the_cluster_equals_an_update_of_the_local_pool(
    runner, cli, few: Path, tmp_path: Path, on: list[str]
) -> None:
    clips = sorted(few.rglob("*.wav"))
    for name, extra in (("l", ["-j", "2"]), ("d", on)):
        src = tmp_path / f"in_{name}"
        src.mkdir()
        for clip in clips[:5]:
            (src / clip.name).write_bytes(clip.read_bytes())
            os.utime(src / clip.name, (1e9, 1e9))
        args = ["features", str(src), "--features", "rms,zcr", "-o", str(tmp_path / f"{name}.csv")]
        invoke(runner, cli, [*args, *extra])
        for clip in clips[5:]:
            (src / clip.name).write_bytes(clip.read_bytes())
            os.utime(src / clip.name, (1e9, 1e9))
        res = invoke(runner, cli, [*args, "--update", *extra])
        assert res.stderr == ""
    local = (tmp_path / "l.csv").read_text().replace("in_l", "in_d")
    assert (tmp_path / "d.csv").read_text() == local and local.count("\n") == 9


# -- failures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def with_bad(clips: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten clips and, between them, a file that is not audio."""
    root = tmp_path_factory.mktemp("bad")
    for k, clip in enumerate(sorted((clips / "a").glob("*.wav"))[:10]):
        (root / f"{k:02d}.wav").write_bytes(clip.read_bytes())
    (root / "04b.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(64))
    return root


@pytest.mark.parametrize("fail_fast", [False, True])
def test_a_bad_file_fails_the_same_way(
    runner, cli, with_bad: Path, tmp_path: Path, on: list[str], fail_fast: bool
) -> None:
    flags = ["--fail-fast"] if fail_fast else []
    base = ["features", str(with_bad), "--features", "rms", *flags, "-o"]
    local = invoke(runner, cli, [*base, str(tmp_path / "l.csv"), "-j", "2"], code=1)
    dask = invoke(runner, cli, [*base, str(tmp_path / "d.csv"), *on], code=1)
    assert errors(dask) == errors(local) and len(errors(local)) == 1
    assert "04b.wav" in errors(local)[0]
    assert (tmp_path / "d.csv").read_bytes() == (tmp_path / "l.csv").read_bytes()
    rows = (tmp_path / "l.csv").read_bytes().count(b"\n") - 1
    assert rows == (5 if fail_fast else 10)  # --fail-fast: the rows before the bad file


def _arm_killer(marker: str, victim: str) -> None:
    """In a worker: the features task of ``victim`` kills its worker process, once."""
    import audiokit.cli.features as features_cli

    original = features_cli._task

    def task(inp: Input, **kw: Any) -> Any:
        if inp.path.endswith(victim) and not os.path.exists(marker):
            Path(marker).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return original(inp, **kw)

    features_cli._task = task  # type: ignore[assignment]


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(
    runner, cli, cluster, clips: Path, tmp_path: Path, on: list[str]
) -> None:
    client = cluster[1]
    marker = tmp_path / "killed"
    pids = set(client.run(os.getpid).values())
    client.run(_arm_killer, str(marker), "clip17.wav")
    base = ["features", str(clips), "--features", "mfcc,rms", "-q", "-o"]
    invoke(runner, cli, [*base, str(tmp_path / "d.csv"), *on])
    assert marker.exists() and int(marker.read_text()) in pids  # a worker did die
    invoke(runner, cli, [*base, str(tmp_path / "l.csv"), "-j", "2"])
    assert (tmp_path / "d.csv").read_bytes() == (tmp_path / "l.csv").read_bytes()
    client.wait_for_workers(2, timeout=30)
    client.run(_disarm)


def _disarm() -> None:
    import importlib

    import audiokit.cli.features as features_cli

    importlib.reload(features_cli)


def _set_version(version: str) -> None:
    import audiokit

    audiokit.__version__ = version


def test_a_worker_of_another_version_is_refused(
    runner, cli, cluster, clips: Path, tmp_path: Path, on: list[str]
) -> None:
    client = cluster[1]
    worker = sorted(client.scheduler_info()["workers"])[0]
    client.run(_set_version, "0.0.9", workers=[worker])
    try:
        out = tmp_path / "f.csv"
        res = invoke(runner, cli, ["features", str(clips), "-o", str(out), *on], code=1)
    finally:
        client.run(_set_version, dask_engine.versions()[0], workers=[worker])
    from audiokit import __version__

    assert errors(res) == [
        f"audiokit: scheduler {cluster[0]}: worker {worker} runs audiokit 0.0.9, "
        f"this is {__version__}"
    ]
    assert not out.exists()


def _break_audiokit() -> None:
    """In a worker: audiokit cannot be imported there (a worker of another environment)."""

    def versions() -> tuple[str, str]:
        raise ModuleNotFoundError("No module named 'audiokit'")

    dask_engine.versions = versions  # type: ignore[assignment]


def _mend_audiokit() -> None:
    import importlib

    importlib.reload(dask_engine)


def test_a_worker_without_audiokit_is_one_line(
    runner, cli, cluster, clips: Path, on: list[str]
) -> None:
    client = cluster[1]
    worker = sorted(client.scheduler_info()["workers"])[0]
    client.run(_break_audiokit, workers=[worker])
    try:
        res = invoke(runner, cli, ["inspect", str(clips / "a"), *on], code=1)
    finally:
        client.run(_mend_audiokit, workers=[worker])
    assert errors(res) == [
        f"audiokit: scheduler {cluster[0]}: worker {worker} cannot run audiokit "
        "(ModuleNotFoundError: No module named 'audiokit')"
    ]
    assert res.stdout == ""


def _hide(prefix: str) -> None:
    """In a worker: paths below ``prefix`` do not exist (another machine's disk)."""
    real = os.path.exists
    os.path.exists = lambda p: False if str(p).startswith(prefix) else real(p)  # type: ignore


def _unhide() -> None:
    import genericpath

    os.path.exists = genericpath.exists


def test_inputs_a_worker_cannot_see_are_refused_before_any_work(
    runner, cli, cluster, clips: Path, tmp_path: Path, on: list[str]
) -> None:
    client = cluster[1]
    worker = sorted(client.scheduler_info()["workers"])[-1]
    client.run(_hide, str(clips), workers=[worker])
    try:
        out = tmp_path / "pics"
        args = ["plot", str(clips / "a"), "-o", str(out), *on]
        res = invoke(runner, cli, args, code=1)
    finally:
        client.run(_unhide, workers=[worker])
    first = sorted((clips / "a").glob("*.wav"))[0]
    (line,) = errors(res)
    assert line.startswith(f"audiokit: scheduler {cluster[0]}: worker {worker} cannot see {first}")
    assert "storage every worker shares" in line
    assert not [p for p in out.rglob("*.png")]


def _read_only(folder: str) -> None:
    """In a worker: ``folder`` cannot be written (the tests run as root: no chmod)."""
    import tempfile

    real = tempfile.mkstemp

    def mkstemp(*args: Any, **kw: Any) -> Any:
        if kw.get("dir") == folder:
            raise PermissionError(13, "Permission denied")
        return real(*args, **kw)

    tempfile.mkstemp = mkstemp  # type: ignore[assignment]


def _writable() -> None:
    import importlib
    import tempfile

    importlib.reload(tempfile)


def test_an_output_directory_a_worker_cannot_write_is_refused(
    runner, cli, cluster, clips: Path, tmp_path: Path, on: list[str]
) -> None:
    client = cluster[1]
    worker = sorted(client.scheduler_info()["workers"])[0]
    out = tmp_path / "pics"
    out.mkdir()
    client.run(_read_only, str(out), workers=[worker])
    try:
        res = invoke(runner, cli, ["plot", str(clips / "a"), "-o", str(out), *on], code=1)
    finally:
        client.run(_writable, workers=[worker])
    assert errors(res) == [
        f"audiokit: scheduler {cluster[0]}: worker {worker} cannot write into {out} "
        "(permission denied): inputs and outputs must be on storage every worker shares, "
        "at the same paths"
    ]
    assert not list(out.rglob("*.png"))


def test_without_dask_the_option_says_how_to_get_it(
    runner, cli, clips: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    res = invoke(runner, cli, ["inspect", str(clips / "a"), "--scheduler", "local:2"], code=2)
    assert errors(res) == ["audiokit: --scheduler needs dask: pip install 'audiokit[dask]'"]
    assert res.stdout == ""


def test_malformed_and_unreachable_schedulers_are_one_line(
    runner, cli, clips: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    res = invoke(runner, cli, ["inspect", str(clips / "a"), "--scheduler", "head"], code=2)
    assert len(errors(res)) == 1 and "'head' is not a scheduler address" in errors(res)[0]
    monkeypatch.setenv("AUDIOKIT_SCHEDULER", "local:zero")
    res = invoke(runner, cli, ["inspect", str(clips / "a")], code=2)
    assert len(errors(res)) == 1 and "local:N" in errors(res)[0]
    monkeypatch.setattr(dask_engine, "CONNECT_TIMEOUT", 1.0)
    monkeypatch.setenv("AUDIOKIT_SCHEDULER", "tcp://127.0.0.1:9")  # the discard port: closed
    start = time.monotonic()
    res = invoke(runner, cli, ["inspect", str(clips / "a")], code=1)
    assert time.monotonic() - start < 8
    assert errors(res) == ["audiokit: scheduler tcp://127.0.0.1:9: cannot connect within 1 s"]
    assert res.stdout == ""


def test_closing_the_batch_cancels_what_is_outstanding(cluster, clips: Path) -> None:
    """What --fail-fast and Ctrl-C do: nothing of the batch stays on the cluster."""
    from audiokit import batch

    address, client = cluster
    inputs = [Input(str(p), str(p), p.name) for p in sorted(clips.rglob("*.wav"))]
    with dask_engine.DaskExecutor(dask_engine.parse_address(address), one_per_task=True) as ex:
        outcomes = batch.run(_slow, inputs, executor=ex)
        first = next(outcomes)
        assert first.ok and first.value == inputs[0].path
        outcomes.close()

        def ours(dask_scheduler: Any) -> int:
            return sum(1 for k in dask_scheduler.tasks if str(k).startswith("audiokit-"))

        deadline = time.monotonic() + 10
        while client.run_on_scheduler(ours) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.run_on_scheduler(ours) == 0


def _slow(inp: Input) -> str:
    time.sleep(0.2)
    return inp.path


def test_ctrl_c_exits_130_without_outputs(cluster, clips: Path, tmp_path: Path) -> None:
    address, client = cluster
    out = tmp_path / "f.parquet"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "audiokit", "features", str(clips), "--features", "all"]
    proc = subprocess.Popen(
        [*args, "-o", str(out), "--scheduler", address],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not any(client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "audiokit: interrupted" in stderr and "Traceback" not in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []
