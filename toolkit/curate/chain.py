"""Chaining curation steps by name: :func:`curate` and the :data:`STEPS` registry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from toolkit.curate.contamination import decontaminate
from toolkit.curate.duplicates import dedup
from toolkit.curate.filters import complete_only, correct_only, length_filter, pass_rate
from toolkit.curate.report import CurationReport
from toolkit.errors import UsageError

if TYPE_CHECKING:
    import datasets

STEPS: dict[str, Callable[..., tuple[Any, CurationReport]]] = {
    "correct_only": correct_only,
    "complete_only": complete_only,
    "length_filter": length_filter,
    "dedup": dedup,
    "decontaminate": decontaminate,
    "pass_rate": pass_rate,
}


def curate(
    dataset: datasets.Dataset, steps: Sequence[str | tuple[str, dict[str, Any]]]
) -> tuple[datasets.Dataset, list[CurationReport]]:
    """Run steps in order: ``["complete_only", ("length_filter", {"max_tokens": 16000})]``."""
    reports: list[CurationReport] = []
    for step in steps:
        name, kwargs = (step, {}) if isinstance(step, str) else step
        if name not in STEPS:
            raise UsageError(f"unknown curation step {name!r}; known: {', '.join(STEPS)}")
        dataset, report = STEPS[name](dataset, **kwargs)
        reports.append(report)
    return dataset, reports


__all__ = ["STEPS", "curate"]
