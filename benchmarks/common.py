"""What every benchmark here shares: interleaved rounds against the best peer, ratios per round,
and one row per headline figure for ``benchmarks/run_all.py``.

Rules (issue 16): the toolkit is compared with what a user would otherwise run (a well-kept
library or the field's reference script), never with a baseline written only to lose; each
round runs the toolkit and the peer back to back, so load on a shared machine hits both alike;
the ratio is taken per round and reported as min / median over >= 3 rounds, with the load
average beside it.
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@dataclass
class Figure:
    """One headline figure: the toolkit's value next to the peer's, the per-round ratios, and
    the target it is held to (``None``: reported, no target)."""

    name: str
    unit: str
    toolkit: list[float]
    peer: list[float]
    peer_name: str
    higher_is_better: bool = True
    target: float | None = None
    """Target for the median ratio (toolkit / peer, or peer / toolkit when lower is better),
    or an absolute target for the toolkit's median when ``target_absolute``."""
    target_absolute: bool = False
    notes: list[str] = field(default_factory=list)
    compared: bool = True
    """False when the peer column is a reference value (a floor), not a competitor: no ratio."""

    @property
    def ratios(self) -> list[float]:
        pairs = zip(self.toolkit, self.peer, strict=True)
        if self.higher_is_better:
            return [t / p if p else float("inf") for t, p in pairs]
        return [p / t if t else float("inf") for t, p in pairs]

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        if self.target_absolute:
            value = statistics.median(self.toolkit)
            return value >= self.target if self.higher_is_better else value <= self.target
        return statistics.median(self.ratios) >= self.target

    def row(self) -> str:
        ratios = self.ratios
        target = "-" if self.target is None else f"{self.target:,g}"
        if self.target_absolute and self.target is not None:
            target += f" {self.unit}"
        met = {None: "-", True: "yes", False: "NO"}[self.met]
        spread = f"{min(ratios):.2f} / {statistics.median(ratios):.2f}" if self.compared else "-"
        return (
            f"| {self.name} | {statistics.median(self.toolkit):,.2f} {self.unit} | "
            f"{statistics.median(self.peer):,.2f} ({self.peer_name}) | "
            f"{spread} | {target} | {met} |"
        )


TABLE_HEADER = (
    "| figure | toolkit (median) | best peer (median) | ratio min / median | target | met |\n"
    "|---|---|---|---|---|---|"
)


def load_average() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load average unavailable"
    return f"load average {one:.2f} (1 min) / {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def interleaved(
    rounds: int, runs: Sequence[tuple[str, Callable[[], float]]]
) -> dict[str, list[float]]:
    """Run each ``(name, fn)`` once per round, in order, ``rounds`` times: values per name."""
    values: dict[str, list[float]] = {name: [] for name, _ in runs}
    for _ in range(rounds):
        for name, fn in runs:
            values[name].append(fn())
    return values


def print_figures(figures: Sequence[Figure]) -> None:
    print(TABLE_HEADER)
    for figure in figures:
        print(figure.row())
    for figure in figures:
        for note in figure.notes:
            print(f"- {figure.name}: {note}")
    print(load_average())


__all__ = ["REPO", "TABLE_HEADER", "Figure", "interleaved", "load_average", "print_figures"]
