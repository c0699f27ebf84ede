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
differ from the step functions, so ``toolkit.curate.dedup`` is always the function. Defaults live
in :mod:`~toolkit.curate.defaults`; :func:`curate` chains steps (:mod:`~toolkit.curate.chain`).
Names are imported on first use, so the CLI reads the defaults without importing the steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.lazy import lazy_getattr

_EXPORTS = {
    "DEFAULT_BENCHMARKS": "toolkit.curate.defaults:DEFAULT_BENCHMARKS",
    "TEXT_FIELDS": "toolkit.curate.defaults:TEXT_FIELDS",
    "STEPS": "toolkit.curate.chain:STEPS",
    "curate": "toolkit.curate.chain:curate",
    "CurationReport": "toolkit.curate.report:CurationReport",
    "MinHashLSH": "toolkit.curate.duplicates:MinHashLSH",
    "dedup": "toolkit.curate.duplicates:dedup",
    "normalize_text": "toolkit.curate.duplicates:normalize_text",
    "decontaminate": "toolkit.curate.contamination:decontaminate",
    "load_benchmark_indexes": "toolkit.curate.contamination:load_benchmark_indexes",
    "complete_only": "toolkit.curate.filters:complete_only",
    "correct_only": "toolkit.curate.filters:correct_only",
    "count_tokens": "toolkit.curate.filters:count_tokens",
    "estimate_tokens": "toolkit.curate.filters:estimate_tokens",
    "length_filter": "toolkit.curate.filters:length_filter",
    "pass_rate": "toolkit.curate.filters:pass_rate",
    "token_counter": "toolkit.curate.filters:token_counter",
    "tokenizer_name": "toolkit.curate.filters:tokenizer_name",
    "lineage_entries": "toolkit.curate.lineage:lineage_entries",
    "lineage_path": "toolkit.curate.lineage:lineage_path",
    "read_lineage": "toolkit.curate.lineage:read_lineage",
    "write_lineage": "toolkit.curate.lineage:write_lineage",
    "NgramIndex": "toolkit.curate.ngrams:NgramIndex",
    "build_ngram_index": "toolkit.curate.ngrams:build_ngram_index",
    "contamination_flags": "toolkit.curate.ngrams:contamination_flags",
}

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

if TYPE_CHECKING:
    from toolkit.curate.chain import STEPS, curate
    from toolkit.curate.contamination import decontaminate, load_benchmark_indexes
    from toolkit.curate.defaults import DEFAULT_BENCHMARKS, TEXT_FIELDS
    from toolkit.curate.duplicates import MinHashLSH, dedup, normalize_text
    from toolkit.curate.filters import (
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

__getattr__ = lazy_getattr(__name__, globals(), _EXPORTS)
