"""s1K and s1K-1.1 (simplescaling): ``question`` + a thinking trajectory + an attempt.

Card columns: s1K has ``solution``, ``question``, ``cot_type``, ``source_type``, ``metadata``,
``cot``, ``thinking_trajectories`` (a list of strings, Gemini's thinking) and ``attempt``.
s1K-1.1 has ``gemini_thinking_trajectory``/``gemini_attempt`` and
``deepseek_thinking_trajectory``/``deepseek_attempt`` (DeepSeek-R1, what s1.1 trains on).

Option ``teacher``: ``"auto"`` (default: DeepSeek-R1 where present, else the original
``thinking_trajectories``, else Gemini), ``"deepseek"``, ``"gemini"`` or ``"original"``. The
reference ``solution`` is the ``gold_answer``; ``cot_type`` (math/science/crossword) sets the
domain; the other teacher's columns stay in ``metadata``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from toolkit.formats.base import (
    BadRow,
    Batch,
    Format,
    FormatError,
    Records,
    optional_text,
    register_format,
    require_text,
)
from toolkit.thinking import extract_final_answer, split_thinking

TEACHER_COLUMNS = {
    "deepseek": ("deepseek_thinking_trajectory", "deepseek_attempt"),
    "original": ("thinking_trajectories", "attempt"),
    "gemini": ("gemini_thinking_trajectory", "gemini_attempt"),
}
COT_TYPE_DOMAINS = {"math": "math", "science": "science", "crossword": "puzzle"}


def trajectory_text(value: Any, field: str) -> str:
    """A trajectory column as text: s1K stores a list of strings, s1K-1.1 a string."""
    if isinstance(value, list):
        if not value:
            raise BadRow(field, "empty list")
        parts = [
            require_text(part, f"{field}[{k}]", allow_empty=True) for k, part in enumerate(value)
        ]
        value = "\n\n".join(part.strip() for part in parts if part.strip())
    return require_text(value, field)


@register_format
class S1kFormat(Format):
    name = "s1k"
    description = "s1K / s1K-1.1 (question, thinking trajectory, attempt, solution)"
    required = (
        "question",
        ("deepseek_thinking_trajectory", "thinking_trajectories", "gemini_thinking_trajectory"),
    )
    signature = ("cot_type", "source_type", "solution", "attempt", "deepseek_attempt")
    hub_ids = ("simplescaling/s1K", "simplescaling/s1K-1.1")
    options: ClassVar[dict[str, Any]] = {"teacher": "auto"}
    priority = 5

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        teacher = self.settings["teacher"]
        if teacher != "auto" and teacher not in TEACHER_COLUMNS:
            raise FormatError(
                f"s1k: teacher must be auto, {', '.join(TEACHER_COLUMNS)}; not {teacher!r}"
            )

    def teacher_for(self, columns: Iterable[str]) -> str:
        present = set(columns)
        if self.settings["teacher"] != "auto":
            return self.settings["teacher"]
        for teacher, (trajectory, _) in TEACHER_COLUMNS.items():
            if trajectory in present:
                return teacher
        return "original"

    def missing_columns(self, columns: Iterable[str]) -> list[str]:
        present = set(columns)
        missing = [] if "question" in present else ["question"]
        missing += [c for c in TEACHER_COLUMNS[self.teacher_for(present)] if c not in present]
        return missing

    def metadata_columns(self, columns: list[str]) -> list[str]:
        consumed = {"question", "solution", *TEACHER_COLUMNS[self.teacher_for(columns)]}
        return [name for name in columns if name not in consumed]

    def convert(self, batch: Batch, out: Records) -> None:
        trajectory_column, attempt_column = TEACHER_COLUMNS[
            self.teacher_for(batch.table.column_names)
        ]
        trajectories = batch.column(trajectory_column)
        attempts = batch.column(attempt_column)
        solutions = batch.column("solution")
        cot_types = batch.column("cot_type")
        for i, question in enumerate(batch.column("question")):
            try:
                problem = require_text(question, "question").strip()
                reasoning = trajectory_text(trajectories[i], trajectory_column)
                attempt = optional_text(attempts[i], attempt_column) or ""
                gold = optional_text(solutions[i], "solution")
            except BadRow as bad:
                out.reject(i, bad.field, bad.reason)
                continue
            split = split_thinking(attempt, reasoning=reasoning)
            cot_type = cot_types[i]
            out.add_split(
                i,
                problem,
                split,
                gold,
                final_answer=extract_final_answer,
                domain=COT_TYPE_DOMAINS.get(cot_type, "general")
                if isinstance(cot_type, str)
                else self.domain,
            )
