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
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.benchmarks import (
    BENCHMARKS,
    UnknownBenchmarkError,
    register_benchmark,
)
from toolkit.benchmarks import BenchmarkSource as DataSource
from toolkit.benchmarks import get_benchmark as get_data_source
from toolkit.thinking import extract_boxed


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
        return EXTRACTION_RULES[self.answer_type]

    def build_prompt(self, problem: str) -> str:
        """The user message for one problem (plain replacement: problems may contain braces)."""
        return self.prompt.replace("{problem}", problem)

    def extract(self, answer_text: str | None) -> str | None:
        """The final answer found in the *answer part* of a completion, or ``None``.

        Call it on :attr:`toolkit.thinking.ThinkingSplit.answer`, never on the raw completion:
        a number in the middle of the reasoning is not the model's answer.
        """
        return EXTRACTORS[self.answer_type](answer_text or "")

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
DEFAULT_PROMPTS = {"math": MATH_PROMPT, "gsm8k": MATH_PROMPT, "choice": CHOICE_PROMPT}
EXTRACTION_RULES = {
    "math": "last \\boxed{} in the answer part, else 'final answer is X'; none -> no answer",
    "gsm8k": "last \\boxed{} number, else '#### N', else 'answer is N', else the last number "
    "of the answer part; commas and $ removed",
    "choice": "last 'Answer: X', else \\boxed{X}, else 'answer is (X)', else a lone letter",
}

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_FINAL_ANSWER = re.compile(r"final answer(?: is)?\s*[:=]?\s*(.+)", re.IGNORECASE)
_ANSWER_IS = re.compile(r"answer(?: is)?\s*[:=]?\s*(.+)", re.IGNORECASE)
_HASHES = re.compile(r"####\s*(.+)")
# The word "answer" in any case, the letter in upper case only ("the answer is a ..." is no letter).
_CHOICE_LINE = re.compile(r"(?i:answer)\s*(?:(?i:is)\s*)?[:=]?\s*\**\s*\(?\$?([A-J])\b")
_CHOICE_ALONE = re.compile(r"^\s*\**\(?([A-J])\)?[.)]?\**\s*$")
_BOXED_LETTER = re.compile(r"^\(?(?:\\text(?:bf)?\{)?\(?([A-J])\)?\}?\)?$")


def _clean_inline(text: str) -> str:
    """Trim the decoration around an inline final answer: ``$…$``, bold, a trailing period."""
    text = text.strip().split("\n", 1)[0].strip()
    text = text.strip("*").strip()
    if text.startswith("$") and text.count("$") >= 2:
        text = text[1 : text.index("$", 1)]
    return text.strip().rstrip(".").strip()


def extract_math(answer_text: str) -> str | None:
    """MATH-500 / AIME: the last ``\\boxed{}``, else a ``final answer is X`` line."""
    boxed = extract_boxed(answer_text)
    if boxed:
        return boxed
    matches = _FINAL_ANSWER.findall(answer_text)
    if matches:
        candidate = extract_boxed(matches[-1]) or _clean_inline(matches[-1])
        return candidate or None
    return None


def _normalize_number(value: str) -> str:
    value = value.replace(",", "")
    if "." in value:
        value = value.rstrip("0").rstrip(".") or "0"
    return value


def _numbers(text: str) -> list[str]:
    return _NUMBER.findall(text.replace("\\!", "").replace("{,}", ","))


def extract_gsm8k(answer_text: str) -> str | None:
    """GSM8K: a number (commas, ``$`` and units dropped), from the most explicit marker found.

    A boxed answer holding one number gives that number; a boxed expression (``\\frac{7}{2}``)
    is returned as is for the grader. After ``####`` or "answer is" the *first* number counts
    ("the answer is 18 because 9 eggs…"); without any marker, the last number of the answer part.
    """
    boxed = extract_boxed(answer_text)
    if boxed:
        numbers = _numbers(boxed)
        return _normalize_number(numbers[0]) if len(numbers) == 1 else boxed
    for pattern in (_HASHES, _ANSWER_IS):
        for match in reversed(pattern.findall(answer_text)):
            numbers = _numbers(match.split("\n", 1)[0])
            if numbers:
                return _normalize_number(numbers[0])
    numbers = _numbers(answer_text)
    return _normalize_number(numbers[-1]) if numbers else None


def extract_choice(answer_text: str) -> str | None:
    """Multiple choice: the option letter the model committed to, or ``None``."""
    matches = _CHOICE_LINE.findall(answer_text)
    if matches:
        return matches[-1]
    boxed = extract_boxed(answer_text)
    if boxed:
        letter = _BOXED_LETTER.match(boxed.strip())
        if letter:
            return letter.group(1).upper()
    lines = [line for line in answer_text.strip().splitlines() if line.strip()]
    if lines:
        alone = _CHOICE_ALONE.match(lines[-1])
        if alone:
            return alone.group(1).upper()
    return None


EXTRACTORS: dict[str, Callable[[str], str | None]] = {
    "math": extract_math,
    "gsm8k": extract_gsm8k,
    "choice": extract_choice,
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
    if answer_type not in EXTRACTORS:
        raise ValueError(
            f"task {name!r}: unknown answer_type {answer_type!r}; use one of {', '.join(EXTRACTORS)}"
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
