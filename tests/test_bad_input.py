"""Bad input: one clear line per file, the batch goes on, exit code 1, no traceback."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiokit import audio_io
from audiokit.audio_io import probing
from audiokit.errors import DecodeError, InputError
from tests.conftest import sine


@pytest.fixture
def bad_dir(tmp_path: Path) -> Path:
    """A folder of broken files beside one good file."""
    d = tmp_path / "bad"
    d.mkdir()
    y = sine(440, 16000, 1.0)
    sf.write(d / "good.wav", y, 16000, subtype="PCM_16")
    sf.write(tmp_path / "ok.flac", y, 16000)
    wav = (d / "good.wav").read_bytes()
    flac = (tmp_path / "ok.flac").read_bytes()
    (d / "empty.wav").write_bytes(b"")
    (d / "header_only.wav").write_bytes(wav[:44])
    (d / "truncated.wav").write_bytes(wav[: len(wav) // 2])
    (d / "truncated.flac").write_bytes(flac[: len(flac) // 2])
    (d / "text.wav").write_text("this is not audio\n" * 20)
    (d / "random.flac").write_bytes(np.random.default_rng(0).bytes(4096))
    nan = np.array([0.1, np.nan, np.inf, -0.2] * 100, np.float32)
    sf.write(d / "nan.wav", nan, 8000, subtype="FLOAT")
    sf.write(d / "one sample é.wav", np.array([0.25], np.float32), 8000, subtype="FLOAT")
    return d


EXPECTED_REASONS = {
    "empty.wav": "empty file",
    "header_only.wav": "no audio samples",
    "truncated.flac": "flac",
    "text.wav": "not a recognised audio format",
    "random.flac": "not a recognised audio format",
    "nan.wav": "NaN or infinite",
}


def test_each_bad_file_gives_one_line_and_the_batch_goes_on(runner, cli, bad_dir: Path) -> None:
    res = runner.invoke(cli, ["inspect", str(bad_dir), "--json", "-j", "2"])
    assert res.exit_code == 1
    good = [json.loads(line) for line in res.stdout.splitlines()]
    names = ["good.wav", "one sample é.wav", "truncated.wav"]
    assert sorted(Path(r["path"]).name for r in good) == names
    lines = res.stderr.strip().splitlines()
    # the truncated WAV is damaged, not bad: read as far as it goes, with one warning line
    (damaged,) = [ln for ln in lines if "truncated.wav:" in ln]
    assert damaged.startswith(f"audiokit: {bad_dir / 'truncated.wav'}: warning: damaged: ")
    truncated = next(r for r in good if r["path"].endswith("truncated.wav"))
    assert truncated["warnings"] == [damaged.split(": warning: ")[1]]
    lines.remove(damaged)
    assert len(lines) == len(EXPECTED_REASONS), res.stderr
    assert "Traceback" not in res.stderr
    for name, reason in EXPECTED_REASONS.items():
        (line,) = [ln for ln in lines if f"{name}:" in ln]
        assert line.startswith(f"audiokit: {bad_dir / name}: ")
        assert reason.lower() in line.lower(), line


def test_single_sample_file_is_measured(runner, cli, bad_dir: Path) -> None:
    res = runner.invoke(cli, ["inspect", str(bad_dir / "one sample é.wav"), "--json"])
    assert res.exit_code == 0
    row = json.loads(res.stdout)
    assert row["frames"] == 1
    assert row["peak_dbfs"] == pytest.approx(20 * np.log10(0.25))


def test_traceback_only_with_verbose(runner, cli, bad_dir: Path) -> None:
    res = runner.invoke(cli, ["inspect", str(bad_dir / "nan.wav"), "-v"])
    assert res.exit_code == 1
    assert "Traceback" in res.stderr and "DecodeError" in res.stderr


def test_fail_fast_stops_at_first_failure(runner, cli, bad_dir: Path) -> None:
    res = runner.invoke(cli, ["inspect", str(bad_dir), "--json", "--fail-fast", "-j", "1"])
    assert res.exit_code == 1
    assert len(res.stderr.strip().splitlines()) == 1  # empty.wav comes first in sorted order
    assert res.stdout == ""


def test_missing_path_directory_and_unreadable(
    runner, cli, tmp_path: Path, bad_dir: Path, monkeypatch
) -> None:
    (tmp_path / "dangling.wav").symlink_to(tmp_path / "nowhere.wav")
    fake_dir = tmp_path / "folder.wav"
    fake_dir.mkdir()
    (fake_dir / "x.txt").write_text("x")
    res = runner.invoke(
        cli,
        [
            "inspect",
            str(tmp_path / "missing.wav"),
            str(tmp_path / "dangling.wav"),
            str(tmp_path / "nomatch*.wav"),
            str(fake_dir),
            str(bad_dir / "good.wav"),
            "--json",
        ],
    )
    assert res.exit_code == 1
    assert len(res.stdout.splitlines()) == 1
    err = res.stderr
    assert f"{tmp_path / 'missing.wav'}: no such file" in err
    assert f"{tmp_path / 'dangling.wav'}: no such file" in err
    assert "nomatch*.wav: no files match this pattern" in err
    assert f"{fake_dir}: no audio files in this directory" in err
    # Unreadable files: root reads anything, so simulate the OS refusing.
    monkeypatch.setattr(probing.os, "access", lambda *a, **k: False)
    res = runner.invoke(cli, ["inspect", str(bad_dir / "good.wav")])
    assert res.exit_code == 1
    assert res.stderr.strip() == f"audiokit: {bad_dir / 'good.wav'}: permission denied"


def test_probe_raises_typed_errors(bad_dir: Path) -> None:
    with pytest.raises(InputError):
        audio_io.probe(bad_dir / "missing.wav")
    with pytest.raises(DecodeError, match="empty"):
        audio_io.probe(bad_dir / "empty.wav")
    with pytest.warns(audio_io.DamagedAudioWarning, match="damaged: the header declares"):
        info = audio_io.probe(bad_dir / "truncated.wav")
    assert info.warnings and info.frames > 0


def _wav_claiming(path: Path, declared_bytes: int, frames: int = 1600) -> None:
    sf.write(path, sine(440, 16000, frames / 16000), 16000, subtype="PCM_16")
    b = bytearray(path.read_bytes())
    struct.pack_into("<I", b, 4, min(declared_bytes + 36, 0xFFFFFFFF))
    struct.pack_into("<I", b, 40, declared_bytes)
    path.write_bytes(bytes(b))


def test_streaming_placeholder_header_reads_what_is_there(tmp_path: Path) -> None:
    # sox and ffmpeg write WAV to a pipe with a placeholder size of ~2 or 4 GB.
    for declared in (0xFFFFFFFF, 0x7FFFF000):
        path = tmp_path / f"pipe_{declared:x}.wav"
        _wav_claiming(path, declared)
        y, sr = audio_io.read(path)
        assert y.shape == (1, 1600) and sr == 16000


def test_flac_header_claiming_gigabytes_does_not_allocate_them(tmp_path: Path) -> None:
    path = tmp_path / "liar.flac"
    sf.write(path, sine(440, 8000, 0.5), 8000)
    b = bytearray(path.read_bytes())
    # STREAMINFO: total samples is the low 36 bits of bytes 18..26 (after 'fLaC' + block header).
    packed = int.from_bytes(b[8 + 10 : 8 + 18], "big")
    packed = (packed & ~((1 << 36) - 1)) | ((1 << 36) - 1)  # 68.7 G samples, 100 days at 8 kHz
    b[8 + 10 : 8 + 18] = packed.to_bytes(8, "big")
    path.write_bytes(bytes(b))
    assert sf.info(path).frames == (1 << 36) - 1  # the lie as libsndfile reports it
    code = (
        "import resource,sys;resource.setrlimit(resource.RLIMIT_AS,(1<<30,1<<30));"
        "from audiokit import audio_io;"
        "y,sr=audio_io.read(sys.argv[1]);print(y.shape[1])"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    # Within a 1 GiB address-space limit it either reads the 4000 real samples or says why not:
    # never a MemoryError from allocating what the header claims.
    assert "MemoryError" not in out.stderr, out.stderr
    if out.returncode == 0:
        assert int(out.stdout) == 4000
    else:
        assert "DecodeError" in out.stderr


@pytest.mark.parametrize("missing_bytes", [34, 100_000])  # a few ms, about half the file
def test_damaged_wav_is_read_with_one_warning_and_strict_fails_it(
    runner, cli, tmp_path: Path, missing_bytes: int
) -> None:
    full = tmp_path / "full.wav"
    sf.write(full, sine(440, 16000, 6.4), 16000, subtype="PCM_16")
    data = full.read_bytes()
    damaged = tmp_path / "damaged.wav"
    damaged.write_bytes(data[:-missing_bytes])  # the header still declares every sample
    kept_frames = (len(data) - missing_bytes - 44) // 2
    for command in (["inspect", "--json"], ["features", "--features", "rms"]):
        res = runner.invoke(cli, [command[0], str(damaged), *command[1:]])
        assert res.exit_code == 0, res.stderr
        (line,) = res.stderr.splitlines()
        assert line.startswith(
            f"audiokit: {damaged}: warning: damaged: the header declares 6.400 s"
        )
        assert f"holds {kept_frames / 16000:.3f} s" in line
    row = json.loads(runner.invoke(cli, ["inspect", str(damaged), "--json"]).stdout)
    assert row["frames"] == kept_frames and len(row["warnings"]) == 1
    strict = runner.invoke(cli, ["inspect", str(damaged), "--json", "--strict"])
    assert strict.exit_code == 1 and strict.stdout == ""
    assert strict.stderr.strip().endswith("(--strict)")
    out = tmp_path / "fixed.wav"
    res = runner.invoke(cli, ["preprocess", str(damaged), "-o", str(out), "--gain", "0"])
    assert res.exit_code == 0 and sf.info(out).frames == kept_frames


def test_truncated_flac_is_decoded_up_to_the_damage(runner, cli, tmp_path: Path) -> None:
    flac = tmp_path / "whole.flac"
    y = sine(440, 16000, 6.0)
    sf.write(flac, y, 16000, subtype="PCM_16")
    half = tmp_path / "half.flac"
    half.write_bytes(flac.read_bytes()[: flac.stat().st_size // 2])
    res = runner.invoke(cli, ["inspect", str(half), "--json"])
    assert res.exit_code == 0, res.stderr
    row = json.loads(res.stdout)
    (line,) = res.stderr.splitlines()
    assert line.startswith(f"audiokit: {half}: warning: damaged: decoding stopped at ")
    assert row["warnings"] and row["warnings"][0] in line
    stopped = float(line.split("decoding stopped at ")[1].split(" s")[0])
    assert 1.0 < stopped < 5.0
    feats = runner.invoke(cli, ["features", str(half), "--features", "rms", "--json"])
    assert feats.exit_code == 0 and json.loads(feats.stdout)["duration"] == pytest.approx(
        stopped, abs=0.05
    )
    assert runner.invoke(cli, ["inspect", str(half), "--strict"]).exit_code == 1
