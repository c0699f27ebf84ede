"""The problems of a run: which column holds the problem, the gold answer and the id; stable
per-problem keys; sharding.

A problem's *key* is what "already done" means on resume: the id column when there is one,
else a hash of the problem text (numbered ``#k`` for duplicates). Keys are assigned over the
whole table before sharding, so the same problem has the same key in every shard.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from toolkit.backends import SamplingParams
from toolkit.errors import UsageError
from toolkit.schema import content_hash

if TYPE_CHECKING:
    import datasets

log = logging.getLogger(__name__)

KEY_VERSION = "gen-v1"
PROBLEM_FIELD_CANDIDATES = ("problem", "question", "prompt", "instruction", "input")
#: Reference answers, in order of preference. GSM8K's ``answer`` ends in ``#### N``, which the
#: grader reads as the number; MATH-style ``answer`` columns hold the short answer.
GOLD_FIELD_CANDIDATES = (
    "gold_answer",
    "final_answer",
    "expected_answer",
    "reference_answer",
    "answer",
)
ID_FIELD_CANDIDATES = ("id", "problem_id", "unique_id", "uuid")


@dataclass(slots=True)
class Problem:
    """One input row to ask the model about."""

    index: int  # row index in the (unsharded) input: the global order of the output
    key: str  # stable problem key (see the module docstring)
    text: str
    row: dict[str, Any] = field(default_factory=dict)
    problem_id: str = ""  # the schema's problem_id: hash of the text
    gold: str | None = None


@dataclass(frozen=True, slots=True)
class Columns:
    """The input columns a run uses (detected or given)."""

    problem: str
    gold: str | None
    id: str | None


def request_key(
    problem_key: str, sample: int, model: str, template_id: str, params: SamplingParams | str
) -> str:
    """The deterministic identity of one sample: what "already done" means on resume.

    ``params`` may be given pre-serialized (:func:`params_json_of`) in hot loops.
    """
    params_json = params if isinstance(params, str) else params_json_of(params)
    return content_hash(KEY_VERSION, problem_key, str(sample), model, template_id, params_json)


def params_json_of(params: SamplingParams) -> str:
    """The params as they enter a request key. The token limit keeps its original spelling
    (``max_tokens``) here, so the keys of runs started before the rename stay valid."""
    data = params.as_dict()
    data["max_tokens"] = data.pop("max_new_tokens")
    return json.dumps(data, sort_keys=True)


def shard_range(count: int, shard: tuple[int, int] | None) -> range:
    """The i-th of N contiguous, near-equal blocks of ``range(count)`` (deterministic)."""
    if shard is None:
        return range(count)
    index, total = shard
    return range(count * index // total, count * (index + 1) // total)


def parse_shard(text: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"i/N"`` → ``(i, N)`` (a tuple is checked and returned)."""
    if text is None or text == "":
        return None
    if isinstance(text, str):
        try:
            index, total = (int(part) for part in text.split("/"))
        except ValueError:
            raise UsageError(f"--shard must look like i/N (e.g. 0/4), got {text!r}") from None
    else:
        index, total = text
    if not (total >= 1 and 0 <= index < total):
        raise UsageError(f"--shard {index}/{total}: need 0 <= i < N")
    return index, total


def pick_column(
    columns: Sequence[str], wanted: str | None, candidates: Sequence[str], what: str
) -> str | None:
    """``wanted`` when given (it must exist), else the first candidate present."""
    if wanted:
        if wanted not in columns:
            raise UsageError(
                f"{what} field {wanted!r} is not a column of the input",
                hint=f"columns: {', '.join(columns)}",
            )
        return wanted
    return next((c for c in candidates if c in columns), None)


def detect_columns(
    columns: Sequence[str],
    problem_field: str | None = None,
    gold_field: str | None = None,
    id_field: str | None = None,
) -> Columns:
    """The problem, gold and id columns: the given ones, else detected by name."""
    problem = pick_column(columns, problem_field, PROBLEM_FIELD_CANDIDATES, "problem")
    if problem is None:
        raise UsageError(
            f"no problem column found (tried {', '.join(PROBLEM_FIELD_CANDIDATES)})",
            hint=f"pass --problem-field; the columns are {', '.join(columns)}",
        )
    gold = pick_column(
        [c for c in columns if c != problem], gold_field, GOLD_FIELD_CANDIDATES, "gold answer"
    )
    ident = pick_column(columns, id_field, ID_FIELD_CANDIDATES, "id")
    return Columns(problem, gold, ident)


def load_problems(
    table: datasets.Dataset,
    columns: Columns,
    shard: tuple[int, int] | None = None,
) -> tuple[list[Problem], list[dict[str, Any]]]:
    """The problems of this shard and the quarantined rows (row, field, reason)."""
    selected = shard_range(len(table), shard)
    bad: list[dict[str, Any]] = []
    problems: list[Problem] = []
    seen: Counter[str] = Counter()
    # Keys are assigned over the WHOLE table so that duplicate numbering is shard-independent.
    texts = list(table[columns.problem])
    ids = list(table[columns.id]) if columns.id else None
    for index, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            if index in selected:
                reason = (
                    "missing" if text is None else f"not a non-empty string ({type(text).__name__})"
                )
                bad.append({"row": index, "field": columns.problem, "reason": reason})
            continue
        text_hash = content_hash(text)
        base = str(ids[index]) if ids is not None and ids[index] is not None else text_hash
        seen[base] += 1
        key = base if seen[base] == 1 else f"{base}#{seen[base] - 1}"
        if index in selected:
            problems.append(Problem(index, key, text, {}, text_hash))
    if problems:
        # Column-wise conversion of the shard's contiguous block is much faster than iterating
        # Dataset rows (or gathering scattered indices) one by one.
        block = table if len(selected) == len(table) else table.select(selected)
        data = block.to_dict()
        names = list(data)
        by_index = dict(zip(selected, zip(*data.values(), strict=True), strict=True))
        for problem in problems:
            problem.row = dict(zip(names, by_index[problem.index], strict=True))
            if columns.gold is not None:
                problem.gold = _gold_text(problem.row.get(columns.gold))
        odd = [p.index for p in problems if p.gold is None and p.row.get(columns.gold) is not None]
        if odd:
            log.warning(
                "%d gold answer(s) in column %r are not text or numbers (e.g. row %d): stored "
                "as missing, so verify reports gold_missing instead of grading a list as text",
                len(odd),
                columns.gold,
                odd[0],
            )
    return problems, bad


def _gold_text(value: Any) -> str | None:
    """A gold answer as text: strings and numbers; anything else (a list, a dict) is missing."""
    return str(value) if isinstance(value, str | int | float) else None


__all__ = [
    "GOLD_FIELD_CANDIDATES",
    "ID_FIELD_CANDIDATES",
    "KEY_VERSION",
    "PROBLEM_FIELD_CANDIDATES",
    "Columns",
    "Problem",
    "detect_columns",
    "load_problems",
    "params_json_of",
    "parse_shard",
    "pick_column",
    "request_key",
    "shard_range",
]
