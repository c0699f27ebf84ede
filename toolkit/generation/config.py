"""``GenerateConfig``: everything that shapes a generation run, written once for the Python API
and the CLI (``toolkit generate`` builds its options from these fields)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toolkit.backends import R1_TEMPERATURE, R1_TOP_P, RetryPolicy, SamplingParams
from toolkit.config import option
from toolkit.errors import UsageError
from toolkit.generation.problems import parse_shard

if TYPE_CHECKING:
    from toolkit.generation.settings import EngineSettings


@dataclass
class GenerateConfig:
    """A generation run's settings (see :func:`toolkit.generate`)."""

    n: int = option(4, "-n", "--samples", help="Samples per problem.", min=1)
    template: Any = option(
        "open-r1",
        "--template",
        help="Prompt template: open-r1, sky-t1, plain, a Jinja file, or inline Jinja.",
        cli_type=str,
    )
    system_prompt: str | None = option(
        None, "--system-prompt", help="Replace the template's system prompt (text or file)."
    )
    problem_field: str | None = option(
        None, "--problem-field", help="Column with the problem (default: problem/question/...)."
    )
    gold_field: str | None = option(
        None,
        "--gold-field",
        help="Column with the reference answer, stored as gold_answer "
        "(default: gold_answer/final_answer/expected_answer/reference_answer/answer).",
    )
    id_field: str | None = option(
        None,
        "--id-field",
        help="Column with a stable problem id (default: id/problem_id/unique_id/uuid, else a "
        "hash of the text).",
    )
    temperature: float = option(R1_TEMPERATURE, "--temperature", help="0 = greedy.", min=0.0)
    top_p: float = option(R1_TOP_P, "--top-p", min=0.0, max=1.0)
    max_new_tokens: int = option(
        4096, "--max-new-tokens", help="Token limit per sample (reasoning + answer).", min=1
    )
    seed: int | None = option(None, "--seed", help="Base seed (per-sample seeds derive).")
    concurrency: int = option(64, "--concurrency", "-c", help="Requests in flight.", min=1)
    requests_per_minute: float | None = option(None, "--rpm", help="Requests/min limit.")
    tokens_per_minute: float | None = option(None, "--tpm", help="Tokens/min limit.")
    max_retries: int = option(8, "--max-retries", help="Retries per request.", min=0)
    request_timeout: float = option(1800.0, "--timeout", help="Per-request timeout (seconds).")
    retry_base_delay: float = 1.0
    retry_max_delay: float = 60.0
    stream: bool = option(False, "--stream", help="Stream completions (long outputs).")
    shard: Any = option(
        None, "--shard", help="Take shard i of N problems: i/N.", cli_type=str | None
    )
    progress: bool = option(True, "--progress/--no-progress", help="Show a progress bar.")
    check: bool = option(
        True, "--check/--no-check", help="Check the backend serves the model before starting."
    )
    price_per_mtok_in: float | None = option(
        None, "--price-per-mtok-in", help="USD per million prompt tokens (cost estimate)."
    )
    price_per_mtok_out: float | None = option(
        None, "--price-per-mtok-out", help="USD per million completion tokens (cost estimate)."
    )
    allow_empty: bool = option(
        False, "--allow-empty", help="Succeed even when no sample could be generated."
    )
    write_records: bool = True

    def __post_init__(self) -> None:
        if self.n < 1:
            raise UsageError(f"n must be >= 1, got {self.n}")
        if self.concurrency < 1:
            raise UsageError(f"concurrency must be >= 1, got {self.concurrency}")
        self.shard = parse_shard(self.shard)

    @property
    def params(self) -> SamplingParams:
        return SamplingParams(self.temperature, self.top_p, self.max_new_tokens, self.seed)

    @property
    def engine(self) -> EngineSettings:
        from toolkit.generation.settings import EngineSettings

        return EngineSettings(
            concurrency=self.concurrency,
            requests_per_minute=self.requests_per_minute,
            tokens_per_minute=self.tokens_per_minute,
            retry=RetryPolicy(self.max_retries, self.retry_base_delay, self.retry_max_delay),
            request_timeout=self.request_timeout,
            stream=self.stream,
            progress=self.progress,
            check=self.check,
        )


__all__ = ["GenerateConfig"]
