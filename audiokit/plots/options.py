"""Options of ``plot`` and ``spectrogram``: the figure, the analysis, the jobs.

Frozen dataclasses, built once in the main process (by ``cli/plot.py`` and
``cli/spectrogram.py``) and sent to the workers; :mod:`audiokit.plots.tasks` checks and
runs them, :mod:`audiokit.plots.kinds` and :mod:`audiokit.plots.spectrogram` draw them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from audiokit.output.naming import FilePlan
from audiokit.plots.spectra import DEFAULT_TOP_DB, StftParams

#: Default height in inches of one lane, per kind (more lanes add 70 % each).
LANE_HEIGHT = {
    "waveform": 3.0,
    "spectrum": 3.5,
    "psd": 3.5,
    "features": 3.5,
    "zcr": 3.5,
    "mfcc": 4.0,
    "chroma": 4.0,
    "onsets": 3.5,
    "overview": 10.0,
    "spectrogram": 4.0,
}
DEFAULT_WIDTH = 10.0
DEFAULT_DPI = 100.0


@dataclass(frozen=True)
class FigureOptions:
    """Options every picture shares.

    Attributes
    ----------
    width, height : float or None
        Inches; None: 10 wide, height by kind and number of lanes.
    dpi : float
        Pixels per inch (the PNG records it).
    style : str
        ``light`` or ``dark``.
    title : str or None
        None: the file name; ``""``: no title.
    start : float or None
        Seconds; None: from the beginning (``zcr``: the middle of the file).
    duration : float or None
        Seconds; None: to the end (``zcr``: 10 ms).
    channel : int, "mix" or None
        None: one lane per channel.
    """

    width: float | None = None
    height: float | None = None
    dpi: float = DEFAULT_DPI
    style: str = "light"
    title: str | None = None
    start: float | None = None
    duration: float | None = None
    channel: int | str | None = None

    def size(self, kind: str, lanes: int) -> tuple[float, float]:
        """(width, height) in inches for ``lanes`` lanes of ``kind``."""
        lane = LANE_HEIGHT.get(kind, 3.5)
        h = self.height if self.height else lane * (1 + 0.7 * (lanes - 1))
        return (self.width or DEFAULT_WIDTH, h)

    def pixels_wide(self) -> int:
        return int((self.width or DEFAULT_WIDTH) * self.dpi)


@dataclass(frozen=True)
class SpectralOptions:
    """Analysis parameters shared by the spectral pictures."""

    stft: StftParams = field(default_factory=StftParams)
    n_mels: int = 128
    n_mfcc: int = 20
    fmin: float = 0.0
    fmax: float | None = None
    top_db: float = DEFAULT_TOP_DB
    cmap: str | None = None
    """Colour map (None: magma for spectrograms, coolwarm for MFCC and chroma)."""
    max_columns: int | None = None
    """Most time columns of a spectrogram (None: the image width in pixels; 0: all frames)."""


@dataclass(frozen=True)
class PlotJob:
    """Everything a ``plot`` task needs."""

    kind: str
    figure: FigureOptions
    spectral: SpectralOptions
    output: FilePlan


@dataclass(frozen=True)
class SpectrogramJob:
    """Everything a ``spectrogram`` task needs."""

    figure: FigureOptions
    spectral: SpectralOptions
    output: FilePlan
    scale: str = "log"
    preemphasis: float | None = None
    data: FilePlan | None = None
