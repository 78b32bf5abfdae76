"""Run the librosa feature groups once before workers are forked (:mod:`audiokit.warmup`)."""

from __future__ import annotations

import functools

from audiokit.features.blocks import ArraySource, iter_blocks
from audiokit.features.schema import LIBROSA_GROUPS, FeatureParams
from audiokit.warmup import probe_signal

#: Rate of the probe signal when the features keep each file's own rate.
PROBE_SR = 22050


@functools.lru_cache(maxsize=8)
def warm_up(params: FeatureParams, sr: int | None = None) -> None:
    """Compute ``params``' librosa groups once, here, on a probe signal.

    Workers forked afterwards inherit librosa's compiled kernels instead of
    filling numba's on-disk cache all at once. Does nothing, and imports
    nothing, when every chosen group is computed with numpy; done once per
    process and parameters (the batch engine and the block pool both ask).

    Parameters
    ----------
    params
        The features the workers will compute.
    sr
        Sample rate of the workers' input (default ``params.sr``, else 22050).
    """
    if not LIBROSA_GROUPS & set(params.groups):
        return
    # Imported here, not at the top: this module is loaded with the command line
    # (``audiokit features --help``), the block machinery needs numpy.

    rate = sr or params.sr or PROBE_SR
    for _ in iter_blocks(ArraySource(probe_signal(rate)), rate, params):
        pass
