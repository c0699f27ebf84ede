"""Teacher trace generation: concurrent, rate-limited, retrying, crash-safe and resumable.

Seed recipes call the teacher in a sequential loop and lose everything when the job dies. Here:

* **Concurrency**: an asyncio pool of ``concurrency`` workers keeps that many requests in flight
  (optionally capped by requests/min and tokens/min token buckets). ``n`` samples per problem use
  the server's native ``n`` when it has one, else one request per sample.
* **Retries**: 429, 5xx, timeouts and connection resets are retried with exponential backoff and
  full jitter, honouring ``Retry-After``; each request has its own timeout. Errors that no retry
  can fix (bad key, unknown model) stop the run at once.
* **Crash safety**: every finished sample is appended as one JSON line to ``results.jsonl`` in
  the run's *state directory* and fsync'd by a single writer thread (group commit: one fsync per
  batch of lines, so durability does not cost a disk flush per request). The line carries a
  deterministic *request key* — hash of (problem key, sample index, model, template id, sampling
  params). A re-run reads the file (dropping a torn last line left by ``kill -9``), skips finished
  keys and asks only for what is missing: after a kill at any moment, the re-run ends with every
  (problem, sample) exactly once. Failures go to ``errors.jsonl`` and are retried by the next run.
  ``manifest.json`` (written atomically: temp file + rename) records the run identity, and a
  re-run with different model/template/params in the same state directory is refused.
* **Output**: schema records (:mod:`toolkit.schema`) with reasoning and answer split by
  :func:`toolkit.thinking.split_thinking`, and teacher, params, finish reason, usage, latency,
  sample index and template id in ``metadata``; deduplicated by key, ordered by (problem, sample).
* **Scale-out**: ``shard=(i, N)`` takes the i-th of N contiguous blocks of problems;
  :func:`merge_shards` joins the shards' outputs deterministically.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import datasets

from toolkit.answers import final_answer
from toolkit.prompts import PromptTemplate, get_template
from toolkit.schema import COLUMNS, FEATURES, TraceRecord, content_hash, loads_metadata
from toolkit.teachers import (
    SamplingParams,
    Teacher,
    TeacherError,
    TeacherRequest,
    TeacherResponse,
    make_teacher,
)
from toolkit.thinking import split_thinking

logger = logging.getLogger(__name__)

KEY_VERSION = "gen-v1"
RESULTS_FILE = "results.jsonl"
ERRORS_FILE = "errors.jsonl"
MANIFEST_FILE = "manifest.json"
LOCK_FILE = "lock"
PROBLEM_FIELD_CANDIDATES = ("problem", "question", "prompt", "instruction", "input")
GOLD_FIELD_CANDIDATES = ("gold_answer", "final_answer", "expected_answer")


class GenerationError(RuntimeError):
    """The run cannot go on (bad input, fatal teacher error, state belonging to another run)."""


# ------------------------------------------------------------------------------------------------
# Configuration and results


@dataclass
class GenerateConfig:
    """Everything that shapes a generation run (see :func:`generate` for the meaning)."""

    n: int = 4
    template: str | PromptTemplate = "open-r1"
    system_prompt: str | None = None
    problem_field: str | None = None
    id_field: str | None = None
    gold_field: str | None = None
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 4096
    seed: int | None = None
    concurrency: int = 64
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    max_retries: int = 8
    request_timeout: float = 1800.0
    retry_base_delay: float = 1.0
    retry_max_delay: float = 60.0
    stream: bool = False
    shard: tuple[int, int] | None = None
    progress: bool = True
    price_per_mtok_in: float | None = None
    price_per_mtok_out: float | None = None
    write_records: bool = True

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.shard is not None:
            index, total = self.shard
            if not (total >= 1 and 0 <= index < total):
                raise ValueError(f"shard must be i/N with 0 <= i < N, got {index}/{total}")

    @property
    def params(self) -> SamplingParams:
        return SamplingParams(self.temperature, self.top_p, self.max_tokens, self.seed)


@dataclass
class GenerationSummary:
    """Totals of one run (this invocation; ``already_done`` counts what earlier runs finished)."""

    problems: int = 0
    quarantined_rows: int = 0
    samples_wanted: int = 0
    already_done: int = 0
    completed: int = 0
    failed: int = 0
    requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    elapsed_s: float = 0.0
    estimated_cost: float | None = None
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    state_dir: str = ""
    output: str | None = None

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def line(self) -> str:
        parts = [
            f"{self.completed} samples generated",
            f"{self.already_done} already done",
            f"{self.failed} failed",
            f"{self.requests} requests ({self.requests_per_s:.1f}/s)",
            f"{self.retries} retries",
            f"{self.prompt_tokens:,} prompt + {self.completion_tokens:,} completion tokens",
            f"{self.elapsed_s:.1f}s",
        ]
        if self.quarantined_rows:
            parts.append(f"{self.quarantined_rows} bad input rows skipped")
        if self.estimated_cost is not None:
            parts.append(f"estimated cost ${self.estimated_cost:,.4f}")
        return ", ".join(parts)


@dataclass
class GenerationResult:
    dataset: datasets.Dataset
    summary: GenerationSummary


# ------------------------------------------------------------------------------------------------
# Work items and keys


@dataclass(slots=True)
class Problem:
    index: int  # row index in the (unsharded) input: the global order of the output
    key: str  # stable problem key: the id column, else a hash of the text (+ #k for duplicates)
    text: str
    row: dict[str, Any]
    problem_id: str = ""  # the schema's problem_id: hash of the text


def request_key(
    problem_key: str, sample: int, model: str, template_id: str, params: SamplingParams | str
) -> str:
    """The deterministic identity of one sample: what "already done" means on resume.

    ``params`` may be given pre-serialized (:func:`params_json`) in hot loops.
    """
    params_json = params if isinstance(params, str) else params_json_of(params)
    return content_hash(KEY_VERSION, problem_key, str(sample), model, template_id, params_json)


def params_json_of(params: SamplingParams) -> str:
    return json.dumps(params.as_dict(), sort_keys=True)


def shard_range(count: int, shard: tuple[int, int] | None) -> range:
    """The i-th of N contiguous, near-equal blocks of ``range(count)`` (deterministic)."""
    if shard is None:
        return range(count)
    index, total = shard
    return range(count * index // total, count * (index + 1) // total)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/N"`` → ``(i, N)``."""
    if not text:
        return None
    try:
        index, total = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like i/N (e.g. 0/4), got {text!r}") from None
    if not (total >= 1 and 0 <= index < total):
        raise ValueError(f"--shard {text}: need 0 <= i < N")
    return index, total


def _pick_field(
    columns: Sequence[str], wanted: str | None, candidates: Sequence[str], what: str
) -> str | None:
    if wanted:
        if wanted not in columns:
            raise GenerationError(
                f"{what} field {wanted!r} is not a column of the input; columns: {', '.join(columns)}"
            )
        return wanted
    return next((c for c in candidates if c in columns), None)


def load_problems(
    table: datasets.Dataset, config: GenerateConfig
) -> tuple[list[Problem], list[dict[str, Any]], str, str | None]:
    """The problems of this shard, the quarantined rows (row, field, reason), and the fields used."""
    columns = table.column_names
    problem_field = _pick_field(columns, config.problem_field, PROBLEM_FIELD_CANDIDATES, "problem")
    if problem_field is None:
        raise GenerationError(
            "no problem column found (tried "
            f"{', '.join(PROBLEM_FIELD_CANDIDATES)}); pass --problem-field; columns: {', '.join(columns)}"
        )
    id_field = _pick_field(columns, config.id_field, (), "id")
    gold_field = _pick_field(columns, config.gold_field, GOLD_FIELD_CANDIDATES, "gold answer")
    selected = shard_range(len(table), config.shard)
    bad: list[dict[str, Any]] = []
    problems: list[Problem] = []
    seen: Counter[str] = Counter()
    # Keys are assigned over the WHOLE table so that duplicate numbering is shard-independent.
    texts = list(table[problem_field])
    ids = list(table[id_field]) if id_field else None
    for index, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            if index in selected:
                reason = (
                    "missing" if text is None else f"not a non-empty string ({type(text).__name__})"
                )
                bad.append({"row": index, "field": problem_field, "reason": reason})
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
        columns = block.to_dict()
        names = list(columns)
        by_index = dict(zip(selected, zip(*columns.values(), strict=True), strict=True))
        for problem in problems:
            problem.row = dict(zip(names, by_index[problem.index], strict=True))
    return problems, bad, problem_field, gold_field


# ------------------------------------------------------------------------------------------------
# Durable state


class ResultWriter:
    """The single writer: a thread appending lines to files with flush + fsync per batch.

    The event loop only enqueues bytes. The thread takes everything queued, writes it, and fsyncs
    once (group commit), so durability costs one fsync per batch rather than per request.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._queue: queue.SimpleQueue[tuple[str, bytes] | None] = queue.SimpleQueue()
        self._files: dict[str, Any] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name="toolkit-generate-writer", daemon=True
        )
        self._thread.start()

    def write(self, name: str, line: bytes) -> None:
        if self._error is not None:
            raise GenerationError(f"cannot write run state: {self._error}") from self._error
        self._queue.put((name, line))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            batch = [item]
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(self._queue.get_nowait())
            stop = False
            touched = set()
            try:
                for entry in batch:
                    if entry is None:
                        stop = True
                        continue
                    name, line = entry
                    handle = self._files.get(name)
                    if handle is None:
                        handle = self._files[name] = open(self.directory / name, "ab")  # noqa: SIM115
                    handle.write(line)
                    touched.add(name)
                for name in touched:
                    self._files[name].flush()
                    os.fsync(self._files[name].fileno())
            except OSError as error:  # disk full, permissions: surfaced to the loop on next write
                self._error = error
            if stop:
                for handle in self._files.values():
                    handle.close()
                return

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise GenerationError(f"cannot write run state: {self._error}") from self._error


def read_jsonl_tolerant(path: Path, *, repair: bool = False) -> tuple[list[dict[str, Any]], int]:
    """Parse a JSONL file written by :class:`ResultWriter`, tolerating a torn last line.

    A ``kill -9`` can leave a final line without its newline (a partial write). That line never
    counted as finished, so it is dropped; with ``repair=True`` the file is truncated to its last
    complete line so the next append starts on a clean line. Returns (rows, lines skipped).
    """
    if not path.exists():
        return [], 0
    data = path.read_bytes()
    skipped = 0
    end = data.rfind(b"\n") + 1
    if end < len(data):
        skipped += 1
        if repair:
            with open(path, "r+b") as handle:
                handle.truncate(end)
                handle.flush()
                os.fsync(handle.fileno())
        data = data[:end]
    rows = []
    for raw in data.splitlines():
        if not raw.strip():
            continue
        try:
            rows.append(json.loads(raw))
        except json.JSONDecodeError:
            skipped += 1
    return rows, skipped


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON so a reader sees the old or the new file, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True, default=str)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # make the rename itself durable
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


@contextlib.contextmanager
def _exclusive(state_dir: Path) -> Iterator[None]:
    """One generate process per state directory (the kernel drops the lock if we are killed)."""
    import fcntl

    handle = open(state_dir / LOCK_FILE, "a+b")  # noqa: SIM115
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise GenerationError(
                f"another `toolkit generate` is running on {state_dir} (one writer per state dir)"
            ) from None
        yield
    finally:
        handle.close()


def default_state_dir(output: str | os.PathLike[str] | None, identity: dict[str, Any]) -> Path:
    """``OUTPUT.state/`` next to the output, else a directory under ``$TOOLKIT_HOME/generate``
    named by the run identity (so the same call resumes)."""
    if output is not None:
        path = Path(os.fspath(output))
        return path.with_name(path.name + ".state")
    from toolkit.models import cache_dir

    digest = content_hash(json.dumps(identity, sort_keys=True, default=str))
    return cache_dir() / "generate" / digest


# ------------------------------------------------------------------------------------------------
# Rate limiting and retries


class RateLimiter:
    """A token bucket: ``per_minute`` units refill continuously, ``burst_s`` seconds' worth at most.

    ``acquire`` waits in FIFO order; ``adjust`` corrects a reservation afterwards (tokens/min
    reserves prompt + max_tokens up front, then gives back what the completion did not use).
    """

    def __init__(self, per_minute: float, burst_s: float = 1.0) -> None:
        if per_minute <= 0:
            raise ValueError(f"rate limit must be > 0 per minute, got {per_minute}")
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self.available = self.capacity
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.available = min(self.capacity, self.available + (now - self.updated) * self.rate)
        self.updated = now

    async def acquire(self, amount: float = 1.0) -> float:
        amount = min(float(amount), self.capacity)
        async with self._lock:
            while True:
                self._refill()
                if self.available >= amount:
                    self.available -= amount
                    return amount
                await asyncio.sleep((amount - self.available) / self.rate)

    def adjust(self, delta: float) -> None:
        self._refill()
        self.available = min(self.capacity, self.available - delta)


def backoff_delay(
    attempt: int, retry_after: float | None, base: float, cap: float, rng: random.Random
) -> float:
    """Exponential backoff with full jitter; a server's ``Retry-After`` is a floor."""
    delay = rng.uniform(0, min(cap, base * (2**attempt)))
    if retry_after is not None:
        delay = max(delay, retry_after) + rng.uniform(0, min(1.0, base))
    return delay


# ------------------------------------------------------------------------------------------------
# The engine


@dataclass(slots=True)
class _Job:
    problem: Problem
    samples: list[int]
    attempt: int = 0


class _Engine:
    def __init__(
        self,
        teacher: Teacher,
        template: PromptTemplate,
        config: GenerateConfig,
        writer: ResultWriter | None,
        summary: GenerationSummary,
        gold_field: str | None,
        source: str,
    ) -> None:
        self.teacher = teacher
        self.template = template
        self.config = config
        self.params = config.params
        self.params_json = params_json_of(self.params)
        self.params_dict = self.params.as_dict()
        self.template_id = template.id
        self.writer = writer
        self.summary = summary
        self.gold_field = gold_field
        self.source = source
        self.teacher_info = teacher.describe()
        self.teacher_info.pop("base_url", None)  # endpoints are deployment details, not identity
        self.teacher_info.pop("host", None)
        self.teacher_info.pop("endpoints", None)
        self.native_n = teacher.supports_native_n
        self.rng = random.Random()
        self.requests_limiter = (
            RateLimiter(config.requests_per_minute, 1.0) if config.requests_per_minute else None
        )
        self.tokens_limiter = (
            RateLimiter(config.tokens_per_minute, 10.0) if config.tokens_per_minute else None
        )
        self.retry_queue: list[_Job] = []
        self.fatal: TeacherError | None = None
        self.in_flight = 0
        # this run's results, so the final table needs no second pass over the state file
        self.records: list[dict[str, Any]] = []
        self.progress: Any = None
        self._last_postfix = 0.0

    # -- job stream --------------------------------------------------------------------------
    def jobs(self, pending: list[tuple[Problem, list[int]]]) -> Iterator[_Job]:
        for problem, samples in pending:
            if self.native_n and len(samples) > 1:
                yield _Job(problem, samples)
            else:
                for sample in samples:
                    yield _Job(problem, [sample])

    def _next_job(self, source: Iterator[_Job]) -> _Job | None:
        if self.retry_queue:
            return self.retry_queue.pop()
        return next(source, None)

    async def run(self, pending: list[tuple[Problem, list[int]]]) -> None:
        source = self.jobs(pending)
        workers = [
            asyncio.create_task(self._worker(source)) for _ in range(self.config.concurrency)
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()

    async def _worker(self, source: Iterator[_Job]) -> None:
        while self.fatal is None:
            job = self._next_job(source)
            if job is None:
                return
            await self._run_job(job)

    # -- one request with retries ------------------------------------------------------------
    async def _run_job(self, job: _Job) -> None:
        config = self.config
        messages = self.template.render(job.problem.text, job.problem.row)
        params = self.params
        if params.seed is not None:
            derived = int(
                content_hash(str(params.seed), job.problem.key, str(job.samples[0]))[:8], 16
            )
            params = SamplingParams(params.temperature, params.top_p, params.max_tokens, derived)
        request = TeacherRequest(messages, n=len(job.samples), params=params, stream=config.stream)
        estimate = 0.0
        while True:
            if self.requests_limiter is not None:
                await self.requests_limiter.acquire(1)
            if self.tokens_limiter is not None:
                prompt_estimate = sum(len(m["content"]) for m in messages) / 4
                estimate = await self.tokens_limiter.acquire(
                    prompt_estimate + params.max_tokens * request.n
                )
            self.in_flight += 1
            self.summary.requests += 1
            error: TeacherError | None = None
            try:
                async with asyncio.timeout(config.request_timeout):
                    responses = await self.teacher.complete(request)
            except TimeoutError:
                error = TeacherError(
                    f"no answer within the {config.request_timeout:g}s request timeout",
                    retryable=True,
                )
            except TeacherError as caught:
                error = caught
            except Exception as caught:  # a backend bug: record it, do not kill the run
                error = TeacherError(f"{type(caught).__name__}: {caught}", retryable=False)
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
            if not error.retryable or job.attempt >= config.max_retries:
                self._record_errors(job, error)
                return
            delay = backoff_delay(
                job.attempt,
                error.retry_after,
                config.retry_base_delay,
                config.retry_max_delay,
                self.rng,
            )
            job.attempt += 1
            self.summary.retries += 1
            self._refresh_progress()
            await asyncio.sleep(delay)
        used = sum(r.completion_tokens or 0 for r in responses)
        prompt_tokens = next((r.prompt_tokens for r in responses if r.prompt_tokens), 0) or 0
        self.summary.prompt_tokens += prompt_tokens
        self.summary.completion_tokens += used
        if self.tokens_limiter is not None:
            self.tokens_limiter.adjust(prompt_tokens + used - estimate)
        for sample, response in zip(job.samples, responses, strict=False):
            self._record_success(job.problem, sample, response, messages)
        missing = job.samples[len(responses) :]
        if missing:
            if self.native_n and len(responses) <= 1 and len(job.samples) > 1:
                logger.warning(
                    "the server returned %d choice(s) for n=%d: it ignores `n`; sending one "
                    "request per sample from now on",
                    len(responses),
                    len(job.samples),
                )
                self.native_n = False
            for sample in missing:
                self.retry_queue.append(_Job(job.problem, [sample]))

    # -- results -----------------------------------------------------------------------------
    def _record_success(
        self,
        problem: Problem,
        sample: int,
        response: TeacherResponse,
        messages: list[dict[str, str]],
    ) -> None:
        key = request_key(
            problem.key, sample, self.teacher.model, self.template_id, self.params_json
        )
        split = split_thinking(response.content, reasoning=response.reasoning)
        gold = problem.row.get(self.gold_field) if self.gold_field else None
        system = messages[0]["content"] if messages[0]["role"] == "system" else None
        metadata = {
            "teacher": self.teacher_info,
            "model": self.teacher.model,
            "params": self.params_dict,
            "template": self.template_id,
            "sample_index": sample,
            "problem_index": problem.index,
            "problem_key": problem.key,
            "request_key": key,
            "finish_reason": response.finish_reason,
            "usage": {
                "prompt_tokens": response.prompt_tokens,
                "completion_tokens": response.completion_tokens,
            },
            "latency_s": round(response.latency_s, 4),
            "thinking_style": split.style,
        }
        domain = problem.row.get("domain")
        record = TraceRecord(
            problem=problem.text,
            reasoning=split.reasoning,
            answer=split.answer,
            reasoning_complete=split.reasoning_complete,
            final_answer=final_answer(split.answer),
            gold_answer=None if gold is None else str(gold),
            source=self.source,
            domain=domain if isinstance(domain, str) and domain else "math",
            metadata=metadata,
            system=system,
            problem_id=problem.problem_id,
        )
        line = {
            "key": key,
            "problem_index": problem.index,
            "sample": sample,
            "row": record.to_row(),
        }
        if self.writer is not None:
            self.writer.write(RESULTS_FILE, _jsonl(line))
        self.records.append(line)
        self.summary.completed += 1
        if self.progress is not None:
            self.progress.update(1)
            self._refresh_progress()

    def _record_errors(self, job: _Job, error: TeacherError) -> None:
        for sample in job.samples:
            key = request_key(
                job.problem.key, sample, self.teacher.model, self.template_id, self.params_json
            )
            entry = {
                "key": key,
                "problem_index": job.problem.index,
                "sample": sample,
                "error": str(error),
                "status": error.status,
                "attempts": job.attempt + 1,
                "time": time.time(),
            }
            if self.writer is not None:
                self.writer.write(ERRORS_FILE, _jsonl(entry))
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


def _jsonl(payload: dict[str, Any]) -> bytes:
    return (json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def _error_kind(error: TeacherError) -> str:
    if error.status is not None:
        return str(error.status)
    text = str(error).lower()
    if "timeout" in text or "timed out" in text:
        return "timeout"
    if "connection" in text:
        return "connection"
    return "other"


# ------------------------------------------------------------------------------------------------
# Public API


def _identity(
    teacher: Teacher, template: PromptTemplate, config: GenerateConfig, problem_field: str
) -> dict[str, Any]:
    return {
        "key_version": KEY_VERSION,
        "backend": teacher.backend,
        "model": teacher.model,
        "template": template.id,
        "params": config.params.as_dict(),
        "problem_field": problem_field,
    }


async def agenerate(
    dataset: Any,
    teacher: Teacher,
    config: GenerateConfig,
    *,
    output: str | os.PathLike[str] | None = None,
    state_dir: str | os.PathLike[str] | None = None,
    split: str | None = None,
    limit: int | None = None,
) -> GenerationResult:
    """The async core of :func:`generate` (for callers that already run an event loop)."""
    from toolkit.io import describe_source, load_table

    table = load_table(dataset, split=split, limit=limit)
    template = get_template(config.template, system=config.system_prompt)
    problems, bad_rows, problem_field, gold_field = load_problems(table, config)
    identity = _identity(teacher, template, config, problem_field)
    summary = GenerationSummary(problems=len(problems), quarantined_rows=len(bad_rows))
    for bad in bad_rows[:5]:
        logger.warning("skipping input row %(row)d: field %(field)r is %(reason)s", bad)
    if len(bad_rows) > 5:
        logger.warning("... %d more bad input rows skipped", len(bad_rows) - 5)

    use_state = config.write_records
    directory = Path(os.fspath(state_dir)) if state_dir else default_state_dir(output, identity)
    summary.state_dir = str(directory)
    started = time.monotonic()
    lock: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    done: dict[str, dict[str, Any]] = {}
    if use_state:
        directory.mkdir(parents=True, exist_ok=True)
        lock = _exclusive(directory)
    with lock:
        if use_state:
            manifest_path = directory / MANIFEST_FILE
            manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
            previous = manifest.get("identity")
            if previous and previous != identity:
                changed = sorted(k for k in identity if previous.get(k) != identity.get(k))
                raise GenerationError(
                    f"{directory} holds a run with a different {', '.join(changed)}; "
                    "use another output / --state-dir, or delete it to start over"
                )
            rows, torn = read_jsonl_tolerant(directory / RESULTS_FILE, repair=True)
            if torn:
                logger.warning(
                    "dropped %d incomplete line(s) from %s (interrupted write)", torn, RESULTS_FILE
                )
            for row in rows:
                done.setdefault(row["key"], row)
            manifest.update(
                identity=identity,
                input=describe_source(dataset)
                if not isinstance(dataset, datasets.Dataset)
                else "dataset",
                n=config.n,
                shard=list(config.shard) if config.shard else None,
                teacher=teacher.describe(),
                output=None if output is None else os.fspath(output),
                updated=time.time(),
            )
            manifest.setdefault("created", time.time())
            write_json_atomic(manifest_path, manifest)
            for bad in bad_rows:
                # quarantined input rows are logged with the run, not silently lost
                with open(directory / ERRORS_FILE, "ab") as handle:
                    handle.write(_jsonl({"quarantined": True, **bad}))

        model, template_id, params = teacher.model, template.id, params_json_of(config.params)
        pending: list[tuple[Problem, list[int]]] = []
        wanted: dict[str, tuple[int, int]] = {}
        for problem in problems:
            missing = []
            for sample in range(config.n):
                key = request_key(problem.key, sample, model, template_id, params)
                wanted[key] = (problem.index, sample)
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

        writer = ResultWriter(directory) if use_state else None
        engine = _Engine(
            teacher, template, config, writer, summary, gold_field, f"generate:{teacher.model}"
        )
        if config.progress and todo:
            from tqdm.auto import tqdm

            engine.progress = tqdm(
                total=todo, desc=f"generate {teacher.model}", unit="sample", smoothing=0.1
            )
        try:
            await engine.run(pending)
        finally:
            if engine.progress is not None:
                engine.progress.close()
            if writer is not None:
                writer.close()
            await teacher.aclose()
        summary.elapsed_s = time.monotonic() - started
        if config.price_per_mtok_in is not None or config.price_per_mtok_out is not None:
            summary.estimated_cost = (
                summary.prompt_tokens * (config.price_per_mtok_in or 0.0)
                + summary.completion_tokens * (config.price_per_mtok_out or 0.0)
            ) / 1e6
        # earlier runs' rows (read at start) + this run's: the same rows the state file now holds
        dataset_out = _rows_to_dataset([*done.values(), *engine.records], wanted)
        if use_state:
            manifest = json.loads((directory / MANIFEST_FILE).read_text())
            manifest.setdefault("runs", []).append(
                {k: v for k, v in asdict(summary).items() if k not in ("state_dir", "output")}
                | {"finished": time.time()}
            )
            write_json_atomic(directory / MANIFEST_FILE, manifest)
    if output is not None:
        from toolkit.io import write_table

        write_table(dataset_out, output)
        summary.output = os.fspath(output)
    if engine.fatal is not None:
        raise GenerationError(f"the teacher refused the run: {engine.fatal}")
    return GenerationResult(dataset_out, summary)


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


def _rows_to_dataset(
    rows: Sequence[dict[str, Any]], wanted: dict[str, tuple[int, int]] | None
) -> datasets.Dataset:
    """Deduplicate by request key (first write wins) and order by (problem index, sample)."""
    unique: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = row["key"]
        if key not in unique and (wanted is None or key in wanted):
            unique[key] = row
    ordered = sorted(unique.values(), key=lambda r: (r["problem_index"], r["sample"], r["key"]))
    columns: dict[str, list[Any]] = {name: [r["row"][name] for r in ordered] for name in COLUMNS}
    import pyarrow as pa

    # Straight to Arrow with the schema's types (Dataset.from_dict encodes row by row).
    return datasets.Dataset(pa.Table.from_pydict(columns, schema=FEATURES.arrow_schema))


def generate(
    dataset: Any,
    teacher: str | Teacher = "openai",
    *,
    model: str | None = None,
    base_url: str | Sequence[str] | None = None,
    n: int = 4,
    output: str | os.PathLike[str] | None = None,
    state_dir: str | os.PathLike[str] | None = None,
    split: str | None = None,
    limit: int | None = None,
    teacher_options: dict[str, Any] | None = None,
    return_summary: bool = False,
    event_loop: str = "auto",
    **options: Any,
) -> datasets.Dataset | GenerationResult:
    """Generate ``n`` teacher traces per problem of ``dataset`` into schema records.

    Args:
        dataset: anything :func:`toolkit.io.load_table` reads (a schema dataset, a table with a
            problem column, a local file, a Hub id).
        teacher: a backend name (``"openai"``, ``"ollama"``, ``"transformers"``) or a
            :class:`~toolkit.teachers.Teacher`.
        model, base_url: for a backend name; several base URLs are used least-busy-first.
        n: samples per problem.
        output: where to write the final table (``.parquet``, ``.jsonl``, or an Arrow dir); the
            resumable state lives next to it in ``OUTPUT.state/`` unless ``state_dir`` is given.
        options: any :class:`GenerateConfig` field — ``template``, ``system_prompt``,
            ``problem_field``, ``id_field``, ``gold_field``, ``temperature`` (0.6), ``top_p``
            (0.95), ``max_tokens``, ``seed``, ``concurrency``, ``requests_per_minute``,
            ``tokens_per_minute``, ``max_retries``, ``request_timeout``, ``stream``, ``shard``
            (``(i, N)`` or ``"i/N"``), ``progress``, ``price_per_mtok_in``/``_out``.
        return_summary: return a :class:`GenerationResult` (dataset + totals) instead of the
            dataset alone.
        event_loop: ``"auto"`` (uvloop when installed, else asyncio), ``"uvloop"``, ``"asyncio"``.

    Re-running the same call resumes: finished samples are read back, not requested again.
    """
    if isinstance(options.get("shard"), str):
        options["shard"] = parse_shard(options["shard"])
    config = GenerateConfig(n=n, **options)
    if isinstance(teacher, str):
        urls = [base_url] if isinstance(base_url, str) else list(base_url or [])
        teacher_options = dict(teacher_options or {})
        teacher_options.setdefault("timeout", config.request_timeout + 30)
        if teacher == "transformers":
            teacher_options.pop("timeout")
        teacher = make_teacher(teacher, base_urls=urls, model=model, **teacher_options)
    result = run_event_loop(
        agenerate(
            dataset, teacher, config, output=output, state_dir=state_dir, split=split, limit=limit
        ),
        event_loop,
    )
    logger.info("generate: %s", result.summary.line())
    return result if return_summary else result.dataset


def merge_shards(
    inputs: Sequence[str | os.PathLike[str] | datasets.Dataset],
    output: str | os.PathLike[str] | None = None,
) -> datasets.Dataset:
    """Join the outputs of ``--shard i/N`` runs: deduplicated by request key, ordered by
    (problem index, sample index) — the same table one unsharded run would have produced.

    Each input is a shard's output table (Parquet/JSONL/Arrow dir/Dataset) or its state dir.
    """
    from toolkit.io import load_table, write_table

    rows: list[dict[str, Any]] = []
    for source in inputs:
        path = None if isinstance(source, datasets.Dataset) else Path(os.fspath(source))
        if path is not None and path.is_dir() and (path / RESULTS_FILE).exists():
            rows.extend(read_jsonl_tolerant(path / RESULTS_FILE)[0])
            continue
        table = load_table(source)
        for row in table:
            metadata = loads_metadata(row["metadata"])
            if "request_key" not in metadata:
                raise GenerationError(
                    f"{source}: row {row['id']} has no metadata.request_key; not a generate output"
                )
            rows.append(
                {
                    "key": metadata["request_key"],
                    "problem_index": metadata["problem_index"],
                    "sample": metadata["sample_index"],
                    "row": {name: row[name] for name in COLUMNS},
                }
            )
    merged = _rows_to_dataset(rows, None)
    if output is not None:
        write_table(merged, output)
    return merged


__all__ = [
    "GenerateConfig",
    "GenerationError",
    "GenerationResult",
    "GenerationSummary",
    "RateLimiter",
    "agenerate",
    "backoff_delay",
    "generate",
    "load_problems",
    "merge_shards",
    "parse_shard",
    "read_jsonl_tolerant",
    "request_key",
    "run_event_loop",
    "shard_range",
]
