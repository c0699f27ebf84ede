"""Any OpenAI-compatible chat-completions server: DeepSeek's API, vLLM, SGLang, llama.cpp's
server, ``transformers serve``, Ollama's ``/v1``, OpenRouter.

Reasoning arrives in a separate field — ``reasoning_content`` (DeepSeek, vLLM's reasoning
parser, ``transformers serve``) or ``reasoning`` (newer vLLM, OpenRouter) — or inline between
``<think>`` tags; this backend reads the field when present and leaves tags to
:func:`toolkit.thinking.split_thinking`.

Transport: one pooled ``aiohttp`` session. At hundreds of requests per second on a 2-core
machine the client's CPU per request decides the throughput; ``benchmarks/generate.py``
measured aiohttp at the level of the hand-written HTTP/1.1 client this replaced (and the
official ``openai`` SDK at a quarter of it at concurrency 256), so the well-kept library wins.
The client never retries by itself: the engine does, with back-off and ``Retry-After``.

The API key comes from an environment variable (or the ``api_key`` argument, for a Space
secret); it is registered with :mod:`toolkit.redact` so it cannot reach an error message, a
log or a file even when a server echoes request headers back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from toolkit.backends.base import ChatRequest, Completion, Delta, Messages, SamplingParams
from toolkit.backends.retry import parse_retry_after
from toolkit.errors import BackendError, UsageError
from toolkit.redact import redact, register_env, register_secret

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"  # `transformers serve` and vLLM's default port
CHECK_TIMEOUT_S = 10.0

#: Served model names whose chat template opens ``<think>`` itself (DeepSeek's R1 family and its
#: distills, QwQ): without a reasoning parser the output starts inside the reasoning.
PREFILLING_MODELS = re.compile(r"deepseek[-_]?r1|r1[-_]distill|qwq", re.IGNORECASE)


def _env_proxy(base_url: str) -> tuple[Any, Any]:
    """The proxy (and its credentials) the environment sets for ``base_url``, or ``(None,
    None)``: what aiohttp's ``trust_env`` would find, looked up once."""
    from aiohttp.helpers import get_env_proxy_for_url
    from yarl import URL

    try:
        return get_env_proxy_for_url(URL(base_url))
    except LookupError:  # no proxy set, or NO_PROXY covers the host
        return None, None


class OpenAIModel:
    """A model behind an OpenAI-compatible ``/chat/completions`` endpoint."""

    backend = "openai"

    def __init__(
        self,
        model: str | None,
        base_url: str | None = None,
        *,
        api_key_env: str = DEFAULT_API_KEY_ENV,
        api_key: str | None = None,
        native_n: bool = True,
        timeout: float = 600.0,
        max_connections: int = 1024,
        extra_body: dict[str, Any] | None = None,
        prefilled_thinking: bool | None = None,
    ) -> None:
        self.model = model or ""
        url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        if not url.startswith(("http://", "https://")):
            raise UsageError(
                f"base URL must start with http:// or https://, got {url!r}",
                hint="an OpenAI-compatible server's URL ends in /v1, e.g. http://127.0.0.1:8000/v1",
            )
        self.base_url = url.rstrip("/")
        self.api_key_env = api_key_env
        register_env(api_key_env)
        self._api_key = api_key
        register_secret(api_key)
        self.supports_native_n = native_n
        self.timeout = timeout
        self.max_connections = max_connections
        self.extra_body = dict(extra_body or {})
        self.prefilled_thinking = prefilled_thinking
        self._session: Any = None

    # -- identity ----------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "model": self.model, "base_url": self.base_url}

    def prefills_thinking(self, messages: Messages) -> bool | None:
        if self.prefilled_thinking is not None:
            return self.prefilled_thinking
        return True if PREFILLING_MODELS.search(self.model) else None

    def _key(self) -> str:
        # Local servers accept any key; some refuse an empty Authorization header.
        return self._api_key or os.environ.get(self.api_key_env) or "EMPTY"

    # -- connections -------------------------------------------------------------------------
    def _client(self) -> Any:
        if self._session is None or self._session.closed:
            import aiohttp

            proxy, proxy_auth = _env_proxy(self.base_url)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0),
                timeout=aiohttp.ClientTimeout(total=self.timeout, sock_connect=30),
                headers={"Authorization": f"Bearer {self._key()}"},
                # HTTP(S)_PROXY / NO_PROXY are honoured, resolved once for the one base URL:
                # aiohttp's trust_env=True looks them (and ~/.netrc) up in a thread per request,
                # two executor hops that cost ~0.3 ms of client CPU per request at c=256.
                proxy=proxy,
                proxy_auth=proxy_auth,
                json_serialize=lambda obj: json.dumps(obj, ensure_ascii=False),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- requests ----------------------------------------------------------------------------
    def _body(self, messages: Messages, params: SamplingParams, n: int, stream: bool) -> dict:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_new_tokens,
        }
        if n != 1:
            body["n"] = n
        if params.seed is not None:
            body["seed"] = params.seed
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        body.update(self.extra_body)
        return body

    async def complete(self, request: ChatRequest) -> list[Completion]:
        body = self._body(request.messages, request.params, request.n, request.stream)
        started = time.perf_counter()
        async with (
            _errors_mapped(self.timeout),
            self._client().post(f"{self.base_url}/chat/completions", json=body) as response,
        ):
            if response.status >= 400:
                raise _status_error(response.status, await response.text(), response.headers)
            if request.stream:
                chunks = [c async for c in _sse_json(response) if c is not _DONE]
                payload = _merge_stream_chunks(chunks)
            else:
                payload = _json(await response.read())
        return _completions(payload, time.perf_counter() - started, self.base_url)

    async def stream(self, messages: Messages, params: SamplingParams) -> AsyncIterator[Delta]:
        """Deltas as they arrive; a stream that ends without a finish reason or ``[DONE]`` was
        cut (a dropped connection) and raises a retryable :class:`BackendError`."""
        import aiohttp

        body = self._body(messages, params, 1, True)
        finish: str | None = None
        # An idle limit, not a total one: a long answer that keeps streaming (a chat's thinking
        # runs for minutes) must not be cut by the request timeout.
        idle = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=self.timeout)
        async with (
            _errors_mapped(self.timeout),
            self._client().post(
                f"{self.base_url}/chat/completions", json=body, timeout=idle
            ) as response,
        ):
            if response.status >= 400:
                raise _status_error(response.status, await response.text(), response.headers)
            done = False
            async for chunk in _sse_json(response):
                if chunk is _DONE:
                    done = True
                    break
                _raise_stream_error(chunk)
                for choice in chunk.get("choices") or ():
                    delta = choice.get("delta") or {}
                    reasoning = delta.get("reasoning_content") or delta.get("reasoning") or ""
                    content = _text(delta.get("content"))
                    finish = choice.get("finish_reason") or finish
                    if content or reasoning:
                        yield Delta(content=content, reasoning=reasoning)
            if not done and finish is None:
                raise BackendError(
                    "the server closed the stream before the answer was complete",
                    retryable=True,
                )
        yield Delta(finish_reason=finish or "stop")

    async def models(self) -> list[str]:
        """The model names the server serves (``GET /models``)."""
        async with (
            _errors_mapped(CHECK_TIMEOUT_S),
            asyncio.timeout(CHECK_TIMEOUT_S),
            self._client().get(f"{self.base_url}/models") as response,
        ):
            if response.status >= 400:
                raise _status_error(response.status, await response.text(), response.headers)
            payload = _json(await response.read())
        return [str(item.get("id")) for item in payload.get("data") or () if item.get("id")]

    async def check(self) -> None:
        try:
            served = await self.models()
        except BackendError as error:
            if error.status in (404, 405, 501):
                return  # a server or proxy without /models: nothing to check against
            raise BackendError(
                f"the OpenAI-compatible server at {self.base_url} is not usable: {error}",
                status=error.status,
                fatal=True,
                hint=error.hint
                or "start the server (e.g. `transformers serve`, `vllm serve MODEL`) or check "
                "--base-url",
            ) from None
        if not self.model and served:
            self.model = served[0]
        elif served and self.model not in served:
            raise BackendError(
                f"the server at {self.base_url} does not serve {self.model!r}; "
                f"it serves {', '.join(served[:10])}",
                fatal=True,
                hint="pass one of the served names as --model",
            )


class _Done:
    """Marks ``data: [DONE]`` in an SSE stream."""


_DONE: Any = _Done()


@contextlib.asynccontextmanager
async def _errors_mapped(timeout: float) -> AsyncIterator[None]:
    """Transport failures as retryable :class:`BackendError` (their text redacted)."""
    import aiohttp

    try:
        yield
    except BackendError:
        raise
    except (TimeoutError, aiohttp.ServerTimeoutError) as error:
        raise BackendError(f"timeout after {timeout:g}s", retryable=True) from error
    except (aiohttp.ClientError, OSError) as error:  # ConnectionError is an OSError
        raise BackendError(
            f"connection error: {type(error).__name__}: {redact(error)}", retryable=True
        ) from error


def _json(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BackendError(
            f"malformed JSON from the server ({error}): {redact(raw[:200])!r}", retryable=True
        ) from None
    if not isinstance(payload, dict):
        raise BackendError(
            f"expected a JSON object from the server, got {type(payload).__name__}",
            retryable=True,
        )
    return payload


async def _sse_json(response: Any) -> AsyncIterator[Any]:
    """The JSON payloads of a server-sent-event stream, then ``_DONE`` if the server sent
    ``data: [DONE]`` (nothing after it is read)."""
    buffer = b""
    async for piece in response.content.iter_any():
        buffer += piece
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            item = _sse_line(line)
            if item is not None:
                yield item
            if item is _DONE:
                return
    item = _sse_line(buffer)
    if item is not None:
        yield item


def _sse_line(line: bytes) -> Any:
    line = line.strip()
    if not line.startswith(b"data:"):
        return None
    data = line[5:].strip()
    if data == b"[DONE]":
        return _DONE
    return _json(data) if data else None


def _text(content: Any) -> str:
    """Message content as text: a string, or the content-parts list form
    (``[{"type": "text", "text": "..."}]``) that the OpenAI API also allows."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text") or "" if isinstance(part, dict) else str(part) for part in content
        )
    return str(content)


def _raise_stream_error(chunk: dict[str, Any]) -> None:
    if "error" in chunk and not chunk.get("choices"):
        error = chunk["error"]
        message = error.get("message") if isinstance(error, dict) else str(error)
        raise BackendError(f"error in stream: {redact(message)}", retryable=True)


def _status_error(status: int, text: str, headers: Any) -> BackendError:
    """The one place server error text enters an error message: redacted, first 500 chars."""
    message = text.strip()
    try:
        parsed = json.loads(message)
        error = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
        if isinstance(error, dict):
            message = str(error.get("message") or error)
        elif error:
            message = str(error)
    except (json.JSONDecodeError, AttributeError):
        pass
    retry_after = parse_retry_after(headers.get("retry-after") if headers is not None else None)
    return BackendError.from_status(status, redact(message)[:500], retry_after)


def _merge_stream_chunks(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Fold ``chat.completion.chunk`` objects into one ``chat.completion``-shaped payload."""
    choices: dict[int, dict[str, Any]] = {}
    usage = None
    for chunk in chunks:
        _raise_stream_error(chunk)
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            merged = choices.setdefault(
                choice.get("index", 0), {"content": [], "reasoning": [], "finish_reason": None}
            )
            delta = choice.get("delta") or {}
            text = _text(delta.get("content"))
            if text:
                merged["content"].append(text)
            thought = delta.get("reasoning_content") or delta.get("reasoning")
            if thought:
                merged["reasoning"].append(thought)
            if choice.get("finish_reason"):
                merged["finish_reason"] = choice["finish_reason"]
    return {
        "choices": [
            {
                "index": index,
                "finish_reason": merged["finish_reason"],
                "message": {
                    "content": "".join(merged["content"]),
                    "reasoning_content": "".join(merged["reasoning"]) or None,
                },
            }
            for index, merged in sorted(choices.items())
        ],
        "usage": usage,
    }


def _completions(payload: dict[str, Any], latency_s: float, endpoint: str) -> list[Completion]:
    choices = payload.get("choices")
    if not choices or not isinstance(choices, list):
        raise BackendError(
            f"response without choices: {redact(str(payload)[:200])}", retryable=True
        )
    usage = payload.get("usage") or {}
    prompt_tokens = usage.get("prompt_tokens")
    completions = []
    for choice in sorted(choices, key=lambda c: c.get("index", 0)):
        message = choice.get("message") or {}
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        completions.append(
            Completion(
                content=_text(message.get("content")),
                reasoning=_text(reasoning) or None,
                finish_reason=choice.get("finish_reason"),
                prompt_tokens=prompt_tokens,
                latency_s=latency_s,
                endpoint=endpoint,
            )
        )
    _split_completion_tokens(completions, usage.get("completion_tokens"))
    return completions


def _split_completion_tokens(completions: list[Completion], total: int | None) -> None:
    """Servers report one usage for all ``n`` choices; attribute it to each choice in proportion
    to its length, so that per-sample counts add up exactly to what was billed."""
    if total is None:
        return
    if len(completions) == 1:
        completions[0].completion_tokens = total
        return
    sizes = [len(c.content) + len(c.reasoning or "") + 1 for c in completions]
    whole = sum(sizes)
    assigned = 0
    for completion, size in zip(completions[:-1], sizes[:-1], strict=True):
        completion.completion_tokens = round(total * size / whole)
        assigned += completion.completion_tokens
    completions[-1].completion_tokens = max(0, total - assigned)


__all__ = ["DEFAULT_API_KEY_ENV", "DEFAULT_BASE_URL", "OpenAIModel"]
