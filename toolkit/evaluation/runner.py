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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit import answers
from toolkit.backends import Messages, Model, make_model
from toolkit.errors import IncompleteError, UsageError
from toolkit.evaluation.sampling import STATE_DIR, EvalConfig
from toolkit.evaluation.sampling import sample as sample_completions
from toolkit.evaluation.scoring import ScoredSample, grade_samples, score_completions, task_metrics
from toolkit.evaluation.tasks import BenchmarkSource, resolve_task

log = logging.getLogger(__name__)

RESULTS_SCHEMA_VERSION = 1


@dataclass
class EvalResults:
    """What :func:`evaluate` returns: the results.json content and the per-sample details."""

    results: dict[str, Any]
    details: list[ScoredSample] = field(repr=False)
    results_path: Path | None = None
    details_path: Path | None = None
    #: set when samples are still missing after their retries (a re-run resumes)
    incomplete: IncompleteError | None = None

    def score(self, task: str, metric: str | None = None) -> float:
        """The value of ``metric`` (default: the task's headline metric) for ``task``."""
        entry = self.results["tasks"][task]
        return entry["metrics"][metric or entry["metric"]]["value"]


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
    model: str | os.PathLike[str] | Model,
    tasks: Sequence[str | BenchmarkSource] | str = ("math500",),
    *,
    config: EvalConfig | None = None,
    backend: str | Model = "transformers",
    base_url: str | Sequence[str] | None = None,
    model_options: dict[str, Any] | None = None,
    data_files: dict[str, str | os.PathLike[str]] | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    prefilled_thinking: bool | None = None,
    **options: Any,
) -> EvalResults:
    """Evaluate ``model`` on ``tasks`` with an explicit sampling protocol.

    Args:
        model: a local checkpoint directory, Hub id, store id or alias (``transformers``), the
            served model name (``openai``/``ollama``), or a ready :class:`~toolkit.backends.Model`.
        tasks: registered task names (``gsm8k``, ``math500``, ``aime24``, ``aime25``,
            ``gpqa_diamond``, user-registered ones), :class:`BenchmarkSource` objects, or
            datasets (path / ``org/name``) in the trace schema; a comma-separated string works too.
        config: an :class:`EvalConfig`, or its fields as keyword ``options``: ``n`` (pass@1 is
            averaged over them; pass@k and maj@n reported), ``limit``, ``max_new_tokens``
            (default 32768; 4096 for a local model on CPU — the report shows how many outputs
            the limit truncated), ``temperature``/``top_p``/``greedy``/``seed`` (R1 defaults;
            ``greedy`` forces ``n=1``), ``system_prompt`` (R1 recommends none),
            ``concurrency``, ``requests_per_minute``, ``max_retries``, ``request_timeout``,
            ``progress``, ``check``.
        backend, base_url, model_options: how to reach ``model`` when it is a name
            (:func:`toolkit.backends.make_model`; ``batch_size``, ``device``, ``api_key_env``…).
        data_files: ``{task: local file}`` overrides (offline use).
        output_dir: where ``results.json``, ``details.parquet`` and the resumable sampling state
            (``state/``) go. Re-running with the same directory resumes: finished samples are
            kept, failed ones asked again.
        prefilled_thinking: whether the prompt template opens ``<think>`` itself; detected from
            the chat template for local models, from the model name for servers.

    Samples that still failed after their retries are reported (``missing_samples`` in
    results.json, and :class:`~toolkit.errors.IncompleteError` from the CLI), never silently
    scored: problems with missing samples are left out of the metrics until a re-run fills them.
    """
    options = dict(options)
    legacy = {"show_progress": "progress", "batch_size": None, "backend_options": None}
    model_options = dict(model_options or {})
    if "backend_options" in options:
        model_options.update(options.pop("backend_options") or {})
    if "batch_size" in options:
        model_options.setdefault("batch_size", options.pop("batch_size"))
    for old, new in legacy.items():
        if old in options and new:
            options[new] = options.pop(old)
    if config is None:
        if isinstance(tasks, str):
            options.setdefault("tasks", tasks)
        try:
            config = EvalConfig(**options)
        except TypeError as error:
            raise UsageError(f"evaluate(): {error}") from None
    elif options:
        raise UsageError("pass either config= or keyword options, not both")
    if isinstance(tasks, str):
        tasks = [t.strip() for t in tasks.split(",") if t.strip()]
    if not tasks:
        raise UsageError("no tasks given")
    if config.greedy and config.n > 1:
        log.warning("greedy decoding gives identical samples: using n=1 instead of n=%d", config.n)
    n = 1 if config.greedy else config.n
    task_objects = [t if isinstance(t, BenchmarkSource) else resolve_task(t) for t in tasks]
    names = [t.name for t in task_objects]
    if len(set(names)) < len(names):
        twice = sorted({x for x in names if names.count(x) > 1})
        raise UsageError(f"task(s) listed twice: {', '.join(twice)}")
    files = {k: os.fspath(v) for k, v in {**config.data_files(), **(data_files or {})}.items()}
    unknown = set(files) - set(names)
    if unknown:
        raise UsageError(
            f"data files given for task(s) not being evaluated: {', '.join(sorted(unknown))}"
        )

    # Data first: a missing benchmark file should fail before minutes of model loading.
    loaded: list[tuple[BenchmarkSource, list[dict[str, Any]]]] = []
    for task in task_objects:
        rows = task.load(files.get(task.name), limit=config.limit)
        if not rows:
            raise UsageError(f"task {task.name}: no problems to evaluate")
        loaded.append((task, rows))

    if not isinstance(backend, str):  # a ready Model passed as the backend
        engine: Model = backend
    elif isinstance(model, str | os.PathLike):
        engine = make_model(
            backend,
            os.fspath(model),
            base_urls=base_url,
            prefilled_thinking=prefilled_thinking if backend != "transformers" else None,
            **model_options,
        )
    else:
        engine = model

    chats: list[Messages] = []
    spans: list[tuple[int, int]] = []
    for task, rows in loaded:
        start = len(chats)
        for row in rows:
            chat: Messages = (
                [{"role": "system", "content": config.system_prompt}]
                if config.system_prompt
                else []
            )
            chat.append({"role": "user", "content": task.build_prompt(row["problem"])})
            chats.append(chat)
        spans.append((start, len(chats)))

    params = config.params(engine)
    log.info(
        "evaluating %s on %s: %d problems × n=%d, max_new_tokens=%d, %s",
        engine.model,
        ", ".join(t.name for t, _ in loaded),
        len(chats),
        n,
        params.max_new_tokens,
        "greedy" if params.greedy else f"temperature={params.temperature}, top_p={params.top_p}",
    )
    state_dir = Path(output_dir) / STATE_DIR if output_dir is not None else None
    identity = {
        "backend": engine.backend,
        "model": engine.model,
        "system_prompt": config.system_prompt,
    }
    completions, run = sample_completions(
        engine, chats, config, identity=identity, state_dir=state_dir
    )

    if prefilled_thinking is None:
        detected = [engine.prefills_thinking(chat) for chat in chats]
        prefill_flags = [bool(flag) for flag in detected]
    else:
        prefill_flags = [bool(prefilled_thinking)] * len(chats)
    count_tokens = getattr(engine, "count_tokens", None)
    token_count_method = "model tokenizer" if count_tokens else "approx-words"

    details: list[ScoredSample] = []
    per_task: list[list[ScoredSample]] = []
    missing_by_task: dict[str, int] = {}
    for (task, rows), (start, _end) in zip(loaded, spans, strict=True):
        complete_rows, complete_prompts, complete_completions, flags = [], [], [], []
        missing = 0
        for offset, row in enumerate(rows):
            row_completions = completions[start + offset]
            if any(c is None for c in row_completions):
                missing += sum(c is None for c in row_completions)
                continue
            complete_rows.append(row)
            complete_prompts.append(chats[start + offset][-1]["content"])
            complete_completions.append(row_completions)
            flags.append(prefill_flags[start + offset])
        missing_by_task[task.name] = missing
        samples = score_completions(
            task,
            complete_rows,
            complete_prompts,
            complete_completions,
            prefilled=flags,
            count_tokens=count_tokens or _approx_tokens,
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
            "dataset": _dataset_identity(task, rows, files.get(task.name)),
            **(task_metrics(samples, n) if samples else _no_metrics(n)),
            "limit": config.limit,
            "missing_samples": missing_by_task[task.name],
        }
        task_entries[task.name] = entry

    from toolkit.evaluation.results import flat_results

    model_info = _model_info(engine)
    results: dict[str, Any] = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "toolkit_version": _toolkit_version(),
        "model": model_info,
        "protocol": {
            "temperature": 0.0 if params.greedy else params.temperature,
            "top_p": 1.0 if params.greedy else params.top_p,
            "max_new_tokens": params.max_new_tokens,
            "greedy": params.greedy,
            "seed": config.seed,
            "top_k": None,
            "n": n,
            "system_prompt": config.system_prompt,
            # Whether prompts opened <think> (detected from the chat template unless given).
            "prefilled_thinking": any(prefill_flags),
            "answer_extraction": "after the reasoning (toolkit.thinking.split_thinking); "
            "unclosed reasoning = no answer; rules: toolkit.answers (grader.rules)",
            "grader": answers.describe(),
            "token_count_method": token_count_method,
        },
        "run": {
            "samples_wanted": run.samples_wanted,
            "missing_samples": run.missing,
            "complete": run.missing == 0,
            "requests": run.requests,
            "retries": run.retries,
            "failed_this_run": run.failed,
        },
        "tasks": task_entries,
    }
    results["results"] = flat_results(results)
    evaluation = EvalResults(results=results, details=details)
    for line in summary_lines(results):
        log.info(line)
    if output_dir is not None:
        from toolkit.evaluation.results import write_results

        evaluation.results_path, evaluation.details_path = write_results(
            results, details, output_dir
        )
        log.info("wrote %s and %s", evaluation.results_path, evaluation.details_path)
    if run.missing:
        message = (
            f"{run.missing} of {run.samples_wanted} samples failed after their retries; "
            "problems with missing samples are left out of the metrics"
        )
        log.warning(message)
        evaluation.incomplete = IncompleteError(
            message,
            hint="re-run the same command to retry only the missing samples"
            + (f" (errors: {state_dir}/errors.jsonl)" if state_dir else ""),
            result=evaluation,
        )
    return evaluation


def _approx_tokens(text: str) -> int:
    """Words and punctuation marks: the token count of a server without a tokenizer (an
    approximation recorded as such in results.json)."""
    import re

    return len(re.findall(r"\w+|[^\w\s]", text)) if text else 0


def _no_metrics(n: int) -> dict[str, Any]:
    return {"metrics": {}, "num_problems": 0, "num_samples": 0, "n": n, "reasoning": {}}


def _model_info(model: Model) -> dict[str, Any]:
    """results.json's model block: id, path and revision whatever the backend."""
    described = dict(model.describe())
    described.setdefault("id", described.get("model"))
    described.setdefault("path", None)
    described.setdefault("revision", None)
    return described


def summary_lines(results: dict[str, Any]) -> list[str]:
    """One line per task: the headline metric with its standard error and the token limit."""
    lines = []
    max_new = results["protocol"]["max_new_tokens"]
    for name, entry in results["tasks"].items():
        metric = entry["metric"]
        score = entry["metrics"].get(metric)
        missing = entry.get("missing_samples") or 0
        if score is None:
            lines.append(f"{name}: no problem has all its samples yet ({missing} missing)")
            continue
        lines.append(
            f"{name}: {metric} = {100 * score['value']:.1f} ± {100 * score['stderr']:.1f} "
            f"(n={entry['n']}, {entry['num_problems']} problems, max_new_tokens={max_new}, "
            f"truncated {100 * entry['reasoning']['share_truncated']:.0f}%, "
            f"no answer {100 * entry['reasoning']['share_no_answer']:.0f}%"
            + (f", {missing} samples missing" if missing else "")
            + ")"
        )
    return lines


def _toolkit_version() -> str:
    from toolkit import __version__

    return __version__
