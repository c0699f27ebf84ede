"""Benchmark data: where each evaluation set lives and how its rows are read.

A kernel module, because two stages need the same rows: curation compares training data against
the benchmark problems (decontamination) and evaluation scores models on them. Each needs the
same source, revision and parsing; keeping that in one place means a benchmark that is
decontaminated against is exactly the one that is evaluated on. What only evaluation needs
(prompts, answer extraction, metrics) lives in :mod:`toolkit.evaluation.tasks`, which extends
:class:`BenchmarkSource`.

Every benchmark loads through the normal dataset path (:func:`toolkit.io.load_table`): a Hub id
at a pinned revision by default, or a local file for offline use. A local file is found, in
order, from the ``data_file=`` argument, the ``TOOLKIT_<NAME>_FILE`` environment variable, or
``$TOOLKIT_BENCHMARK_DIR/<default file name>``. When neither the Hub nor a local copy can be
reached, the error says which of those to set.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.errors import MissingError, UsageError

if TYPE_CHECKING:
    import datasets

log = logging.getLogger(__name__)

GPQA_LETTERS = "ABCD"
BENCHMARK_DIR_ENV = "TOOLKIT_BENCHMARK_DIR"
PRETTY_NAMES = {
    "gsm8k": "GSM8K",
    "math500": "MATH-500",
    "aime24": "AIME 2024",
    "aime25": "AIME 2025",
    "gpqa_diamond": "GPQA-Diamond",
}


class UnknownBenchmarkError(UsageError, KeyError):
    """A benchmark name that is not registered (a ``KeyError`` too, for registry-style callers)."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return self.message


@dataclass(frozen=True)
class BenchmarkSource:
    """Where a benchmark's rows come from and which columns hold the problem and the answer."""

    name: str
    hub_id: str
    split: str
    problem_field: str
    answer_field: str
    config: str | None = None
    revision: str | None = None
    expected_rows: int | None = None
    local_file: str | None = None
    domain: str = "math"
    answer_type: str = "math"  # a toolkit.answers kind: "math", "gsm8k", "choice", "text"
    #: Turns a raw row into ``{"problem", "gold_answer", **extra}``; default reads the two fields.
    row_parser: Callable[[dict[str, Any], int], dict[str, Any]] | None = field(
        default=None, compare=False
    )
    #: A display name for tables and cards (``None``: derived from ``name``).
    pretty_name: str | None = None
    #: Keep only the first row per value of this column (schema datasets hold several traces
    #: per problem: ``problem_id``).
    dedupe_field: str | None = None
    #: Skip (and count) rows without a problem or gold answer instead of scoring them as wrong;
    #: only user tasks do this, the published benchmarks must load complete.
    skip_unanswered: bool = False

    @property
    def display_name(self) -> str:
        return self.pretty_name or PRETTY_NAMES.get(self.name, self.name)

    def describe_data(self) -> dict[str, Any]:
        """Where the rows came from (recorded in results files next to the evaluation part)."""
        return {
            "name": self.name,
            "pretty_name": self.display_name,
            "hub_id": self.hub_id,
            "config": self.config,
            "split": self.split,
            "revision": self.revision,
            "answer_type": self.answer_type,
            "domain": self.domain,
        }

    def env_var(self) -> str:
        return f"TOOLKIT_{self.name.upper()}_FILE"

    def offline_hint(self) -> str:
        """How to make this benchmark loadable without the Hub (one sentence)."""
        where = (
            f"${BENCHMARK_DIR_ENV}/{self.local_file}, " if self.local_file else ""
        ) + f"${self.env_var()}"
        return (
            f"offline, point {where} at a local copy (or pass --data-file {self.name}=PATH "
            "to `toolkit eval`)"
        )

    def resolve_local(self, data_file: str | os.PathLike[str] | None = None) -> Path | None:
        """The local override file, if one is configured: ``data_file``, ``$TOOLKIT_<NAME>_FILE``
        or the benchmark folder's copy. A file named explicitly (the first two) that does not
        exist is an error, never silently replaced by another copy."""
        if data_file:
            if not Path(data_file).exists():
                raise MissingError(f"{self.name}: data file {data_file} does not exist")
            return Path(data_file)
        named = os.environ.get(self.env_var())
        if named:
            if not Path(named).exists():
                raise MissingError(
                    f"{self.name}: ${self.env_var()} names {named}, which does not exist"
                )
            return Path(named)
        bench_dir = os.environ.get(BENCHMARK_DIR_ENV)
        if bench_dir and self.local_file and (Path(bench_dir) / self.local_file).exists():
            return Path(bench_dir) / self.local_file
        return None

    def load_raw(
        self, data_file: str | os.PathLike[str] | None = None, limit: int | None = None
    ) -> datasets.Dataset:
        from toolkit.hub_access import require_hub_or_offline
        from toolkit.io import load_table  # datasets is slow to import: only when loading

        local = self.resolve_local(data_file)
        if local is not None:
            return load_table(local, limit=limit)
        source = f"{self.hub_id}:{self.config}" if self.config else self.hub_id
        require_hub_or_offline()  # offline: fail at once (a cached copy still loads)
        try:
            return load_table(source, split=self.split, revision=self.revision, limit=limit)
        except OSError as exc:  # offline, unreachable, or no such dataset (ConnectionError too)
            if self.hub_id.count("/") != 1 or self.hub_id.startswith((".", "/")):
                raise  # a user task on a local path: the file's own error is the right one
            log.debug("%s: loading %s failed: %s", self.name, source, type(exc).__name__)
            raise MissingError(
                f"benchmark {self.name}: {self.hub_id} cannot be loaded from the Hub "
                "and no local copy is configured",
                hint=self.offline_hint(),
            ) from None

    def load(
        self, data_file: str | os.PathLike[str] | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Rows as ``{"index", "problem", "gold_answer", ...}`` dicts, in a stable order."""
        raw = self.load_raw(data_file, limit=limit)
        missing = [f for f in (self.problem_field, self.answer_field) if f not in raw.column_names]
        if missing and self.row_parser is None:
            raise UsageError(
                f"{self.name}: column(s) {', '.join(missing)} not found; "
                f"the table has {', '.join(raw.column_names)}"
            )
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        skipped: list[str] = []
        for row_number, row in enumerate(raw):
            if self.dedupe_field:
                key = str(row.get(self.dedupe_field) or row.get(self.problem_field))
                if key in seen:
                    continue
                seen.add(key)
            index = len(rows)
            parsed = (
                self.row_parser(row, index)
                if self.row_parser
                else {
                    "problem": str(row[self.problem_field] or ""),
                    "gold_answer": str(row[self.answer_field] or ""),
                }
            )
            if self.skip_unanswered and not (
                parsed["problem"].strip() and parsed["gold_answer"].strip()
            ):
                field_name = (
                    self.problem_field if not parsed["problem"].strip() else self.answer_field
                )
                skipped.append(f"row {row_number}: empty {field_name!r}")
                continue
            parsed["index"] = index
            rows.append(parsed)
        if skipped:
            log.warning(
                "%s: skipped %d row(s) that cannot be scored (%s%s)",
                self.name,
                len(skipped),
                "; ".join(skipped[:3]),
                "; …" if len(skipped) > 3 else "",
            )
        return rows

    def problems(self, data_file: str | os.PathLike[str] | None = None) -> list[str]:
        """Just the problem texts (what decontamination compares against)."""
        return [row["problem"] for row in self.load(data_file)]


def _gsm8k_row(row: dict[str, Any], index: int) -> dict[str, Any]:
    solution = str(row["answer"])
    gold = solution.rsplit("####", 1)[-1].strip().replace(",", "") if "####" in solution else ""
    return {"problem": str(row["question"]), "gold_answer": gold, "solution": solution}


def _gpqa_row(row: dict[str, Any], index: int) -> dict[str, Any]:
    """GPQA rows carry the correct and three incorrect answers; shuffle them with a fixed seed
    per row, so every run (and every model) sees the same option order."""
    correct = str(row["Correct Answer"]).strip()
    options = [correct] + [str(row[f"Incorrect Answer {i}"]).strip() for i in (1, 2, 3)]
    random.Random(f"gpqa-{index}").shuffle(options)
    letter = GPQA_LETTERS[options.index(correct)]
    lines = "\n".join(f"{GPQA_LETTERS[i]}) {opt}" for i, opt in enumerate(options))
    problem = f"{str(row['Question']).strip()}\n\n{lines}"
    return {"problem": problem, "gold_answer": letter, "options": options}


#: Every registered benchmark by name; evaluation's user tasks are registered here too, so
#: curation can decontaminate against them.
BENCHMARKS: dict[str, BenchmarkSource] = {}


def register_benchmark(source: BenchmarkSource) -> BenchmarkSource:
    """Add a benchmark to the registry (user sets are registered the same way)."""
    BENCHMARKS[source.name] = source
    return source


def get_benchmark(name: str) -> BenchmarkSource:
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise UnknownBenchmarkError(
            f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))}"
        ) from None


for _source in (
    BenchmarkSource(
        "gsm8k",
        "openai/gsm8k",
        "test",
        "question",
        "answer",
        config="main",
        expected_rows=1319,
        local_file="gsm8k_test.jsonl",
        answer_type="gsm8k",
        row_parser=_gsm8k_row,
    ),
    BenchmarkSource(
        "math500",
        "HuggingFaceH4/MATH-500",
        "test",
        "problem",
        "answer",
        expected_rows=500,
        local_file="math500_test.jsonl",
    ),
    BenchmarkSource(
        "aime24",
        "HuggingFaceH4/aime_2024",
        "train",
        "problem",
        "answer",
        expected_rows=30,
        local_file="aime24_test.jsonl",
    ),
    BenchmarkSource(
        "aime25",
        "yentinglin/aime_2025",
        "train",
        "problem",
        "answer",
        expected_rows=30,
        local_file="aime25_test.jsonl",
    ),
    BenchmarkSource(
        "gpqa_diamond",
        "Idavidrein/gpqa",
        "train",
        "Question",
        "Correct Answer",
        config="gpqa_diamond",
        expected_rows=198,
        local_file="gpqa_diamond.csv",
        domain="science",
        answer_type="choice",
        row_parser=_gpqa_row,
    ),
):
    register_benchmark(_source)

__all__ = [
    "BENCHMARKS",
    "BENCHMARK_DIR_ENV",
    "GPQA_LETTERS",
    "PRETTY_NAMES",
    "BenchmarkSource",
    "UnknownBenchmarkError",
    "get_benchmark",
    "register_benchmark",
]
