"""ServiceNow-AI/R1-Distill-SFT (configs ``v0`` and ``v1``): the R1 trace is the *reannotated*
column, not the original one.

Card columns: ``v0``: ``id``, ``reannotated_assistant_content``, ``problem``, ``source``,
``solution``, ``verified``, ``quality_metrics``. ``v1``: ``id``, ``reannotated_assistant_content``,
``source``, ``reannotated_messages`` (user + R1 assistant turn), ``messages`` (the *original*
conversation of the source dataset, not R1), ``source_dataset``, ``verified``, ``quality_metrics``.

The completion is ``reannotated_assistant_content`` (``<think>…</think>`` + answer; the assistant
turn of ``reannotated_messages`` when the column is null), the problem is ``problem`` (v0) or the
user turn of ``reannotated_messages`` (v1). ``gold_answer`` is the final answer of the original
solution (v0 ``solution``, v1 the assistant turn of ``messages``) when it has one; both stay in
``metadata``. Before this format, ``auto`` read v0 as ``numina`` and v1 as ``messages`` and
trained on the non-R1 columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from toolkit.formats.base import (
    BadRow,
    Batch,
    Format,
    Records,
    guess_domain,
    optional_text,
    register_format,
    require_text,
)
from toolkit.formats.mapped import short_gold
from toolkit.formats.messages import parse_conversation
from toolkit.thinking import split_thinking


def _assistant_text(turns: Any) -> str | None:
    """The first assistant turn of a conversation, or ``None`` (used for the gold only)."""
    if not isinstance(turns, list):
        return None
    for turn in turns:
        if isinstance(turn, dict) and turn.get("role") in ("assistant", "gpt"):
            content = turn.get("content")
            return content if isinstance(content, str) else None
    return None


@register_format
class R1DistillFormat(Format):
    name = "r1distill"
    description = "R1-Distill-SFT v0/v1 (reannotated_assistant_content, reannotated_messages)"
    required = ("reannotated_assistant_content", ("problem", "reannotated_messages"))
    signature = ("source", "solution", "source_dataset", "verified", "quality_metrics")
    consumed = ("reannotated_assistant_content", "reannotated_messages", "problem")
    hub_ids = ("ServiceNow-AI/R1-Distill-SFT",)
    hub_defaults: ClassVar[dict[str, dict[str, str]]] = {
        "ServiceNow-AI/R1-Distill-SFT": {"config": "v1"}
    }
    expects_reasoning = True
    domain = "general"

    def read_columns(self, columns: Sequence[str]) -> set[str]:
        return {*self.consumed, "solution", "messages"} & set(columns)

    def convert(self, batch: Batch, out: Records) -> None:
        has_problem = batch.has("problem")
        problems = batch.column("problem")
        reannotated = batch.column("reannotated_messages")
        solutions = batch.column("solution")
        originals = batch.column("messages")
        for i, content in enumerate(batch.column("reannotated_assistant_content")):
            try:
                system = None
                if has_problem:
                    problem = require_text(problems[i], "problem").strip()
                    completion = content
                else:
                    system, problem, completion, _, _ = parse_conversation(
                        reannotated[i], "reannotated_messages"
                    )
                    completion = content if isinstance(content, str) and content else completion
                completion = require_text(completion, "reannotated_assistant_content")
                original = optional_text(solutions[i], "solution") if has_problem else None
                gold = short_gold(original or _assistant_text(originals[i]))
            except BadRow as bad:
                out.reject(i, bad.field, bad.reason)
                continue
            split = split_thinking(completion)
            out.add_split(
                i,
                problem,
                split,
                gold,
                system=system,
                domain=guess_domain(problem, split.answer, self.domain),
            )
