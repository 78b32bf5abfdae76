"""The fast paths of ``preprocess``: they give the samples and levels of the plain ones.

The spill file of the streaming path (pass 2 reads pass 1's samples back), the
input meter on a second thread, the exact one-max peak, the in-place quantiser,
and ``lufs_out`` measured only when asked.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from audiokit.cli import cli
from audiokit.dsp import levels
from audiokit.inputs import Input
from audiokit.preprocess import spill as spill_mod
from audiokit.preprocess import streaming
from audiokit.preprocess.chain import Plan, build_plan
from audiokit.preprocess.output import Encoding, OutputSpec, quantize
from audiokit.preprocess.process import Job, batch_warm_up, preprocess_file
from audiokit.preprocess.spill import Background, Spill
from tests.test_preprocess_steps import bs1770


def _source(tmp_path: Path, seconds: float = 6.0, sr: int = 22050, channels: int = 2) -> Path:
    rng = np.random.default_rng(7)
    t = np.arange(int(sr * seconds)) / sr
    y = np.stack(
        [
            0.4 * np.sin(2 * np.pi * (220 + 110 * c) * t) + 0.03 * rng.standard_normal(len(t))
            for c in range(channels)
        ]
    ).astype(np.float32)
    src = tmp_path / "in.wav"
    sf.write(src, y.T, sr, subtype="PCM_16")
    return src


def _run(src: Path, out: Path, plan: Plan, **kw: object) -> tuple[object, bytes]:
    spec = OutputSpec(out=str(out), single=True, overwrite=True)
    job = Job(plan, spec, blocksize=3000, **kw)  # type: ignore[arg-type]
    rep = preprocess_file(job, Input(str(src), str(src), src.name))
    return rep, out.read_bytes()


class _NoSpill(Spill):
    """A spill whose file could not be made: pass 2 decodes and resamples again."""

    def __init__(self, channels: int, folder: Path | None = None, keep: bool = True) -> None:
        super().__init__(channels, folder, keep=False)


class _FullDisk(Spill):
    """A spill whose third write fails as on a full disk."""

    made: ClassVar[list[_FullDisk]] = []

    def __init__(self, channels: int, folder: Path | None = None, keep: bool = True) -> None:
        super().__init__(channels, folder, keep)
        self.made.append(self)

    def write(self, block: np.ndarray) -> None:
        if len(self.lengths) == 2 and self._file is not None:
            self._file.close()  # the next write raises OSError (ValueError is not caught)
            self._file = _Broken()  # type: ignore[assignment]
        super().write(block)


class _Broken:
    def write(self, data: object) -> int:
        raise OSError(28, "No space left on device")

    def close(self) -> None:
        pass


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_spilled_second_pass_gives_the_recomputed_samples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, subtype: str
) -> None:
    """Dithered PCM_16 included: pass 2 gets the blocks pass 1 made, with the same lengths."""
    src = _source(tmp_path)
    plan = build_plan(Plan(sr=16000, highpass=50.0, normalize="peak"), set())
    spec_kw = {"streaming": "on"}
    used: list[bool] = []
    _FullDisk.made.clear()

    class Watched(Spill):
        def blocks(self):  # type: ignore[no-untyped-def]
            used.append(True)
            return super().blocks()

    results = {}
    for name, cls in (("spill", Watched), ("again", _NoSpill), ("full", _FullDisk)):
        monkeypatch.setattr(streaming, "Spill", cls)
        out = tmp_path / f"{name}.wav"
        spec = OutputSpec(out=str(out), single=True, overwrite=True, subtype=subtype)
        job = Job(plan, spec, blocksize=3000, **spec_kw)  # type: ignore[arg-type]
        rep = preprocess_file(job, Input(str(src), str(src), src.name))
        # the samples as written (a float WAV's PEAK chunk holds a time stamp)
        results[name] = (rep, sf.read(out, dtype="int32" if subtype == "PCM_16" else "float32")[0])
    assert used == [True]  # only the working spill was read back
    assert [sp.usable for sp in _FullDisk.made] == [False]  # the full disk was noticed
    (a, xa), (b, xb), (c, xc) = results["spill"], results["again"], results["full"]
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(xa, xc)
    assert a.streaming and a.dithered == (subtype == "PCM_16")  # type: ignore[attr-defined]
    for r in (b, c):
        for k in ("peak_in_dbfs", "lufs_in", "peak_out_dbfs", "gain_db", "duration_out"):
            assert getattr(r, k) == getattr(a, k), k
    # and the streamed float output equals the in-memory one
    monkeypatch.setattr(streaming, "Spill", Spill)
    out = tmp_path / "mem.wav"
    spec = OutputSpec(out=str(out), single=True, overwrite=True, subtype="FLOAT")
    preprocess_file(Job(plan, spec, streaming="off"), Input(str(src), str(src), src.name))
    if subtype == "FLOAT":
        np.testing.assert_array_equal(sf.read(out)[0], sf.read(tmp_path / "spill.wav")[0])


def test_spill_round_trip_and_anonymous_file(tmp_path: Path) -> None:
    blocks = [np.arange(2 * n, dtype=np.float32).reshape(2, n) / 7 for n in (5, 0, 3, 11)]
    with Spill(2, tmp_path) as sp:
        for b in blocks:
            sp.write(b)
        assert list(tmp_path.iterdir()) == []  # nothing with a name, even while open
        back = list(sp.blocks())
    assert [x.shape for x in back] == [b.shape for b in blocks]
    for x, b in zip(back, blocks, strict=True):
        np.testing.assert_array_equal(x, b)
        assert x.flags.writeable
    assert not Spill(1, keep=False).usable


def test_background_runs_in_order_and_raises_in_the_caller() -> None:
    seen: list[int] = []
    with Background(seen.append) as bg:
        for i in range(50):
            bg.put(i)
    assert seen == list(range(50))

    def boom(i: int) -> None:
        if i == 3:
            raise ValueError("bad block")

    with pytest.raises(ValueError, match="bad block"), Background(boom) as bg:
        for i in range(20):
            bg.put(i)
    inline: list[int] = []
    with Background(inline.append, threaded=False) as bg:
        bg.put(1)
        assert inline == [1]  # called at once, in this thread


def test_input_meter_on_a_thread_gives_the_same_report(tmp_path: Path) -> None:
    src = _source(tmp_path, channels=1)
    plan = build_plan(Plan(sr=16000, normalize="loudness"), set())
    ra, xa = _run(src, tmp_path / "a.wav", plan, streaming="on")
    rb, xb = _run(src, tmp_path / "b.wav", plan, streaming="on", threads=2)
    assert xa == xb
    assert ra == rb.__class__(**{**rb.__dict__, "outputs": ra.outputs})  # type: ignore[attr-defined]
    assert math.isfinite(rb.lufs_in) and rb.lufs_in == ra.lufs_in  # type: ignore[attr-defined]


def test_max_abs_is_the_meter_peak() -> None:
    rng = np.random.default_rng(2)
    y = rng.standard_normal((3, 10001)).astype(np.float32)
    y[1, 77] = -5.5  # the largest magnitude is negative
    meter = levels.PeakRms(3)
    meter.update(y.T)
    assert levels.max_abs(y) == meter.total_peak == 5.5
    assert levels.peak_dbfs(y) == 20 * math.log10(5.5)
    assert levels.max_abs(np.zeros((2, 0), np.float32)) == 0.0
    assert levels.peak_dbfs(np.zeros((1, 9), np.float32)) == -math.inf


def _quantize_reference(block: np.ndarray, enc: Encoding, rng: np.random.Generator) -> np.ndarray:
    """The quantiser written out plainly: scale, TPDF noise, round, clip."""
    x = block.T
    bits = enc.bits
    assert bits is not None
    scale = float(2 ** (bits - 1))
    v = x.astype(np.float64) * scale
    if enc.dither:
        n = v.size  # two 32-bit uniforms from each 64-bit draw, in sample order
        raw = rng.bit_generator.random_raw(n)
        hi, lo = (
            (raw >> np.uint64(32)).astype(np.int64),
            (raw & np.uint64(0xFFFFFFFF)).astype(np.int64),
        )
        noise = ((lo - hi) * 2.0**-32).reshape(v.shape)  # little-endian: low half first
        noise[x == 0] = 0.0
        v += noise
    v = np.rint(v)
    np.clip(v, -scale, scale - 1, out=v)
    return v.astype(np.int16) if bits == 16 else (v.astype(np.int32) << 8)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24"])
@pytest.mark.parametrize("dither", [True, False])
def test_in_place_quantiser_gives_the_plain_codes(subtype: str, dither: bool) -> None:
    rng = np.random.default_rng(4)
    y = (rng.standard_normal((2, 4000)) * 0.6).astype(np.float32)
    y[:, 100:300] = 0.0  # digital silence stays silent
    y[0, 5], y[1, 6] = 1.5, -2.0  # clipped
    enc = Encoding("wav", "WAV", subtype, dither)
    codes, clipped = quantize(y, enc, np.random.default_rng(9))
    np.testing.assert_array_equal(codes, _quantize_reference(y, enc, np.random.default_rng(9)))
    assert clipped >= 2 and not codes[100:300].any()


def _rows(res: object) -> list[dict[str, object]]:
    return [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]  # type: ignore[attr-defined]


def test_lufs_out_is_measured_when_asked(tmp_path: Path) -> None:
    src = _source(tmp_path, seconds=3.0)
    runner = CliRunner()
    base = ["preprocess", str(src), "--sr", "16000", "--normalize", "peak", "--json"]
    res = runner.invoke(cli, [*base, "-o", str(tmp_path / "a.wav")])
    assert res.exit_code == 0, res.output
    row = _rows(res)[0]
    assert row["lufs_out"] is None and row["lufs_in"] is not None  # not measured
    res = runner.invoke(cli, [*base, "-o", str(tmp_path / "b.wav"), "--measure-output"])
    row = _rows(res)[0]
    y, sr = sf.read(tmp_path / "b.wav", always_2d=True)
    assert row["lufs_out"] == pytest.approx(bs1770(y.T, sr), abs=0.05)
    loud = ["preprocess", str(src), "--normalize", "loudness", "--target", "-20", "--json"]
    res = runner.invoke(cli, [*loud, "-o", str(tmp_path / "c.wav")])
    assert _rows(res)[0]["lufs_out"] == pytest.approx(-20.0, abs=0.05)  # asked by the target


def test_no_compile_lock_without_librosa_steps() -> None:
    assert batch_warm_up(build_plan(Plan(sr=16000, normalize="peak"), set())) is None
    assert batch_warm_up(build_plan(Plan(), {"trim"})) is not None
    assert spill_mod.QUEUE_DEPTH >= 1


@pytest.mark.parametrize(("sr_in", "sr_out"), [(44100, 16000), (8000, 16000), (48000, 8000)])
def test_resampler_in_one_call_gives_the_stream_samples(sr_in: int, sr_out: int) -> None:
    """``Resample.whole`` (soxr.resample) against the stream fed in blocks, tiny signals too."""
    from audiokit.preprocess import blocks

    rng = np.random.default_rng(11)
    for n in [*range(0, 12), 97, 4097, 50_001]:
        for ch in (1, 2):
            y = rng.standard_normal((ch, n)).astype(np.float32)
            parts = list(
                blocks.run_blocks(
                    [blocks.Resample(ch, sr_in, sr_out)], [y[:, : n // 2], y[:, n // 2 :]]
                )
            )
            streamed = np.concatenate(parts, axis=-1) if parts else np.zeros((ch, 0), np.float32)
            whole = blocks.Resample(ch, sr_in, sr_out).whole(y)
            assert whole.dtype == np.float32 and whole.flags.c_contiguous
            assert whole.shape == (ch, math.ceil(n * sr_out / sr_in)), n
            np.testing.assert_array_equal(whole, streamed)


def test_tpdf_is_triangular_on_plus_minus_one_lsb() -> None:
    from audiokit.preprocess.output import tpdf

    noise = tpdf(np.random.default_rng(0), (200_000, 2))
    assert noise.shape == (200_000, 2) and noise.min() > -1 and noise.max() < 1
    assert abs(noise.mean()) < 0.005
    assert noise.var() == pytest.approx(1 / 6, rel=0.02)
    hist = np.histogram(noise, bins=4, range=(-1, 1))[0] / noise.size
    np.testing.assert_allclose(hist, [1 / 8, 3 / 8, 3 / 8, 1 / 8], atol=0.005)  # a triangle
    again = tpdf(np.random.default_rng(0), (200_000, 2))
    np.testing.assert_array_equal(noise, again)  # seeded: reproducible
