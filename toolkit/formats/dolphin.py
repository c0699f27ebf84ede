"""cognitivecomputations/dolphin-r1, R1 configs (``reasoning-deepseek``; ``reasoning-flash`` has
the same layout with Gemini 2.0 Flash Thinking traces): ``messages`` + ``reasoning`` + ``answer``.

``messages`` holds only the prompt (a system turn and the user turn, *no* assistant turn: the
generic ``messages`` format quarantined every row with "no assistant turn"); ``reasoning`` is the
R1 thinking and ``answer`` the final answer. The system turn is kept as the system prompt;
``model`` and any other column stay in ``metadata``. Columns verified in other projects'
loaders of the dataset (see ``tests/fixtures/formats/dolphin.provenance.json``).
"""

from __future__ import annotations

from typing import ClassVar

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
from toolkit.formats.messages import ROLE_ALIASES
from toolkit.thinking import split_thinking


def prompt_turns(turns: object, field: str) -> tuple[str | None, str]:
    """``(system, problem)`` from a prompt-only conversation (system turns, then the user)."""
    if turns is None:
        raise BadRow(field, "null")
    if not isinstance(turns, list):
        raise BadRow(field, f"expected a list of turns, got {type(turns).__name__}")
    system = None
    for k, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise BadRow(f"{field}[{k}]", f"expected a turn object, got {type(turn).__name__}")
        role = turn.get("role") or turn.get("from")
        role = ROLE_ALIASES.get(role.lower()) if isinstance(role, str) else None
        content = turn.get("content") if turn.get("content") is not None else turn.get("value")
        if role == "system":
            system = optional_text(content, f"{field}[{k}].content") or system
        elif role == "user":
            return system, require_text(content, f"{field}[{k}].content").strip()
    raise BadRow(field, "no user turn")


@register_format
class DolphinFormat(Format):
    name = "dolphin"
    description = "dolphin-r1 reasoning configs (messages = prompt, reasoning, answer)"
    required = ("messages", "reasoning", "answer")
    signature = ("model",)
    consumed = ("messages", "reasoning", "answer")
    hub_ids = ("cognitivecomputations/dolphin-r1",)
    hub_defaults: ClassVar[dict[str, dict[str, str]]] = {
        "cognitivecomputations/dolphin-r1": {"config": "reasoning-deepseek"}
    }
    expects_reasoning = True
    domain = "general"

    def convert(self, batch: Batch, out: Records) -> None:
        reasonings = batch.column("reasoning")
        answers = batch.column("answer")
        for i, turns in enumerate(batch.column("messages")):
            try:
                system, problem = prompt_turns(turns, "messages")
                reasoning = optional_text(reasonings[i], "reasoning")
                answer = optional_text(answers[i], "answer") or ""
            except BadRow as bad:
                out.reject(i, bad.field, bad.reason)
                continue
            split = split_thinking(answer, reasoning=reasoning)
            out.add_split(
                i,
                problem,
                split,
                system=system,
                domain=guess_domain(problem, split.answer, self.domain),
            )
