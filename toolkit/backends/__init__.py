"""The one model layer: every stage that talks to a model (generate, evaluate, chat) goes
through a :class:`Model` built here.

Backends:

``openai``        any OpenAI-compatible server (DeepSeek API, vLLM, SGLang, llama.cpp,
                  ``transformers serve``), over one pooled aiohttp session
``ollama``        an Ollama server through the official client (``think=True`` with fallback)
``transformers``  a local model in this process (LoRA adapters, end-of-turn stops, batching)

A plugin adds one by registering a factory (``"module:attr"`` or a callable) with
:func:`register_backend`, or — like ``llm`` plugins — through the ``toolkit.backends`` entry-point
group in its own ``pyproject.toml``::

    [project.entry-points."toolkit.backends"]
    mybackend = "my_package.backend:MyModel"

Factories take ``model`` and ``base_url`` plus their own keyword options and return an object
that satisfies :class:`Model`. Registration is by import path so that ``import toolkit`` never
imports aiohttp, ollama or torch; :func:`make_model` imports the one that is used.
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from toolkit.backends.base import (
    R1_TEMPERATURE,
    R1_TOP_P,
    ChatRequest,
    Completion,
    Delta,
    Messages,
    Model,
    SamplingParams,
)
from toolkit.backends.retry import RetryPolicy, backoff_delay, parse_retry_after
from toolkit.errors import BackendError, UsageError

ENTRY_POINT_GROUP = "toolkit.backends"

#: backend name -> factory ("module:attr" import path, or a callable)
BACKENDS: dict[str, str | Callable[..., Model]] = {
    "openai": "toolkit.backends.openai:OpenAIModel",
    "ollama": "toolkit.backends.ollama:OllamaModel",
    "transformers": "toolkit.backends.transformers:TransformersModel",
}
_entry_points_loaded = False


def register_backend(name: str, factory: str | Callable[..., Model]) -> None:
    """Add (or replace) a backend: ``factory`` is a callable or a ``"module:attr"`` path."""
    if isinstance(factory, str) and ":" not in factory:
        raise UsageError(f"factory path must look like 'package.module:attr', got {factory!r}")
    BACKENDS[name] = factory


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINT_GROUP):
        BACKENDS.setdefault(point.name, point.value)


def backend_names() -> list[str]:
    _load_entry_points()
    return sorted(BACKENDS)


def backend_factory(name: str) -> Callable[..., Model]:
    """The factory registered for ``name`` (imports its module on first use)."""
    _load_entry_points()
    try:
        target = BACKENDS[name]
    except KeyError:
        raise UsageError(
            f"unknown backend {name!r}; choose one of {', '.join(sorted(BACKENDS))}"
        ) from None
    if callable(target):
        return target
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UsageError(
            f"the {name} backend needs a package that is not installed: {error.name}",
            hint="pip install 'r1-distill-toolkit[generate]' (servers) or '[train]' (local)",
        ) from error
    return getattr(module, attr)


def make_model(
    backend: str,
    model: str | None = None,
    *,
    base_urls: Sequence[str] | str | None = None,
    **options: Any,
) -> Model:
    """Build a model; several ``base_urls`` give a least-busy :class:`PooledModel`.

    Example: ``make_model("openai", "r1", base_urls=["http://a/v1", "http://b/v1"])``.
    ``None`` options are dropped, so callers can pass their config through unchanged.
    """
    factory = backend_factory(backend)
    options = {key: value for key, value in options.items() if value is not None}
    urls = [base_urls] if isinstance(base_urls, str) else list(base_urls or [])
    if len(urls) <= 1:
        return factory(model, urls[0] if urls else None, **options)
    return PooledModel([factory(model, url, **options) for url in urls])


class PooledModel:
    """Several endpoints serving one model behind one :class:`Model`: each request goes to the
    endpoint with the fewest requests in flight (ties broken round-robin).

    Least-busy beats round-robin when endpoints differ in speed (a busy vLLM replica, a GPU
    that throttles): a slow endpoint keeps its requests longer and so receives fewer new ones.
    """

    def __init__(self, models: Sequence[Model]) -> None:
        if not models:
            raise UsageError("PooledModel needs at least one endpoint")
        names = {m.model for m in models}
        if len(names) != 1:
            raise UsageError(f"every endpoint must serve the same model, got {sorted(names)}")
        self.models = list(models)
        self.backend = models[0].backend
        self.model = models[0].model
        self.supports_native_n = all(m.supports_native_n for m in models)
        self.in_flight = [0] * len(models)
        self.requests = [0] * len(models)
        self._tiebreak = itertools.count()

    def _pick(self) -> int:
        least = min(self.in_flight)
        candidates = [i for i, busy in enumerate(self.in_flight) if busy == least]
        return candidates[next(self._tiebreak) % len(candidates)]

    async def complete(self, request: ChatRequest) -> list[Completion]:
        index = self._pick()
        self.in_flight[index] += 1
        self.requests[index] += 1
        try:
            return await self.models[index].complete(request)
        finally:
            self.in_flight[index] -= 1

    async def stream(self, messages: Messages, params: SamplingParams) -> AsyncIterator[Delta]:
        index = self._pick()
        self.in_flight[index] += 1
        try:
            async for delta in self.models[index].stream(messages, params):
                yield delta
        finally:
            self.in_flight[index] -= 1

    async def check(self) -> None:
        for model in self.models:
            await model.check()

    def prefills_thinking(self, messages: Messages) -> bool | None:
        return self.models[0].prefills_thinking(messages)

    async def aclose(self) -> None:
        for model in self.models:
            await model.aclose()

    def describe(self) -> dict[str, Any]:
        described = [m.describe() for m in self.models]
        merged = dict(described[0])
        merged["endpoints"] = [d.get("base_url") for d in described]
        merged.pop("base_url", None)
        return merged


__all__ = [
    "BACKENDS",
    "R1_TEMPERATURE",
    "R1_TOP_P",
    "BackendError",
    "ChatRequest",
    "Completion",
    "Delta",
    "Messages",
    "Model",
    "PooledModel",
    "RetryPolicy",
    "SamplingParams",
    "backend_factory",
    "backend_names",
    "backoff_delay",
    "make_model",
    "parse_retry_after",
    "register_backend",
]
