"""How a run sends its requests (:class:`EngineSettings`) and what it did (:class:`RunSummary`):
the parts of the engine that generation and evaluation configure and report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from toolkit.backends import RetryPolicy
from toolkit.config import option


@dataclass
class EngineSettings:
    """How requests are sent (the engine-related fields of a stage's config)."""

    concurrency: int = 64
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    request_timeout: float = 1800.0
    stream: bool = False
    progress: bool = True
    check: bool = True


@dataclass
class EngineOptions:
    """The engine's options, written once for every stage that sends requests through it
    (:class:`~toolkit.generation.GenerateConfig` and the evaluation's ``EvalConfig`` inherit
    them; a stage may redefine a field to change its default)."""

    concurrency: int = option(64, "--concurrency", "-c", help="Requests in flight.", min=1)
    requests_per_minute: float | None = option(None, "--rpm", help="Requests/min limit.")
    tokens_per_minute: float | None = option(None, "--tpm", help="Tokens/min limit.")
    max_retries: int = option(8, "--max-retries", help="Retries per request.", min=0)
    request_timeout: float = option(1800.0, "--timeout", help="Per-request timeout (seconds).")
    retry_base_delay: float = 1.0
    retry_max_delay: float = 60.0
    stream: bool = option(False, "--stream", help="Stream completions (long outputs).")
    progress: bool = option(True, "--progress/--no-progress", help="Show a progress bar.")
    check: bool = option(
        True, "--check/--no-check", help="Check the backend serves the model before starting."
    )

    def engine_settings(self, concurrency: int | None = None) -> EngineSettings:
        """These options as the engine takes them (``concurrency`` overrides the field)."""
        return EngineSettings(
            concurrency=concurrency or self.concurrency,
            requests_per_minute=self.requests_per_minute,
            tokens_per_minute=self.tokens_per_minute,
            retry=RetryPolicy(self.max_retries, self.retry_base_delay, self.retry_max_delay),
            request_timeout=self.request_timeout,
            stream=self.stream,
            progress=self.progress,
            check=self.check,
        )


@dataclass
class RunSummary:
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

    @property
    def missing(self) -> int:
        """Samples wanted that no run has finished yet."""
        return self.samples_wanted - self.already_done - self.completed

    def line(self) -> str:
        parts = [
            f"{self.completed} samples done",
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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


__all__ = ["EngineOptions", "EngineSettings", "RunSummary"]
