"""The confusion matrix as a PNG (headless, through :mod:`audiokit.plots.render`)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from audiokit.output import files
from audiokit.plots import render


def confusion_png(
    confusion: Sequence[Sequence[int]],
    classes: Sequence[str],
    target: str | os.PathLike[str],
    title: str = "",
    replace: bool = False,
) -> tuple[int, int]:
    """Draw ``confusion[i][j]`` (true ``classes[i]``, predicted ``classes[j]``) with counts.

    Cells are coloured by the share of their true class (rows sum to 1), so that
    classes of different sizes read alike; the counts are written in the cells.
    Returns the image size in pixels.
    """
    m = np.asarray(confusion, dtype=float)
    n = len(classes)
    share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    side = min(12.0, 3.0 + 0.45 * n)
    with render.figure(side + 1.2, side, 100.0, "light", title) as fig:
        (ax,) = render.stack(fig, 1, colorbar=True, sharex=False)
        image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(n), [str(c) for c in classes], rotation=45 if n > 6 else 0)
        ax.set_yticks(range(n), [str(c) for c in classes])
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        for i in range(n):
            for j in range(n):
                ax.text(
                    j,
                    i,
                    f"{int(m[i, j])}",
                    ha="center",
                    va="center",
                    color="white" if share[i, j] > 0.5 else "black",
                    fontsize=9 if n <= 12 else 6,
                )
        render.register(ax, "confusion")
        render.colorbar(fig, image, [ax], "share of the true class", "%.1f")
        with files.staged(target, replace=replace) as tmp:
            render.write_png(fig, tmp, target)
        w, h = fig.canvas.get_width_height(physical=True)
    return int(w), int(h)
