"""Evaluation tasks: a benchmark's data (:mod:`toolkit.benchmarks`) plus how it is scored.

The data side (Hub id, revision, local-file resolution, row parsing) lives in the kernel module
:mod:`toolkit.benchmarks`, shared with decontamination. A :class:`Task` adds what only evaluation
needs, explicitly and in the results file:

* its **prompt** (:attr:`Task.prompt_template`, ``{problem}`` is replaced): the DeepSeek-R1
  instruction for maths ("reason step by step … within \\boxed{}"), the simple-evals/lighteval
  instruction for multiple choice ("the last line … 'Answer: $LETTER'");
* its **extraction** (:meth:`Task.extract`), applied to the *answer part* of a completion, after
  the reasoning has been split off; it returns ``None`` when no answer can be found, which is
  counted and scored as wrong, never guessed from the unfinished thinking;
* its **metric** (:attr:`Task.metric`, ``pass@1`` averaged over ``n`` samples).

User tasks come from any dataset in the trace schema (or any table with a problem and a gold
answer column) through :func:`user_task`.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit import answers
from toolkit.benchmarks import (
    BENCHMARKS,
    UnknownBenchmarkError,
    register_benchmark,
)
from toolkit.benchmarks import BenchmarkSource as DataSource
from toolkit.benchmarks import get_benchmark as get_data_source


@dataclass(frozen=True)
class Task(DataSource):
    """A benchmark as evaluation sees it: its data, plus prompt, extraction and metric."""

    #: The user turn; ``{problem}`` is replaced. ``None``: the default for ``answer_type``.
    prompt_template: str | None = None
    #: The headline metric written to results and model cards.
    metric: str = "pass@1"

    @classmethod
    def from_source(cls, source: DataSource) -> Task:
        """The evaluation view of a registered data source (default prompt and metric)."""
        if isinstance(source, Task):
            return source
        values = {f.name: getattr(source, f.name) for f in dataclasses.fields(DataSource)}
        return cls(**values)

    @property
    def prompt(self) -> str:
        """The prompt template actually used (explicit in results.json)."""
        return self.prompt_template or DEFAULT_PROMPTS[self.answer_type]

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
            **self.describe_data(),
            "prompt_template": self.prompt,
            "extraction": self.extraction,
            "metric": self.metric,
        }


#: Evaluation's name for a task (runner and adapters take ``BenchmarkSource`` objects).
BenchmarkSource = Task


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


def get_benchmark(name: str) -> Task:
    """The registered benchmark ``name`` as an evaluation task."""
    return Task.from_source(get_data_source(name))


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
) -> Task:
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
    task = Task(
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


def resolve_task(spec: str | DataSource) -> Task:
    """A registered task name, or a dataset (local path or ``org/name``) used as a user task named
    after the file or repository."""
    if isinstance(spec, DataSource):
        return Task.from_source(spec)
    if spec in BENCHMARKS:
        return Task.from_source(BENCHMARKS[spec])
    path = Path(spec)
    if path.exists():
        return user_task(path.stem if path.is_file() else path.name, path, register=False)
    if spec.count("/") == 1 and not spec.startswith((".", "/")):
        return user_task(spec.split("/")[-1], spec, register=False)
    raise UnknownBenchmarkError(
        f"unknown task {spec!r}: not a registered task ({', '.join(sorted(BENCHMARKS))}), "
        "an existing file or directory, or a Hub dataset id (org/name)"
    )
