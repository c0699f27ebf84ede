"""Scoring completions: split the reasoning off, extract the final answer from the answer part,
grade it through :mod:`toolkit.answers`, and aggregate a task's metrics.

No generation happens here: recorded completions (the fixtures, a resumed run's state) are
scored exactly like fresh ones.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from toolkit.answers import Verdict
from toolkit.backends import Completion
from toolkit.evaluation.metrics import score_task
from toolkit.evaluation.tasks import BenchmarkSource
from toolkit.thinking import split_thinking


@dataclass
class ScoredSample:
    """One completion after splitting, extraction and grading (a row of details.parquet)."""

    task: str
    index: int
    sample: int
    prompt: str
    completion: str
    reasoning: str | None
    answer: str
    extracted: str | None
    gold: str
    correct: bool
    finish_reason: str
    completion_tokens: int | None
    thinking_tokens: int
    unclosed: bool
    truncated: bool
    no_answer: bool
    grade_error: str | None = None
    #: The verdict reason (toolkit.answers.REASONS): correct, wrong, no_answer, gold_unparseable…
    verdict: str | None = None


def split_and_extract(
    task: BenchmarkSource,
    completion: Completion,
    *,
    prefilled: bool,
) -> tuple[str | None, str, bool, str | None]:
    """``(reasoning, answer_part, reasoning_complete, extracted)`` for one completion."""
    parts = split_thinking(completion.content, reasoning=completion.reasoning, prefilled=prefilled)
    extracted = task.extract(parts.answer) if parts.reasoning_complete else None
    return parts.reasoning, parts.answer, parts.reasoning_complete, extracted


def grade_answers(
    answers: Sequence[str], golds: Sequence[str], answer_types: Sequence[str]
) -> list[Verdict]:
    """The verdict of each answer part, from :func:`toolkit.answers.verify_many`: the answer is
    extracted in the grading workers by the same rules as :meth:`BenchmarkSource.extract`, exactly
    as ``toolkit verify`` does, so both give the same verdict for the same text and gold.

    An ungradable gold answer is reported in the verdict (``gold_unparseable``…) and scored as
    wrong by :func:`grade_samples` (never as correct: a known failure of other evaluators).
    """
    from toolkit.answers import verify_many

    return verify_many(list(answers), list(golds), list(answer_types))


def score_completions(
    task: BenchmarkSource,
    rows: Sequence[dict[str, Any]],
    prompts: Sequence[str],
    completions: Sequence[Sequence[Completion]],
    *,
    prefilled: Sequence[bool] | bool = False,
    count_tokens: Any = None,
    grade: bool = True,
) -> list[ScoredSample]:
    """Split, extract and grade the completions of one task (no generation involved: this is
    what the recorded-completion fixtures test). ``grade=False`` leaves ``correct`` unset for
    :func:`grade_samples` to fill in, so that several tasks share one grading pool."""
    count = count_tokens or (lambda text: len(text.split()))
    flags = [prefilled] * len(rows) if isinstance(prefilled, bool) else list(prefilled)
    samples: list[ScoredSample] = []
    for row, prompt, row_completions, is_prefilled in zip(
        rows, prompts, completions, flags, strict=True
    ):
        for sample_index, completion in enumerate(row_completions):
            reasoning, answer, complete, extracted = split_and_extract(
                task, completion, prefilled=is_prefilled
            )
            samples.append(
                ScoredSample(
                    task=task.name,
                    index=int(row["index"]),
                    sample=sample_index,
                    prompt=prompt,
                    completion=completion.content,
                    reasoning=reasoning,
                    answer=answer,
                    extracted=extracted,
                    gold=str(row["gold_answer"]),
                    correct=False,
                    finish_reason=completion.finish_reason,
                    completion_tokens=completion.completion_tokens,
                    thinking_tokens=count(reasoning) if reasoning else 0,
                    unclosed=not complete,
                    truncated=completion.finish_reason == "length",
                    no_answer=extracted is None,
                )
            )
    if grade:
        grade_samples(samples, [task.answer_type] * len(samples))
    return samples


def grade_samples(samples: Sequence[ScoredSample], answer_types: Sequence[str]) -> None:
    """Fill in ``correct``, ``grade_error`` and ``verdict`` of the samples, in one grading batch.

    A sample whose reasoning never closed has an empty answer part, so it grades as
    ``no_answer`` (or as its gold's problem) without any extraction from the thinking.
    """
    verdicts = grade_answers(
        [s.answer if not s.unclosed else "" for s in samples],
        [s.gold for s in samples],
        answer_types,
    )
    for sample, verdict in zip(samples, verdicts, strict=True):
        sample.correct = bool(verdict.correct)
        sample.grade_error = None if sample.no_answer else verdict.error
        sample.verdict = verdict.reason


def task_metrics(samples: Sequence[ScoredSample], n: int) -> dict[str, Any]:
    """Metrics (with standard errors) and reasoning statistics for one task's samples."""
    by_problem: dict[int, list[ScoredSample]] = {}
    for sample in samples:
        by_problem.setdefault(sample.index, []).append(sample)
    ordered = [sorted(group, key=lambda s: s.sample) for _, group in sorted(by_problem.items())]
    scores = score_task(
        [[s.correct for s in group] for group in ordered],
        [[s.extracted for s in group] for group in ordered],
    )
    thinking = [s.thinking_tokens for s in samples]
    lengths = [s.completion_tokens for s in samples if s.completion_tokens is not None]
    total = len(samples)
    reasoning = {
        "mean_thinking_tokens": statistics.fmean(thinking) if thinking else 0.0,
        "median_thinking_tokens": statistics.median(thinking) if thinking else 0.0,
        "max_thinking_tokens": max(thinking) if thinking else 0,
        "mean_completion_tokens": statistics.fmean(lengths) if lengths else None,
        "share_with_reasoning": sum(s.reasoning is not None for s in samples) / total,
        "share_unclosed": sum(s.unclosed for s in samples) / total,
        "share_truncated": sum(s.truncated for s in samples) / total,
        "share_no_answer": sum(s.no_answer for s in samples) / total,
        "share_grade_errors": sum(s.grade_error is not None for s in samples) / total,
    }
    return {
        "metrics": {
            name: {"value": score.value, "stderr": score.stderr} for name, score in scores.items()
        },
        "num_problems": len(ordered),
        "num_samples": total,
        "n": n,
        "reasoning": reasoning,
    }


__all__ = [
    "ScoredSample",
    "grade_answers",
    "grade_samples",
    "score_completions",
    "split_and_extract",
    "task_metrics",
]
