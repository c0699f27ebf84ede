"""Plots committed next to cards (PNG, matplotlib's headless Agg backend).

matplotlib is imported inside the functions (it costs ~0.5 s) and forced onto Agg, so plotting
works on servers and in CI without a display and never opens a window.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


@contextmanager
def _labelled_png(
    path: str | os.PathLike[str], *, title: str, xlabel: str, ylabel: str
) -> Iterator[tuple[Path, Any]]:
    """A 7x3.6 in figure's axes to draw on; on exit it is titled, labelled and saved to ``path``
    as a PNG, and always closed (pyplot keeps every open figure alive otherwise)."""
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(7, 3.6), dpi=100)
    try:
        yield path, axes
        axes.set_title(title)
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        figure.tight_layout()
        # No timestamps in the PNG: identical data gives identical bytes (no spurious commits).
        figure.savefig(path, format="png", metadata={"Software": None})
    finally:
        plt.close(figure)


def histogram_png(
    values: Sequence[float],
    path: str | os.PathLike[str],
    *,
    title: str,
    xlabel: str,
    ylabel: str = "rows",
    bins: int = 40,
    percentiles: Sequence[float] = (50, 95),
) -> Path:
    """Write a histogram of ``values`` with dashed lines at the given percentiles."""
    import numpy as np

    data = np.asarray(list(values), dtype=float)
    with _labelled_png(path, title=title, xlabel=xlabel, ylabel=ylabel) as (path, axes):
        if data.size:
            axes.hist(data, bins=min(bins, max(1, len(np.unique(data)))), color="#4C72B0")
            for q in percentiles:
                value = float(np.percentile(data, q))
                axes.axvline(value, color="#DD8452", linestyle="--", linewidth=1)
                axes.text(value, axes.get_ylim()[1] * 0.95, f" p{q:g}={value:,.0f}", fontsize=8)
        else:
            axes.text(0.5, 0.5, "no data", ha="center", va="center", transform=axes.transAxes)
    return path
