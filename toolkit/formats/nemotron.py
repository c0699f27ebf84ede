"""nvidia/Llama-Nemotron-Post-Training-Dataset: ``input`` (chat turns) + ``output``, reasoning
``on`` or ``off`` per row.

Card columns: ``input`` (the prompt as a list of ``{role, content}`` turns: one user turn, or a
conversation ending with the user turn), ``output`` (``<think>…</think>`` + answer when
``reasoning == "on"``, a direct answer when ``"off"``), ``reasoning``, ``system_prompt``
("detailed thinking on"/"off", the model's reasoning switch), ``category``, ``license``,
``generator``, ``used_in_training``, ``version``.

The last user turn is the problem; earlier turns go to ``metadata["history"]``.
``system_prompt`` becomes the system turn (it is how the Nemotron recipe switches reasoning, and
names no markers). Option ``mode``: ``"all"`` (default), ``"on"`` or ``"off"`` keeps only
those rows; the others are counted as skipped. A row whose ``reasoning`` is neither ``on`` nor
``off`` is not a Nemotron row (quarantined; this is also what keeps an Alpaca-style
``input``/``output`` table from being detected as this format).
"""

from __future__ import annotations

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
from toolkit.formats.messages import ROLE_ALIASES
from toolkit.thinking import split_thinking

MODES = ("on", "off")
CATEGORY_DOMAINS = {"math": "math", "code": "code", "science": "science", "chat": "general"}


def prompt_of(value: Any) -> tuple[str, list[dict[str, Any]]]:
    """``(last user turn, earlier turns)`` of an ``input`` value (a string is the prompt)."""
    if isinstance(value, str):
        return require_text(value, "input").strip(), []
    if not isinstance(value, list) or not value:
        raise BadRow("input", "null" if value is None else "expected a list of turns")
    for k in range(len(value) - 1, -1, -1):
        turn = value[k]
        role = turn.get("role") if isinstance(turn, dict) else None
        if isinstance(role, str) and ROLE_ALIASES.get(role.lower()) == "user":
            problem = require_text(turn.get("content"), f"input[{k}].content").strip()
            return problem, [t for t in value[:k] if isinstance(t, dict)]
    raise BadRow("input", "no user turn")


@register_format
class NemotronFormat(Format):
    name = "nemotron"
    description = "Llama-Nemotron-Post-Training (input turns, output, reasoning on/off)"
    required = ("input", "output", "reasoning")
    signature = ("system_prompt", "used_in_training", "generator", "category", "version")
    consumed = ("input", "output", "system_prompt")
    options: ClassVar[dict[str, Any]] = {"mode": "all"}
    hub_ids = ("nvidia/Llama-Nemotron-Post-Training-Dataset",)
    hub_defaults: ClassVar[dict[str, dict[str, str]]] = {
        "nvidia/Llama-Nemotron-Post-Training-Dataset": {"config": "SFT", "split": "math"}
    }
    domain = "general"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if self.settings["mode"] not in ("all", *MODES):
            raise FormatError(
                f"nemotron: mode must be 'all', 'on' or 'off', not {self.settings['mode']!r}"
            )

    def convert(self, batch: Batch, out: Records) -> None:
        outputs = batch.column("output")
        modes = batch.column("reasoning")
        systems = batch.column("system_prompt")
        categories = batch.column("category")
        wanted = self.settings["mode"]
        for i, value in enumerate(batch.column("input")):
            mode = modes[i]
            if mode not in MODES:
                out.reject(i, "reasoning", f"expected 'on' or 'off', got {mode!r}")
                continue
            if wanted != "all" and mode != wanted:
                out.skip(i, f"reasoning-{mode} row (mode={wanted!r})")
                continue
            try:
                problem, history = prompt_of(value)
                output = require_text(outputs[i], "output")
                system = optional_text(systems[i], "system_prompt")
            except BadRow as bad:
                out.reject(i, bad.field, bad.reason)
                continue
            split = split_thinking(output)
            category = categories[i]
            out.add_split(
                i,
                problem,
                split,
                system=system,
                domain=CATEGORY_DOMAINS.get(
                    category, guess_domain(problem, split.answer, "general")
                )
                if isinstance(category, str)
                else guess_domain(problem, split.answer, self.domain),
                extra={"history": history} if history else None,
            )
