"""The request engine shared by generation and evaluation: concurrent, rate-limited, retrying,
durable and resumable.

* **Concurrency**: ``concurrency`` workers keep that many requests in flight (optionally paced
  by requests/min and tokens/min token buckets). ``n`` samples per problem use the backend's
  native ``n`` when it has one, else one request per sample; a server that silently ignores
  ``n`` is detected and the rest of the run asks one sample at a time.
* **Retries**: the one :class:`~toolkit.backends.RetryPolicy` (exponential back-off, full
  jitter, ``Retry-After`` as a floor) for 429, 5xx, timeouts, resets and malformed bodies; each
  request has its own timeout. An error no retry can fix (bad key, unknown model) stops the run
  at once instead of burning the dataset through the retry budget.
* **Durability**: every finished sample is appended to the state directory
  (:mod:`toolkit.generation.state`) as it arrives; a re-run skips finished request keys and
  asks only for what is missing, so a ``kill -9`` at any moment loses nothing and duplicates
  nothing. Failures are recorded (redacted) and asked again by the next run.
* **Fail fast**: before the first request the backend's :meth:`~toolkit.backends.Model.check`
  runs, so a server that is down or lacks the model fails in seconds with the cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.backends import (
    ChatRequest,
    Completion,
    Messages,
    Model,
    SamplingParams,
)
from toolkit.errors import BackendError
from toolkit.generation.limits import RateLimiter
from toolkit.generation.problems import Problem
from toolkit.generation.settings import EngineSettings, RunSummary
from toolkit.generation.state import (
    ERRORS_FILE,
    MANIFEST_FILE,
    RESULTS_FILE,
    ResultWriter,
    check_identity,
    exclusive,
    prepare_state_dir,
    read_jsonl_tolerant,
    read_manifest,
    write_json_atomic,
)
from toolkit.redact import redact
from toolkit.schema import content_hash

logger = logging.getLogger(__name__)


@dataclass
class Work:
    """What one durable run asks: the problems, how to prompt them and what the samples are."""

    problems: list[Problem]
    samples: int
    params: SamplingParams
    messages_for: Callable[[Problem], Messages]
    key_for: Callable[[Problem, int], str]
    #: problem-level fields stored with each finished sample (text, gold, system prompt, …)
    line_extra: Callable[[Problem, Messages], dict[str, Any]] = lambda problem, messages: {}


async def run_durable(
    model: Model,
    work: Work,
    settings: EngineSettings,
    *,
    state_dir: Path | None,
    identity: dict[str, Any],
    manifest_extra: dict[str, Any] | None = None,
    summary: RunSummary | None = None,
    desc: str = "generate",
) -> tuple[dict[str, dict[str, Any]], RunSummary]:
    """Run ``work`` to completion (or until a fatal error) against ``model``.

    Returns every finished line for the wanted keys — from earlier runs and this one — and the
    summary. ``state_dir=None`` keeps everything in memory (no resume).
    """
    summary = summary or RunSummary()
    summary.problems = len(work.problems)
    summary.state_dir = "" if state_dir is None else str(state_dir)
    started = time.monotonic()
    done: dict[str, dict[str, Any]] = {}
    lock: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if state_dir is not None:
        prepare_state_dir(state_dir)
        lock = exclusive(state_dir)
    with lock:
        if state_dir is not None:
            manifest = read_manifest(state_dir)
            check_identity(state_dir, manifest.get("identity"), identity)
            rows, torn = read_jsonl_tolerant(
                state_dir / RESULTS_FILE, repair=True, require=("key",)
            )
            if torn:
                logger.warning("dropped %d incomplete line(s) from %s", torn, RESULTS_FILE)
            for row in rows:
                done.setdefault(row["key"], row)
            manifest.update(identity=identity, updated=time.time(), **(manifest_extra or {}))
            manifest.setdefault("created", time.time())
            write_json_atomic(state_dir / MANIFEST_FILE, manifest)

        pending: list[tuple[Problem, list[int]]] = []
        wanted: dict[str, Problem] = {}
        for problem in work.problems:
            missing = []
            for sample in range(work.samples):
                key = work.key_for(problem, sample)
                wanted[key] = problem
                if key not in done:
                    missing.append(sample)
            if missing:
                pending.append((problem, missing))
        summary.samples_wanted = len(wanted)
        summary.already_done = sum(1 for key in wanted if key in done)
        todo = summary.samples_wanted - summary.already_done
        if summary.already_done:
            logger.info(
                "resuming: %d of %d samples already done", summary.already_done, len(wanted)
            )

        engine = _Engine(model, work, settings, summary)
        writer = ResultWriter(state_dir) if state_dir is not None else None
        engine.writer = writer
        try:
            if todo and settings.check:
                await model.check()
            if settings.progress and todo:
                from tqdm.auto import tqdm

                engine.progress = tqdm(
                    total=todo, desc=f"{desc} {model.model}", unit="sample", smoothing=0.1
                )
            if todo:
                await engine.run(pending)
        finally:
            if engine.progress is not None:
                engine.progress.close()
            if writer is not None:
                writer.close()
            await model.aclose()
        summary.elapsed_s = time.monotonic() - started
        if state_dir is not None:
            manifest = read_manifest(state_dir)
            manifest.setdefault("runs", []).append(
                {k: v for k, v in summary.as_dict().items() if k not in ("state_dir", "output")}
                | {"finished": time.time()}
            )
            write_json_atomic(state_dir / MANIFEST_FILE, manifest)
    lines = {key: row for key, row in done.items() if key in wanted}
    for line in engine.records:
        lines.setdefault(line["key"], line)
    if engine.fatal is not None:
        raise BackendError(
            f"the model refused the run: {engine.fatal}",
            fatal=True,
            hint=engine.fatal.hint,
        )
    return lines, summary


@dataclass(slots=True)
class _Job:
    problem: Problem
    samples: list[int]
    attempt: int = 0


class _Engine:
    def __init__(
        self, model: Model, work: Work, settings: EngineSettings, summary: RunSummary
    ) -> None:
        self.model = model
        self.work = work
        self.settings = settings
        self.summary = summary
        self.writer: ResultWriter | None = None
        self.native_n = model.supports_native_n
        self.rng = random.Random()
        self.requests_limiter = (
            RateLimiter(settings.requests_per_minute, 1.0) if settings.requests_per_minute else None
        )
        self.tokens_limiter = (
            RateLimiter(settings.tokens_per_minute, 10.0) if settings.tokens_per_minute else None
        )
        self.retry_queue: list[_Job] = []
        self.fatal: BackendError | None = None
        self.in_flight = 0
        self.records: list[dict[str, Any]] = []  # this run's lines (no second pass over state)
        self.progress: Any = None
        self._last_postfix = 0.0

    def jobs(self, pending: list[tuple[Problem, list[int]]]) -> Iterator[_Job]:
        for problem, samples in pending:
            if self.native_n and len(samples) > 1:
                yield _Job(problem, samples)
            else:
                for sample in samples:
                    yield _Job(problem, [sample])

    async def run(self, pending: list[tuple[Problem, list[int]]]) -> None:
        source = self.jobs(pending)
        workers = [
            asyncio.create_task(self._worker(source)) for _ in range(self.settings.concurrency)
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()

    async def _worker(self, source: Iterator[_Job]) -> None:
        while self.fatal is None:
            job = self.retry_queue.pop() if self.retry_queue else next(source, None)
            if job is None:
                return
            await self._run_job(job)

    def _params(self, job: _Job) -> SamplingParams:
        params = self.work.params
        if params.seed is None:
            return params
        # A distinct, reproducible seed per sample: n requests with one seed would be n copies.
        derived = int(content_hash(str(params.seed), job.problem.key, str(job.samples[0]))[:8], 16)
        return params.with_seed(derived)

    async def _run_job(self, job: _Job) -> None:
        settings, retry = self.settings, self.settings.retry
        messages = self.work.messages_for(job.problem)
        params = self._params(job)
        request = ChatRequest(messages, n=len(job.samples), params=params, stream=settings.stream)
        estimate = 0.0
        while True:
            if self.requests_limiter is not None:
                await self.requests_limiter.acquire(1)
            if self.tokens_limiter is not None:
                prompt_estimate = sum(len(str(m.get("content", ""))) for m in messages) / 4
                estimate = await self.tokens_limiter.acquire(
                    prompt_estimate + params.max_new_tokens * request.n
                )
            self.in_flight += 1
            self.summary.requests += 1
            error: BackendError | None = None
            try:
                async with asyncio.timeout(settings.request_timeout):
                    completions = await self.model.complete(request)
            except TimeoutError:
                error = BackendError(
                    f"no answer within the {settings.request_timeout:g}s request timeout",
                    retryable=True,
                )
            except BackendError as caught:
                error = caught
            except Exception as caught:  # a backend bug: record it, do not kill the run
                logger.debug("backend raised", exc_info=True)
                error = BackendError(f"{type(caught).__name__}: {caught}", retryable=False)
            finally:
                self.in_flight -= 1
            if error is None:
                break
            kind = _error_kind(error)
            self.summary.errors_by_kind[kind] = self.summary.errors_by_kind.get(kind, 0) + 1
            if self.tokens_limiter is not None:
                self.tokens_limiter.adjust(-estimate)
            if error.fatal:
                self._record_errors(job, error)
                self.fatal = self.fatal or error
                return
            if not error.retryable or job.attempt >= retry.max_retries:
                self._record_errors(job, error)
                return
            delay = retry.delay(job.attempt, error.retry_after, self.rng)
            job.attempt += 1
            self.summary.retries += 1
            self._refresh_progress()
            await asyncio.sleep(delay)
        used = sum(c.completion_tokens or 0 for c in completions)
        prompt_tokens = next((c.prompt_tokens for c in completions if c.prompt_tokens), 0) or 0
        self.summary.prompt_tokens += prompt_tokens
        self.summary.completion_tokens += used
        if self.tokens_limiter is not None:
            self.tokens_limiter.adjust(prompt_tokens + used - estimate)
        for sample, completion in zip(job.samples, completions, strict=False):
            self._record_success(job.problem, sample, completion, messages)
        missing = job.samples[len(completions) :]
        if missing:
            if self.native_n and len(completions) <= 1 and len(job.samples) > 1:
                logger.warning(
                    "the server returned %d choice(s) for n=%d: it ignores `n`; sending one "
                    "request per sample from now on",
                    len(completions),
                    len(job.samples),
                )
                self.native_n = False
            for sample in missing:
                self.retry_queue.append(_Job(job.problem, [sample]))

    def _record_success(
        self, problem: Problem, sample: int, completion: Completion, messages: Messages
    ) -> None:
        line = {
            "key": self.work.key_for(problem, sample),
            "problem_index": problem.index,
            "sample": sample,
            "problem_key": problem.key,
            **self.work.line_extra(problem, messages),
            "completion": completion.as_dict(),
        }
        if self.writer is not None:
            self.writer.write(RESULTS_FILE, line)
        self.records.append(line)
        self.summary.completed += 1
        if self.progress is not None:
            self.progress.update(1)
            self._refresh_progress()

    def _record_errors(self, job: _Job, error: BackendError) -> None:
        message = redact(error)
        for sample in job.samples:
            entry = {
                "key": self.work.key_for(job.problem, sample),
                "problem_index": job.problem.index,
                "sample": sample,
                "error": message,
                "status": error.status,
                "attempts": job.attempt + 1,
                "time": time.time(),
            }
            if self.writer is not None:
                self.writer.write(ERRORS_FILE, entry)
            self.summary.failed += 1
        if self.progress is not None:
            self.progress.update(len(job.samples))
            self._refresh_progress()

    def _refresh_progress(self) -> None:
        now = time.monotonic()
        if self.progress is None or now - self._last_postfix < 0.5:
            return
        self._last_postfix = now
        summary = self.summary
        self.progress.set_postfix_str(
            f"running={self.in_flight} tok={summary.prompt_tokens + summary.completion_tokens:,} "
            f"err={summary.failed} retries={summary.retries}",
            refresh=False,
        )


def _error_kind(error: BackendError) -> str:
    if error.status is not None:
        return str(error.status)
    text = str(error).lower()
    if "timeout" in text or "timed out" in text:
        return "timeout"
    if "connection" in text:
        return "connection"
    return "other"


def run_event_loop(coro: Any, event_loop: str = "auto") -> Any:
    """Run ``coro`` to completion on uvloop when available (``"auto"``), else on asyncio.

    At hundreds of requests per second the event loop itself is a large share of the client's
    CPU; uvloop's libuv-based loop and transports roughly halve it.
    """
    if event_loop not in ("auto", "uvloop", "asyncio"):
        raise ValueError(f"event_loop must be auto, uvloop or asyncio, got {event_loop!r}")
    factory = None
    if event_loop != "asyncio":
        try:
            import uvloop

            factory = uvloop.new_event_loop
        except ImportError:
            if event_loop == "uvloop":
                raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)


__all__ = [
    "EngineSettings",
    "RateLimiter",
    "RunSummary",
    "Work",
    "run_durable",
    "run_event_loop",
]
