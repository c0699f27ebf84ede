"""A local or remote Ollama server through the official ``ollama`` client.

Ollama's ``/api/chat`` returns a thinking model's reasoning in ``message.thinking`` when asked
with ``think=True``. Models without a thinking mode answer that request with HTTP 400
(``"<model>" does not support thinking``); the backend then drops ``think`` for the rest of its
life — written once here for generate, evaluate and chat — and
:func:`toolkit.thinking.split_thinking` still finds any ``<think>`` tags left in the content.

Ollama has no ``n``: the engine sends one request per sample. Sampling maps to Ollama options
(``temperature``, ``top_p``, ``num_predict``, ``seed``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from toolkit.backends.base import ChatRequest, Completion, Delta, Messages, SamplingParams
from toolkit.backends.openai import PREFILLING_MODELS
from toolkit.errors import BackendError, UsageError
from toolkit.redact import redact

DEFAULT_HOST = "http://127.0.0.1:11434"
CHECK_TIMEOUT_S = 10.0


class OllamaModel:
    """A model served by Ollama (``ollama serve``)."""

    backend = "ollama"
    supports_native_n = False

    def __init__(
        self,
        model: str | None,
        base_url: str | None = None,
        *,
        think: bool = True,
        timeout: float = 600.0,
        keep_alive: str | None = None,
        num_ctx: int | None = None,
        prefilled_thinking: bool | None = None,
    ) -> None:
        if not model:
            raise UsageError(
                "the ollama backend needs a model name", hint="pass --model, e.g. qwen3:0.6b"
            )
        self.model = model
        self.host = (base_url or DEFAULT_HOST).rstrip("/")
        self.think = think
        self.timeout = timeout
        self.keep_alive = keep_alive
        self.num_ctx = num_ctx
        self.prefilled_thinking = prefilled_thinking
        self._client: Any = None

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "model": self.model, "base_url": self.host}

    def prefills_thinking(self, messages: Messages) -> bool | None:
        if self.prefilled_thinking is not None:
            return self.prefilled_thinking
        # With think=True, Ollama separates the reasoning itself; without it (a model that
        # cannot think), R1-family templates still open <think> in the prompt.
        if not self.think and PREFILLING_MODELS.search(self.model):
            return True
        return None

    def _get_client(self) -> Any:
        if self._client is None:
            import ollama

            self._client = ollama.AsyncClient(host=self.host, timeout=self.timeout)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _kwargs(self, messages: Messages, params: SamplingParams) -> dict[str, Any]:
        options: dict[str, Any] = {
            "temperature": params.temperature,
            "top_p": params.top_p,
            "num_predict": params.max_new_tokens,
        }
        if params.seed is not None:
            options["seed"] = params.seed
        if self.num_ctx:
            options["num_ctx"] = self.num_ctx
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "options": options}
        if self.keep_alive is not None:
            kwargs["keep_alive"] = self.keep_alive
        return kwargs

    async def _chat(self, kwargs: dict[str, Any], stream: bool) -> Any:
        """One ``/api/chat`` call, asking for thinking while the model supports it. A stream
        is returned with its first part already read: Ollama reports "does not support
        thinking" only once the stream is consumed."""
        client = self._get_client()
        while True:
            think = {"think": True} if self.think else {}
            try:
                with _errors_mapped(self.host):
                    response = await client.chat(**kwargs, **think, stream=stream)
                    if not stream:
                        return response
                    first = await anext(response, None)
                return _prepend(first, response)
            except BackendError as error:
                if think and error.status == 400 and "think" in str(error).lower():
                    self.think = False  # no thinking mode: ask without it from now on
                    continue
                raise

    async def complete(self, request: ChatRequest) -> list[Completion]:
        return [await self._complete_one(request) for _ in range(request.n)]

    async def _complete_one(self, request: ChatRequest) -> Completion:
        kwargs = self._kwargs(request.messages, request.params)
        started = time.perf_counter()
        if request.stream:
            content: list[str] = []
            thinking: list[str] = []
            final: Any = None
            stream = await self._chat(kwargs, True)
            with _errors_mapped(self.host):
                async for part in stream:
                    if part.message.content:
                        content.append(part.message.content)
                    if part.message.thinking:
                        thinking.append(part.message.thinking)
                    if part.done:
                        final = part
            if final is None:
                raise BackendError("the stream ended before done=true", retryable=True)
            text, thought = "".join(content), "".join(thinking)
        else:
            final = await self._chat(kwargs, False)
            text, thought = final.message.content or "", final.message.thinking or ""
        return Completion(
            content=text,
            reasoning=thought or None,
            finish_reason=final.done_reason,
            prompt_tokens=final.prompt_eval_count,
            completion_tokens=final.eval_count,
            latency_s=time.perf_counter() - started,
            endpoint=self.host,
        )

    async def stream(self, messages: Messages, params: SamplingParams) -> AsyncIterator[Delta]:
        stream = await self._chat(self._kwargs(messages, params), True)
        finish = None
        with _errors_mapped(self.host):
            async for part in stream:
                content = part.message.content or ""
                reasoning = part.message.thinking or ""
                if content or reasoning:
                    yield Delta(content=content, reasoning=reasoning)
                if part.done:
                    finish = part.done_reason or "stop"
        if finish is None:
            raise BackendError(
                "Ollama closed the stream before the answer was complete", retryable=True
            )
        yield Delta(finish_reason=finish)

    async def models(self) -> list[str]:
        import asyncio

        with _errors_mapped(self.host):
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                listed = await self._get_client().list()
        return [str(m.model) for m in listed.models if m.model]

    async def check(self) -> None:
        try:
            served = await self.models()
        except (BackendError, TimeoutError) as error:
            raise BackendError(
                f"Ollama is not reachable at {self.host}: {error}",
                fatal=True,
                hint="start it with `ollama serve`, or pass its URL as --base-url",
            ) from None
        wanted = {self.model, f"{self.model}:latest"}
        if not wanted & set(served):
            raise BackendError(
                f"Ollama at {self.host} has no model {self.model!r}"
                + (f" (it has {', '.join(served[:10])})" if served else ""),
                fatal=True,
                hint=f"run `ollama pull {self.model}`",
            )


async def _prepend(first: Any, rest: Any) -> Any:
    if first is not None:
        yield first
    async for part in rest:
        yield part


@contextlib.contextmanager
def _errors_mapped(host: str) -> Iterator[None]:
    """The ollama client's failures as :class:`BackendError` (their text redacted)."""
    import httpx
    import ollama

    try:
        yield
    except BackendError:
        raise
    except ollama.ResponseError as error:
        status = error.status_code if error.status_code and error.status_code > 0 else 500
        raise BackendError.from_status(status, redact(error.error)[:500]) from None
    except (httpx.TimeoutException, TimeoutError) as error:
        raise BackendError("timeout", retryable=True) from error
    except (httpx.TransportError, OSError) as error:  # ConnectionError is an OSError
        raise BackendError(
            f"connection error: {type(error).__name__}: {redact(error)}", retryable=True
        ) from error


__all__ = ["DEFAULT_HOST", "OllamaModel"]
