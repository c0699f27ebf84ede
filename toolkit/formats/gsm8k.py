"""GSM8K (openai/gsm8k, configs ``main`` and ``socratic``): ``question`` + ``answer``.

The ``answer`` column is a worked solution ending in ``#### N``. ``N`` — with thousands
separators removed — is both ``final_answer`` and ``gold_answer``. A row without ``####`` is
quarantined: its reference answer cannot be known.

The final answer stays *marked* in ``answer`` (and so in the SFT target): dropping ``#### N``
left targets that never state their answer in a form a grader finds. The marker is
``\\boxed{N}`` on the last line by default (option ``final_marker="boxed"``), because every
R1-style recipe and the toolkit's own evaluation prompt ask for ``\\boxed{}`` and graders look
for it first; ``final_marker="hash"`` keeps GSM8K's own ``#### N`` line for users who train
GSM8K-style answers.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from toolkit.formats.base import (
    BadRow,
    Batch,
    Format,
    FormatError,
    Records,
    register_format,
    require_text,
)

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
    options: ClassVar[dict[str, Any]] = {"final_marker": "boxed"}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if self.settings["final_marker"] not in ("boxed", "hash"):
            raise FormatError(
                f"gsm8k: final_marker must be 'boxed' or 'hash', not "
                f"{self.settings['final_marker']!r}"
            )
        self.marker = "\\boxed{{{}}}" if self.settings["final_marker"] == "boxed" else "#### {}"

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
            answer_text = f"{solution}\n\n{self.marker.format(final)}".strip()
            out.add(i, problem, answer_text, None, True, final, final)
