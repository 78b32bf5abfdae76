"""``inspect --loudness``: BS.1770 loudness, EBU Tech 3342 LRA, true peak, noise floor and SNR.

Checked against signals of known loudness (EBU Tech 3341/3342 cases), the standard's
formulas evaluated independently, and ffmpeg's ``ebur128=peak=true`` (skipped without it).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from audiokit import bs1770
from audiokit.cli.inspect import LOUDNESS_KEYS, table_columns
from audiokit.inspection import inspect_file
from tests.conftest import sine

SR = 48000


def tone(level_dbfs: float, seconds: float, freq: float = 997.0, sr: int = SR) -> np.ndarray:
    return sine(freq, sr, seconds, amp=10 ** (level_dbfs / 20))


def k_gain_db(freq: float, sr: int) -> float:
    """|H(e^jw)|^2 of the K-weighting in dB, from the two biquads' coefficients."""
    z = np.exp(-1j * 2 * np.pi * freq / sr)
    gain = 1.0
    for b0, b1, b2, a0, a1, a2 in bs1770.k_weighting(sr):
        gain *= abs((b0 + b1 * z + b2 * z * z) / (a0 + a1 * z + a2 * z * z)) ** 2
    return 10 * math.log10(gain)


def loudness_of_sine(amp_dbfs: float, channels: int, freq: float = 997.0) -> float:
    """BS.1770: -0.691 + 10 log10(sum over channels of the K-weighted mean square)."""
    mean_square = 10 ** (amp_dbfs / 10) / 2 * 10 ** (k_gain_db(freq, SR) / 10)
    return -0.691 + 10 * math.log10(channels * mean_square)


def inspect_json(runner, cli, *args: str) -> list[dict]:
    res = runner.invoke(cli, ["inspect", "--loudness", "--json", *args])
    assert res.exit_code == 0, res.output + str(res.exception)
    return [json.loads(line) for line in res.stdout.splitlines()]


# ------------------------------------------------------------------- known loudness


def test_full_scale_997_hz_mono_sine_is_minus_3_01_lkfs(write_audio) -> None:
    path = write_audio("fs.wav", tone(0.0, 10), SR, "FLOAT")
    r = inspect_file(str(path), loudness=True).loudness
    assert r is not None
    assert r.loudness_lufs == pytest.approx(loudness_of_sine(0.0, 1), abs=0.005)
    assert r.loudness_lufs == pytest.approx(-3.01, abs=0.01)  # BS.1770-4, 2.1


def test_ebu_3341_stereo_sine_at_minus_23_dbfs_is_minus_23_lufs(write_audio, runner, cli) -> None:
    y = tone(-23.0, 20)
    path = write_audio("ebu3341_1.wav", np.stack([y, y]), SR, "FLOAT")
    (row,) = inspect_json(runner, cli, str(path))
    assert row["loudness_lufs"] == pytest.approx(-23.0, abs=0.1)  # the test case's tolerance
    assert row["loudness_lufs"] == pytest.approx(loudness_of_sine(-23.0, 2), abs=0.005)
    # each channel measured as mono: 3.01 dB lower than the pair
    for lane in row["channel_levels"]:
        assert lane["loudness_lufs"] == pytest.approx(loudness_of_sine(-23.0, 1), abs=0.005)
    assert row["loudness_range_lu"] == pytest.approx(0.0, abs=0.05)
    assert row["true_peak_dbtp"] == pytest.approx(-23.0, abs=0.01)


def test_gating_leaves_out_silence_and_quiet_blocks(write_audio) -> None:
    """EBU 3341 case 3-like: quiet parts below the relative gate do not lower the level."""
    loud, quiet = tone(-20.0, 10), tone(-60.0, 10)
    y = np.concatenate([loud, quiet, np.zeros(SR * 10, np.float32), loud])
    r = inspect_file(str(write_audio("gated.wav", y, SR, "FLOAT")), loudness=True).loudness
    assert r is not None
    # the blocks across the edges are kept: EBU 3341 allows 0.1 LU
    assert r.loudness_lufs == pytest.approx(loudness_of_sine(-20.0, 1), abs=0.1)


@pytest.mark.parametrize(("low", "high", "lra"), [(-30.0, -20.0, 10.0), (-40.0, -20.0, 20.0)])
def test_ebu_3342_loudness_range_of_two_levels(write_audio, low, high, lra) -> None:
    """EBU Tech 3342 cases 1 and 2: 20 s at one level, 20 s at another."""
    y = np.concatenate([tone(high, 20), tone(low, 20)])
    r = inspect_file(str(write_audio("lra.wav", np.stack([y, y]), SR, "FLOAT")), loudness=True)
    assert r.loudness is not None
    assert r.loudness.loudness_range_lu == pytest.approx(lra, abs=0.1)  # the cases' tolerance


def test_loudness_range_is_the_10th_to_95th_percentile_of_gated_short_term_values() -> None:
    rng = np.random.default_rng(3)
    levels = rng.uniform(-45, -15, 400)  # short-term loudness values (mono, LUFS)
    z = 10 ** ((levels + 0.691) / 10)
    keep = levels[levels >= -0.691 + 10 * np.log10(z.mean()) - 20]
    ranks = np.sort(keep)
    n = len(ranks)
    expected = ranks[int(0.95 * n + 0.5) - 1] - ranks[int(0.10 * n + 0.5) - 1]
    assert bs1770.loudness_range(z[:, None]) == pytest.approx(expected, abs=1e-9)
    assert expected == pytest.approx(np.percentile(keep, 95) - np.percentile(keep, 10), abs=0.5)


# ------------------------------------------------------------------------ true peak


def test_true_peak_finds_the_peak_between_samples(write_audio) -> None:
    """A sine at fs/4 sampled at 45 degrees: samples at 0.707, the waveform reaches 1.0."""
    n = np.arange(SR * 2)
    fade = np.minimum(1.0, np.minimum(n, n[::-1]) / (SR / 10))  # no clicks at the ends
    y = (np.sin(np.pi / 2 * n + np.pi / 4) * fade).astype(np.float32)
    r = inspect_file(str(write_audio("isp.wav", y, SR, "FLOAT")), loudness=True)
    assert r.levels is not None and r.loudness is not None
    assert r.levels.peak_dbfs == pytest.approx(-3.01, abs=0.01)
    assert r.loudness.true_peak_dbtp == pytest.approx(0.0, abs=0.02)


def test_true_peak_of_a_low_tone_is_its_sample_peak(write_audio) -> None:
    y = tone(-6.0, 2, freq=100.0)
    r = inspect_file(str(write_audio("low.wav", y, SR, "FLOAT")), loudness=True)
    assert r.loudness is not None and r.levels is not None
    assert r.loudness.true_peak_dbtp == pytest.approx(-6.0, abs=0.01)
    assert r.loudness.true_peak_dbtp >= r.levels.peak_dbfs - 1e-9


def test_the_interpolation_filter_is_flat_in_the_passband() -> None:
    for factor in (4, 12):
        taps = bs1770.interpolation_filter(factor).astype(np.float64)
        k = np.arange(-bs1770.HALF_TAPS + 1, bs1770.HALF_TAPS + 1)
        w = np.linspace(0, 0.8 * np.pi, 50)
        for p, row in enumerate(taps, start=1):
            response = np.exp(1j * np.outer(w, k)) @ row
            assert np.allclose(np.abs(response), 1.0, atol=1e-3)
            # the phase is a delay of p / factor samples
            assert np.allclose(np.angle(response[1:]) / w[1:], p / factor, atol=1e-3)
    assert bs1770.oversampling(48000) == 4 and bs1770.oversampling(44100) == 4
    assert bs1770.oversampling(16000) == 12


# ---------------------------------------------------------------- noise floor, SNR


def test_noise_floor_and_snr_are_percentiles_of_frame_rms(write_audio) -> None:
    sr = 16000
    rng = np.random.default_rng(0)
    y = (0.001 * rng.standard_normal(sr * 6)).astype(np.float32)
    y[sr : 3 * sr] += tone(-10.0, 2, 440.0, sr)
    y[4 * sr : 5 * sr] = 0.0  # digital silence: left out of the floor
    path = write_audio("speechlike.wav", y, sr, "FLOAT")
    r = inspect_file(str(path), loudness=True).loudness
    assert r is not None
    frames = y.astype(np.float64).reshape(-1, 320)  # 20 ms
    power = (frames**2).mean(axis=1)
    level = 10 * np.log10(power[power > 0])
    p10 = np.percentile(level, 10, method="inverted_cdf")
    p90 = np.percentile(level, 90, method="inverted_cdf")
    assert r.noise_floor_dbfs == pytest.approx(p10, abs=0.01)
    assert r.noise_floor_dbfs == pytest.approx(-60.0, abs=0.5)  # the noise's RMS
    assert r.snr_db == pytest.approx(p90 - p10, abs=0.02)


def test_silence_and_too_short_give_null_not_a_crash(write_audio, runner, cli) -> None:
    silent = write_audio("silent.wav", np.zeros(SR * 2, np.float32), SR, "PCM_16")
    short = write_audio("short.wav", tone(-20.0, 0.3), SR, "FLOAT")
    rows = {Path(r["path"]).name: r for r in inspect_json(runner, cli, str(silent), str(short))}
    for key in LOUDNESS_KEYS:  # NaN and -inf are null in JSON
        assert rows["silent.wav"][key] is None, key
    assert rows["short.wav"]["loudness_lufs"] is None  # under one 400 ms block
    assert rows["short.wav"]["loudness_range_lu"] is None
    assert rows["short.wav"]["true_peak_dbtp"] == pytest.approx(-20.0, abs=0.05)
    r = inspect_file(str(silent), loudness=True).loudness
    assert r is not None and r.noise_floor_dbfs == -math.inf and math.isnan(r.snr_db)
    assert math.isnan(r.loudness_lufs) and r.true_peak_dbtp == -math.inf


def test_measured_in_one_pass_whatever_the_block_size(write_audio) -> None:
    rng = np.random.default_rng(1)
    y = (0.1 * rng.standard_normal((2, SR * 7))).astype(np.float32)
    y[:, SR : 3 * SR] *= 0.05
    path = str(write_audio("noise.wav", y, SR, "FLOAT"))
    a = inspect_file(path, loudness=True, blocksize=1 << 16)
    b = inspect_file(path, loudness=True, blocksize=997)
    assert a.loudness is not None and b.loudness is not None
    for key, value in a.loudness.as_dict().items():
        assert b.loudness.as_dict()[key] == pytest.approx(value, abs=1e-6), key
    for x, z in zip(a.channel_loudness, b.channel_loudness, strict=True):
        assert z.as_dict() == pytest.approx(x.as_dict(), abs=1e-6)


# ------------------------------------------------------------------------- the CLI


def test_columns_per_channel_rows_and_table_files(sample_dir, runner, cli, tmp_path) -> None:
    assert set(LOUDNESS_KEYS) <= set(table_columns(True, False, loudness=True))
    assert not set(LOUDNESS_KEYS) & set(table_columns(True, False))
    stereo = str(sample_dir / "stereo" / "pan.wav")
    (whole,) = inspect_json(runner, cli, stereo)
    per = inspect_json(runner, cli, stereo, "--per-channel")
    assert [r["channel"] for r in per] == [0, 1]
    for lane, row in zip(whole["channel_levels"], per, strict=True):
        assert row["loudness_lufs"] == pytest.approx(lane["loudness_lufs"])
        assert row["true_peak_dbtp"] == pytest.approx(lane["true_peak_dbtp"])
    # the programme sums the channels' power: louder than either channel alone
    assert whole["loudness_lufs"] > max(r["loudness_lufs"] for r in per)
    assert whole["true_peak_dbtp"] == pytest.approx(max(r["true_peak_dbtp"] for r in per))
    out = tmp_path / "inv.csv"
    res = runner.invoke(cli, ["inspect", str(sample_dir), "--loudness", "-o", str(out)])
    assert res.exit_code == 0, res.output
    header = out.read_text().splitlines()[0].split(",")
    assert header[-6:-1] == LOUDNESS_KEYS
    res = runner.invoke(cli, ["inspect", str(sample_dir), "-o", str(out), "--update"])
    assert res.exit_code == 2 and "loudness" in res.stderr  # made with other parameters
    res = runner.invoke(cli, ["inspect", str(sample_dir), "--loudness", "-o", str(out), "--update"])
    assert res.exit_code == 0, res.stderr
    res = runner.invoke(cli, ["inspect", stereo, "--loudness", "--no-levels"])
    assert res.exit_code == 2
    res = runner.invoke(cli, ["inspect", stereo, "--loudness"])  # a terminal table
    assert res.exit_code == 0


# ------------------------------------------------------------------------- ffmpeg

FFMPEG = shutil.which("ffmpeg")
EBUR128 = ["-af", "ebur128=peak=true", "-f", "null", "-"]


def ffmpeg_ebur128(path: Path) -> dict[str, float]:
    """I, LRA and true Peak from the summary ffmpeg's ebur128 prints on stderr."""
    err = subprocess.run(
        [FFMPEG or "ffmpeg", "-nostats", "-hide_banner", "-i", str(path), *EBUR128],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    summary = err[err.rindex("Summary:") :]
    number = r"(-?[\d.]+|-?inf|nan)"
    return {
        "I": float(re.search(rf"I:\s+{number} LUFS", summary).group(1)),  # type: ignore[union-attr]
        "LRA": float(re.search(rf"LRA:\s+{number} LU", summary).group(1)),  # type: ignore[union-attr]
        "Peak": float(re.search(rf"Peak:\s+{number} dBFS", summary).group(1)),  # type: ignore[union-attr]
    }


def check_against_ffmpeg(paths: list[Path]) -> int:
    """Compare every file; returns how many LRA values were comparable.

    ffmpeg prints one decimal (up to 0.05 of rounding), so 0.1 + 0.05 is the bound of a
    true difference of 0.1. ffmpeg prints LRA 0.0 for files under 3 s (audiokit: NaN) and
    -70 LUFS for files under 400 ms; with fewer than five 3 s windows (under 3.4 s) its
    10th-percentile rank rounds to 0 and its low end falls to the gate (LRA 20 for a
    steady tone): those are left out.
    """
    compared = 0
    for path in paths:
        r = inspect_file(str(path), loudness=True)
        ours, ff = r.loudness, ffmpeg_ebur128(path)
        assert ours is not None
        if math.isnan(ours.loudness_lufs):
            assert ff["I"] <= -70.0 or r.info.duration < 0.4, path
        else:
            assert ours.loudness_lufs == pytest.approx(ff["I"], abs=0.15), path
        assert ours.true_peak_dbtp == pytest.approx(ff["Peak"], abs=0.15), path
        if r.info.duration >= 3.4:
            assert ours.loudness_range_lu == pytest.approx(ff["LRA"], abs=0.15), path
            compared += 1
        elif r.info.duration < 3.0:
            assert math.isnan(ours.loudness_range_lu) and ff["LRA"] == 0.0, path
    return compared


@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed")
def test_equal_to_ffmpeg_ebur128_on_sample_data(sample_dir) -> None:
    paths = sorted(
        p for p in sample_dir.rglob("*") if p.suffix in (".wav", ".flac", ".ogg") and p.is_file()
    )
    assert len(paths) >= 10
    assert check_against_ffmpeg(paths) >= 3


@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed")
def test_equal_to_ffmpeg_ebur128_on_the_corpus(corpus_dir) -> None:
    paths = sorted(p for p in corpus_dir.rglob("*") if p.suffix in (".wav", ".flac", ".ogg"))
    assert check_against_ffmpeg(paths) >= 5


@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed")
def test_equal_to_ffmpeg_on_a_programme_with_a_loudness_range(write_audio) -> None:
    rng = np.random.default_rng(7)
    sr = 44100
    levels = np.repeat(rng.uniform(0.02, 0.3, 30), sr // 2)  # a new level every 0.5 s
    y = (rng.standard_normal((2, len(levels))) * levels).astype(np.float32)
    path = write_audio("programme.flac", y, sr, "PCM_24")
    r = inspect_file(str(path), loudness=True).loudness
    ff = ffmpeg_ebur128(path)
    assert r is not None and ff["LRA"] > 3
    assert r.loudness_range_lu == pytest.approx(ff["LRA"], abs=0.15)
    assert r.loudness_lufs == pytest.approx(ff["I"], abs=0.15)
    assert r.true_peak_dbtp == pytest.approx(ff["Peak"], abs=0.15)
