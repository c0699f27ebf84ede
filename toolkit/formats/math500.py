"""MATH-500 (HuggingFaceH4/MATH-500): ``problem``, ``solution``, ``answer``, ``subject``,
``level``, ``unique_id``.

A reference set rather than traces: the worked ``solution`` is the answer (no separate
reasoning), ``final_answer`` its last ``\\boxed{}``, ``gold_answer`` the ``answer`` column.
``subject``, ``level`` and ``unique_id`` stay in ``metadata``.
"""

from __future__ import annotations

from typing import ClassVar

from toolkit.formats.base import (
    BadRow,
    Batch,
    Format,
    Records,
    optional_text,
    register_format,
    require_text,
)
from toolkit.thinking import extract_boxed


@register_format
class Math500Format(Format):
    name = "math500"
    description = "MATH-500 (problem, solution, answer, subject, level, unique_id)"
    required = ("problem", "solution", "answer", "subject", "level")
    signature = ("unique_id",)
    consumed = ("problem", "solution", "answer")
    hub_ids = ("HuggingFaceH4/MATH-500",)
    hub_defaults: ClassVar[dict[str, dict[str, str]]] = {
        "HuggingFaceH4/MATH-500": {"split": "test"}
    }

    def convert(self, batch: Batch, out: Records) -> None:
        answers = batch.column("answer")
        for i, (problem, solution) in enumerate(
            zip(batch.column("problem"), batch.column("solution"), strict=True)
        ):
            try:
                problem_text = require_text(problem, "problem").strip()
                solution_text = require_text(solution, "solution").strip()
                gold = optional_text(answers[i], "answer")
            except BadRow as bad:
                out.reject(i, bad.field, bad.reason)
                continue
            out.add(i, problem_text, solution_text, None, True, extract_boxed(solution_text), gold)
