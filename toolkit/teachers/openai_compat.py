"""The ``openai`` backend: any OpenAI-compatible chat-completions server.

DeepSeek's API, vLLM, SGLang, llama.cpp's server and ``transformers serve`` all speak
``POST {base_url}/chat/completions``. Reasoning models return their thinking either in a separate
field — ``reasoning_content`` (DeepSeek, vLLM's reasoning parser, ``transformers serve``) or
``reasoning`` (newer vLLM, OpenRouter) — or inline between ``<think>`` tags; this backend reads the
field when present and leaves tags to :func:`toolkit.thinking.split_thinking`.

Three transports speak the same protocol:

``transport="http11"`` (default)
    A lean path: :mod:`toolkit.teachers.http11`, a minimal pooled asyncio HTTP/1.1 client, and
    plain ``json`` parsing. At hundreds of requests per second the client CPU per request decides
    the throughput of a 2-core machine, and both httpx's pool and the official client's pydantic
    layers cost several milliseconds per request there (``benchmarks/generate.py`` prints all
    three side by side).
``transport="httpx"``
    One pooled ``httpx.AsyncClient`` (honours proxy environment variables).
``transport="openai"``
    The official ``openai.AsyncOpenAI`` client, for servers or proxies that need its extras.

Either way the client's own retries are off (the engine retries, with backoff and ``Retry-After``),
and the API key comes from an environment variable and is never logged, stored or described.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from toolkit.teachers import SamplingParams, TeacherError, TeacherRequest, TeacherResponse
from toolkit.teachers import parse_retry_after as _parse_retry_after

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
TRANSPORTS = ("http11", "httpx", "openai")


class OpenAICompatTeacher:
    """A teacher behind an OpenAI-compatible ``/chat/completions`` endpoint."""

    backend = "openai"

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        *,
        api_key_env: str = DEFAULT_API_KEY_ENV,
        transport: str = "http11",
        native_n: bool = True,
        timeout: float = 600.0,
        max_connections: int = 1024,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        if not model:
            raise ValueError("the openai backend needs a model name (--model)")
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, got {transport!r}")
        self.model = model
        self.base_url = (
            base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        ).rstrip("/")
        self.api_key_env = api_key_env
        self.transport = transport
        self.supports_native_n = native_n
        self.timeout = timeout
        self.max_connections = max_connections
        self.extra_body = dict(extra_body or {})
        self._client: Any = None

    # -- identity ----------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "model": self.model,
            "base_url": self.base_url,
            "transport": self.transport,
        }

    def _api_key(self) -> str:
        # Local servers accept any key; the official client refuses an empty one.
        return os.environ.get(self.api_key_env) or "EMPTY"

    # -- request body ------------------------------------------------------------------------
    def _body(self, request: TeacherRequest) -> dict[str, Any]:
        params: SamplingParams = request.params
        body: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
        }
        if request.n != 1:
            body["n"] = request.n
        if params.seed is not None:
            body["seed"] = params.seed
        if request.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        body.update(self.extra_body)
        return body

    async def complete(self, request: TeacherRequest) -> list[TeacherResponse]:
        if self.transport == "openai":
            return await self._complete_official(request)
        if self.transport == "httpx":
            return await self._complete_httpx(request)
        return await self._complete_http11(request)

    async def aclose(self) -> None:
        if self._client is not None:
            close = getattr(self._client, "aclose", None) or self._client.close
            await close()
            self._client = None

    # -- lean transport ----------------------------------------------------------------------
    def _pool(self) -> Any:
        if self._client is None:
            from toolkit.teachers.http11 import HTTP11Pool

            self._client = HTTP11Pool(
                self.base_url,
                headers={"Authorization": f"Bearer {self._api_key()}"},
                max_connections=self.max_connections,
                connect_timeout=min(30.0, self.timeout),
            )
        return self._client

    async def _complete_http11(self, request: TeacherRequest) -> list[TeacherResponse]:
        from toolkit.teachers.http11 import HTTPConnectionError

        pool = self._pool()
        body = json.dumps(self._body(request), ensure_ascii=False).encode("utf-8")
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                if request.stream:
                    status, headers, lines = await pool.stream_lines(
                        "POST", "/chat/completions", body
                    )
                    try:
                        if status >= 400:
                            text = "\n".join([line async for line in lines])
                            raise _status_error(status, text, headers)
                        chunks = [json.loads(data) async for data in _sse_data(lines)]
                        async for _ in lines:  # read to the end so the connection is reusable
                            pass
                    finally:
                        await lines.aclose()  # on timeout/cancel: close the socket, free the slot
                    payload = _merge_stream_chunks(chunks)
                else:
                    response = await pool.request("POST", "/chat/completions", body)
                    if response.status >= 400:
                        raise _status_error(response.status, response.text, response.headers)
                    payload = json.loads(response.body)
        except TimeoutError as error:
            raise TeacherError(f"timeout after {self.timeout:g}s", retryable=True) from error
        except HTTPConnectionError as error:
            raise TeacherError(f"connection error: {error}", retryable=True) from error
        except json.JSONDecodeError as error:
            raise TeacherError(f"malformed JSON from server: {error}", retryable=True) from error
        return _responses_from_payload(payload, time.perf_counter() - started, self.base_url)

    def _httpx_client(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                headers={"Authorization": f"Bearer {self._api_key()}"},
                timeout=httpx.Timeout(self.timeout, connect=min(30.0, self.timeout)),
                limits=httpx.Limits(
                    max_connections=self.max_connections,
                    max_keepalive_connections=self.max_connections,
                ),
            )
        return self._client

    async def _complete_httpx(self, request: TeacherRequest) -> list[TeacherResponse]:
        import httpx

        client = self._httpx_client()
        body = self._body(request)
        started = time.perf_counter()
        try:
            if request.stream:
                async with client.stream("POST", "/chat/completions", json=body) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        raise _status_error(response.status_code, response.text, response.headers)
                    chunks = [json.loads(data) async for data in _sse_data(response.aiter_lines())]
                payload = _merge_stream_chunks(chunks)
            else:
                response = await client.post("/chat/completions", json=body)
                if response.status_code >= 400:
                    raise _status_error(response.status_code, response.text, response.headers)
                payload = json.loads(response.content)
        except httpx.TimeoutException as error:
            raise TeacherError(f"timeout: {type(error).__name__}", retryable=True) from error
        except httpx.TransportError as error:
            raise TeacherError(
                f"connection error: {type(error).__name__}: {error}", retryable=True
            ) from error
        except json.JSONDecodeError as error:
            raise TeacherError(f"malformed JSON from server: {error}", retryable=True) from error
        return _responses_from_payload(payload, time.perf_counter() - started, self.base_url)

    # -- official client ---------------------------------------------------------------------
    def _official_client(self) -> Any:
        if self._client is None:
            import openai

            self._client = openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=self._api_key(),
                max_retries=0,  # the engine retries (backoff + jitter + Retry-After)
                timeout=self.timeout,
            )
        return self._client

    async def _complete_official(self, request: TeacherRequest) -> list[TeacherResponse]:
        import openai

        client = self._official_client()
        body = self._body(request)
        started = time.perf_counter()
        standard = {"model", "messages", "temperature", "top_p", "max_tokens", "n", "seed",
                    "stream", "stream_options"}  # fmt: skip
        extra = {k: v for k, v in body.items() if k not in standard}
        kwargs = {k: v for k, v in body.items() if k in standard}
        try:
            if request.stream:
                stream = await client.chat.completions.create(**kwargs, extra_body=extra or None)
                chunks = [chunk.model_dump() async for chunk in stream]
                payload = _merge_stream_chunks(chunks)
            else:
                completion = await client.chat.completions.create(
                    **kwargs, extra_body=extra or None
                )
                payload = completion.model_dump()
        except openai.APIStatusError as error:
            raise _status_error(
                error.status_code, error.response.text, error.response.headers
            ) from error
        except openai.APITimeoutError as error:
            raise TeacherError("timeout", retryable=True) from error
        except openai.APIConnectionError as error:
            raise TeacherError(f"connection error: {error}", retryable=True) from error
        return _responses_from_payload(payload, time.perf_counter() - started, self.base_url)


def _status_error(status: int, text: str, headers: Any) -> TeacherError:
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
    retry_after = _parse_retry_after(headers.get("retry-after") if headers is not None else None)
    return TeacherError.from_status(status, message[:500], retry_after)


async def _sse_data(lines: Any) -> Any:
    """The ``data:`` payloads of a server-sent-event stream, up to ``[DONE]``."""
    async for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        if data:
            yield data


def _merge_stream_chunks(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Fold ``chat.completion.chunk`` objects into one ``chat.completion``-shaped payload."""
    choices: dict[int, dict[str, Any]] = {}
    usage = None
    for chunk in chunks:
        if "error" in chunk and not chunk.get("choices"):
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else str(error)
            raise TeacherError(f"error in stream: {message}", retryable=True)
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            merged = choices.setdefault(
                choice.get("index", 0),
                {"content": [], "reasoning": [], "finish_reason": None},
            )
            delta = choice.get("delta") or {}
            if delta.get("content"):
                merged["content"].append(delta["content"])
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


def _responses_from_payload(
    payload: dict[str, Any], latency_s: float, endpoint: str
) -> list[TeacherResponse]:
    choices = payload.get("choices")
    if not choices:
        raise TeacherError(f"response without choices: {str(payload)[:200]}", retryable=True)
    usage = payload.get("usage") or {}
    prompt_tokens = usage.get("prompt_tokens")
    total_completion = usage.get("completion_tokens")
    responses = []
    for choice in sorted(choices, key=lambda c: c.get("index", 0)):
        message = choice.get("message") or {}
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        responses.append(
            TeacherResponse(
                content=message.get("content") or "",
                reasoning=reasoning or None,
                finish_reason=choice.get("finish_reason"),
                prompt_tokens=prompt_tokens,
                latency_s=latency_s,
                endpoint=endpoint,
            )
        )
    _split_completion_tokens(responses, total_completion)
    return responses


def _split_completion_tokens(responses: list[TeacherResponse], total: int | None) -> None:
    """Servers report one usage for all ``n`` choices; attribute it to each choice in proportion
    to its length, so that per-sample counts add up exactly to what was billed."""
    if total is None:
        return
    if len(responses) == 1:
        responses[0].completion_tokens = total
        return
    sizes = [len(r.content) + len(r.reasoning or "") + 1 for r in responses]
    whole = sum(sizes)
    assigned = 0
    for response, size in zip(responses[:-1], sizes[:-1], strict=True):
        response.completion_tokens = round(total * size / whole)
        assigned += response.completion_tokens
    responses[-1].completion_tokens = max(0, total - assigned)
