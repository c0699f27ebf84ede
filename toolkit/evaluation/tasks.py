"""The benchmark registry: where each evaluation set lives and how its rows are read.

Every benchmark loads through the normal dataset path (:func:`toolkit.io.load_table`): a Hub id at
a pinned revision by default, or a local file for offline use. A local file is found, in order,
from the ``data_file=`` argument, the ``TOOLKIT_<NAME>_FILE`` environment variable, or
``$TOOLKIT_BENCHMARK_DIR/<default file name>``.

The same registry serves decontamination (:mod:`toolkit.curate`, which needs the problem texts)
and evaluation (which also needs the gold answers, prompts and metrics). For evaluation each task
names, explicitly and in the results file:

* its **prompt** (:attr:`BenchmarkSource.prompt_template`, ``{problem}`` is replaced): the
  DeepSeek-R1 instruction for maths ("reason step by step … within \\boxed{}"), the
  simple-evals/lighteval instruction for multiple choice ("the last line … 'Answer: $LETTER'");
* its **extraction** (:meth:`BenchmarkSource.extract`), applied to the *answer part* of a
  completion, after the reasoning has been split off; it returns ``None`` when no answer can be
  found, which is counted and scored as wrong, never guessed from the unfinished thinking;
* its **metric** (:attr:`BenchmarkSource.metric`, ``pass@1`` averaged over ``n`` samples).

User tasks come from any dataset in the trace schema (or any table with a problem and a gold
answer column) through :func:`user_task`.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit import answers

if TYPE_CHECKING:
    import datasets

log = logging.getLogger(__name__)

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
    answer_type: str = "math"  # a toolkit.answers kind: "math", "gsm8k", "choice", "text"
    #: Turns a raw row into ``{"problem", "gold_answer", **extra}``; default reads the two fields.
    row_parser: Callable[[dict[str, Any], int], dict[str, Any]] | None = field(
        default=None, compare=False
    )
    #: The user turn; ``{problem}`` is replaced. ``None``: the default for ``answer_type``.
    prompt_template: str | None = None
    #: The headline metric written to results and model cards.
    metric: str = "pass@1"
    #: A display name for tables and cards (``None``: derived from ``name``).
    pretty_name: str | None = None
    #: Keep only the first row per value of this column (schema datasets hold several traces
    #: per problem: ``problem_id``).
    dedupe_field: str | None = None
    #: Skip (and count) rows without a problem or gold answer instead of scoring them as wrong;
    #: only user tasks do this, the published benchmarks must load complete.
    skip_unanswered: bool = False

    @property
    def prompt(self) -> str:
        """The prompt template actually used (explicit in results.json)."""
        return self.prompt_template or DEFAULT_PROMPTS[self.answer_type]

    @property
    def display_name(self) -> str:
        return self.pretty_name or PRETTY_NAMES.get(self.name, self.name)

    @property
    def extraction(self) -> str:
        """A one-line description of the extraction rule (explicit in results.json)."""
        return answers.RULE_SUMMARIES[self.answer_type]

    def build_prompt(self, problem: str) -> str:
        """The user message for one problem (plain replacement: problems may contain braces)."""
        return self.prompt.replace("{problem}", problem)

    def extract(self, answer_text: str | None) -> str | None:
        """The final answer found in the *answer part* of a completion, or ``None``.

        Call it on :attr:`toolkit.thinking.ThinkingSplit.answer`, never on the raw completion:
        a number in the middle of the reasoning is not the model's answer. The rules are
        :func:`toolkit.answers.extract`'s, the same as ``toolkit verify``'s.
        """
        return answers.extract(answer_text, self.answer_type).answer

    def describe(self) -> dict[str, Any]:
        """What results.json records about the task's data, prompt, extraction and metric."""
        return {
            "name": self.name,
            "pretty_name": self.display_name,
            "hub_id": self.hub_id,
            "config": self.config,
            "split": self.split,
            "revision": self.revision,
            "answer_type": self.answer_type,
            "domain": self.domain,
            "prompt_template": self.prompt,
            "extraction": self.extraction,
            "metric": self.metric,
        }

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
        from toolkit.io import load_table  # datasets is slow to import: only when loading

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
        missing = [f for f in (self.problem_field, self.answer_field) if f not in raw.column_names]
        if missing and self.row_parser is None:
            raise ValueError(
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


MATH_PROMPT = "{problem}\n\nPlease reason step by step, and put your final answer within \\boxed{}."
CHOICE_PROMPT = (
    "Answer the following multiple choice question. The last line of your response should be of "
    "the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. Think "
    "step by step before answering.\n\n{problem}"
)
TEXT_PROMPT = (
    "{problem}\n\nThink step by step, then give your final answer on a last line 'Answer: ...'."
)
DEFAULT_PROMPTS = {
    "math": MATH_PROMPT,
    "gsm8k": MATH_PROMPT,
    "choice": CHOICE_PROMPT,
    "text": TEXT_PROMPT,
}
PRETTY_NAMES = {
    "gsm8k": "GSM8K",
    "math500": "MATH-500",
    "aime24": "AIME 2024",
    "aime25": "AIME 2025",
    "gpqa_diamond": "GPQA-Diamond",
}


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


def get_benchmark(name: str) -> BenchmarkSource:
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise KeyError(
            f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))}"
        ) from None


def user_task(
    name: str,
    source: str | os.PathLike[str],
    *,
    problem_field: str = "problem",
    answer_field: str = "gold_answer",
    answer_type: str = "math",
    split: str = "test",
    config: str | None = None,
    revision: str | None = None,
    prompt_template: str | None = None,
    dedupe_field: str | None = "problem_id",
    register: bool = True,
) -> BenchmarkSource:
    """A task from any table with a problem and a gold answer: by default a dataset in the trace
    schema (``problem``, ``gold_answer``, one problem per ``problem_id``), local or on the Hub.

    Rows without a problem or gold answer are skipped with a count (a held-out split of generated
    traces may contain unverifiable problems); everything else is scored like a benchmark.
    """
    if answer_type not in answers.KINDS:
        raise ValueError(
            f"task {name!r}: unknown answer_type {answer_type!r}; "
            f"use one of {', '.join(answers.KINDS)}"
        )
    if prompt_template is not None and "{problem}" not in prompt_template:
        raise ValueError(f"task {name!r}: prompt_template must contain '{{problem}}'")
    task = BenchmarkSource(
        name,
        os.fspath(source),
        split,
        problem_field,
        answer_field,
        config=config,
        revision=revision,
        answer_type=answer_type,
        prompt_template=prompt_template,
        dedupe_field=dedupe_field,
        skip_unanswered=True,
        pretty_name=name,
    )
    if register:
        register_benchmark(task)
    return task


def resolve_task(spec: str) -> BenchmarkSource:
    """A registered task name, or a dataset (local path or ``org/name``) used as a user task named
    after the file or repository."""
    if spec in BENCHMARKS:
        return BENCHMARKS[spec]
    path = Path(spec)
    if path.exists():
        return user_task(path.stem if path.is_file() else path.name, path, register=False)
    if spec.count("/") == 1 and not spec.startswith((".", "/")):
        return user_task(spec.split("/")[-1], spec, register=False)
    raise KeyError(
        f"unknown task {spec!r}: not a registered task ({', '.join(sorted(BENCHMARKS))}), "
        "an existing file or directory, or a Hub dataset id (org/name)"
    )
