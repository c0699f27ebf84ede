"""s1K and s1K-1.1 (simplescaling): ``question`` + a thinking trajectory + an attempt.

Card columns: s1K has ``solution``, ``question``, ``cot_type``, ``source_type``, ``metadata``,
``cot``, ``thinking_trajectories`` (a list of strings, Gemini's thinking) and ``attempt``.
s1K-1.1 has ``gemini_thinking_trajectory``/``gemini_attempt`` and
``deepseek_thinking_trajectory``/``deepseek_attempt`` (DeepSeek-R1, what s1.1 trains on).

Option ``teacher``: ``"auto"`` (default: DeepSeek-R1 where present, else the original
``thinking_trajectories``, else Gemini), ``"deepseek"``, ``"gemini"`` or ``"original"``.
``cot_type`` (math/science/crossword) sets the domain; the other teacher's columns stay in
``metadata`` (auto-detection reports them as traces another ``teacher=`` reads).

Every known revision of s1K-1.1 reads: an older revision stored the ``deepseek_*`` columns as
lists of strings (joined with blank lines, like s1K's ``thinking_trajectories``).

``gold_answer`` is a *short* answer: ``solution`` is "128" for AIME rows but a whole worked
solution for rows drawn from NuminaMath/OlympiadBench, so the gold is its final answer
(:func:`toolkit.formats.mapped.short_gold`); the full ``solution`` stays in ``metadata``.

``s1k_r1`` reads HuggingFaceH4/s1k_r1_math_verify: the s1K questions with several DeepSeek-R1
``generations`` and their math-verify verdicts (``correctness_math_verify``), one record per
generation (option ``generations="all"|"verified"`` as for ``openr1``). Its
``thinking_trajectories``/``attempt`` are s1K's *Gemini* trajectory, left in ``metadata``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
from toolkit.formats.mapped import short_gold
from toolkit.formats.openr1 import PER_GENERATION, GenerationsFormat
from toolkit.thinking import split_thinking

TEACHER_COLUMNS = {
    "deepseek": ("deepseek_thinking_trajectory", "deepseek_attempt"),
    "original": ("thinking_trajectories", "attempt"),
    "gemini": ("gemini_thinking_trajectory", "gemini_attempt"),
}
COT_TYPE_DOMAINS = {"math": "math", "science": "science", "crossword": "puzzle"}


def trajectory_text(value: Any, field: str) -> str:
    """A trajectory column as text: s1K (and an older s1K-1.1 revision) store a list of
    strings, s1K-1.1 a string."""
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
        consumed = {"question", *TEACHER_COLUMNS[self.teacher_for(columns)]}
        return [name for name in columns if name not in consumed]

    def read_columns(self, columns: Sequence[str]) -> set[str]:
        return {"question", "solution", *TEACHER_COLUMNS[self.teacher_for(columns)]} & set(columns)

    def alternative_traces(self, columns: Sequence[str]) -> dict[str, str]:
        chosen = self.teacher_for(columns)
        return {
            column: f"teacher={teacher!r}"
            for teacher, pair in TEACHER_COLUMNS.items()
            if teacher != chosen
            for column in pair
            if column in set(columns)
        }

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
                attempt = attempts[i]
                if isinstance(attempt, list):  # the older s1K-1.1 revision
                    attempt = trajectory_text(attempt, attempt_column) if attempt else None
                attempt = optional_text(attempt, attempt_column) or ""
                gold = short_gold(optional_text(solutions[i], "solution"))
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
                domain=COT_TYPE_DOMAINS.get(cot_type, "general")
                if isinstance(cot_type, str)
                else self.domain,
            )


@register_format
class S1kR1Format(GenerationsFormat):
    name = "s1k_r1"
    description = "s1k_r1_math_verify (s1K questions, R1 generations[] with math-verify verdicts)"
    required = ("question", "generations", "correctness_math_verify")
    signature = ("solution", "finish_reasons", "r1_correctness_count", "cot_type")
    consumed = ("question", "generations", *PER_GENERATION)
    hub_ids = ("HuggingFaceH4/s1k_r1_math_verify",)
    problem_column = "question"
    gold_source = "solution"

    def gold_of(self, value: Any) -> str | None:
        return short_gold(optional_text(value, "solution"))

    def alternative_traces(self, columns: Sequence[str]) -> dict[str, str]:
        present = set(columns)
        return {
            column: "format s1k (teacher='original', the Gemini trajectory)"
            for column in ("thinking_trajectories", "attempt")
            if column in present
        }

    def domain_of(self, batch: Batch, position: int) -> str | None:
        cot_type = batch.column("cot_type")[position]
        return COT_TYPE_DOMAINS.get(cot_type, "general") if isinstance(cot_type, str) else None
