"""GeneralThought (GeneralReasoning/GeneralThought-430K, -195K): one model trace per row.

Card columns: ``question_id``, ``question_url``, ``question``, ``reference_answer``,
``prev_messages``, ``model_name``, ``model_answer``, ``model_reasoning``, ``task``,
``question_license``, ``question_source``, ``community_answer_score``,
``community_question_score``, ``verifier_score``. ``model_reasoning`` is the thinking and
``model_answer`` the answer; rows of models without visible thinking (o3-mini) have no
reasoning. ``reference_answer`` becomes a short ``gold_answer`` (its final answer, or itself
when short) and also stays in ``metadata``; ``model_name``, scores and licence too. Traces come
from several models (DeepSeek-R1, R1-Zero, OpenThinker, LIMO…): filter on
``metadata.model_name`` to keep one teacher.
"""

from __future__ import annotations

from typing import ClassVar

from toolkit.formats.base import register_format
from toolkit.formats.mapped import MappedFormat


@register_format
class GeneralThoughtFormat(MappedFormat):
    name = "generalthought"
    description = "GeneralThought (question, model_reasoning, model_answer, reference_answer)"
    required = ("question", "model_answer", "model_reasoning")
    signature = ("question_id", "model_name", "reference_answer", "verifier_score")
    consumed = ("question", "model_answer", "model_reasoning")
    columns_map: ClassVar[dict[str, str]] = {
        "problem": "question",
        "reasoning": "model_reasoning",
        "answer": "model_answer",
        "gold": "reference_answer",
    }
    gold_is_solution = True
    expects_reasoning = True
    domain = "general"
    hub_ids = (
        "GeneralReasoning/GeneralThought-430K",
        "GeneralReasoning/GeneralThought-195K",
        "GeneralReasoning/GeneralThought-323K",
    )
