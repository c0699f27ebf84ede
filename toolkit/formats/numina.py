"""NuminaMath-CoT / -TIR / -1.5: ``problem`` + ``solution`` (a plain worked solution).

Card columns: CoT and TIR have ``source``, ``problem``, ``solution``, ``messages``; 1.5 adds
``answer``, ``problem_type``, ``question_type``, ``problem_is_valid``, ``solution_is_valid``,
``synthetic``. The solution has no separate thinking, so ``reasoning`` is ``None`` and the
solution is the answer; ``final_answer`` is its last ``\\boxed{}``. The reference answer is the
``answer`` column (1.5) or, without one, the solution's own boxed answer. ``messages`` repeats
problem and solution and is not copied into ``metadata``; the sub-source (``source``) is.
"""

from __future__ import annotations

from toolkit.answers import extract_boxed
from toolkit.formats.base import Batch, Format, Records, register_format, worked_solutions

# NuminaMath-1.5 marks problems without a checkable answer with these placeholder answers.
NO_ANSWER = {"proof", "notfound", "not found", "none", "n/a"}


@register_format
class NuminaFormat(Format):
    name = "numina"
    description = "NuminaMath-CoT/-TIR/-1.5 (problem, solution, answer; no separate thinking)"
    required = ("problem", "solution")
    signature = ("source", "messages", "problem_type", "question_type", "answer")
    consumed = ("problem", "solution", "messages", "answer")
    hub_ids = ("AI-MO/NuminaMath-CoT", "AI-MO/NuminaMath-1.5", "AI-MO/NuminaMath-TIR")

    def convert(self, batch: Batch, out: Records) -> None:
        for i, problem, solution, reference in worked_solutions(batch, out):
            boxed = extract_boxed(solution)
            if reference is not None and reference.lower() in NO_ANSWER:
                reference = None
            elif reference is None:
                reference = boxed
            out.add(i, problem, solution, None, True, boxed, reference)
