"""Pictures compared with committed baseline images (matplotlib's image comparison).

Regenerate the baselines after an intended change of the drawing with::

    AUDIOKIT_UPDATE_BASELINES=1 .venv/bin/pytest tests/test_plot_baselines.py

The images are tiny (400 x 300 at 50 dpi) and deterministic: bundled DejaVu
fonts, no date or software stamp in the PNG.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from audiokit.inputs import Input
from audiokit.output.naming import FilePlan
from audiokit.plots.tasks import (
    FigureOptions,
    PlotJob,
    SpectralOptions,
    SpectrogramJob,
    plot_task,
    spectrogram_task,
)

BASELINES = Path(__file__).parent / "baseline_images"
UPDATE = os.environ.get("AUDIOKIT_UPDATE_BASELINES") == "1"
#: RMS difference (0-255 scale) tolerated: absorbs freetype/antialiasing noise, not content.
TOL = 3.0

FIG = FigureOptions(width=8.0, height=6.0, dpi=50.0)

CASES = {
    "sine440.waveform.png": ("plot", "waveform", "tones/sine440.wav"),
    "pan.psd.png": ("plot", "psd", "stereo/pan.wav"),
    "chirp.spectrogram.mel.png": ("spectrogram", "mel", "tones/chirp.wav"),
    "melody.overview.png": ("plot", "overview", "music/melody.ogg"),
}


def _draw(case: str, out: Path, sample_dir: Path) -> None:
    command, what, rel = CASES[case]
    path = sample_dir / rel
    inp = Input(str(path), str(path), path.name)
    spec = FilePlan("file", str(out), "", replace=True)
    if command == "plot":
        plot_task(PlotJob(what, FIG, SpectralOptions(), spec), inp)
    else:
        spectrogram_task(SpectrogramJob(FIG, SpectralOptions(n_mels=64), spec, scale=what), inp)


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_baseline(case: str, sample_dir: Path, tmp_path: Path) -> None:
    from matplotlib.testing.compare import compare_images

    actual = tmp_path / case
    _draw(case, actual, sample_dir)
    expected = BASELINES / case
    if UPDATE:
        BASELINES.mkdir(exist_ok=True)
        shutil.copyfile(actual, expected)
        pytest.skip(f"baseline {case} rewritten")
    if not expected.exists():
        pytest.fail(f"no baseline {expected}: run with AUDIOKIT_UPDATE_BASELINES=1")
    result = compare_images(str(expected), str(actual), tol=TOL)
    assert result is None, result


def test_a_changed_picture_is_caught(sample_dir: Path, tmp_path: Path) -> None:
    """The comparison is strict enough to notice another kind or another file."""
    from matplotlib.testing.compare import compare_images

    expected = BASELINES / "sine440.waveform.png"
    if not expected.exists():
        pytest.skip("baselines not generated yet")
    other = tmp_path / "other.png"
    path = sample_dir / "clipped" / "dc_offset.wav"
    plot_task(
        PlotJob("waveform", FIG, SpectralOptions(), FilePlan("file", str(other), "", replace=True)),
        Input(str(path), str(path), "sine440.wav"),
    )
    assert compare_images(str(expected), str(other), tol=TOL) is not None
