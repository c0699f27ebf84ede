"""Any chat-format dataset: a ``messages`` (or ``conversations``) list of turns.

Turns may be ``{"role", "content"}`` (OpenAI/TRL style) or ``{"from", "value"}`` (ShareGPT style,
``human``/``gpt`` accepted as ``user``/``assistant``). The first user turn is the problem; the
first assistant turn after it is split with :func:`toolkit.thinking.split_thinking` (any marker
style, including a separate ``reasoning_content``/``thinking``/``reasoning`` key on the turn); a
system turn before it, or a ``system`` column, is kept as the system prompt. Later turns are kept
in ``metadata["further_turns"]``. Option ``column`` picks the list column (default: ``messages``,
else ``conversations``). A ``domain`` column (OpenThoughts3) sets the domain; otherwise boxed
answers are math and fenced code is code.

Known sets in this format: open-r1/Mixture-of-Thoughts (``messages``, ``num_tokens``,
``source``), and any TRL/OpenAI-style chat table. Generic: auto-detection picks it only when no
dataset-specific format passes its checks.
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
    guess_domain,
    optional_text,
    register_format,
    require_text,
)
from toolkit.formats.mapped import short_gold
from toolkit.thinking import split_thinking

ROLE_ALIASES = {
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "gpt": "assistant",
    "model": "assistant",
    "system": "system",
}
REASONING_KEYS = ("reasoning_content", "thinking", "reasoning")


def parse_conversation(
    turns: Any, field: str, system: str | None = None
) -> tuple[str | None, str, str, str | None, list[dict[str, Any]]]:
    """``(system, problem, assistant text, separate reasoning, further turns)`` of one chat."""
    if turns is None:
        raise BadRow(field, "null")
    if not isinstance(turns, list):
        raise BadRow(field, f"expected a list of turns, got {type(turns).__name__}")
    problem: str | None = None
    assistant: str | None = None
    reasoning: str | None = None
    further: list[dict[str, Any]] = []
    for k, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise BadRow(f"{field}[{k}]", f"expected a turn object, got {type(turn).__name__}")
        raw_role = turn.get("role") or turn.get("from")
        role = ROLE_ALIASES.get(raw_role.lower()) if isinstance(raw_role, str) else None
        if role is None:
            raise BadRow(f"{field}[{k}]", f"unknown role {raw_role!r}")
        content = turn.get("content") if turn.get("content") is not None else turn.get("value")
        if assistant is not None:
            further.append({"role": role, "content": content})
        elif role == "system" and problem is None:
            system = optional_text(content, f"{field}[{k}].content") or system
        elif role == "user" and problem is None:
            problem = require_text(content, f"{field}[{k}].content").strip()
        elif role == "assistant" and problem is not None:
            assistant = require_text(content, f"{field}[{k}].content", allow_empty=True)
            for key in REASONING_KEYS:
                value = turn.get(key)
                if isinstance(value, str) and value.strip():
                    reasoning = value
                    break
    if problem is None:
        raise BadRow(field, "no user turn")
    if assistant is None:
        raise BadRow(field, "no assistant turn after the first user turn")
    return system, problem, assistant, reasoning, further


@register_format
class MessagesFormat(Format):
    name = "messages"
    description = "any chat dataset (messages/conversations: role/content or from/value)"
    required = (("messages", "conversations"),)
    consumed = ("system",)
    options: ClassVar[dict[str, Any]] = {"column": None}
    hub_ids = ("open-r1/Mixture-of-Thoughts",)
    hub_defaults: ClassVar[dict[str, dict[str, str]]] = {
        "open-r1/Mixture-of-Thoughts": {"config": "all"}
    }
    domain = "general"
    generic = True
    #: Columns holding a reference solution for the gold answer (first present wins).
    gold_columns: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        column = self.settings["column"]
        if column is not None and not isinstance(column, str):
            raise FormatError(f"{self.name}: column must be a column name, not {column!r}")

    def turns_column(self, columns: Iterable[str]) -> str:
        present = set(columns)
        if self.settings["column"]:
            return self.settings["column"]
        return "messages" if "messages" in present else "conversations"

    def missing_columns(self, columns: Iterable[str]) -> list[str]:
        if self.settings["column"]:
            return [] if self.settings["column"] in set(columns) else [self.settings["column"]]
        return super().missing_columns(columns)

    def metadata_columns(self, columns: list[str]) -> list[str]:
        consumed = {self.turns_column(columns), *self.consumed}
        return [name for name in columns if name not in consumed]

    def gold_column(self, columns: Iterable[str]) -> str | None:
        present = set(columns)
        return next((name for name in self.gold_columns if name in present), None)

    def convert(self, batch: Batch, out: Records) -> None:
        columns = batch.table.column_names
        field = self.turns_column(columns)
        systems = batch.column("system")
        domains = batch.column("domain")
        gold_column = self.gold_column(columns)
        golds = batch.column(gold_column) if gold_column else None
        for i, turns in enumerate(batch.column(field)):
            try:
                system = optional_text(systems[i], "system")
                system, problem, text, reasoning, further = parse_conversation(turns, field, system)
                gold = short_gold(optional_text(golds[i], gold_column)) if golds else None
            except BadRow as bad:
                out.reject(i, bad.field, bad.reason)
                continue
            split = split_thinking(text, reasoning=reasoning)
            domain = domains[i]
            out.add_split(
                i,
                problem,
                split,
                gold,
                system=system,
                domain=domain.strip().lower()
                if isinstance(domain, str) and domain.strip()
                else guess_domain(problem, split.answer, self.domain),
                extra={"further_turns": further} if further else None,
            )
