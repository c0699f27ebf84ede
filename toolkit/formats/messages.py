"""Any chat-format dataset: a ``messages`` (or ``conversations``) list of turns.

Turns may be ``{"role", "content"}`` (OpenAI/TRL style) or ``{"from", "value"}`` (ShareGPT style,
``human``/``gpt`` accepted as ``user``/``assistant``). The first user turn is the problem; the
first assistant turn after it is split with :func:`toolkit.thinking.split_thinking` (any marker
style, including a separate ``reasoning_content``/``thinking``/``reasoning`` key on the turn); a
system turn before it, or a ``system`` column, is kept as the system prompt. Later turns are kept
in ``metadata["further_turns"]``. Option ``column`` picks the list column (default: ``messages``,
else ``conversations``).
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
    domain = "general"
    priority = -10

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

    def convert(self, batch: Batch, out: Records) -> None:
        field = self.turns_column(batch.table.column_names)
        systems = batch.column("system")
        for i, turns in enumerate(batch.column(field)):
            try:
                system = optional_text(systems[i], "system")
                system, problem, text, reasoning, further = parse_conversation(turns, field, system)
            except BadRow as bad:
                out.reject(i, bad.field, bad.reason)
                continue
            split = split_thinking(text, reasoning=reasoning)
            out.add_split(
                i,
                problem,
                split,
                system=system,
                domain=guess_domain(problem, split.answer, self.domain),
                extra={"further_turns": further} if further else None,
            )
