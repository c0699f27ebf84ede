"""The vocabulary of the model layer: sampling parameters, requests, completions, stream deltas,
and the :class:`Model` protocol every backend implements.

One definition for generate, evaluate and chat: a change of default (R1's temperature 0.6 and
top-p 0.95) or of a field name (``max_new_tokens``, as transformers calls it) happens here once.
Standard library only, so that importing it costs nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from toolkit.errors import UsageError

#: DeepSeek-R1's recommended sampling (model card: "temperature 0.5-0.7 (0.6 recommended)",
#: "top-p 0.95"). Every stage's default refers to these two names.
R1_TEMPERATURE = 0.6
R1_TOP_P = 0.95

Messages = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """How to sample. ``temperature == 0`` means greedy decoding.

    Part of every request key of a generation run: changing a value starts new samples instead
    of mixing two protocols in one dataset.
    """

    temperature: float = R1_TEMPERATURE
    top_p: float = R1_TOP_P
    max_new_tokens: int = 4096
    seed: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.temperature <= 5.0:
            raise UsageError(f"temperature must be in [0, 5], got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise UsageError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise UsageError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_seed(self, seed: int | None) -> SamplingParams:
        return SamplingParams(self.temperature, self.top_p, self.max_new_tokens, seed)


@dataclass(slots=True)
class ChatRequest:
    """One chat for which the model should return ``n`` completions."""

    messages: Messages
    n: int = 1
    params: SamplingParams = field(default_factory=SamplingParams)
    stream: bool = False
    """Stream the response on the wire (SSE / NDJSON) and assemble it: long reasoning outputs
    are streamed so that proxies with idle timeouts do not cut a busy connection."""


@dataclass(slots=True)
class Completion:
    """One completion (one choice of a request) and how it ended."""

    content: str
    reasoning: str | None = None
    """Reasoning from a separate field (``reasoning_content``, ``reasoning``, Ollama's
    ``thinking``), else ``None``: ``<think>`` tags then stay in ``content`` for
    :func:`toolkit.thinking.split_thinking`."""
    finish_reason: str | None = None
    """``"stop"`` (end of turn), ``"length"`` (the token limit cut it), or the server's word."""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    endpoint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        # By hand: dataclasses.asdict deep-copies, a measurable cost per sample at 1k req/s.
        return {
            "content": self.content,
            "reasoning": self.reasoning,
            "finish_reason": self.finish_reason,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_s": self.latency_s,
            "endpoint": self.endpoint,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Completion:
        names = cls.__dataclass_fields__
        return cls(**{key: value for key, value in data.items() if key in names})


@dataclass(frozen=True, slots=True)
class Delta:
    """One streamed piece of a chat answer. The last delta of a stream carries
    ``finish_reason`` (``"stop"``, ``"length"``), possibly with empty text."""

    content: str = ""
    reasoning: str = ""
    finish_reason: str | None = None


@runtime_checkable
class Model(Protocol):
    """What generate, evaluate and chat need from a model, wherever it runs."""

    backend: str
    model: str
    supports_native_n: bool
    """``True`` when one request returns ``n`` completions (OpenAI ``n``, a local batch);
    otherwise the engine sends one request per sample."""

    async def complete(self, request: ChatRequest) -> list[Completion]:
        """Up to ``request.n`` completions, or raise :class:`toolkit.errors.BackendError`."""
        ...

    def stream(self, messages: Messages, params: SamplingParams) -> AsyncIterator[Delta]:
        """Deltas as the model produces them (an async generator: closing it stops the
        generation). Raises :class:`toolkit.errors.BackendError`."""
        ...

    async def check(self) -> None:
        """Fail fast (seconds, not minutes of retries) when the backend cannot serve this model:
        a server that is down, an unknown model, a missing checkpoint."""
        ...

    def prefills_thinking(self, messages: Messages) -> bool | None:
        """Whether the prompt already opens ``<think>`` (R1-distill chat templates do), so the
        output starts inside the reasoning. ``None``: cannot be known from here."""
        ...

    def describe(self) -> dict[str, Any]:
        """Identity for manifests and results: backend, model, revision — never a secret."""
        ...

    async def aclose(self) -> None:
        """Release connections, threads and weights."""
        ...


__all__ = [
    "R1_TEMPERATURE",
    "R1_TOP_P",
    "ChatRequest",
    "Completion",
    "Delta",
    "Messages",
    "Model",
    "SamplingParams",
]
