"""NuminaMath-CoT / -TIR / -1.5: ``problem`` + ``solution`` (a plain worked solution).

Card columns: CoT and TIR have ``source``, ``problem``, ``solution``, ``messages``; 1.5 adds
``answer``, ``problem_type``, ``question_type``, ``problem_is_valid``, ``solution_is_valid``,
``synthetic``. The solution has no separate thinking, so ``reasoning`` is ``None`` and the
solution is the answer; ``final_answer`` is its last ``\\boxed{}``. The reference answer is the
``answer`` column (1.5) or, without one, the solution's own boxed answer. ``messages`` repeats
problem and solution and is not copied into ``metadata``; the sub-source (``source``) is.
"""

from __future__ import annotations

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

# NuminaMath-1.5 marks problems without a checkable answer with these placeholder answers.
NO_ANSWER = {"proof", "notfound", "not found", "none", "n/a"}


@register_format
class NuminaFormat(Format):
    name = "numina"
    description = "NuminaMath-CoT/-TIR/-1.5 (problem, solution, answer; no separate thinking)"
    required = ("problem", "solution")
    signature = ("source", "messages", "problem_type", "question_type")
    consumed = ("problem", "solution", "messages", "answer")
    hub_ids = ("AI-MO/NuminaMath-CoT", "AI-MO/NuminaMath-1.5", "AI-MO/NuminaMath-TIR")

    def convert(self, batch: Batch, out: Records) -> None:
        answers = batch.column("answer")
        for i, (problem, solution) in enumerate(
            zip(batch.column("problem"), batch.column("solution"), strict=True)
        ):
            try:
                problem_text = require_text(problem, "problem").strip()
                solution_text = require_text(solution, "solution").strip()
                reference = optional_text(answers[i], "answer")
            except BadRow as bad:
                out.reject(i, bad.field, bad.reason)
                continue
            boxed = extract_boxed(solution_text)
            if reference is not None and reference.lower() in NO_ANSWER:
                reference = None
            elif reference is None:
                reference = boxed
            out.add(i, problem_text, solution_text, None, True, boxed, reference)
