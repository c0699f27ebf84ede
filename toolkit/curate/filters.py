"""Row filters: correctness, completeness, length in tokens, and pass rate per problem.

Each filter decides per row from columns that earlier stages wrote (``correct`` from verify,
``reasoning_complete`` from normalize), and reports every removal with its reason through
:func:`toolkit.curate.report.apply_reasons`.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import TYPE_CHECKING, Any

from toolkit.curate.defaults import GROUP_FIELD, LENGTH_FIELD, TEXT_FIELDS
from toolkit.curate.report import CurationReport, apply_reasons, require_column
from toolkit.errors import UsageError
from toolkit.tables import add_column, column_values
from toolkit.tokens import count_tokens, estimate_tokens, token_counter, tokenizer_name

if TYPE_CHECKING:
    import datasets

_VERIFY_FIRST = " (run `toolkit verify` first)"


def correct_only(
    dataset: datasets.Dataset, *, keep_ungradable: bool = False, allow_empty: bool = False
) -> tuple[datasets.Dataset, CurationReport]:
    """Keep rows that :func:`toolkit.verify` graded correct.

    Ungradable rows (``correct`` is ``None``: missing/unparseable gold, timeout) are removed unless
    ``keep_ungradable``; they are counted per ``verify_error``.
    """
    require_column(dataset, "correct", "correct_only", _VERIFY_FIRST)
    errors = (
        column_values(dataset, "verify_error")
        if "verify_error" in dataset.column_names
        else [None] * len(dataset)
    )
    reasons: list[str | None] = []
    for correct, error in zip(column_values(dataset, "correct"), errors, strict=True):
        if correct is True:
            reasons.append(None)
        elif correct is None:
            reasons.append(None if keep_ungradable else f"ungradable:{error or 'unknown'}")
        else:
            reasons.append("incorrect")
    return apply_reasons(
        dataset,
        "correct_only",
        reasons,
        {"keep_ungradable": keep_ungradable},
        allow_empty=allow_empty,
    )


def complete_only(
    dataset: datasets.Dataset, *, allow_empty: bool = False
) -> tuple[datasets.Dataset, CurationReport]:
    """Drop traces whose reasoning never closed (cut off mid-thought) or that have no answer."""
    require_column(dataset, "reasoning_complete", "complete_only")
    answers = column_values(dataset, "answer") if "answer" in dataset.column_names else None
    reasons: list[str | None] = []
    for row, complete in enumerate(column_values(dataset, "reasoning_complete")):
        if complete is False:
            reasons.append("reasoning_incomplete")
        elif answers is not None and not (answers[row] or "").strip():
            reasons.append("empty_answer")
        else:
            reasons.append(None)
    return apply_reasons(dataset, "complete_only", reasons, {}, allow_empty=allow_empty)


def pass_rate(
    dataset: datasets.Dataset,
    lo: float = 0.0,
    hi: float = 1.0,
    *,
    group_field: str = GROUP_FIELD,
    add_rate_column: bool = True,
    allow_empty: bool = False,
) -> tuple[datasets.Dataset, CurationReport]:
    """Keep problems whose pass rate over their N samples lies in ``[lo, hi]``.

    The pass rate of a problem is the share of its graded samples that are correct; ungradable
    samples (``correct is None``) are left out of the denominator, and a problem with no graded
    sample is removed as ``no_graded_samples``. ``lo=0.1, hi=0.9`` keeps problems that are
    neither trivial nor hopeless for the teacher, the usual difficulty filter.
    """
    if not 0.0 <= lo <= hi <= 1.0:
        raise UsageError(f"pass_rate: need 0 <= lo <= hi <= 1, got lo={lo}, hi={hi}")
    require_column(dataset, "correct", "pass_rate", _VERIFY_FIRST)
    require_column(dataset, group_field, "pass_rate")
    graded: dict[Any, list[int]] = {}
    groups = column_values(dataset, group_field)
    for key, correct in zip(groups, column_values(dataset, "correct"), strict=True):
        tally = graded.setdefault(key, [0, 0])
        if correct is not None:
            tally[0] += int(bool(correct))
            tally[1] += 1
    rates = {key: (c / n if n else None) for key, (c, n) in graded.items()}
    reasons: list[str | None] = []
    row_rates: list[float | None] = []
    for key in groups:
        rate = rates[key]
        row_rates.append(rate)
        if rate is None:
            reasons.append("no_graded_samples")
        elif rate < lo:
            reasons.append("pass_rate_below_lo")
        elif rate > hi:
            reasons.append("pass_rate_above_hi")
        else:
            reasons.append(None)
    if add_rate_column:
        import datasets as hf_datasets

        dataset = add_column(dataset, "pass_rate", row_rates, hf_datasets.Value("float64"))
    samples = Counter(groups)
    notes = [
        f"{len(graded)} problems, {min(samples.values(), default=0)}–"
        f"{max(samples.values(), default=0)} samples each"
    ]
    params = {"lo": lo, "hi": hi, "group_field": group_field}
    return apply_reasons(dataset, "pass_rate", reasons, params, notes, allow_empty=allow_empty)


# ---------------------------------------------------------------------------------------------
# length in tokens


def _field_texts(dataset: datasets.Dataset, text_field: str) -> list[str]:
    if text_field == "text":
        columns = [
            column_values(dataset, name) for name in TEXT_FIELDS if name in dataset.column_names
        ]
        return ["\n".join(part or "" for part in parts) for parts in zip(*columns, strict=True)]
    if text_field == "messages":
        require_column(dataset, "messages", "length_filter")
        return [
            "\n".join(m["content"] or "" for m in msgs or [])
            for msgs in column_values(dataset, "messages")
        ]
    require_column(dataset, text_field, "length_filter")
    return [value or "" for value in column_values(dataset, text_field)]


def length_filter(
    dataset: datasets.Dataset,
    *,
    min_tokens: int | None = None,
    max_tokens: int | None = None,
    text_field: str = LENGTH_FIELD,
    tokenizer: str | os.PathLike[str] | Any | None = None,
    allow_empty: bool = False,
) -> tuple[datasets.Dataset, CurationReport]:
    """Keep rows whose ``text_field`` has between ``min_tokens`` and ``max_tokens`` tokens.

    ``text_field`` is a column (``reasoning`` by default; a missing reasoning counts 0 tokens),
    ``"messages"`` (all turns) or ``"text"`` (problem + reasoning + answer). Without a tokenizer
    the count is :func:`estimate_tokens`.
    """
    if min_tokens is None and max_tokens is None:
        raise UsageError("length_filter: give min_tokens, max_tokens or both")
    if min_tokens is not None and max_tokens is not None and min_tokens > max_tokens:
        raise UsageError(f"length_filter: min_tokens {min_tokens} > max_tokens {max_tokens}")
    counts = count_tokens(_field_texts(dataset, text_field), tokenizer)
    reasons: list[str | None] = []
    for count in counts:
        if min_tokens is not None and count < min_tokens:
            reasons.append("too_short")
        elif max_tokens is not None and count > max_tokens:
            reasons.append("too_long")
        else:
            reasons.append(None)
    params = {
        "min_tokens": min_tokens,
        "max_tokens": max_tokens,
        "text_field": text_field,
        "tokenizer": tokenizer_name(tokenizer),
    }
    return apply_reasons(dataset, "length_filter", reasons, params, allow_empty=allow_empty)


__all__ = [
    "TEXT_FIELDS",
    "complete_only",
    "correct_only",
    "count_tokens",
    "estimate_tokens",
    "length_filter",
    "pass_rate",
    "token_counter",
    "tokenizer_name",
]
