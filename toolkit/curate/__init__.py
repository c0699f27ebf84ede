"""Curation steps: every step removes rows for a stated reason and says how many.

Every step has the same shape::

    dataset, report = step(dataset, ...)

where ``report`` is a :class:`CurationReport` (rows in/out, removed, removed per reason, the
parameters, notes such as an unavailable benchmark). Steps never remove a row silently, refuse
to turn non-empty input into nothing unless ``allow_empty=True``, and the reports together are
the *lineage* that :func:`toolkit.push` writes into the dataset card. Chain them with
:func:`curate` (or the ``toolkit curate <step>`` CLI, which keeps the lineage in a
``<output>.lineage.json`` sidecar next to the output file).

One concern per module: :mod:`~toolkit.curate.report` (reports and row removal),
:mod:`~toolkit.curate.filters` (:func:`correct_only`, :func:`complete_only`,
:func:`length_filter`, :func:`pass_rate`), :mod:`~toolkit.curate.duplicates` (:func:`dedup`:
exact normalised-text hash, optional MinHash near-duplicates),
:mod:`~toolkit.curate.contamination` (:func:`decontaminate`: word n-grams against AIME
2024/2025, MATH-500, GPQA-Diamond, GSM8K and any user set) with its scanner in
:mod:`~toolkit.curate.ngrams`, and :mod:`~toolkit.curate.lineage` (sidecar files). Module names
differ from the step functions, so ``toolkit.curate.dedup`` is always the function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from toolkit.curate.contamination import (
    DEFAULT_BENCHMARKS,
    decontaminate,
    load_benchmark_indexes,
)
from toolkit.curate.duplicates import MinHashLSH, dedup, normalize_text
from toolkit.curate.filters import (
    TEXT_FIELDS,
    complete_only,
    correct_only,
    count_tokens,
    estimate_tokens,
    length_filter,
    pass_rate,
    token_counter,
    tokenizer_name,
)
from toolkit.curate.lineage import lineage_entries, lineage_path, read_lineage, write_lineage
from toolkit.curate.ngrams import NgramIndex, build_ngram_index, contamination_flags
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


__all__ = [
    "DEFAULT_BENCHMARKS",
    "STEPS",
    "TEXT_FIELDS",
    "CurationReport",
    "MinHashLSH",
    "NgramIndex",
    "build_ngram_index",
    "complete_only",
    "contamination_flags",
    "correct_only",
    "count_tokens",
    "curate",
    "decontaminate",
    "dedup",
    "estimate_tokens",
    "length_filter",
    "lineage_entries",
    "lineage_path",
    "load_benchmark_indexes",
    "normalize_text",
    "pass_rate",
    "read_lineage",
    "token_counter",
    "tokenizer_name",
    "write_lineage",
]
