"""The verification stage: add ``correct``, ``verify_error`` and ``verdict`` columns to a dataset.

``toolkit verify`` / :func:`toolkit.verify` grade each row's answer against its gold answer with
:mod:`toolkit.answers`: the same extraction rules and graders that ``toolkit eval`` uses, in the
same kill-safe worker pool (:func:`toolkit.answers.verify_many`), so a trace kept as correct here is
scored the same way at evaluation (``tests/test_answers_consistency.py`` feeds both one table).

Answer kinds: ``math`` (math-verify), ``gsm8k`` (numbers), ``choice`` (option letters), ``text``,
and ``auto`` (a letter gold → ``choice``, a ``#### N`` gold → ``gsm8k``, else ``math``; a row's
``metadata["answer_type"]`` overrides it). ``correct`` is ``None`` for a row that cannot be graded;
``verify_error`` says why (``gold_missing``, ``gold_unparseable``, ``gold_wrong_type``,
``timeout``, …) or ``no_answer``; ``verdict`` is the reason of every row, including ``correct`` and
``wrong``, for curation reports.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from toolkit.answers import ANSWER_TYPES, summarize, verify_many
from toolkit.answers.extract import KIND_ALIASES
from toolkit.errors import DataError, UsageError

if TYPE_CHECKING:
    import datasets

log = logging.getLogger(__name__)


def _prediction_texts(dataset: datasets.Dataset, prediction_field: str) -> list[str | None]:
    from toolkit.tables import column_values

    if prediction_field not in ("auto", "final_answer"):
        if prediction_field not in dataset.column_names:
            raise UsageError(
                f"prediction field {prediction_field!r} is not a column of the dataset",
                hint=f"columns: {', '.join(dataset.column_names)}",
            )
        return [None if v is None else str(v) for v in column_values(dataset, prediction_field)]
    finals = (
        column_values(dataset, "final_answer") if "final_answer" in dataset.column_names else None
    )
    answers = column_values(dataset, "answer") if "answer" in dataset.column_names else None
    if finals is None and answers is None:
        raise DataError(
            "the dataset has neither a 'final_answer' nor an 'answer' column",
            hint="name the column holding the answers with --prediction-field",
        )
    texts: list[str | None] = []
    for row in range(len(dataset)):
        final = finals[row] if finals is not None else None
        if final is not None and str(final).strip():
            # The extracted short answer: box it so every grader reads it as the final answer.
            texts.append(f"\\boxed{{{str(final).strip()}}}")
        elif prediction_field == "auto" and answers is not None:
            texts.append(answers[row])
        else:
            texts.append(None)
    return texts


def _row_answer_types(dataset: datasets.Dataset, answer_type: str) -> list[str]:
    """Per-row types: an explicit type wins; ``auto`` honours ``metadata["answer_type"]``."""
    if answer_type != "auto" or "metadata" not in dataset.column_names:
        return [answer_type] * len(dataset)
    from toolkit.schema import loads_metadata
    from toolkit.tables import column_values

    types = []
    for row, raw in enumerate(column_values(dataset, "metadata")):
        try:
            meta = loads_metadata(raw)
        except ValueError as exc:
            raise DataError(f"not valid JSON ({exc})", row=row, field="metadata") from None
        kind = meta.get("answer_type") if isinstance(meta, dict) else None
        kind = KIND_ALIASES.get(kind, kind) if isinstance(kind, str) else None
        types.append(kind if kind in ANSWER_TYPES else "auto")
    return types


def verify(
    dataset: datasets.Dataset,
    *,
    num_proc: int | None = None,
    timeout_s: float = 5.0,
    answer_type: str = "auto",
    prediction_field: str = "auto",
    gold_field: str = "gold_answer",
    progress: bool = True,
) -> datasets.Dataset:
    """Add ``correct`` (bool, ``None`` when ungradable), ``verify_error`` and ``verdict`` columns.

    The prediction is ``final_answer`` when present (boxed, so it is read as the final answer),
    else the ``answer`` text, whose final answer :func:`toolkit.answers.extract` finds
    (``prediction_field="auto"``); any other column can be named. Existing ``correct``,
    ``verify_error`` and ``verdict`` columns are replaced.
    """
    import datasets

    from toolkit.tables import add_column, column_values

    if gold_field not in dataset.column_names:
        raise UsageError(
            f"gold field {gold_field!r} is not a column of the dataset",
            hint=f"columns: {', '.join(dataset.column_names)}; choose one with --gold-field",
        )
    answer_type = KIND_ALIASES.get(answer_type, answer_type)
    if answer_type not in ANSWER_TYPES:
        raise UsageError(
            f"answer_type must be one of {', '.join(ANSWER_TYPES)}, not {answer_type!r}"
        )
    predictions = _prediction_texts(dataset, prediction_field)
    # Golds as stored: a list or dict gold is flagged gold_wrong_type, not graded as its repr.
    golds: list[Any] = list(column_values(dataset, gold_field))
    types = _row_answer_types(dataset, answer_type)
    started = time.perf_counter()
    verdicts = verify_many(
        predictions, golds, types, num_proc=num_proc, timeout_s=timeout_s, progress=progress
    )
    elapsed = time.perf_counter() - started
    summary = summarize(verdicts)
    log.info(
        "verified %d rows in %.1fs: %d correct, %d incorrect, %d ungradable; verdicts %s",
        len(verdicts),
        elapsed,
        summary["correct"],
        summary["incorrect"],
        summary["ungradable"],
        summary["reasons"],
    )
    dataset = add_column(dataset, "correct", [v.correct for v in verdicts], datasets.Value("bool"))
    dataset = add_column(
        dataset, "verify_error", [v.error for v in verdicts], datasets.Value("string")
    )
    return add_column(dataset, "verdict", [v.reason for v in verdicts], datasets.Value("string"))


__all__ = ["summarize", "verify"]
