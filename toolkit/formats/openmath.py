"""nvidia/OpenMathReasoning: ``problem`` + ``generated_solution`` (``<think>…</think>`` + answer).

Card columns: ``problem``, ``generated_solution``, ``generation_model`` (DeepSeek-R1 or QwQ-32B),
``problem_type``, ``expected_answer``, ``problem_source``, ``inference_mode`` (cot, tir,
genselect), and since revision d3d0866 ``pass_rate_72b_tir`` and ``used_in_kaggle``. Splits
(no ``train``; the default here is ``cot``): ``cot`` (chain of thought), ``tir`` (tool-integrated
reasoning: Python blocks and their output inside the reasoning), ``genselect`` (choosing the best
of several candidate solutions), ``additional_problems`` (problems without solutions: each row is
counted as skipped, not quarantined).

``gold_answer`` is ``expected_answer`` only where the card says it is a reference:
``problem_type == "has_answer_extracted"``. Otherwise it is the majority vote of the generated
solutions (``no_answer_extracted``, ``converted_proof``), and for ``genselect`` rows the record's
answer is a *selection*, not the problem's answer: no gold then. ``expected_answer`` always stays
in ``metadata``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from toolkit.formats.base import Batch, Records, optional_text, register_format
from toolkit.formats.mapped import MappedFormat

HAS_ANSWER = "has_answer_extracted"
SKIPPED_NO_SOLUTION = "problem without a generated solution (additional_problems)"


@register_format
class OpenMathReasoningFormat(MappedFormat):
    name = "openmath"
    description = "OpenMathReasoning (problem, generated_solution with <think>, expected_answer)"
    required = ("problem", "generated_solution")
    signature = ("expected_answer", "inference_mode", "generation_model", "problem_type")
    consumed = ("problem", "generated_solution")
    columns_map: ClassVar[dict[str, str]] = {
        "problem": "problem",
        "answer": "generated_solution",
        "gold": "expected_answer",
    }
    keep_gold_column = True
    expects_reasoning = True
    hub_ids = ("nvidia/OpenMathReasoning",)
    hub_defaults: ClassVar[dict[str, dict[str, str]]] = {
        "nvidia/OpenMathReasoning": {"split": "cot"}
    }

    def gold(self, value: Any, position: int, batch: Batch) -> str | None:
        if batch.column("problem_type")[position] != HAS_ANSWER:
            return None
        if batch.column("inference_mode")[position] == "genselect":
            return None
        return optional_text(value, "expected_answer")

    def convert(self, batch: Batch, out: Records) -> None:
        solutions = batch.column("generated_solution")
        if all(solution is None for solution in solutions):  # additional_problems
            for i in range(batch.size):
                out.skip(i, SKIPPED_NO_SOLUTION)
            return
        super().convert(batch, out)
