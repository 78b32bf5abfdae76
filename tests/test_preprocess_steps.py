"""Unit tests of the preprocess steps, loudness, limiter, plan and streaming path."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiokit import bs1770 as bs
from audiokit.errors import InputError, UsageError
from audiokit.preprocess import loudness as ld
from audiokit.preprocess import steps as st
from audiokit.preprocess.chain import DEFAULT_ORDER, Plan, build_plan
from tests.conftest import have, sine

# ----------------------------------------------------------------- an independent BS.1770 meter


def k_weighting(fs: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """K-weighting biquads for any rate, from the analog prototypes (as libebur128 derives them)."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / fs)
    vh = 10 ** (gain_db / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf_b = np.array([vh + vb * k / q + k * k, 2 * (k * k - vh), vh - vb * k / q + k * k]) / a0
    shelf_a = np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / fs)
    a0 = 1 + k / q + k * k
    hp_b = np.array([1.0, -2.0, 1.0])
    hp_a = np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    return [(shelf_b, shelf_a), (hp_b, hp_a)]


def bs1770(y: np.ndarray, fs: int) -> float:
    """Integrated loudness (LUFS) of y (channels, n) or (n,), written from the standard."""
    from scipy.signal import lfilter

    x = np.atleast_2d(np.asarray(y, dtype=np.float64))
    for b, a in k_weighting(fs):
        x = lfilter(b, a, x, axis=-1)
    block, hop = int(round(0.4 * fs)), int(round(0.1 * fs))
    starts = range(0, x.shape[-1] - block + 1, hop)
    z = np.array([[np.mean(ch[s : s + block] ** 2) for ch in x] for s in starts])
    weights = np.array([1.0, 1.0, 1.0, 1.41, 1.41][: x.shape[0]])
    lj = -0.691 + 10 * np.log10(np.maximum(z @ weights, 1e-30))
    gated = z[lj > -70]
    rel = -0.691 + 10 * np.log10(gated.mean(axis=0) @ weights) - 10
    gated = z[(lj > -70) & (lj > rel)]
    return float(-0.691 + 10 * np.log10(gated.mean(axis=0) @ weights))


def test_reference_meter_matches_the_standard_coefficients_at_48k() -> None:
    (b1, a1), (b2, a2) = k_weighting(48000)
    np.testing.assert_array_equal(b2, [1.0, -2.0, 1.0])
    np.testing.assert_allclose(
        b1, [1.53512485958697, -2.69169618940638, 1.19839281085285], rtol=1e-6
    )
    np.testing.assert_allclose(a1, [1.0, -1.69065929318241, 0.73248077421585], rtol=1e-6)
    np.testing.assert_allclose(a2, [1.0, -1.99004745483398, 0.99007225036621], rtol=1e-6)
    # A 1 kHz full-scale sine reads -3.01 LUFS on one channel (BS.1770, K-weighting ~ +0.69 dB).
    y = sine(1000, 48000, 3.0, amp=1.0)
    assert bs1770(y, 48000) == pytest.approx(-3.01, abs=0.05)


def test_k_weighting_is_the_reference_design_at_every_rate() -> None:
    for sr in (8000, 16000, 22050, 44100, 48000, 96000):
        for (b, a), row in zip(k_weighting(sr), bs.k_weighting(sr), strict=True):
            np.testing.assert_allclose(row, [*b, *a], rtol=1e-12)


@pytest.mark.parametrize(("sr", "channels"), [(16000, 2), (44100, 2), (48000, 1), (22050, 5)])
def test_loudness_equals_the_reference_meter(sr: int, channels: int) -> None:
    rng = np.random.default_rng(3)
    y = (0.1 * rng.standard_normal((channels, int(sr * 3.37)))).astype(np.float32)
    y[:, : sr // 2] *= 0.01  # a quiet start, exercising the relative gate
    assert ld.integrated_loudness(y, sr) == pytest.approx(bs1770(y, sr), abs=1e-6)


def test_loudness_of_silence_short_and_quiet_input() -> None:
    sr = 16000
    assert math.isnan(ld.integrated_loudness(np.zeros((1, 6399), np.float32), sr))
    assert ld.integrated_loudness(np.zeros((1, 6400), np.float32), sr) == -math.inf
    quiet = sine(1000, sr, 2.0, amp=1e-4)[None, :]  # -83 LUFS: below the absolute gate
    assert ld.integrated_loudness(quiet, sr) == -math.inf
    assert ld.integrated_loudness(sine(1000, sr, 2.0, amp=1.0)[None, :], sr) == pytest.approx(
        bs1770(sine(1000, sr, 2.0, amp=1.0), sr), abs=1e-6
    )


@pytest.mark.skipif(not have("ffmpeg"), reason="ffmpeg is not installed")
@pytest.mark.parametrize("sr", [16000, 44100])
def test_loudness_agrees_with_ffmpeg_ebur128(tmp_path: Path, sr: int) -> None:
    import re
    import subprocess

    rng = np.random.default_rng(5)
    y = (0.05 * rng.standard_normal((2, sr * 4))).astype(np.float32)
    y[:, sr : 2 * sr] *= 0.003
    path = tmp_path / "noise.wav"
    sf.write(path, y.T, sr, subtype="FLOAT")
    out = subprocess.run(
        ["ffmpeg", "-nostats", "-i", str(path), "-af", "ebur128", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    ffmpeg_lufs = float(re.findall(r"I:\s+(-?[\d.]+) LUFS", out)[-1])  # printed to 0.1 LU
    assert ld.integrated_loudness(y, sr) == pytest.approx(ffmpeg_lufs, abs=0.06)


def test_streaming_loudness_does_not_depend_on_the_blocks() -> None:
    sr = 22050
    rng = np.random.default_rng(4)
    y = (0.2 * rng.standard_normal((2, sr * 5))).astype(np.float32)
    y[:, sr : 2 * sr] *= 0.001
    meter = bs.StreamingLoudness(sr, 2)
    for s in range(0, y.shape[-1], 3001):  # odd block size, not aligned to 100 ms
        meter.update(y[:, s : s + 3001])
        meter.update(y[:, :0])  # empty blocks are fine
    assert meter.result() == pytest.approx(ld.integrated_loudness(y, sr), abs=1e-9)
    assert meter.result() == pytest.approx(bs1770(y, sr), abs=1e-6)
    assert math.isnan(bs.StreamingLoudness(sr, 1).result())


# ----------------------------------------------------------------- steps


def dominant_hz(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.argmax(spec) * sr / len(y))


def test_resample_length_and_tone_frequency() -> None:
    y = sine(1000, 44100, 1.3)[None, :]
    out, sr = st.resample(y, 44100, 16000)
    assert sr == 16000
    assert out.shape == (1, math.ceil(y.shape[-1] * 16000 / 44100))
    assert dominant_hz(out[0], sr) == pytest.approx(1000, abs=16000 / out.shape[-1] * 1.01)
    # the level is kept (soxr passband is flat)
    assert np.sqrt(np.mean(out[0, 2000:-2000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_channels_mono_and_pick() -> None:
    y = np.stack([sine(330, 8000, 0.5, 0.8), sine(660, 8000, 0.5, 0.25)])
    mono, _ = st.select_channels(y, 8000, mono=True)
    np.testing.assert_allclose(mono[0], y.mean(axis=0), atol=1e-7)
    right, _ = st.select_channels(y, 8000, channel=1)
    np.testing.assert_array_equal(right[0], y[1])
    with pytest.raises(InputError, match="no channel 2"):
        st.select_channels(y, 8000, channel=2)


def test_trim_removes_known_silence_and_keeps_margin() -> None:
    sr = 16000
    tone = sine(500, sr, 1.0, 0.5)
    y = np.concatenate([np.zeros(sr), tone, np.zeros(2 * sr)])[None, :].astype(np.float32)
    for pad_ms in (0.0, 100.0):
        out, _ = st.trim(y, sr, top_db=40, pad_ms=pad_ms)
        pad = int(pad_ms * sr / 1000)
        first = int(np.argmax(np.abs(out[0]) > 1e-3)) - 1  # the sine starts at 0
        lead = len(out[0]) - first - sr  # samples after the tone
        # frame-level detection (1024-sample frames at 16 kHz): within one frame of the margin
        assert pad <= first <= pad + st.frame_length(sr)
        assert pad <= lead <= pad + st.frame_length(sr)
        np.testing.assert_array_equal(out[0, first : first + sr], tone)


def test_remove_silence_cuts_inner_gaps() -> None:
    sr = 8000
    a, b = sine(300, sr, 0.5, 0.5), sine(600, sr, 0.7, 0.5)
    y = np.concatenate([np.zeros(sr), a, np.zeros(3 * sr), b, np.zeros(sr)])[None, :]
    out, _ = st.remove_silence(y.astype(np.float32), sr, top_db=40, pad_ms=50)
    voiced = len(a) + len(b)
    frame = st.frame_length(sr)
    assert voiced + 4 * 400 <= out.shape[-1] <= voiced + 4 * (400 + frame)
    assert np.sum(out**2) == pytest.approx(np.sum(y**2), rel=1e-6)  # nothing voiced is lost
    with pytest.raises(InputError, match="silent"):
        st.remove_silence(np.zeros((1, sr), np.float32), sr)


def test_denoise_lowers_the_noise_floor_and_keeps_the_tone() -> None:
    sr = 16000
    rng = np.random.default_rng(0)
    noise = 0.02 * rng.standard_normal(4 * sr)
    tone = np.zeros(4 * sr)
    tone[sr : 3 * sr] = sine(440, sr, 2.0, 0.5)
    y = (tone + noise).astype(np.float32)[None, :]
    out, _ = st.denoise(y, sr, strength=1.0)
    gap = slice(2000, sr - 2000)
    floor_before = 10 * np.log10(np.mean(y[0, gap] ** 2))
    floor_after = 10 * np.log10(np.mean(out[0, gap] ** 2))
    assert floor_after < floor_before - 15
    mid = slice(int(1.5 * sr), int(2.5 * sr))
    err = out[0, mid] - tone[mid]
    assert 10 * np.log10(np.mean(tone[mid] ** 2) / np.mean(err**2)) > 20  # tone kept
    half, _ = st.denoise(y, sr, strength=0.5)
    assert 10 * np.log10(np.mean(half[0, gap] ** 2)) == pytest.approx(floor_before - 6, abs=1.5)


def test_filters_attenuate_outside_the_band() -> None:
    sr = 16000
    low, high = sine(50, sr, 2.0, 0.5), sine(2000, sr, 2.0, 0.5)

    def level(x: np.ndarray) -> float:
        return float(10 * np.log10(np.mean(x[sr:] ** 2)))

    hp_low = st.highpass(low[None, :], sr, 200)[0][0]
    hp_high = st.highpass(high[None, :], sr, 200)[0][0]
    assert level(hp_low) < level(low) - 40
    assert level(hp_high) == pytest.approx(level(high), abs=0.1)
    lp_high = st.lowpass(high[None, :], sr, 500)[0][0]
    assert level(lp_high) < level(high) - 40
    with pytest.raises(InputError, match="Nyquist"):
        st.lowpass(high[None, :], sr, 9000)


def test_preemphasis_gain_pad_trim_fade() -> None:
    y = np.array([[1.0, 2.0, 3.0, 4.0]], np.float32)
    np.testing.assert_allclose(st.preemphasis(y, 10, 0.5)[0], [[1.0, 1.5, 2.0, 2.5]])
    np.testing.assert_allclose(st.gain(y, 10, 20 * math.log10(2))[0], 2 * y, rtol=1e-6)
    x = np.ones((2, 7000), np.float32)
    assert st.pad_to(x, 8000, 1.0)[0].shape == (2, 8000)
    assert st.trim_to(x, 8000, 0.5)[0].shape == (2, 4000)
    assert st.pad_to(x, 8000, 0.5)[0].shape == (2, 7000)  # longer: unchanged
    faded, _ = st.fade(x, 8000, 10)
    assert faded[0, 0] == 0 and faded[0, 79] < 1 and faded[0, 80] == 1
    assert faded[0, -1] < 0.01 and faded[0, -81] == 1


def test_segment_bounds_count_and_lengths() -> None:
    assert st.segment_bounds(10, 4, 4) == [(0, 4), (4, 8), (8, 10)]
    assert st.segment_bounds(10, 4, 3) == [(0, 4), (3, 7), (6, 10)]
    assert st.segment_bounds(3, 4, 4) == [(0, 3)]
    y = np.arange(80, dtype=np.float32)[None, :]
    segs = st.segment(y, 10, 3.0, 1.0)  # 30 samples every 20
    assert [s.shape[-1] for s in segs] == [30, 30, 30, 20]
    np.testing.assert_array_equal(segs[1][0], np.arange(20, 50))


# ----------------------------------------------------------------- loudness decisions and limiter


def test_decide_gain_never_passes_the_ceiling() -> None:
    d = ld.decide_gain("peak", -6.0, -6.0, -1.0, -0.1, False)
    assert d.gain_db == pytest.approx(5.0) and not d.gain_reduced
    d = ld.decide_gain("loudness", -30.0, -10.0, -14.0, -1.0, False)
    assert d.gain_reduced and d.gain_db == pytest.approx(9.0) and d.wanted_db == 16.0
    d = ld.decide_gain("loudness", -30.0, -10.0, -14.0, -1.0, True)
    assert d.limit and d.gain_db == 16.0
    with pytest.raises(InputError, match="silent"):
        ld.decide_gain("peak", -math.inf, -math.inf, -1.0, -0.1, False)
    with pytest.raises(InputError, match="too short"):
        ld.decide_gain("loudness", math.nan, -3.0, -23.0, -0.1, False)


def test_limiter_holds_the_ceiling_smoothly() -> None:
    sr = 16000
    y = sine(200, sr, 1.0, 0.5)[None, :]
    y[0, 8000:8400] *= 4  # a burst at +6 dBFS
    out = ld.limit(y, sr, -1.0)
    assert np.max(np.abs(out)) <= 10 ** (-1 / 20) + 1e-6
    np.testing.assert_allclose(out[0, :7000], y[0, :7000], atol=1e-6)  # untouched far away
    assert np.max(np.abs(np.diff(out[0]))) < 0.2  # no hard clipping steps


# ----------------------------------------------------------------- plan


def test_plan_default_order_and_chain() -> None:
    settings = Plan(mono=True, sr=16000, normalize="peak", segment=2.0, gain_db=1.0)
    p = build_plan(settings, {"trim"})
    assert p.steps == ("channels", "sr", "trim", "gain", "normalize", "segment")
    assert list(p.steps) == [s for s in DEFAULT_ORDER if s in p.steps]
    p = build_plan(settings, {"trim"}, "normalize,trim,segment,gain,sr,mono")
    assert p.steps == ("normalize", "trim", "segment", "gain", "sr", "channels")
    p = build_plan(Plan(), set(), "mono,denoise,fade")  # enabled by name
    assert p.mono and p.fade_ms == 10.0 and p.steps == ("channels", "denoise", "fade")
    with pytest.raises(UsageError, match="missing: trim"):
        build_plan(settings, {"trim"}, "mono,sr,gain,normalize,segment")
    with pytest.raises(UsageError, match="needs --sr"):
        build_plan(Plan(), set(), "sr")
    with pytest.raises(UsageError, match="unknown step"):
        build_plan(Plan(), set(), "mono,reverb")
    with pytest.raises(UsageError, match="exclude"):
        build_plan(Plan(mono=True, channel=1), set())


def test_plan_streamability_and_exactness() -> None:
    assert build_plan(Plan(sr=16000, normalize="loudness", segment=1.0), set()).blockable
    assert not build_plan(Plan(sr=16000), {"trim"}).blockable
    assert not build_plan(Plan(normalize="loudness", limit=True), set()).blockable
    assert not build_plan(Plan(segment=1.0, gain_db=1.0), set(), "segment,gain").blockable
    assert build_plan(Plan(channel=0, segment=1.0), {"trim"}).exact
    assert not build_plan(Plan(mono=True), set()).exact


# ----------------------------------------------------------------- streaming == in memory


@pytest.mark.parametrize(
    ("mode", "target"), [("peak", None), ("loudness", None), ("rms", None), ("loudness", -3.0)]
)
def test_streaming_path_equals_in_memory_path(
    tmp_path: Path, mode: str, target: float | None
) -> None:
    from audiokit.inputs import Input
    from audiokit.preprocess.output import OutputSpec
    from audiokit.preprocess.process import Job, preprocess_file

    sr = 22050
    rng = np.random.default_rng(1)
    t = np.arange(sr * 12) / sr
    y = np.stack(
        [
            0.3 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(t)),
            0.05 * rng.standard_normal(len(t)),
        ]
    ).astype(np.float32)
    src = tmp_path / "in.wav"
    sf.write(src, y.T, sr, subtype="FLOAT")
    plan = build_plan(
        Plan(
            mono=True,
            sr=16000,
            highpass=60,
            lowpass=6000,
            preemphasis=0.5,
            gain_db=-2,
            normalize=mode,
            target=target,
            segment=5.0,
            overlap=0.5,
            fade_ms=20,
        ),
        set(),
    )
    reps = {}
    for streaming in ("off", "on"):
        spec = OutputSpec(out=str(tmp_path / streaming), subtype="FLOAT")
        job = Job(plan, spec, streaming=streaming, blocksize=4000)
        reps[streaming] = preprocess_file(job, Input(str(src), str(src), "in.wav"))
    a, b = reps["off"], reps["on"]
    assert b.streaming and not a.streaming
    assert len(a.outputs) == len(b.outputs) == 3
    for pa, pb in zip(a.outputs, b.outputs, strict=True):
        xa, xb = sf.read(pa)[0], sf.read(pb)[0]
        assert xa.shape == xb.shape
        np.testing.assert_allclose(xa, xb, atol=1e-4)
    assert b.gain_db == pytest.approx(a.gain_db, abs=0.01)
    assert b.lufs_out == pytest.approx(a.lufs_out, abs=0.05)
    assert b.peak_out_dbfs == pytest.approx(a.peak_out_dbfs, abs=0.01)
    assert a.gain_reduced == b.gain_reduced == (target is not None)
    assert len(a.warnings) == len(b.warnings)
    if target is not None:  # the ceiling held instead of the target
        assert b.peak_out_dbfs == pytest.approx(-0.1, abs=0.01) and b.lufs_out < -3.5


def test_streaming_single_output_with_fade_and_exact_length(tmp_path: Path) -> None:
    from audiokit.inputs import Input
    from audiokit.preprocess.output import OutputSpec
    from audiokit.preprocess.process import Job, preprocess_file

    sr = 8000
    y = sine(300, sr, 3.3, 0.5)
    src = tmp_path / "in.wav"
    sf.write(src, y, sr, subtype="FLOAT")
    plan = build_plan(Plan(sr=16000, gain_db=3.0, pad_to=4.0, trim_to=4.0, fade_ms=50), set())
    outs = {}
    for streaming in ("off", "on"):
        spec = OutputSpec(out=str(tmp_path / f"{streaming}.wav"), single=True)
        rep = preprocess_file(
            Job(plan, spec, streaming=streaming, blocksize=1000),
            Input(str(src), str(src), "in.wav"),
        )
        outs[streaming] = sf.read(rep.outputs[0])[0]
    assert len(outs["on"]) == len(outs["off"]) == 64000
    np.testing.assert_allclose(outs["on"], outs["off"], atol=1e-5)


def test_streaming_is_chosen_for_long_files_with_blockable_plans(tmp_path: Path) -> None:
    from audiokit.audio_io import probe
    from audiokit.preprocess.output import OutputSpec
    from audiokit.preprocess.process import Job

    src = tmp_path / "a.wav"
    sf.write(src, sine(200, 8000, 3.0), 8000)
    info = probe(src)
    spec = OutputSpec()
    blockable = build_plan(Plan(sr=16000, normalize="loudness"), set())
    assert Job(blockable, spec, long_seconds=2.0).use_streaming(info)
    assert not Job(blockable, spec, long_seconds=5.0).use_streaming(info)
    assert not Job(blockable, spec, streaming="off", long_seconds=2.0).use_streaming(info)
    in_memory = build_plan(Plan(sr=16000), {"denoise"})
    assert not Job(in_memory, spec, long_seconds=2.0).use_streaming(info)
    with pytest.raises(UsageError, match="whole file"):
        Job(in_memory, spec, streaming="on").check()


@pytest.mark.parametrize("with_state", [False, True])
def test_sosfilt_equals_scipy_without_importing_it(with_state: bool) -> None:
    import subprocess
    import sys

    from scipy.signal import butter
    from scipy.signal import sosfilt as scipy_sosfilt

    from audiokit import sosfilt as fast

    assert fast._kernel() is not None  # the compiled kernel, not the fallback
    sos = butter(4, 300, btype="highpass", fs=16000, output="sos")
    x = np.random.default_rng(6).standard_normal((3, 5000, 2)).astype(np.float32)
    if with_state:
        zi = np.random.default_rng(7).standard_normal((sos.shape[0], 3, 2, 2))
        got, zf = fast.sosfilt(sos, x, axis=1, zi=zi)
        ref, ref_zf = scipy_sosfilt(sos, x.astype(np.float64), axis=1, zi=zi)
        np.testing.assert_array_equal(zf, ref_zf)
    else:
        got, ref = fast.sosfilt(sos, x, axis=1), scipy_sosfilt(sos, x.astype(np.float64), axis=1)
    np.testing.assert_array_equal(got, ref)
    code = (
        "import sys, numpy as np\n"
        "from audiokit.preprocess.loudness import integrated_loudness\n"
        "integrated_loudness(np.ones((1, 16000), np.float32), 16000)\n"
        "print('scipy.signal' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
