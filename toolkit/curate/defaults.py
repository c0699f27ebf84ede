"""The curation steps' defaults, written once: the step functions and ``toolkit curate``'s
options both read them. Plain constants with no imports, so the CLI can build its options
without importing the steps (and their dependencies)."""

from __future__ import annotations

#: Columns that form a trace's text (dedup key, ``length --field text``).
TEXT_FIELDS: tuple[str, ...] = ("problem", "reasoning", "answer")
#: Benchmarks a training set is checked against: the ones the toolkit evaluates on.
DEFAULT_BENCHMARKS: tuple[str, ...] = ("aime24", "aime25", "math500", "gpqa_diamond", "gsm8k")
#: Word n-gram size for decontamination (open-r1's ``scripts/decontaminate.py`` uses 8).
NGRAM = 8
#: Column compared against the benchmarks.
CONTAMINATION_FIELD = "problem"
#: MinHash Jaccard threshold above which two rows are near-duplicates.
NEAR_DUP_THRESHOLD = 0.85
#: MinHash permutations (more: a finer estimate, slower).
NUM_PERM = 128
#: Column whose length ``length_filter`` measures.
LENGTH_FIELD = "reasoning"
#: Column grouping a problem's samples for ``pass_rate``.
GROUP_FIELD = "problem_id"

__all__ = [
    "CONTAMINATION_FIELD",
    "DEFAULT_BENCHMARKS",
    "GROUP_FIELD",
    "LENGTH_FIELD",
    "NEAR_DUP_THRESHOLD",
    "NGRAM",
    "NUM_PERM",
    "TEXT_FIELDS",
]
