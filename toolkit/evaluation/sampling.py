"""Sampling the completions an evaluation scores — through the same durable engine as
generation (:mod:`toolkit.generation.engine`).

So evaluation inherits what generation proved: every completed sample is appended to
``OUTDIR/state/`` as it arrives, failed samples are recorded with their (redacted) error and
retried with the one back-off policy, rate limits apply, and re-running the same ``toolkit eval``
command resumes exactly where it stopped — a ``kill -9`` or one request that exhausted its
retries costs nothing that had finished. A local model gets its requests batched: ``n`` samples
of a prompt share a batch, and prompts are sent longest first so a batch holds similar lengths
(less padding, and an out-of-memory error shows in the first batch rather than after an hour).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.backends import (
    R1_TEMPERATURE,
    R1_TOP_P,
    Completion,
    Messages,
    Model,
    SamplingParams,
)
from toolkit.config import option
from toolkit.errors import UsageError
from toolkit.generation.settings import EngineOptions

if TYPE_CHECKING:
    from toolkit.generation.settings import EngineSettings, RunSummary

STATE_DIR = "state"
#: Token limit for servers and GPUs: R1-style reasoning on AIME routinely needs 10k-30k tokens.
SERVER_MAX_NEW_TOKENS = 32768
#: Token limit for a local model on CPU, where 32k tokens per sample would take hours; the
#: report shows how many samples this truncated.
CPU_MAX_NEW_TOKENS = 4096


@dataclass
class EvalConfig(EngineOptions):
    """An evaluation's protocol and how its requests are sent (``toolkit eval`` options)."""

    tasks: str = option(
        "math500",
        "--tasks",
        "-t",
        help="Comma-separated: gsm8k, math500, aime24, aime25, gpqa_diamond, or a dataset "
        "(path or org/name) in the trace schema.",
    )
    n: int = option(1, "-n", "--num-samples", help="Samples per problem.", min=1)
    limit: int | None = option(None, "--limit", help="First N problems per task.", min=1)
    max_new_tokens: int | None = option(
        None,
        "--max-new-tokens",
        help=f"Generation limit (reasoning + answer). Default: {SERVER_MAX_NEW_TOKENS} for "
        f"servers and GPUs, {CPU_MAX_NEW_TOKENS} for a local model on CPU.",
        min=1,
    )
    temperature: float = option(R1_TEMPERATURE, "--temperature", help="Sampling temperature.")
    top_p: float = option(R1_TOP_P, "--top-p", help="Nucleus sampling top-p.")
    greedy: bool = option(False, "--greedy", help="Greedy decoding (forces n=1).")
    seed: int = option(0, "--seed", help="Sampling seed (per-sample seeds derive from it).")
    system_prompt: str | None = option(
        None, "--system-prompt", help="System message (R1 recommends none)."
    )
    data_file: list[str] | None = option(
        None, "--data-file", help="TASK=PATH local file for a task (repeatable; offline use)."
    )
    # The engine's options (rate limits, retries, --stream, --progress, --check) are inherited;
    # evaluation redefines two defaults: fewer requests in flight (a server also serves the
    # long reasoning of each), and an hour per request (a 32k-token AIME sample takes that).
    concurrency: int = option(16, "--concurrency", "-c", help="Requests in flight.", min=1)
    request_timeout: float = option(3600.0, "--timeout", help="Per-request timeout (seconds).")

    def __post_init__(self) -> None:
        if self.n < 1:
            raise UsageError(f"n must be >= 1, got {self.n}")

    def data_files(self) -> dict[str, str]:
        parsed: dict[str, str] = {}
        for value in self.data_file or []:
            task, sep, path = value.partition("=")
            if not sep or not task.strip() or not path.strip():
                raise UsageError(f"--data-file expects TASK=PATH, got {value!r}")
            parsed[task.strip()] = path.strip()
        return parsed

    def token_limit(self, model: Model) -> int:
        if self.max_new_tokens is not None:
            return self.max_new_tokens
        return CPU_MAX_NEW_TOKENS if _local_cpu(model) else SERVER_MAX_NEW_TOKENS

    def params(self, model: Model) -> SamplingParams:
        if self.greedy:
            return SamplingParams(0.0, 1.0, self.token_limit(model), self.seed)
        if self.temperature <= 0:
            raise UsageError("temperature must be > 0 for sampling; use --greedy instead")
        return SamplingParams(self.temperature, self.top_p, self.token_limit(model), self.seed)

    def engine(self, model: Model) -> EngineSettings:
        if model.backend == "transformers":
            # enough requests in flight to fill one batch of n-sample requests
            batch = int(getattr(model, "batch_size", 8))
            return self.engine_settings(concurrency=max(1, -(-batch // self.n)))
        return self.engine_settings()


def _local_cpu(model: Model) -> bool:
    if model.backend != "transformers":
        return False
    device = getattr(model, "device", None)
    if device:
        return str(device).startswith("cpu")
    try:
        import torch
    except ImportError:
        return True
    return not torch.cuda.is_available()


def sample(
    model: Model,
    chats: list[Messages],
    config: EvalConfig,
    *,
    identity: dict[str, Any],
    state_dir: Path | None,
) -> tuple[list[list[Completion | None]], RunSummary]:
    """``n`` completions for each chat (``None`` where a sample failed), durably."""
    from toolkit.generation.engine import Work, run_durable, run_event_loop
    from toolkit.generation.problems import Problem

    params = config.params(model)
    # A task can hold the same prompt twice (a user's dataset with one question under two ids);
    # each copy is its own problem and gets its own samples, so the key counts the copies:
    # content-derived (stable across re-runs, so resume finds its samples) and unique.
    seen: dict[str, int] = {}
    problems = []
    for i, chat in enumerate(chats):
        key = _chat_key(chat)
        copy = seen[key] = seen.get(key, -1) + 1
        problems.append(
            Problem(index=i, key=key if copy == 0 else f"{key}#{copy}", text=chat[-1]["content"])
        )
    by_index = dict(enumerate(chats))
    # Longest prompt first: similar lengths share a batch on a local model.
    problems.sort(key=lambda p: (-len(p.text), p.index))
    n = 1 if config.greedy else config.n
    seed_json = f"{params.seed}"

    def key_for(problem: Problem, index: int) -> str:
        return hashlib.sha256(f"eval-v1\0{problem.key}\0{index}\0{seed_json}".encode()).hexdigest()

    work = Work(
        problems=problems,
        samples=n,
        params=params,
        messages_for=lambda problem: by_index[problem.index],
        key_for=key_for,
    )
    lines, summary = run_event_loop(
        run_durable(
            model,
            work,
            config.engine(model),
            state_dir=state_dir,
            identity={**identity, "params": params.as_dict()},
            desc="eval",
        )
    )
    completions: list[list[Completion | None]] = [[None] * n for _ in chats]
    for line in lines.values():
        completions[line["problem_index"]][line["sample"]] = Completion.from_dict(
            line["completion"]
        )
    return completions, summary


def _chat_key(chat: Messages) -> str:
    text = "\0".join(f"{m['role']}\1{m['content']}" for m in chat)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


__all__ = ["CPU_MAX_NEW_TOKENS", "SERVER_MAX_NEW_TOKENS", "STATE_DIR", "EvalConfig", "sample"]
