"""Bespoke-Stratos-17k and OpenThoughts-114k: ``system`` + ``conversations[{from, value}]``.

The assistant value marks its parts with ``<|begin_of_thought|>…<|end_of_thought|>`` and
``<|begin_of_solution|>…<|end_of_solution|>`` (the Sky-T1 format), handled by
:func:`toolkit.thinking.split_thinking`. The ``system`` column (the Sky-T1 system prompt) is kept
as the system turn of ``messages``. The HuggingFaceH4 copy adds ``messages`` (role/content,
without the system turn), which repeats ``conversations`` and is not copied into ``metadata``
(``column="messages"`` reads it instead). Domains are mixed (math, code, puzzles): boxed answers are math, fenced code is code.
"""

from __future__ import annotations

from collections.abc import Iterable

from toolkit.formats.base import register_format
from toolkit.formats.messages import MessagesFormat


@register_format
class BespokeFormat(MessagesFormat):
    name = "bespoke"
    description = "Bespoke-Stratos / OpenThoughts (system, conversations[{from, value}])"
    required = ("conversations",)
    signature = ("system",)
    consumed = ("system", "messages", "conversations")
    hub_ids = (
        "bespokelabs/Bespoke-Stratos-17k",
        "HuggingFaceH4/Bespoke-Stratos-17k",
        "open-thoughts/OpenThoughts-114k",
    )
    priority = 0

    def turns_column(self, columns: Iterable[str]) -> str:
        return self.settings["column"] or "conversations"
