"""OpenThoughts-114k, ``metadata`` config: the R1 trace in columns instead of a conversation.

Card columns (config ``metadata``): ``problem``, ``deepseek_reasoning``, ``deepseek_solution``,
``ground_truth_solution``, ``domain``, ``source``, ``test_cases``, ``starter_code``. The
reasoning and the solution are separate columns (no markers to split); ``domain`` (math, code,
science, puzzle) is used as is; ``ground_truth_solution`` (a worked solution for math rows,
often null for code) gives a short ``gold_answer`` (its final answer) and stays in
``metadata`` with ``test_cases`` and ``starter_code``.

The default config of OpenThoughts-114k (``system`` + ``conversations``), OpenThoughts3-1.2M
and open-r1/OpenThoughts-114k-math are read by ``bespoke`` (:mod:`toolkit.formats.bespoke`).
"""

from __future__ import annotations

from typing import ClassVar

from toolkit.formats.base import register_format
from toolkit.formats.mapped import MappedFormat


@register_format
class OpenThoughtsMetadataFormat(MappedFormat):
    name = "openthoughts_metadata"
    description = (
        "OpenThoughts-114k metadata config (problem, deepseek_reasoning, deepseek_solution, "
        "ground_truth_solution, domain)"
    )
    required = ("problem", "deepseek_reasoning", "deepseek_solution")
    signature = ("ground_truth_solution", "domain", "source", "test_cases", "starter_code")
    consumed = ("problem", "deepseek_reasoning", "deepseek_solution", "domain")
    columns_map: ClassVar[dict[str, str]] = {
        "problem": "problem",
        "reasoning": "deepseek_reasoning",
        "answer": "deepseek_solution",
        "gold": "ground_truth_solution",
        "domain": "domain",
    }
    gold_is_solution = True
    expects_reasoning = True
    domain = "general"
    hub_ids = ("open-thoughts/OpenThoughts-114k:metadata",)
