"""``audiokit preprocess`` end to end: outputs, levels, lengths, encodings, safety, reports."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import have, sine
from tests.test_preprocess_steps import bs1770


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def data(tmp_path: Path, sample_dir: Path):
    """A copy of sample_data/ whose bytes are checked unchanged after the test."""
    folder = tmp_path / "in"
    shutil.copytree(sample_dir, folder)
    before = digest(folder)
    yield folder
    assert digest(folder) == before, "an input was modified"


def run(runner, cli, *args: str, code: int = 0):
    res = runner.invoke(cli, ["preprocess", *args])
    assert res.exit_code == code, (res.stdout, res.stderr)
    return res


def rows(res) -> list[dict]:
    return [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]


def ffmpeg_lufs(path: Path) -> float:
    out = subprocess.run(
        [
            "ffmpeg",
            "-nostats",
            "-hide_banner",
            "-i",
            str(path),
            "-filter_complex",
            "ebur128",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
    ).stderr
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", out)[-1])


def test_resample_mono_normalize_loudness_on_a_tree(runner, cli, data: Path, tmp_path: Path):
    out = tmp_path / "out"
    res = run(
        runner,
        cli,
        str(data),
        "-o",
        str(out),
        "--mono",
        "--sr",
        "16000",
        "--normalize",
        "loudness",
        "--target",
        "-23",
        "-j",
        "2",
        "--json",
    )
    reps = {Path(r["input"]).relative_to(data).as_posix(): r for r in rows(res)}
    assert len(reps) == 11
    stereo = out / "stereo" / "pan.wav"
    info = sf.info(stereo)
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert info.frames == int(np.ceil(132300 * 16000 / 44100))
    assert (out / "music" / "chord.flac").exists() and (out / "music" / "melody.ogg").exists()
    for rel in ("stereo/pan.wav", "speech/hello.wav", "music/chord.flac", "noise/white.wav"):
        y, sr = sf.read(out / rel, always_2d=True)
        assert bs1770(y.T, sr) == pytest.approx(-23.0, abs=0.5), rel
        assert reps[rel]["lufs_out"] == pytest.approx(-23.0, abs=0.05)
        assert reps[rel]["sr_out"] == 16000 and reps[rel]["channels_out"] == 1
        if have("ffmpeg"):
            assert ffmpeg_lufs(out / rel) == pytest.approx(-23.0, abs=0.5), rel


def test_loudness_target_that_would_clip_lowers_gain_or_limits(
    runner, cli, tmp_path: Path, write_audio
):
    sr = 16000
    rng = np.random.default_rng(0)
    y = np.clip(0.05 * rng.standard_normal(3 * sr), -0.5, 0.5).astype(np.float32)
    y[sr : sr + 200] = 0.5  # a spike sets the peak far above the noise
    src = write_audio("spiky.wav", y, sr, "FLOAT")
    res = run(
        runner,
        cli,
        str(src),
        "-o",
        str(tmp_path / "a.wav"),
        "--normalize",
        "loudness",
        "--target",
        "-12",
        "--json",
    )
    r = rows(res)[0]
    assert r["gain_reduced"] and not r["limited"] and "would clip" in res.stderr
    a = sf.read(tmp_path / "a.wav")[0]
    assert 20 * np.log10(np.max(np.abs(a))) <= -0.1 + 1e-3
    assert bs1770(a, sr) < -12.5  # the target was not reached, and it says so
    res = run(
        runner,
        cli,
        str(src),
        "-o",
        str(tmp_path / "b.wav"),
        "--normalize",
        "loudness",
        "--target",
        "-12",
        "--limit",
        "--json",
    )
    r = rows(res)[0]
    assert r["limited"] and "limited" in res.stderr
    b = sf.read(tmp_path / "b.wav")[0]
    assert 20 * np.log10(np.max(np.abs(b))) <= -0.1 + 1e-3
    assert bs1770(b, sr) == pytest.approx(-12.0, abs=0.5)
    if have("ffmpeg"):
        assert ffmpeg_lufs(tmp_path / "b.wav") == pytest.approx(-12.0, abs=0.5)


def test_peak_and_rms_normalisation_hit_their_dbfs(runner, cli, tmp_path: Path, write_audio):
    src = write_audio("tone.wav", sine(440, 22050, 1.0, 0.2), 22050, "PCM_16")
    run(
        runner,
        cli,
        str(src),
        "-o",
        str(tmp_path / "p.wav"),
        "--normalize",
        "peak",
        "--target",
        "-3",
        "--subtype",
        "FLOAT",
    )
    p = sf.read(tmp_path / "p.wav")[0]
    assert 20 * np.log10(np.max(np.abs(p))) == pytest.approx(-3.0, abs=0.01)
    run(
        runner,
        cli,
        str(src),
        "-o",
        str(tmp_path / "r.wav"),
        "--normalize",
        "rms",
        "--target",
        "-20",
    )
    r = sf.read(tmp_path / "r.wav")[0]
    assert 20 * np.log10(np.sqrt(np.mean(r**2))) == pytest.approx(-20.0, abs=0.02)
    res = run(
        runner,
        cli,
        str(src),
        "-o",
        str(tmp_path / "x.wav"),
        "--normalize",
        "peak",
        "--target",
        "1",
        code=2,
    )
    assert "ceiling" in res.stderr


def test_trim_and_remove_silence_on_speech_with_pauses(runner, cli, data: Path, tmp_path: Path):
    src = data / "speech" / "with_pauses.flac"
    spans = json.loads((data / "speech" / "with_pauses.json").read_text())
    sr = 16000
    run(runner, cli, str(src), "-o", str(tmp_path / "t.flac"), "--trim", "--pad-ms", "100")
    t, _ = sf.read(tmp_path / "t.flac")
    x, _ = sf.read(src)
    voiced_total = int(round((spans[-1][1] - spans[0][0]) * sr))
    frame = 1024
    assert voiced_total + 3200 <= len(t) <= voiced_total + 3200 + 2 * frame
    start = int(np.argmax(np.abs(t) > 0))
    assert 1600 <= start <= 1600 + frame
    np.testing.assert_array_equal(t[start : start + 100], x[16000:16100])  # bit-exact, no dither
    run(
        runner, cli, str(src), "-o", str(tmp_path / "s.flac"), "--remove-silence", "--pad-ms", "100"
    )
    s, _ = sf.read(tmp_path / "s.flac")
    voiced = sum(int(round((b - a) * sr)) for a, b in spans)
    assert voiced + 6 * 1600 <= len(s) <= voiced + 6 * (1600 + frame)
    assert np.sum(s**2) == pytest.approx(np.sum(x**2), rel=1e-9)  # every voiced sample kept


def test_pad_to_and_trim_to_give_exact_sample_counts(runner, cli, tmp_path: Path, write_audio):
    short = write_audio("d/short.wav", sine(300, 8000, 0.7), 8000, "PCM_16")
    long = write_audio("d/long.wav", sine(300, 8000, 1.3), 8000, "PCM_16")
    out = tmp_path / "fixed"
    run(
        runner,
        cli,
        str(tmp_path / "d"),
        "-o",
        str(out),
        "--sr",
        "16000",
        "--pad-to",
        "1",
        "--trim-to",
        "1",
        "-j",
        "1",
    )
    assert sf.info(out / "short.wav").frames == 16000
    assert sf.info(out / "long.wav").frames == 16000
    run(runner, cli, str(short), "-o", str(tmp_path / "p.wav"), "--pad-to", "2.5")
    p = sf.read(tmp_path / "p.wav", dtype="int16")[0]
    assert len(p) == 20000 and not p[5600:].any()
    np.testing.assert_array_equal(p[:5600], sf.read(short, dtype="int16")[0])
    run(runner, cli, str(long), "-o", str(tmp_path / "c.wav"), "--trim-to", "0.25")
    assert sf.info(tmp_path / "c.wav").frames == 2000


def test_segments_count_lengths_names_and_content(runner, cli, tmp_path: Path, write_audio):
    sr = 8000
    rng = np.random.default_rng(0)
    y = (0.3 * rng.standard_normal(10 * sr)).astype(np.float32)
    src = write_audio("long.wav", y, sr, "PCM_16")
    x = sf.read(src, dtype="int16")[0]
    out = tmp_path / "segs"
    res = run(runner, cli, str(src), "-o", str(out), "--segment", "3", "--overlap", "1", "--json")
    files = sorted(out.glob("*.wav"))
    assert [f.name for f in files] == [f"long_{i:03d}.wav" for i in range(5)]
    assert [sf.info(f).frames for f in files] == [24000, 24000, 24000, 24000, 16000]
    np.testing.assert_array_equal(sf.read(files[2], dtype="int16")[0], x[32000:56000])
    assert rows(res)[0]["n_outputs"] == 5
    run(
        runner,
        cli,
        str(src),
        "-o",
        str(tmp_path / "n"),
        "--segment",
        "4",
        "--fade-ms",
        "5",
        "--name",
        "clip-{index}-{stem}.{ext}",
    )
    names = sorted(p.name for p in (tmp_path / "n").iterdir())
    assert names == ["clip-0-long.wav", "clip-1-long.wav", "clip-2-long.wav"]
    z = sf.read(tmp_path / "n" / "clip-1-long.wav")[0]
    assert abs(z[0]) < 1e-4 and abs(z[-1]) < 0.01  # faded


def test_subtypes_bit_depth_and_dither(runner, cli, tmp_path: Path, data: Path):
    chirp = data / "tones" / "chirp.wav"  # FLOAT
    res = run(
        runner, cli, str(chirp), "-o", str(tmp_path / "c16.wav"), "--subtype", "PCM_16", "--json"
    )
    assert sf.info(tmp_path / "c16.wav").subtype == "PCM_16" and rows(res)[0]["dithered"]
    run(runner, cli, str(chirp), "-o", str(tmp_path / "c24.flac"), "--subtype", "PCM_24")
    info = sf.info(tmp_path / "c24.flac")
    assert (info.format, info.subtype) == ("FLAC", "PCM_24")
    x = sf.read(chirp)[0]
    c24 = sf.read(tmp_path / "c24.flac")[0]
    err = c24 - x
    assert np.std(err) == pytest.approx(np.sqrt(1 / 4) * 2.0**-23, rel=0.1)  # TPDF + rounding
    run(
        runner,
        cli,
        str(chirp),
        "-o",
        str(tmp_path / "nd.wav"),
        "--subtype",
        "PCM_16",
        "--no-dither",
    )
    nd = sf.read(tmp_path / "nd.wav", dtype="int16")[0]
    np.testing.assert_array_equal(nd, np.clip(np.rint(x * 32768), -32768, 32767))
    run(runner, cli, str(chirp), "-o", str(tmp_path / "o.ogg"), "--sr", "16000")
    assert sf.info(tmp_path / "o.ogg").subtype == "VORBIS"
    run(runner, cli, str(chirp), "-o", str(tmp_path / "f.flac"), "--subtype", "FLOAT", code=2)
    # a pure cut of a 16-bit file keeps the samples: no dither
    pink = data / "noise" / "pink.flac"
    res = run(runner, cli, str(pink), "-o", str(tmp_path / "p.flac"), "--trim-to", "1", "--json")
    assert not rows(res)[0]["dithered"]
    np.testing.assert_array_equal(
        sf.read(tmp_path / "p.flac", dtype="int32")[0],
        sf.read(pink, dtype="int32", frames=16000)[0],
    )


def test_channel_pick_and_chain_order(runner, cli, tmp_path: Path, data: Path):
    pan = data / "stereo" / "pan.wav"
    run(runner, cli, str(pan), "-o", str(tmp_path / "r.wav"), "--channel", "1")
    r = sf.read(tmp_path / "r.wav")[0]
    assert r.ndim == 1 and np.max(np.abs(r)) == pytest.approx(0.25, abs=1e-3)
    res = run(runner, cli, str(pan), "--dry-run", "--chain", "mono,normalize", "--json")
    r = rows(res)[0]
    assert r["steps"] == ["channels=mono", "normalize=peak -1"] and r["channels_out"] == 1
    assert r["peak_out_dbfs"] == pytest.approx(-1.0, abs=1e-3) and r["outputs"] == []
    # normalising before resampling: the resampler moves the peak a little off the target
    res = run(
        runner,
        cli,
        str(pan),
        "--dry-run",
        "--sr",
        "16000",
        "--normalize",
        "peak",
        "--chain",
        "normalize,sr",
        "--json",
    )
    assert rows(res)[0]["steps"][0] == "normalize=peak -1"
    run(runner, cli, str(pan), "--dry-run", "--sr", "16000", "--chain", "mono", code=2)
    run(runner, cli, str(pan), "--dry-run", "--chain", "mono,echo", code=2)


def test_never_overwrites_inputs_and_keeps_existing_outputs(
    runner, cli, tmp_path: Path, data: Path
):
    sine_wav = data / "tones" / "sine440.wav"
    res = run(runner, cli, str(sine_wav), "-o", str(sine_wav), "--gain", "-3", code=1)
    assert "overwrite an input" in res.stderr
    # a directory output that would land on another input
    res = run(
        runner,
        cli,
        str(data / "tones"),
        "-o",
        str(data / "tones"),
        "--gain",
        "-3",
        "--format",
        "wav",
        code=1,
    )
    assert "overwrite an input" in res.stderr
    out = tmp_path / "o"
    out.mkdir()
    (out / "sine440.wav").write_bytes(b"keep me")
    res = run(runner, cli, str(data / "tones"), "-o", str(out), "--gain", "-3", code=1)
    assert f"sine440.wav: {out / 'sine440.wav'}: exists (use --overwrite" in res.stderr
    assert (out / "sine440.wav").read_bytes() == b"keep me"
    assert sf.info(out / "chirp.wav").frames == 66150  # the other input went through
    res = run(runner, cli, str(data / "tones"), "-o", str(out), "--gain", "-3", "--dry-run")
    assert "exists: a real run fails" in res.stderr  # a dry run warns and goes on
    run(runner, cli, str(data / "tones"), "-o", str(out), "--gain", "-3", "--overwrite")
    assert sf.info(out / "sine440.wav").frames == 44100
    assert not list(out.glob(".*"))  # no temporary files left


def test_dry_run_writes_nothing_and_report_files(runner, cli, tmp_path: Path, data: Path):
    out = tmp_path / "o"
    report = tmp_path / "rep.parquet"
    res = run(
        runner,
        cli,
        str(data / "speech"),
        "-o",
        str(out),
        "--sr",
        "8000",
        "--normalize",
        "peak",
        "--dry-run",
        "--report",
        str(report),
        "--json",
    )
    assert not out.exists()
    assert [r["dry_run"] for r in rows(res)] == [True, True]
    import pyarrow.parquet as pq

    table = pq.read_table(report).to_pylist()
    assert len(table) == 2
    first = table[0]
    assert first["sr_in"] == 16000 and first["sr_out"] == 8000
    assert first["peak_out_dbfs"] == pytest.approx(-1.0, abs=0.01)
    assert first["outputs"] == [str(out / "hello.wav")]
    assert {"duration_in", "lufs_in", "lufs_out", "gain_db", "limited", "steps"} <= set(first)
    csv = tmp_path / "rep.csv"
    run(runner, cli, str(data / "speech"), "--dry-run", "--trim", "--report", str(csv))
    assert csv.read_text().splitlines()[0].startswith("input,outputs,duration_in")


def test_bad_input_fails_alone(runner, cli, tmp_path: Path, data: Path):
    bad = tmp_path / "d" / "bad.wav"
    bad.parent.mkdir()
    bad.write_bytes(b"RIFF....not audio")
    shutil.copy(data / "tones" / "sine440.wav", tmp_path / "d" / "good.wav")
    res = run(runner, cli, str(tmp_path / "d"), "-o", str(tmp_path / "o"), "--sr", "8000", code=1)
    assert "bad.wav" in res.stderr and "Traceback" not in res.stderr
    assert (tmp_path / "o" / "good.wav").exists() and not (tmp_path / "o" / "bad.wav").exists()
    res = run(runner, cli, str(tmp_path / "d" / "good.wav"), code=2)  # no -o, no --dry-run
    assert "-o" in res.stderr


@pytest.mark.corpus
def test_spoken_digits_to_fixed_length_training_clips(runner, cli, corpus_dir: Path, tmp_path):
    src = corpus_dir / "fsdd"
    out = tmp_path / "digits"
    res = run(
        runner,
        cli,
        str(src),
        "-o",
        str(out),
        "--sr",
        "16000",
        "--normalize",
        "peak",
        "--pad-to",
        "1",
        "--trim-to",
        "1",
        "--format",
        "wav",
        "--json",
    )
    reps = rows(res)
    assert len(reps) == len(list(src.glob("*.wav"))) == len(list(out.glob("*.wav")))
    for r in reps[:10]:
        y, sr = sf.read(r["outputs"][0])
        assert (len(y), sr) == (16000, 16000)
        assert 20 * np.log10(np.max(np.abs(y))) == pytest.approx(-1.0, abs=0.01)


def test_steps_that_change_nothing_pass_samples_bit_for_bit(runner, cli, tmp_path: Path) -> None:
    """A resample to the rate a file has, mono of mono, 0 dB: the samples, exactly."""
    rng = np.random.default_rng(3)
    pcm = (rng.standard_normal(16000) * 3000).astype(np.int16)
    pcm[4000:8000] = 0  # digital silence
    src = tmp_path / "in"
    src.mkdir()
    sf.write(src / "a.wav", pcm, 16000, subtype="PCM_16")
    sf.write(src / "b.flac", pcm, 16000, subtype="PCM_16")
    out = tmp_path / "out"
    run(runner, cli, str(src), "-o", str(out), "--sr", "16000", "--mono", "--gain", "0")
    for name in ("a.wav", "b.flac"):
        back, sr = sf.read(out / name, dtype="int16")
        assert sr == 16000 and np.array_equal(back, pcm), name
    # A real change is dithered, but digital silence stays digital silence.
    changed = tmp_path / "changed"
    run(runner, cli, str(src / "a.wav"), "-o", str(changed / "a.wav"), "--gain", "-6")
    back, _ = sf.read(changed / "a.wav", dtype="int16")
    assert not back[4000:8000].any() and back[:4000].any()
    assert not np.array_equal(back[:4000], np.round(pcm[:4000] * 10 ** (-6 / 20)).astype(np.int16))
