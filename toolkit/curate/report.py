"""What a curation step did, and the one way a step removes rows.

Every step builds a list of reasons (``None``: keep the row) and hands it to :func:`apply_reasons`,
so no step can drop a row without counting it, and every step refuses to turn non-empty input
into nothing unless asked to (an empty result is almost always an upstream mistake, e.g. no gold
answers, that would otherwise surface much later as a confusing error from ``push``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from toolkit.errors import DataError, EmptyOutputError

if TYPE_CHECKING:
    import datasets

log = logging.getLogger("toolkit.curate")


@dataclass
class CurationReport:
    """What one step did: rows in and out, and how many rows it removed for which reason."""

    step: str
    rows_in: int
    rows_out: int
    removed_by_reason: dict[str, int] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def removed(self) -> int:
        return self.rows_in - self.rows_out

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["removed"] = self.removed
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CurationReport:
        return cls(
            step=data["step"],
            rows_in=int(data["rows_in"]),
            rows_out=int(data["rows_out"]),
            removed_by_reason=dict(data.get("removed_by_reason") or {}),
            params=dict(data.get("params") or {}),
            notes=list(data.get("notes") or []),
        )

    def summary(self) -> str:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.removed_by_reason.items()))
        line = f"{self.step}: {self.rows_in} → {self.rows_out} rows, removed {self.removed}"
        if reasons:
            line += f" ({reasons})"
        for note in self.notes:
            line += f"; {note}"
        return line

    def __str__(self) -> str:
        return self.summary()


def require_column(dataset: datasets.Dataset, column: str, step: str, hint: str = "") -> None:
    """Refuse a dataset that lacks ``column`` with a message naming the step (and what to run)."""
    if column not in dataset.column_names:
        raise DataError(
            f"{step}: the dataset has no {column!r} column{hint}",
            hint=f"columns: {', '.join(dataset.column_names)}",
        )


def apply_reasons(
    dataset: datasets.Dataset,
    step: str,
    reasons: Sequence[str | None],
    params: dict[str, Any],
    notes: list[str] | None = None,
    *,
    allow_empty: bool = False,
) -> tuple[datasets.Dataset, CurationReport]:
    """Keep the rows whose reason is ``None``; count the others by reason.

    Raises :class:`toolkit.errors.EmptyOutputError` when every row of a non-empty input would
    be removed, unless ``allow_empty``.
    """
    keep = [i for i, reason in enumerate(reasons) if reason is None]
    counts = Counter(reason for reason in reasons if reason is not None)
    out = dataset.select(keep) if len(keep) != len(dataset) else dataset
    report = CurationReport(
        step, len(dataset), len(out), dict(sorted(counts.items())), params, notes or []
    )
    if len(dataset) and not len(out) and not allow_empty:
        why = ", ".join(f"{reason}: {count}" for reason, count in sorted(counts.items()))
        raise EmptyOutputError(
            f"{step} removed all {len(dataset)} rows ({why}); nothing left to write",
            hint="check the earlier steps (e.g. were gold answers stored and graded?), or pass "
            "--allow-empty (allow_empty=True) to accept an empty result",
        )
    log.info("%s", report.summary())
    return out, report


__all__ = ["CurationReport", "apply_reasons", "require_column"]
