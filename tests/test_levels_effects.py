"""One pre-emphasis, one meter, one resampler and one filter path (issue 13).

``audiokit.dsp.effects.preemphasis`` against librosa; ``audiokit.dsp.levels``
against numpy and as both ``inspect`` and ``preprocess`` use it; the in-memory
steps against their block processors fed in blocks, and against soxr/scipy.
"""

from __future__ import annotations

import math
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
import soxr
from scipy.signal import butter, sosfilt

from audiokit.dsp import effects, levels
from audiokit.inputs import Input
from audiokit.inspection import measure_levels
from audiokit.preprocess import blocks
from audiokit.preprocess import loudness as ld
from audiokit.preprocess import steps as st
from audiokit.preprocess.chain import Plan, build_plan
from audiokit.preprocess.output import OutputSpec
from audiokit.preprocess.process import Job, preprocess_file
from audiokit.preprocess.streaming import Meter

RNG = np.random.default_rng(13)


def noise(shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
    return (0.3 * RNG.standard_normal(shape)).astype(dtype)


def in_blocks(proc: blocks.Processor, y: np.ndarray, size: int) -> np.ndarray:
    parts = list(
        blocks.run_blocks([proc], [y[:, i : i + size] for i in range(0, y.shape[-1], size)])
    )
    return np.concatenate(parts, axis=-1) if parts else blocks.empty(y.shape[0])


# ----------------------------------------------------------------- pre-emphasis


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3000,), (2, 3000), (2, 3, 700)])
@pytest.mark.parametrize("coef", [0.97, 0.5, 1.0])
def test_preemphasis_is_librosas(dtype: type, shape: tuple[int, ...], coef: float) -> None:
    y = noise(shape, dtype)
    ref = librosa.effects.preemphasis(y, coef=coef)
    got = effects.preemphasis(y, coef=coef)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)
    # The first sample is librosa's: y[0] + (2*y[0] - y[1]).
    np.testing.assert_allclose(got[..., 0], 3 * y[..., 0] - y[..., 1], rtol=1e-6)
    # Block by block, each zf the next zi: the samples of the whole signal, and librosa's zf.
    a, zf = effects.preemphasis(y[..., :1234], coef=coef, return_zf=True)
    _, ref_zf = librosa.effects.preemphasis(y[..., :1234], coef=coef, return_zf=True)
    np.testing.assert_array_equal(zf, ref_zf)
    b, zf2 = effects.preemphasis(y[..., 1234:], coef=coef, zi=zf, return_zf=True)
    np.testing.assert_array_equal(np.concatenate([a, b], axis=-1), ref)
    np.testing.assert_array_equal(zf2, -dtype(coef) * y[..., -1:])


def test_preemphasis_with_a_given_state() -> None:
    y = noise((2, 500))
    zi = np.array([[0.25], [-0.5]], np.float32)
    np.testing.assert_array_equal(
        effects.preemphasis(y, coef=0.9, zi=zi), librosa.effects.preemphasis(y, coef=0.9, zi=zi)
    )
    np.testing.assert_array_equal(
        effects.preemphasis(y[0], coef=0.9, zi=0.1),
        librosa.effects.preemphasis(y[0], coef=0.9, zi=0.1),
    )
    # Empty blocks keep the state; a one-sample signal (librosa refuses it) takes zi = y[0].
    out, zf = effects.preemphasis(y[:, :0], coef=0.9, zi=zi, return_zf=True)
    assert out.shape == (2, 0)
    np.testing.assert_array_equal(zf, zi)
    np.testing.assert_array_equal(effects.preemphasis(y[:, :1], coef=0.9), 2 * y[:, :1])


@pytest.mark.parametrize("size", [1, 2, 7, 4000, 10**6])
def test_preemphasis_processor_gives_librosas_samples_in_any_blocks(size: int) -> None:
    """Even when the first block holds one sample (librosa's first sample needs two)."""
    y = noise((2, 9001))
    ref = librosa.effects.preemphasis(y, coef=0.97)
    np.testing.assert_array_equal(in_blocks(blocks.Preemphasis(2, 0.97), y, size), ref)
    np.testing.assert_array_equal(st.preemphasis(y, 16000, 0.97)[0], ref)


@pytest.mark.parametrize("streaming", ["off", "on"])
def test_preprocess_preemphasis_equals_librosa(tmp_path: Path, streaming: str) -> None:
    """``preprocess --preemphasis``, in memory and streamed: librosa's samples, sample 0 too."""
    sr = 16000
    y = noise((2, sr * 3 + 17))
    y[:, 0] = [0.2, -0.1]  # a first sample that the old rule (y[-1] = 0) would keep as is
    src = tmp_path / "in.wav"
    sf.write(src, y.T, sr, subtype="FLOAT")
    plan = build_plan(Plan(preemphasis=0.9), set())
    spec = OutputSpec(out=str(tmp_path / f"{streaming}.wav"), single=True, subtype="FLOAT")
    rep = preprocess_file(
        Job(plan, spec, streaming=streaming, blocksize=1000), Input(str(src), str(src), "in.wav")
    )
    assert rep.streaming == (streaming == "on")
    out = sf.read(rep.outputs[0], dtype="float32")[0].T
    ref = librosa.effects.preemphasis(y, coef=0.9)
    np.testing.assert_array_equal(out, ref)
    assert out[0, 0] != y[0, 0]


# ----------------------------------------------------------------- levels


def test_db_rule() -> None:
    assert levels.db(1.0) == 0.0
    assert levels.db(0.5) == pytest.approx(-6.0206, abs=1e-4)
    assert levels.db(0.0) == -math.inf
    assert levels.db(math.sqrt(0.5)) == pytest.approx(-3.0103, abs=1e-4)  # a full-scale sine's RMS


def test_meter_blockwise_equals_whole_and_numpy() -> None:
    y = np.clip(noise((3, 50_001)), -0.9, 0.9)
    y[1, 123] = -0.99
    whole = levels.measure(y)
    meter = levels.PeakRms(3)
    for i in range(0, y.shape[-1], 4096):
        meter.update(y[:, i : i + 4096].T)
    meter.update(y[:, :0].T)  # empty blocks are fine
    assert meter.n == whole.n == y.shape[-1]
    np.testing.assert_array_equal(meter.peak, np.abs(y).max(axis=1))
    np.testing.assert_allclose(meter.sumsq, whole.sumsq, rtol=1e-12)
    np.testing.assert_allclose(meter.sum, y.sum(axis=1, dtype=np.float64), rtol=1e-9)
    peak = float(np.float32(0.99))
    assert whole.total_peak == peak
    rms = math.sqrt(float(np.mean(np.square(y, dtype=np.float64))))
    assert whole.total_rms == pytest.approx(rms, rel=1e-12)
    assert levels.peak_dbfs(y) == 20 * math.log10(peak)
    assert levels.rms_dbfs(y) == pytest.approx(20 * math.log10(rms), rel=1e-12)
    assert levels.peak_dbfs(np.zeros((2, 0), np.float32)) == -math.inf
    assert levels.rms_dbfs(np.zeros((2, 10), np.float32)) == -math.inf


def test_inspect_and_preprocess_meters_agree() -> None:
    """inspect's levels, preprocess's in-memory levels and its streaming meter: one meter."""
    sr = 8000
    y = noise((2, sr * 2))
    total, per = measure_levels(y, sr)
    meter = Meter(sr, 2, loudness=True)
    for i in range(0, y.shape[-1], 1000):
        meter.update(y[:, i : i + 1000])
    assert total.peak_dbfs == ld.peak_dbfs(y) == meter.level("peak")
    assert total.rms_dbfs == pytest.approx(ld.rms_dbfs(y), abs=1e-12)
    assert meter.level("rms") == pytest.approx(total.rms_dbfs, abs=1e-12)
    assert per[1].rms == pytest.approx(float(np.sqrt(np.mean(y[1].astype(np.float64) ** 2))))
    assert meter.level("loudness") == pytest.approx(ld.integrated_loudness(y, sr), abs=1e-9)


# ----------------------------------------------------------------- resampler, filters, gain


@pytest.mark.parametrize(
    ("sr_in", "sr_out", "n"), [(22050, 16000, 100_003), (44100, 48000, 50_000), (8000, 16000, 7)]
)
@pytest.mark.parametrize("size", [997, 4000, 10**6])
def test_resample_in_memory_equals_streaming_and_soxr(
    sr_in: int, sr_out: int, n: int, size: int
) -> None:
    y = noise((2, n))
    got, rate = st.resample(y, sr_in, sr_out)
    assert rate == sr_out and got.shape == (2, math.ceil(n * sr_out / sr_in))
    np.testing.assert_array_equal(in_blocks(blocks.Resample(2, sr_in, sr_out), y, size), got)
    ref = soxr.resample(y.T, sr_in, sr_out, quality="HQ").T
    m = min(ref.shape[-1], got.shape[-1])
    np.testing.assert_array_equal(got[:, :m], ref[:, :m])
    assert not got[:, m:].any()  # soxr's length rounded down: padded with zeros to the ceiling


@pytest.mark.parametrize("kind", ["highpass", "lowpass"])
def test_filters_in_memory_equal_streaming_and_scipy(kind: str) -> None:
    sr, hz = 16000, 300.0 if kind == "highpass" else 3000.0
    y = noise((2, 20_000))
    got = getattr(st, kind)(y, sr, hz)[0]
    np.testing.assert_array_equal(in_blocks(blocks.SosFilter(2, kind, hz, sr), y, 1234), got)
    ref = sosfilt(butter(4, hz, btype=kind, fs=sr, output="sos"), y.astype(np.float64), axis=-1)
    np.testing.assert_array_equal(got, ref.astype(np.float32))


def test_gain_and_channels_in_memory_equal_streaming() -> None:
    y = noise((2, 5000))
    got = st.gain(y, 8000, -6.0)[0]
    np.testing.assert_array_equal(got, (y * np.float32(10 ** (-6 / 20))).astype(np.float32))
    np.testing.assert_array_equal(in_blocks(blocks.Gain(2, -6.0), y, 333), got)
    mono = st.select_channels(y, 8000, mono=True)[0]
    np.testing.assert_array_equal(
        mono, y.mean(axis=0, keepdims=True, dtype=np.float64).astype(np.float32)
    )
    np.testing.assert_array_equal(in_blocks(blocks.Channels(2, mono=True), y, 333), mono)
    np.testing.assert_array_equal(in_blocks(blocks.Channels(2, channel=1), y, 333), y[1:])
