"""The feature options (``--features``, ``--stats``, ``--sr``, ``--n-fft``...), defined once.

``features``, ``train``, ``evaluate``, ``predict`` and ``anomaly`` compute the same
features from audio; :func:`feature_params_options` adds their options and hands the
command one checked :class:`~audiokit.features.schema.FeatureParams` (argument ``params``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from audiokit.cli.options import (
    fmax_option,
    fmin_option,
    hop_length_option,
    n_fft_option,
    n_mels_option,
    n_mfcc_option,
    sr_option,
)
from audiokit.features.schema import (
    DEFAULT_BANDWIDTH_P,
    DEFAULT_GROUPS,
    DEFAULT_N_CHROMA,
    DEFAULT_ROLL_PERCENT,
    FeatureParams,
    parse_floats,
    parse_groups,
    parse_stats,
)
from audiokit.limits import check_spectral

F = TypeVar("F", bound=Callable[..., Any])


def feature_params_options(func: F) -> F:
    """Add the feature options; the command gets ``params: FeatureParams``."""

    @functools.wraps(func)
    def wrapper(**kw: Any) -> Any:
        sr, n_fft, hop = kw.pop("sr"), kw.pop("n_fft"), kw.pop("hop_length")
        n_mels, n_mfcc = kw.pop("n_mels"), kw.pop("n_mfcc")
        fmin, fmax = kw.pop("fmin"), kw.pop("fmax")
        params = FeatureParams(
            groups=parse_groups(kw.pop("features")),
            sr=sr,
            n_fft=n_fft,
            hop_length=hop,
            n_mels=n_mels,
            n_mfcc=n_mfcc,
            fmin=fmin,
            fmax=fmax,
            stats=parse_stats(kw.pop("stats")),
            frame_local=kw.pop("frame_local"),
            roll_percent=parse_floats(
                "--roll-percent", kw.pop("roll_percent"), DEFAULT_ROLL_PERCENT
            ),
            bandwidth_p=parse_floats("--bandwidth-p", kw.pop("bandwidth_p"), DEFAULT_BANDWIDTH_P),
            n_chroma=kw.pop("n_chroma"),
        )
        check_spectral(n_fft, hop, n_mels, fmin, fmax, sr)
        return func(params=params, **kw)

    opts = [
        click.option(
            "--features",
            "features",
            metavar="GROUPS",
            default=None,
            help="Feature groups, comma-separated (default: "
            + ",".join(DEFAULT_GROUPS)
            + "; see 'audiokit features --help').",
        ),
        click.option(
            "--stats",
            metavar="LIST",
            default=None,
            help="Statistics of summary and window rows: mean, std, min, max, median, "
            "pNN (default: mean,std,min,max).",
        ),
        sr_option(22050),
        n_fft_option(),
        hop_length_option(),
        n_mels_option(),
        n_mfcc_option(13),
        fmin_option(),
        fmax_option(),
        click.option(
            "--roll-percent",
            metavar="LIST",
            default=None,
            help="Spectral roll-off percentages in (0, 1), comma-separated (librosa's "
            "roll_percent; default 0.85, column spectral_rolloff). Several, or another one, "
            "give a column each: --roll-percent 0.1,0.85 makes spectral_rolloff_10 and "
            "spectral_rolloff_85.",
        ),
        click.option(
            "--bandwidth-p",
            metavar="LIST",
            default=None,
            help="Orders of the spectral bandwidth, comma-separated (librosa's p; default 2, "
            "column spectral_bandwidth). --bandwidth-p 2,3,4 makes spectral_bandwidth_p2, "
            "_p3 and _p4.",
        ),
        click.option(
            "--n-chroma",
            type=click.IntRange(1, 120),
            default=DEFAULT_N_CHROMA,
            show_default=True,
            metavar="N",
            help="Chroma bins per octave (librosa's n_chroma), for the chroma and cens groups.",
        ),
        click.option(
            "--frame-local",
            is_flag=True,
            help="Make every frame depend on its neighbourhood only: dB values with a fixed "
            "-100 dB floor instead of librosa's 80 dB below the file's maximum, chroma at "
            "A440 instead of the file's estimated tuning. Blocks, segments and whole files "
            "then agree, and long files take one pass instead of two.",
        ),
    ]
    for opt in reversed(opts):
        wrapper = opt(wrapper)
    return wrapper  # type: ignore[return-value]
