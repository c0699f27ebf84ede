"""``GenerateConfig``: everything that shapes a generation run, written once for the Python API
and the CLI (``toolkit generate`` builds its options from these fields)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toolkit.backends import R1_TEMPERATURE, R1_TOP_P, SamplingParams
from toolkit.config import option
from toolkit.errors import UsageError
from toolkit.generation.problems import parse_shard
from toolkit.generation.settings import EngineOptions

if TYPE_CHECKING:
    from toolkit.generation.settings import EngineSettings


@dataclass
class GenerateConfig(EngineOptions):
    """A generation run's settings (see :func:`toolkit.generate`); the engine's options
    (concurrency, rate limits, retries, timeout) come from :class:`EngineOptions`."""

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
    shard: Any = option(
        None, "--shard", help="Take shard i of N problems: i/N.", cli_type=str | None
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
        return self.engine_settings()


__all__ = ["GenerateConfig"]
