"""GSM8K (openai/gsm8k, configs ``main`` and ``socratic``): ``question`` + ``answer``.

The ``answer`` column is a worked solution ending in ``#### N``. The worked solution before the
marker becomes ``answer`` (there is no separate reasoning), and ``N`` — with thousands separators
removed — is both ``final_answer`` and ``gold_answer``. A row without ``####`` is quarantined:
its reference answer cannot be known.
"""

from __future__ import annotations

import re
from typing import ClassVar

from toolkit.formats.base import BadRow, Batch, Format, Records, register_format, require_text

_NUMBER_WITH_COMMAS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def parse_gsm8k_answer(text: str) -> tuple[str, str]:
    """``(worked solution, final number)`` of a GSM8K answer; ``BadRow`` without ``####``."""
    solution, marker, final = text.rpartition("####")
    if not marker:
        raise BadRow("answer", "no '#### N' final answer")
    final = final.strip()
    if not final:
        raise BadRow("answer", "empty final answer after '####'")
    if _NUMBER_WITH_COMMAS.fullmatch(final):
        final = final.replace(",", "")
    return solution.strip(), final


@register_format
class Gsm8kFormat(Format):
    name = "gsm8k"
    description = "GSM8K (question, answer ending in '#### N')"
    required = ("question", "answer")
    consumed = ("question", "answer")
    hub_ids = ("openai/gsm8k", "gsm8k")
    hub_defaults: ClassVar[dict[str, dict[str, str]]] = {
        "openai/gsm8k": {"config": "main"},
        "gsm8k": {"config": "main"},
    }

    def convert(self, batch: Batch, out: Records) -> None:
        for i, (question, answer) in enumerate(
            zip(batch.column("question"), batch.column("answer"), strict=True)
        ):
            try:
                problem = require_text(question, "question").strip()
                solution, final = parse_gsm8k_answer(require_text(answer, "answer"))
            except BadRow as bad:
                out.reject(i, bad.field, bad.reason)
                continue
            out.add(i, problem, solution, None, True, final, final)
