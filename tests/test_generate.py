"""``audiokit generate``: every parameter measured independently in the written file."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import librosa
import numpy as np
import pytest
import scipy.signal
import soundfile as sf
from click.testing import CliRunner

from audiokit import generate
from audiokit.cli import cli
from audiokit.errors import UsageError

EXE = shutil.which("audiokit", path=str(Path(sys.executable).parent)) or shutil.which("audiokit")


def run(*args: str) -> object:
    return CliRunner().invoke(cli, ["generate", *args], catch_exceptions=False)


def read(path: Path) -> tuple[np.ndarray, int]:
    data, sr = sf.read(path, dtype="float64", always_2d=True)
    return data.T, sr


def fft_peak_hz(x: np.ndarray, sr: int) -> float:
    """Parabolic interpolation of the largest bin of a Hann-windowed FFT."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spec[1:-1])) + 1
    a, b, c = np.log(spec[k - 1 : k + 2])
    offset = 0.5 * (a - c) / (a - 2 * b + c)
    return float((k + offset) * sr / len(x))


def dbfs(x: np.ndarray) -> float:
    return float(20 * np.log10(np.max(np.abs(x))))


@pytest.mark.parametrize(
    ("args", "freq", "sr"),
    [(("--freq", "220"), 220.0, 22050), (("--freq", "1234.5", "--sr", "48000"), 1234.5, 48000)],
)
def test_sine_frequency_level_duration(tmp_path: Path, args: tuple, freq: float, sr: int) -> None:
    out = tmp_path / "a.wav"
    res = run(
        "sine",
        *args,
        "--amplitude",
        "0.25",
        "--duration",
        "1.5",
        "--subtype",
        "FLOAT",
        "-o",
        str(out),
    )
    assert res.exit_code == 0, res.output
    x, got_sr = read(out)
    assert got_sr == sr and x.shape == (1, round(sr * 1.5))
    assert abs(fft_peak_hz(x[0], sr) - freq) < 0.5
    assert abs(dbfs(x) - 20 * np.log10(0.25)) < 0.01


def test_tones_flac_16_bit_peaks_and_frequencies(tmp_path: Path) -> None:
    out = tmp_path / "chord.flac"
    assert run("tones", "--freq", "440,880", "--amplitude", "0.8", "-o", str(out)).exit_code == 0
    info = sf.info(out)
    assert (info.format, info.subtype, info.samplerate, info.frames) == (
        "FLAC",
        "PCM_16",
        22050,
        22050,
    )
    x, sr = read(out)
    # within the 16-bit quantisation and its TPDF dither (+-1 LSB)
    assert abs(np.max(np.abs(x)) - 0.8) <= 1.5 / 32768
    spec = np.abs(np.fft.rfft(x[0] * np.hanning(x.shape[1])))
    freqs = np.fft.rfftfreq(x.shape[1], 1 / sr)
    top = sorted(freqs[scipy.signal.find_peaks(spec, height=spec.max() / 4)[0]])
    assert np.allclose(top, [440, 880], atol=1.0)
    # the two option spellings are one signal
    again = tmp_path / "again.flac"
    assert (
        run(
            "tones", "--freq", "440", "--freq", "880", "--amplitude", "0.8", "-o", str(again)
        ).exit_code
        == 0
    )
    assert np.array_equal(read(again)[0], x)


def test_channels_and_24_bit(tmp_path: Path) -> None:
    out = tmp_path / "st.wav"
    assert (
        run(
            "sine",
            "--freq",
            "300",
            "--channels",
            "3",
            "--subtype",
            "PCM_24",
            "--amplitude",
            "0.5",
            "-o",
            str(out),
        ).exit_code
        == 0
    )
    x, _ = read(out)
    assert x.shape[0] == 3 and sf.info(out).subtype == "PCM_24"
    assert abs(dbfs(x) - 20 * np.log10(0.5)) < 0.01
    assert np.max(np.abs(x[0] - x[2])) < 3 / 2**23  # the same tone (up to dither)


def test_chirp_equals_librosa_chirp() -> None:
    for sweep, linear in (("linear", True), ("log", False)):
        ref = librosa.chirp(fmin=110, fmax=7000, sr=22050, duration=2.0, linear=linear)
        got = generate.chirp(110, 7000, 22050, 2.0, 0.7, sweep=sweep, dtype=np.float64)
        assert got.shape == (1, 44100)
        np.testing.assert_allclose(got[0], 0.7 * ref / np.max(np.abs(ref)), atol=1e-9)


def test_chirp_command_sweeps(tmp_path: Path) -> None:
    out = tmp_path / "c.wav"
    assert run("chirp", "--freq", "100:4000", "--duration", "2", "-o", str(out)).exit_code == 0
    x, sr = read(out)
    head, tail = x[0, :4096], x[0, -4096:]
    assert fft_peak_hz(head, sr) < 300 and fft_peak_hz(tail, sr) > 3700


def pink_slope(x: np.ndarray, sr: int) -> float:
    f, p = scipy.signal.welch(x, sr, nperseg=8192)
    keep = (f >= 50) & (f <= 0.9 * sr / 2)
    return float(np.polyfit(np.log10(f[keep]), 10 * np.log10(p[keep]), 1)[0])


@pytest.mark.parametrize("sr", [16000, 44100])
def test_pink_and_brown_slopes(tmp_path: Path, sr: int) -> None:
    out = tmp_path / "p.wav"
    assert (
        run(
            "pink", "--sr", str(sr), "--duration", "10", "--subtype", "FLOAT", "-o", str(out)
        ).exit_code
        == 0
    )
    x, _ = read(out)
    assert abs(pink_slope(x[0], sr) + 10) < 1.5
    brown = generate.noise("brown", sr, 10, 0.5, dtype=np.float64)
    assert abs(pink_slope(brown[0], sr) + 20) < 1.5
    white = generate.noise("white", sr, 10, 0.5, dtype=np.float64)
    assert abs(pink_slope(white[0], sr)) < 0.5


def test_noise_seeds_and_channels(tmp_path: Path) -> None:
    a, b, c = (tmp_path / n for n in ("a.wav", "b.wav", "c.wav"))
    for path, seed in ((a, "3"), (b, "3"), (c, "4")):
        assert run("white", "--seed", seed, "--channels", "2", "-o", str(path)).exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    xa, xc = read(a)[0], read(c)[0]
    assert not np.array_equal(xa, xc)
    assert abs(np.corrcoef(xa)[0, 1]) < 0.05  # independent channels
    assert abs(dbfs(xa) - 20 * np.log10(0.5)) < 0.01


def test_blocks_equal_whole_signal() -> None:
    sig = generate.make("pink", sr=8000, duration=20, channels=2, seed=9, fade_ms=50)
    whole = generate.render(sig, dtype=np.float64)
    parts = np.concatenate(list(generate.blocks(sig, block=3001, dtype=np.float64)), axis=-1)
    np.testing.assert_allclose(parts, whole, atol=1e-12)
    assert whole[:, 0].tolist() == [0.0, 0.0] and whole[:, -1].tolist() == [0.0, 0.0]


def test_silence_is_zeros(tmp_path: Path) -> None:
    out = tmp_path / "s.flac"
    assert run("silence", "--duration", "0.5", "--sr", "16000", "-o", str(out)).exit_code == 0
    x, sr = read(out)
    assert sr == 16000 and x.shape == (1, 8000) and not x.any()


def test_stdout_refusal_and_skip(tmp_path: Path) -> None:
    assert EXE is not None
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run(
        [EXE, "generate", "sine", "--freq", "500", "--duration", "0.2", "-o", "-"],
        capture_output=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    x, sr = sf.read(io.BytesIO(proc.stdout), always_2d=True)
    assert sr == 22050 and x.shape == (4410, 1) and abs(fft_peak_hz(x[:, 0], sr) - 500) < 0.5
    ogg = subprocess.run(
        [EXE, "generate", "white", "--format", "ogg", "-o", "-"], capture_output=True, env=env
    )
    assert sf.info(io.BytesIO(ogg.stdout)).format == "OGG"
    out = tmp_path / "a.wav"
    assert run("sine", "--freq", "100", "-o", str(out)).exit_code == 0
    before = out.read_bytes()
    proc = subprocess.run(
        [EXE, "generate", "sine", "--freq", "200", "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"audiokit: {out}: exists")
    assert run("sine", "--freq", "200", "--skip-existing", "-o", str(out)).exit_code == 0
    assert out.read_bytes() == before
    assert run("sine", "--freq", "200", "--overwrite", "-o", str(out)).exit_code == 0
    assert abs(fft_peak_hz(read(out)[0][0], 22050) - 200) < 0.5
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]  # no temporaries left


@pytest.mark.parametrize(
    "args",
    [
        ("sine", "--freq", "11025"),
        ("sine", "--freq", "440,880"),
        ("sine",),
        ("tones", "--freq", "100:200"),
        ("chirp", "--freq", "100"),
        ("sine", "--freq", "440", "--amplitude", "1.5"),
        ("sine", "--freq", "440", "--duration", "-1"),
        ("sine", "--freq", "440", "--duration", "100000"),
        ("white", "--duration", "80000", "--channels", "8"),
        ("white", "--freq", "440"),
        ("sine", "--freq", "abc"),
        ("sine", "--freq", "440", "--sr", "native"),
        ("sine", "--freq", "440", "--fade-ms", "-3"),
        ("pink", "--subtype", "FLOAT", "--format", "flac"),
    ],
)
def test_bad_values_exit_2_with_one_line(tmp_path: Path, args: tuple) -> None:
    assert EXE is not None
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run(
        [EXE, "generate", *args, "-o", str(tmp_path / "x.wav")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("audiokit: ")
    assert not list(tmp_path.iterdir())


def test_library_checks() -> None:
    with pytest.raises(UsageError):
        generate.tone(30000, 44100, 1.0)
    with pytest.raises(UsageError):
        generate.noise("blue", 8000, 1.0)
    assert generate.tone([200, 300], 8000, 0.25, 0.9).dtype == np.float32
    assert generate.silence(8000, 0.1, channels=2).shape == (2, 800)
