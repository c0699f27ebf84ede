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

The per-generation machinery (:class:`GenerationsFormat`) is shared with
``s1k_r1`` (HuggingFaceH4/s1k_r1_math_verify, see :mod:`toolkit.formats.s1k`).
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
    "api_metadata": "api_metadata",
}
SKIPPED_UNVERIFIED = "unverified generation (generations='verified')"


def _at(values: Any, index: int) -> Any:
    return values[index] if isinstance(values, list) and index < len(values) else None


class GenerationsFormat(Format):
    """Rows with a list of R1 generations and per-generation verdict lists: one record per
    generation (shared by OpenR1-Math-220k and HuggingFaceH4/s1k_r1_math_verify)."""

    problem_column: ClassVar[str] = "problem"
    options: ClassVar[dict[str, Any]] = {"generations": "all"}
    expects_reasoning = True

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if self.settings["generations"] not in ("all", "verified"):
            raise FormatError(
                f"{self.name}: generations must be 'all' or 'verified', "
                f"not {self.settings['generations']!r}"
            )
        self.verified_only = self.settings["generations"] == "verified"

    #: Column the gold answer comes from (:meth:`gold_of` turns its value into a short answer).
    gold_source: ClassVar[str] = "answer"

    def gold_of(self, value: Any) -> str | None:
        return optional_text(value, "answer")

    def domain_of(self, batch: Batch, position: int) -> str | None:
        """The domain of a row's records (``None``: the format's default)."""
        return None

    def convert(self, batch: Batch, out: Records) -> None:
        golds = batch.column(self.gold_source)
        verdicts = {name: batch.column(name) for name in PER_GENERATION}
        for i, (problem, generations) in enumerate(
            zip(batch.column(self.problem_column), batch.column("generations"), strict=True)
        ):
            try:
                problem_text = require_text(problem, self.problem_column).strip()
                gold = self.gold_of(golds[i])
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
                    out.skip(i, SKIPPED_UNVERIFIED)
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
                out.add_split(
                    i, problem_text, split, gold, domain=self.domain_of(batch, i), extra=extra
                )


@register_format
class OpenR1Format(GenerationsFormat):
    name = "openr1"
    description = "OpenR1-Math-220k (problem, answer, generations[] with verdicts)"
    required = ("problem", "generations")
    signature = ("correctness_math_verify", "is_reasoning_complete", "finish_reasons", "answer")
    consumed = ("problem", "generations", "answer", "messages", *PER_GENERATION)
    hub_ids = ("open-r1/OpenR1-Math-220k",)
    gold_source = "answer"
