"""Bespoke-Stratos-17k and OpenThoughts-114k: ``system`` + ``conversations[{from, value}]``.

The assistant value marks its parts with ``<|begin_of_thought|>…<|end_of_thought|>`` and
``<|begin_of_solution|>…<|end_of_solution|>`` (the Sky-T1 format), handled by
:func:`toolkit.thinking.split_thinking`. The ``system`` column (the Sky-T1 system prompt) is kept
as the system turn of ``messages``. The HuggingFaceH4 copy adds ``messages`` (role/content,
without the system turn), which repeats ``conversations`` and is not copied into ``metadata``
(``column="messages"`` reads it instead). Domains are mixed (math, code, puzzles): boxed answers
are math, fenced code is code.

The same layout: OpenThoughts-114k (default config), OpenThoughts3-1.2M (``conversations`` from
``human``/``gpt`` with ``<think>``, plus ``difficulty``, ``source``, ``domain`` — the domain column
is used), and open-r1/OpenThoughts-114k-math, whose ``solution`` (the NuminaMath reference
solution) gives a short ``gold_answer`` (its final answer) and stays in ``metadata``.

The Sky-T1 system prompt asks for ``<|begin_of_thought|>`` markers while ``messages`` renders
``<think>``; it is rewritten by default (``normalize(..., system_prompt="rewrite"|"drop"|"keep")``),
and the "Return your final response within \\boxed{}." prefix moves from ``problem`` to
``metadata["prompt_template"]`` (see :mod:`toolkit.formats.prompts`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

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
        "open-thoughts/OpenThoughts2-1M",
        "open-thoughts/OpenThoughts3-1.2M",
        "open-r1/OpenThoughts-114k-math",
    )
    hub_defaults: ClassVar[dict[str, dict[str, str]]] = {}
    generic = False
    expects_reasoning = True
    gold_columns = ("solution",)

    def turns_column(self, columns: Iterable[str]) -> str:
        return self.settings["column"] or "conversations"
