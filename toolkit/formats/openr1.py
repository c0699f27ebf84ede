"""OpenR1-Math-220k: several DeepSeek-R1 generations per problem, one record per generation.

Card columns: ``problem``, ``solution``, ``answer``, ``problem_type``, ``question_type``,
``source``, ``uuid``, ``is_reasoning_complete`` (list), ``generations`` (list),
``correctness_math_verify`` (list), ``correctness_llama`` (list), ``finish_reasons`` (list),
``correctness_count``, ``messages``. Generations start with ``<think>``.

Option ``generations``: ``"all"`` (default) gives one record per generation; ``"verified"``
keeps only generations judged correct (math-verify ``True``, or the Llama judge ``True``); the
summary counts the generations skipped that way. Each record's ``metadata`` carries its own
verdicts (``generation_index``, ``correctness_math_verify``, ``correctness_llama``,
``is_reasoning_complete``, ``finish_reason``) next to the row's other columns.
"""

from __future__ import annotations

from typing import Any, ClassVar

from toolkit.formats.base import (
    BadRow,
    Batch,
    Format,
    FormatError,
    Records,
    optional_text,
    register_format,
    require_text,
)
from toolkit.thinking import split_thinking

PER_GENERATION = {
    "correctness_math_verify": "correctness_math_verify",
    "correctness_llama": "correctness_llama",
    "is_reasoning_complete": "is_reasoning_complete",
    "finish_reasons": "finish_reason",
}


def _at(values: Any, index: int) -> Any:
    return values[index] if isinstance(values, list) and index < len(values) else None


@register_format
class OpenR1Format(Format):
    name = "openr1"
    description = "OpenR1-Math-220k (problem, answer, generations[] with verdicts)"
    required = ("problem", "generations")
    signature = ("correctness_math_verify", "is_reasoning_complete", "finish_reasons", "answer")
    consumed = ("problem", "generations", "answer", "messages", *PER_GENERATION)
    hub_ids = ("open-r1/OpenR1-Math-220k",)
    options: ClassVar[dict[str, Any]] = {"generations": "all"}
    priority = 10

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if self.settings["generations"] not in ("all", "verified"):
            raise FormatError(
                f"openr1: generations must be 'all' or 'verified', "
                f"not {self.settings['generations']!r}"
            )
        self.verified_only = self.settings["generations"] == "verified"

    def convert(self, batch: Batch, out: Records) -> None:
        answers = batch.column("answer")
        verdicts = {name: batch.column(name) for name in PER_GENERATION}
        for i, (problem, generations) in enumerate(
            zip(batch.column("problem"), batch.column("generations"), strict=True)
        ):
            try:
                problem_text = require_text(problem, "problem").strip()
                gold = optional_text(answers[i], "answer")
                if generations is None:
                    raise BadRow("generations", "null")
                if not isinstance(generations, list):
                    raise BadRow(
                        "generations", f"expected a list, got {type(generations).__name__}"
                    )
                if not generations:
                    raise BadRow("generations", "empty list")
            except BadRow as bad:
                out.reject(i, bad.field, bad.reason)
                continue
            math_verify = verdicts["correctness_math_verify"][i]
            llama = verdicts["correctness_llama"][i]
            for k, generation in enumerate(generations):
                if self.verified_only and not (_at(math_verify, k) or _at(llama, k)):
                    out.skip(i, "unverified generation (generations='verified')")
                    continue
                try:
                    text = require_text(generation, f"generations[{k}]")
                except BadRow as bad:
                    out.reject(i, bad.field, bad.reason)
                    continue
                split = split_thinking(text)
                extra = {"generation_index": k, "generations_total": len(generations)}
                for column, key in PER_GENERATION.items():
                    value = _at(verdicts[column][i], k)
                    if value is not None:
                        extra[key] = value
                out.add_split(i, problem_text, split, gold, extra=extra)
