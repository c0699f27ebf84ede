"""Teacher backends behind one narrow interface, and the one registry that builds them.

A *teacher* turns one chat prompt into ``n`` completions. The generation engine
(:mod:`toolkit.generate`) owns everything else — concurrency, rate limits, retries, timeouts,
resume — so a backend only has to do three things well:

* send one request (asking for ``n`` choices at once when it :attr:`~Teacher.supports_native_n`),
* return each choice as a :class:`TeacherResponse` with the reasoning taken from its separate field
  when the server has one (``reasoning_content``, ``reasoning``, Ollama's ``thinking``),
* translate its library's failures into a :class:`TeacherError` that says whether a retry can
  help and how long the server asked us to wait (``Retry-After``).

Backends are registered by *import path* (``"module:factory"``) so that ``import toolkit`` never
imports ``openai``, ``ollama`` or ``torch``; :func:`make_teacher` imports the one that is used.
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

DEFAULT_TEMPERATURE = 0.6
DEFAULT_TOP_P = 0.95
DEFAULT_MAX_TOKENS = 4096


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """Sampling parameters; part of every request key, so changing one starts new samples.

    The defaults are DeepSeek-R1's recommended settings (temperature 0.6, top-p 0.95).
    """

    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = DEFAULT_TOP_P
    max_tokens: int = DEFAULT_MAX_TOKENS
    seed: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.temperature <= 5.0:
            raise ValueError(f"temperature must be in [0, 5], got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class TeacherRequest:
    """One prompt for which the teacher should return ``n`` completions."""

    messages: list[dict[str, str]]
    n: int = 1
    params: SamplingParams = field(default_factory=SamplingParams)
    stream: bool = False
    """Stream the completion (SSE / NDJSON). Long reasoning outputs are streamed so that proxies
    and load balancers with idle timeouts do not cut a connection that is busy generating."""


@dataclass(slots=True)
class TeacherResponse:
    """One completion (one choice of a request)."""

    content: str
    reasoning: str | None = None
    """Reasoning delivered in a separate field (``reasoning_content``/``thinking``), else ``None``
    (the engine then looks for ``<think>`` tags in ``content``)."""
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    endpoint: str | None = None


class TeacherError(Exception):
    """A failed teacher call, classified for the engine's retry loop.

    ``retryable``: 429, 5xx, timeouts and connection errors; ``fatal``: the whole run cannot
    succeed (bad credentials, unknown model), so the engine stops instead of burning the dataset
    through the retry budget; ``retry_after``: seconds the server asked us to wait.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        fatal: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.fatal = fatal
        self.retry_after = retry_after

    @classmethod
    def from_status(
        cls, status: int, message: str, retry_after: float | None = None
    ) -> TeacherError:
        """Classify an HTTP status the way every OpenAI-compatible and Ollama server uses them."""
        retryable = status in (408, 409, 425, 429) or status >= 500
        fatal = status in (401, 403, 404)
        return cls(
            f"HTTP {status}: {message}",
            status=status,
            retryable=retryable,
            fatal=fatal,
            retry_after=retry_after,
        )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), ``None`` if absent."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    import time

    return max(0.0, when.timestamp() - time.time())


@runtime_checkable
class Teacher(Protocol):
    """The interface the engine needs from a backend."""

    backend: str
    model: str
    supports_native_n: bool
    """``True`` when one request returns ``n`` choices (OpenAI ``n``); otherwise the engine sends
    one request per sample."""

    async def complete(self, request: TeacherRequest) -> list[TeacherResponse]:
        """Return up to ``request.n`` completions, or raise :class:`TeacherError`."""
        ...

    async def aclose(self) -> None:
        """Release connections, threads and models."""
        ...

    def describe(self) -> dict[str, Any]:
        """Identity for metadata and manifests: backend, model, endpoints — never a secret."""
        ...


class PooledTeacher:
    """Several endpoints serving one model, behind one teacher: each request goes to the endpoint
    with the fewest requests in flight (ties broken round-robin).

    Least-busy beats round-robin when endpoints differ in speed (a busy vLLM replica, a GPU that
    throttles): a slow endpoint keeps its requests longer and so receives fewer new ones.
    """

    def __init__(self, teachers: Sequence[Teacher]) -> None:
        if not teachers:
            raise ValueError("PooledTeacher needs at least one teacher")
        models = {t.model for t in teachers}
        if len(models) != 1:
            raise ValueError(f"every endpoint must serve the same model, got {sorted(models)}")
        self.teachers = list(teachers)
        self.backend = teachers[0].backend
        self.model = teachers[0].model
        self.supports_native_n = all(t.supports_native_n for t in teachers)
        self.in_flight = [0] * len(teachers)
        self.requests = [0] * len(teachers)
        self._tiebreak = itertools.count()

    def _pick(self) -> int:
        least = min(self.in_flight)
        candidates = [i for i, busy in enumerate(self.in_flight) if busy == least]
        return candidates[next(self._tiebreak) % len(candidates)]

    async def complete(self, request: TeacherRequest) -> list[TeacherResponse]:
        index = self._pick()
        self.in_flight[index] += 1
        self.requests[index] += 1
        try:
            return await self.teachers[index].complete(request)
        finally:
            self.in_flight[index] -= 1

    async def aclose(self) -> None:
        for teacher in self.teachers:
            await teacher.aclose()

    def describe(self) -> dict[str, Any]:
        described = [t.describe() for t in self.teachers]
        merged = dict(described[0])
        merged["endpoints"] = [d.get("base_url") or d.get("host") for d in described]
        merged.pop("base_url", None)
        merged.pop("host", None)
        return merged


# The registry: backend name -> "module:factory". Factories take keyword options and return a
# Teacher. Import paths (not objects) keep heavy client libraries out of `import toolkit`.
TEACHERS: dict[str, str] = {
    "openai": "toolkit.teachers.openai_compat:OpenAICompatTeacher",
    "ollama": "toolkit.teachers.ollama_chat:OllamaTeacher",
    "transformers": "toolkit.teachers.local:TransformersTeacher",
}


def register_teacher(name: str, factory: str | Callable[..., Teacher]) -> None:
    """Add a backend: ``factory`` is a callable or a ``"module:attr"`` import path."""
    if isinstance(factory, str) and ":" not in factory:
        raise ValueError(f"factory path must look like 'package.module:attr', got {factory!r}")
    TEACHERS[name] = factory  # type: ignore[assignment]


def teacher_factory(name: str) -> Callable[..., Teacher]:
    """The factory registered for ``name`` (imports its module on first use)."""
    try:
        target = TEACHERS[name]
    except KeyError:
        raise ValueError(
            f"unknown teacher backend {name!r}; choose one of {', '.join(sorted(TEACHERS))}"
        ) from None
    if callable(target):
        return target
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def make_teacher(
    backend: str, *, base_urls: Sequence[str] | None = None, **options: Any
) -> Teacher:
    """Build a teacher; several ``base_urls`` give a least-busy :class:`PooledTeacher`.

    Example: ``make_teacher("openai", base_urls=["http://a/v1", "http://b/v1"], model="r1")``.
    """
    factory = teacher_factory(backend)
    urls = list(base_urls or [])
    if len(urls) <= 1:
        if urls:
            options["base_url"] = urls[0]
        return factory(**options)
    return PooledTeacher([factory(base_url=url, **options) for url in urls])


__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_TEMPERATURE",
    "DEFAULT_TOP_P",
    "TEACHERS",
    "PooledTeacher",
    "SamplingParams",
    "Teacher",
    "TeacherError",
    "TeacherRequest",
    "TeacherResponse",
    "make_teacher",
    "parse_retry_after",
    "register_teacher",
    "teacher_factory",
]
