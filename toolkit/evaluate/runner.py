"""The evaluation loop: prompts → ``n`` completions → split reasoning → extract → grade → metrics.

The protocol is explicit and lands in results.json verbatim: sampling parameters, the token
limit, the seed, each task's prompt template and extraction rule, the model and data revisions.
Answers are extracted from the *answer part* of a completion, after
:func:`toolkit.thinking.split_thinking` has removed the reasoning; a completion whose reasoning
never closed (typically cut off by ``max_new_tokens``) has no answer — it is counted as such and
scored as wrong, never rescued by grabbing a number from the middle of the thinking. Extraction and
grading are :mod:`toolkit.answers`, the same implementation (rules, graders, worker pool) that
``toolkit verify`` and curation use; each sample's verdict reason lands in details.parquet and the
grader's version and rules in results.json.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit import answers
from toolkit.answers import Verdict
from toolkit.evaluate.backends import (
    Backend,
    Completion,
    Messages,
    SamplingParams,
    make_backend,
)
from toolkit.evaluate.metrics import score_task
from toolkit.evaluate.tasks import BenchmarkSource, resolve_task
from toolkit.thinking import split_thinking

log = logging.getLogger(__name__)

RESULTS_SCHEMA_VERSION = 1


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


@dataclass
class EvalResults:
    """What :func:`evaluate` returns: the results.json content and the per-sample details."""

    results: dict[str, Any]
    details: list[ScoredSample] = field(repr=False)
    results_path: Path | None = None
    details_path: Path | None = None

    def score(self, task: str, metric: str | None = None) -> float:
        """The value of ``metric`` (default: the task's headline metric) for ``task``."""
        entry = self.results["tasks"][task]
        return entry["metrics"][metric or entry["metric"]]["value"]


def split_and_extract(
    task: BenchmarkSource,
    completion: Completion,
    *,
    prefilled: bool,
) -> tuple[str | None, str, bool, str | None]:
    """``(reasoning, answer_part, reasoning_complete, extracted)`` for one completion."""
    parts = split_thinking(completion.text, reasoning=completion.reasoning, prefilled=prefilled)
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
                    completion=completion.text,
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


def _dataset_identity(
    task: BenchmarkSource, rows: Sequence[dict[str, Any]], data_file: str | None
) -> dict[str, Any]:
    """Where the task's data came from, and a content hash that identifies it whatever the source
    (a local copy and the Hub revision it mirrors hash the same)."""
    local = task.resolve_local(data_file)
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row["problem"].encode())
        digest.update(b"\0")
        digest.update(str(row["gold_answer"]).encode())
        digest.update(b"\1")
    return {
        "id": task.hub_id,
        "config": task.config,
        "split": task.split,
        "revision": task.revision,
        "local_file": str(local.resolve()) if local else None,
        "content_sha256": digest.hexdigest(),
    }


def evaluate(
    model: str | os.PathLike[str],
    tasks: Sequence[str | BenchmarkSource] | str = ("math500",),
    *,
    n: int = 1,
    limit: int | None = None,
    backend: str | Backend = "transformers",
    max_new_tokens: int = 32768,
    temperature: float = 0.6,
    top_p: float = 0.95,
    greedy: bool = False,
    seed: int = 0,
    batch_size: int = 16,
    data_files: dict[str, str | os.PathLike[str]] | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    system_prompt: str | None = None,
    prefilled_thinking: bool | None = None,
    backend_options: dict[str, Any] | None = None,
    show_progress: bool = True,
) -> EvalResults:
    """Evaluate ``model`` on ``tasks`` with an explicit sampling protocol.

    Args:
        model: a local checkpoint directory or Hub id (transformers), or the served model name
            (``openai`` / ``ollama`` backends).
        tasks: registered task names (``gsm8k``, ``math500``, ``aime24``, ``aime25``,
            ``gpqa_diamond``, user-registered ones), :class:`BenchmarkSource` objects, or
            datasets (path / ``org/name``) in the trace schema; a comma-separated string works too.
        n: samples per problem; pass@1 is averaged over them, pass@k and maj@n reported.
        limit: evaluate only the first ``limit`` problems of each task (smoke runs).
        backend: ``"transformers"``, ``"openai"``, ``"ollama"`` or a ready backend object.
        max_new_tokens: the generation limit (reasoning + answer). Too small a limit truncates
            the reasoning and zeroes the score; the report shows how many outputs were truncated.
        temperature, top_p, greedy, seed: the sampling protocol (R1 defaults; ``greedy`` forces
            ``n=1``, since greedy samples are identical).
        batch_size: rows per forward pass for the transformers backend.
        data_files: ``{task: local file}`` overrides (offline use).
        output_dir: where to write ``results.json`` and ``details.parquet``.
        system_prompt: an optional system message (R1 recommends none).
        prefilled_thinking: server backends cannot see the prompt template; set ``True`` when the
            served template opens ``<think>`` itself. Local models are inspected.
        backend_options: extra backend arguments (``base_url``, ``host``, ``tokenizer``,
            ``concurrency``, ``device``, ``dtype``, ``revision``).
    """
    if isinstance(tasks, str):
        tasks = [t.strip() for t in tasks.split(",") if t.strip()]
    if not tasks:
        raise ValueError("no tasks given")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if greedy and n > 1:
        log.warning("greedy decoding gives identical samples: using n=1 instead of n=%d", n)
        n = 1
    params = SamplingParams(
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        greedy=greedy,
        seed=seed,
    )
    task_objects = [t if isinstance(t, BenchmarkSource) else resolve_task(t) for t in tasks]
    names = [t.name for t in task_objects]
    if len(set(names)) < len(names):
        raise ValueError(
            f"task(s) listed twice: {', '.join(sorted({x for x in names if names.count(x) > 1}))}"
        )
    data_files = {k: os.fspath(v) for k, v in (data_files or {}).items()}
    unknown = set(data_files) - {t.name for t in task_objects}
    if unknown:
        raise ValueError(
            f"data files given for task(s) not being evaluated: {', '.join(sorted(unknown))}"
        )

    # Data first: a missing benchmark file should fail before minutes of model loading.
    loaded: list[tuple[BenchmarkSource, list[dict[str, Any]]]] = []
    for task in task_objects:
        rows = task.load(data_files.get(task.name), limit=limit)
        if not rows:
            raise ValueError(f"task {task.name}: no problems to evaluate")
        loaded.append((task, rows))

    if isinstance(backend, str):
        options = dict(backend_options or {})
        if backend == "transformers":
            options.setdefault("batch_size", batch_size)
        else:
            options.setdefault("prefilled_thinking", bool(prefilled_thinking))
        engine: Backend = make_backend(backend, model, **options)
    else:
        engine = backend

    chats: list[Messages] = []
    spans: list[tuple[int, int]] = []
    for task, rows in loaded:
        start = len(chats)
        for row in rows:
            chat: Messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
            chat.append({"role": "user", "content": task.build_prompt(row["problem"])})
            chats.append(chat)
        spans.append((start, len(chats)))

    total = len(chats) * n
    log.info(
        "evaluating %s on %s: %d problems × n=%d, max_new_tokens=%d, %s",
        engine.model_id,
        ", ".join(t.name for t, _ in loaded),
        len(chats),
        n,
        max_new_tokens,
        "greedy" if greedy else f"temperature={temperature}, top_p={top_p}",
    )
    from tqdm.auto import tqdm

    with tqdm(total=total, desc="generating", unit="sample", disable=not show_progress) as bar:
        completions = engine.generate(chats, n, params, progress=bar.update)

    details: list[ScoredSample] = []
    per_task: list[list[ScoredSample]] = []
    prefill_flags = (
        [engine.prefills_thinking(chat) for chat in chats]
        if prefilled_thinking is None
        else [bool(prefilled_thinking)] * len(chats)
    )
    for (task, rows), (start, end) in zip(loaded, spans, strict=True):
        task_chats = chats[start:end]
        samples = score_completions(
            task,
            rows,
            [chat[-1]["content"] for chat in task_chats],
            completions[start:end],
            prefilled=prefill_flags[start:end],
            count_tokens=engine.count_tokens,
            grade=False,
        )
        details.extend(samples)
        per_task.append(samples)
    # One grading batch for every task: the worker pool starts once.
    grade_samples(
        details,
        [
            task.answer_type
            for (task, _), samples in zip(loaded, per_task, strict=True)
            for _ in samples
        ],
    )
    task_entries: dict[str, Any] = {}
    for (task, rows), samples in zip(loaded, per_task, strict=True):
        entry = {
            **task.describe(),
            "dataset": _dataset_identity(task, rows, data_files.get(task.name)),
            **task_metrics(samples, n),
            "limit": limit,
        }
        task_entries[task.name] = entry

    from toolkit.evaluate.results import flat_results

    model_info = engine.describe()
    results: dict[str, Any] = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "toolkit_version": _toolkit_version(),
        "model": model_info,
        "protocol": {
            **params.to_dict(),
            "n": n,
            "system_prompt": system_prompt,
            # Whether prompts opened <think> (detected from the chat template unless given).
            "prefilled_thinking": any(prefill_flags),
            "answer_extraction": "after the reasoning (toolkit.thinking.split_thinking); "
            "unclosed reasoning = no answer; rules: toolkit.answers (grader.rules)",
            "grader": answers.describe(),
            "token_count_method": model_info.get("token_count_method", "model tokenizer"),
        },
        "tasks": task_entries,
    }
    results["results"] = flat_results(results)
    evaluation = EvalResults(results=results, details=details)
    for line in summary_lines(results):
        log.info(line)
    if output_dir is not None:
        from toolkit.evaluate.results import write_results

        evaluation.results_path, evaluation.details_path = write_results(
            results, details, output_dir
        )
        log.info("wrote %s and %s", evaluation.results_path, evaluation.details_path)
    return evaluation


def summary_lines(results: dict[str, Any]) -> list[str]:
    """One line per task: the headline metric with its standard error and the token limit."""
    lines = []
    max_new = results["protocol"]["max_new_tokens"]
    for name, entry in results["tasks"].items():
        metric = entry["metric"]
        score = entry["metrics"][metric]
        lines.append(
            f"{name}: {metric} = {100 * score['value']:.1f} ± {100 * score['stderr']:.1f} "
            f"(n={entry['n']}, {entry['num_problems']} problems, max_new_tokens={max_new}, "
            f"truncated {100 * entry['reasoning']['share_truncated']:.0f}%, "
            f"no answer {100 * entry['reasoning']['share_no_answer']:.0f}%)"
        )
    return lines


def _toolkit_version() -> str:
    from toolkit import __version__

    return __version__
