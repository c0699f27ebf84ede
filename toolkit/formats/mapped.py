"""Formats that are a mapping of columns: problem, completion, optional reasoning, optional gold.

Most reasoning datasets are one row per trace with the parts in named columns (LIMO's
``question``/``solution``/``answer``, GeneralThought's ``question``/``model_reasoning``/
``model_answer``/``reference_answer``…). :class:`MappedFormat` implements ``convert`` once for
all of them, so a dataset format is a declaration of its columns; the ``columns`` format is the
same class with the user's column names (``toolkit normalize columns DATA --problem …``).

Gold answers are *short* answers (issue 12: s1K used whole worked solutions): a gold column that
holds a worked solution goes through :func:`short_gold`, which keeps
:func:`toolkit.answers.final_answer` of it, or the text itself when it is already short.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from toolkit.answers import final_answer
from toolkit.formats.base import (
    BadRow,
    Batch,
    Format,
    Records,
    guess_domain,
    optional_text,
    require_text,
)
from toolkit.thinking import split_thinking

#: Longest gold kept as it is when no final answer can be extracted from it (a single line).
SHORT_GOLD_CHARS = 120
ROLES = ("problem", "reasoning", "answer", "gold", "system", "domain")


def short_gold(text: str | None) -> str | None:
    """A short reference answer from a gold column: the final answer of a worked solution, the
    text itself when it is already short (one line, at most :data:`SHORT_GOLD_CHARS`), else
    ``None`` (a long solution without a marked answer is no gold a grader can use)."""
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    extracted = final_answer(text)
    if extracted is not None:
        return extracted
    if len(text) <= SHORT_GOLD_CHARS and "\n" not in text:
        return text
    return None


class MappedFormat(Format):
    """Rows with the parts of one trace in named columns (see the module docstring).

    Subclasses set ``columns_map`` (role → column: ``problem`` and ``answer`` required;
    ``reasoning``, ``gold``, ``system``, ``domain`` optional) and may override :meth:`gold`.
    Without a reasoning column the thinking is split out of the answer column
    (:func:`toolkit.thinking.split_thinking`: ``<think>``, Sky-T1 markers, or none).
    """

    columns_map: ClassVar[dict[str, str]] = {}
    #: The gold column holds worked solutions: keep :func:`short_gold` of it (the column itself
    #: then also stays in ``metadata``, since the gold is only part of it).
    gold_is_solution: ClassVar[bool] = False
    #: Keep the gold column in ``metadata`` even when it is not a worked solution (its value is
    #: not always the gold, as OpenMathReasoning's majority-vote ``expected_answer``).
    keep_gold_column: ClassVar[bool] = False

    def mapping(self) -> dict[str, str]:
        return dict(self.columns_map)

    def metadata_columns(self, columns: Sequence[str]) -> list[str]:
        roles = self.mapping()
        used = {column for role, column in roles.items() if role != "gold"}
        if "gold" in roles and not (self.gold_is_solution or self.keep_gold_column):
            used.add(roles["gold"])
        return [name for name in columns if name not in used and name not in self.consumed]

    def read_columns(self, columns: Sequence[str]) -> set[str]:
        return set(self.mapping().values()) & set(columns)

    def gold(self, value: Any, position: int, batch: Batch) -> str | None:
        """The gold answer of one row from the gold column's value."""
        text = optional_text(value, self.mapping()["gold"])
        return short_gold(text) if self.gold_is_solution else text

    def domain_of(self, value: Any, problem: str, answer: str) -> str:
        if isinstance(value, str) and value.strip():
            return value.strip().lower()
        return guess_domain(problem, answer, self.domain)

    def convert(self, batch: Batch, out: Records) -> None:
        roles = self.mapping()
        problem_column, answer_column = roles["problem"], roles["answer"]
        reasoning_column = roles.get("reasoning")
        columns = {role: batch.column(name) for role, name in roles.items()}
        none = [None] * batch.size
        reasonings = columns.get("reasoning", none)
        golds = columns.get("gold", none)
        systems = columns.get("system", none)
        domains = columns.get("domain", none)
        for i, (problem, answer) in enumerate(
            zip(columns["problem"], columns["answer"], strict=True)
        ):
            try:
                problem_text = require_text(problem, problem_column).strip()
                reasoning = (
                    optional_text(reasonings[i], reasoning_column) if reasoning_column else None
                )
                answer_text = (
                    optional_text(answer, answer_column) or ""
                    if reasoning
                    else require_text(answer, answer_column)
                )
                gold = self.gold(golds[i], i, batch) if "gold" in roles else None
                system = optional_text(systems[i], roles["system"]) if "system" in roles else None
            except BadRow as bad:
                out.reject(i, bad.field, bad.reason)
                continue
            split = split_thinking(answer_text, reasoning=reasoning)
            out.add_split(
                i,
                problem_text,
                split,
                gold,
                system=system,
                domain=self.domain_of(domains[i], problem_text, split.answer),
            )
