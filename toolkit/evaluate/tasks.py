"""The benchmark registry: where each evaluation set lives and how its rows are read.

Every benchmark loads through the normal dataset path (:func:`toolkit.io.load_table`): a Hub id at
a pinned revision by default, or a local file for offline use. A local file is found, in order,
from the ``data_file=`` argument, the ``TOOLKIT_<NAME>_FILE`` environment variable, or
``$TOOLKIT_BENCHMARK_DIR/<default file name>``.

The same registry serves decontamination (:mod:`toolkit.curate`, which needs the problem texts)
and evaluation (which also needs the gold answers, prompts and metrics).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets

from toolkit.io import load_table

GPQA_LETTERS = "ABCD"


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
    answer_type: str = "math"  # "math" (math-verify), "gsm8k" ("#### N"), "choice" (letter)
    #: Turns a raw row into ``{"problem", "gold_answer", **extra}``; default reads the two fields.
    row_parser: Callable[[dict[str, Any], int], dict[str, Any]] | None = field(
        default=None, compare=False
    )

    def env_var(self) -> str:
        return f"TOOLKIT_{self.name.upper()}_FILE"

    def resolve_local(self, data_file: str | os.PathLike[str] | None = None) -> Path | None:
        """The local override file, if one is configured and exists."""
        candidates: list[str | os.PathLike[str]] = []
        if data_file:
            candidates.append(data_file)
        if os.environ.get(self.env_var()):
            candidates.append(os.environ[self.env_var()])
        bench_dir = os.environ.get("TOOLKIT_BENCHMARK_DIR")
        if bench_dir and self.local_file:
            candidates.append(Path(bench_dir) / self.local_file)
        for candidate in candidates:
            if Path(candidate).exists():
                return Path(candidate)
        if data_file:
            raise FileNotFoundError(f"{self.name}: data file {data_file} does not exist")
        return None

    def load_raw(
        self, data_file: str | os.PathLike[str] | None = None, limit: int | None = None
    ) -> datasets.Dataset:
        local = self.resolve_local(data_file)
        if local is not None:
            return load_table(local, limit=limit)
        source = f"{self.hub_id}:{self.config}" if self.config else self.hub_id
        return load_table(source, split=self.split, revision=self.revision, limit=limit)

    def load(
        self, data_file: str | os.PathLike[str] | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Rows as ``{"index", "problem", "gold_answer", ...}`` dicts, in a stable order."""
        raw = self.load_raw(data_file, limit=limit)
        rows = []
        for index, row in enumerate(raw):
            parsed = (
                self.row_parser(row, index)
                if self.row_parser
                else {
                    "problem": str(row[self.problem_field]),
                    "gold_answer": str(row[self.answer_field]),
                }
            )
            parsed["index"] = index
            rows.append(parsed)
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


BENCHMARKS: dict[str, BenchmarkSource] = {}


def register_benchmark(source: BenchmarkSource) -> BenchmarkSource:
    """Add a benchmark to the registry (user sets are registered the same way)."""
    BENCHMARKS[source.name] = source
    return source


for _source in (
    BenchmarkSource(
        "gsm8k", "openai/gsm8k", "test", "question", "answer", config="main",
        expected_rows=1319, local_file="gsm8k_test.jsonl", answer_type="gsm8k",
        row_parser=_gsm8k_row,
    ),
    BenchmarkSource(
        "math500", "HuggingFaceH4/MATH-500", "test", "problem", "answer",
        expected_rows=500, local_file="math500_test.jsonl",
    ),
    BenchmarkSource(
        "aime24", "HuggingFaceH4/aime_2024", "train", "problem", "answer",
        expected_rows=30, local_file="aime24_test.jsonl",
    ),
    BenchmarkSource(
        "aime25", "yentinglin/aime_2025", "train", "problem", "answer",
        expected_rows=30, local_file="aime25_test.jsonl",
    ),
    BenchmarkSource(
        "gpqa_diamond", "Idavidrein/gpqa", "train", "Question", "Correct Answer",
        config="gpqa_diamond", expected_rows=198, local_file="gpqa_diamond.csv",
        domain="science", answer_type="choice", row_parser=_gpqa_row,
    ),
):
    register_benchmark(_source)


def get_benchmark(name: str) -> BenchmarkSource:
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))}") from None
