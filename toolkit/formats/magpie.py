"""Magpie-Reasoning-V2 (CoT-DeepSeek-R1): ``instruction`` + ``response`` with ``<think>``.

Columns on the card: ``uuid``, ``instruction``, ``response``, ``gen_input_configs``,
``gen_response_configs``, ``intent``, ``knowledge``, ``difficulty``, ``difficulty_generator``,
``input_quality``, ``quality_explanation``, ``quality_generator``, ``task_category``,
``other_task_category``, ``task_category_generator``, ``language``. Everything except
``instruction``/``response`` (and the redundant V1 ``conversations``) is kept in ``metadata``.
"""

from __future__ import annotations

from toolkit.formats.base import BadRow, Batch, Format, Records, register_format, require_text
from toolkit.thinking import split_thinking

# Magpie's task categories → the schema's coarse domains.
TASK_CATEGORY_DOMAINS = {
    "Math": "math",
    "Coding & Debugging": "code",
    "Data analysis": "code",
    "Reasoning": "puzzle",
}


@register_format
class MagpieFormat(Format):
    name = "magpie"
    description = "Magpie-Reasoning (instruction, response with <think>, metadata columns)"
    required = ("instruction", "response")
    signature = ("uuid", "task_category", "difficulty", "gen_input_configs", "intent")
    consumed = ("instruction", "response", "conversations")
    hub_ids = (
        "Magpie-Align/Magpie-Reasoning-V2-250K-CoT-Deepseek-R1-Llama-70B",
        "Magpie-Align/Magpie-Reasoning-V1-150K-CoT-Deepseek-R1-Llama-70B",
    )
    domain = "general"
    expects_reasoning = True

    def convert(self, batch: Batch, out: Records) -> None:
        categories = batch.column("task_category")
        for i, (instruction, response) in enumerate(
            zip(batch.column("instruction"), batch.column("response"), strict=True)
        ):
            try:
                problem = require_text(instruction, "instruction").strip()
                split = split_thinking(require_text(response, "response"))
            except BadRow as bad:
                out.reject(i, bad.field, bad.reason)
                continue
            out.add_split(
                i,
                problem,
                split,
                domain=TASK_CATEGORY_DOMAINS.get(categories[i], self.domain)
                if isinstance(categories[i], str)
                else self.domain,
            )
