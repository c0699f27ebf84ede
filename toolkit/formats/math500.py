"""MATH-500 (HuggingFaceH4/MATH-500): ``problem``, ``solution``, ``answer``, ``subject``,
``level``, ``unique_id``.

A reference set rather than traces: the worked ``solution`` is the answer (no separate
reasoning), ``final_answer`` its last ``\\boxed{}``, ``gold_answer`` the ``answer`` column.
``subject``, ``level`` and ``unique_id`` stay in ``metadata``.
"""

from __future__ import annotations

from typing import ClassVar

from toolkit.answers import extract_boxed
from toolkit.formats.base import Batch, Format, Records, register_format, worked_solutions


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
        for i, problem, solution, gold in worked_solutions(batch, out):
            out.add(i, problem, solution, None, True, extract_boxed(solution), gold)
