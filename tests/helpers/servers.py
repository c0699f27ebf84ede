"""Loopback teacher servers for tests, benchmarks and demos: OpenAI-compatible and Ollama.

Both speak the real HTTP protocols (HTTP/1.1 keep-alive, chunked transfer for streams) on
127.0.0.1, on a free port, with nothing but the standard library, so real clients (``openai``,
``ollama``, ``httpx``) talk to them unmodified. They can inject faults for a chosen fraction of
requests: 429 with ``Retry-After``, 500, hangs (no answer until the client gives up) and
connection resets (TCP RST).

In a thread (tests)::

    from tests.helpers.servers import FaultPlan, OllamaServer, OpenAIServer

    with OpenAIServer(model="teacher", latency=0.05, faults=FaultPlan(rate_429=0.2)) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="x")
        ...
        server.stats["429"]  # how many faults were injected

In a separate process (benchmarks: the server does not steal the client's CPU)::

    with SubprocessServer("openai", latency=0.2, reasoning_chars=2000) as server:
        ... server.url ...

or from a shell: ``python tests/helpers/servers.py openai --latency 0.2`` (prints ``URL <url>``).

API: ``start()`` returns the server once it accepts connections (bounded wait), ``stop()`` closes
it, ``url`` is ``http://127.0.0.1:<port>``, and each class is a context manager. ``stats`` counts
requests per path and faults per kind; ``requests`` keeps the JSON bodies received (unless
``record_requests=False``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FaultPlan",
    "LoopbackServer",
    "OllamaServer",
    "OpenAIServer",
    "Request",
    "Response",
    "SubprocessServer",
    "default_responder",
]

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


# ------------------------------------------------------------------------------------------------
# HTTP plumbing


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass
class Response:
    """A full response, or a chunked stream when ``stream`` is set (an async iterator of bytes)."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    stream: AsyncIterator[bytes] | None = None

    @classmethod
    def json(cls, payload: Any, status: int = 200, **headers: str) -> Response:
        return cls(status, json.dumps(payload).encode(), headers=headers)


@dataclass
class FaultPlan:
    """Which fraction of requests fail, and how.

    Rates are fractions of request bodies (the decision is a hash of the body and of how many times
    that body was seen, so a run is reproducible). Each distinct body is faulted at most
    ``faults_per_request`` times: a client that retries always gets through in the end.
    ``stream_error`` sends an error object in the middle of a stream (Ollama NDJSON only).
    """

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_hang: float = 0.0
    rate_reset: float = 0.0
    rate_stream_error: float = 0.0
    #: a 200 whose JSON body is cut short (a proxy that truncated it)
    rate_malformed: float = 0.0
    #: a stream that stops mid-answer: no finish reason, no ``[DONE]``, the connection dropped
    rate_drop: float = 0.0
    retry_after: float = 1.0
    hang_s: float = 60.0
    faults_per_request: int = 1
    seed: int = 0

    def choose(self, digest: str, attempt: int) -> str | None:
        if attempt >= self.faults_per_request:
            return None
        token = hashlib.blake2b(f"{self.seed}:{digest}:{attempt}".encode(), digest_size=8).digest()
        draw = int.from_bytes(token, "big") / 2**64
        for kind, rate in (
            ("429", self.rate_429),
            ("500", self.rate_500),
            ("hang", self.rate_hang),
            ("reset", self.rate_reset),
            ("stream_error", self.rate_stream_error),
            ("malformed", self.rate_malformed),
            ("drop", self.rate_drop),
        ):
            if draw < rate:
                return kind
            draw -= rate
        return None


class _Reset(Exception):
    """Abort the connection with a TCP RST."""


class _Hang(Exception):
    """Never answer (until ``hang_s`` passes or the server stops)."""


class LoopbackServer:
    """An HTTP/1.1 server on 127.0.0.1 running its own event loop in a daemon thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, record_requests: bool = True):
        self.host = host
        self.port = port
        self.record_requests = record_requests
        self.stats: Counter[str] = Counter()
        #: Absolute-form request targets received, i.e. requests that came through us as a proxy.
        self.proxied: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._seen: Counter[str] = Counter()

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> LoopbackServer:
        self._thread = threading.Thread(
            target=self._run_thread, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"{type(self).__name__} did not start within {timeout}s")
        if self._startup_error is not None:
            raise RuntimeError(f"{type(self).__name__} failed to start") from self._startup_error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return
        with contextlib.suppress(RuntimeError):  # loop already closed
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
        self._thread.join(timeout)
        self._loop = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run_thread(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._open())
        except BaseException as error:  # surfaced by start()
            self._startup_error = error
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        loop.run_forever()
        loop.close()

    async def _open(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connection, self.host, self.port, backlog=4096, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop accepting and drop open connections (in the server's own loop)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _shutdown(self) -> None:
        await self.close()
        asyncio.get_running_loop().call_soon(asyncio.get_running_loop().stop)

    # -- connections -------------------------------------------------------------------------
    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    break
                try:
                    response = await self.handle(request)
                    await self._write_response(writer, response)
                except _Reset:
                    self.stats["reset"] += 1
                    sock = writer.get_extra_info("socket")
                    if sock is not None:
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                    writer.transport.abort()
                    return
                except _Hang:
                    self.stats["hang"] += 1
                    await asyncio.sleep(self.hang_s)
                    break
                if request.headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._connections.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    hang_s: float = 60.0

    async def _read_request(self, reader: asyncio.StreamReader) -> Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        body = await reader.readexactly(length) if length else b""
        if path.startswith(("http://", "https://")):  # absolute form: sent to us as a proxy
            self.proxied.append(path)
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        return Request(method, path.split("?", 1)[0], headers, body)

    async def _write_response(self, writer: asyncio.StreamWriter, response: Response) -> None:
        reason = REASONS.get(response.status, "Status")
        head = [f"HTTP/1.1 {response.status} {reason}", f"Content-Type: {response.content_type}"]
        head += [f"{name}: {value}" for name, value in response.headers.items()]
        if response.stream is None:
            head.append(f"Content-Length: {len(response.body)}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)
            await writer.drain()
            return
        head.append("Transfer-Encoding: chunked")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        async for chunk in response.stream:
            if chunk:
                writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    # -- fault injection ---------------------------------------------------------------------
    def _fault(self, faults: FaultPlan | None, request: Request) -> str | None:
        if faults is None:
            return None
        digest = hashlib.blake2b(request.body, digest_size=8).hexdigest()
        attempt = self._seen[digest]
        self._seen[digest] += 1
        return faults.choose(digest, attempt)

    async def handle(self, request: Request) -> Response:
        raise NotImplementedError


def default_responder(problem: str, index: int, reasoning_chars: int = 0) -> tuple[str, str]:
    """A deterministic (reasoning, answer) for a problem: the reasoning restates the problem and
    is padded to ``reasoning_chars``; the answer boxes a number derived from the problem text."""
    value = int(hashlib.blake2b(problem.encode(), digest_size=2).hexdigest(), 16) % 100
    reasoning = (
        f"Let me work through this carefully (sample {index}). The problem says: {problem[:200]}"
    )
    if len(reasoning) < reasoning_chars:
        filler = " Checking each step again to be sure the arithmetic holds."
        reasoning += filler * ((reasoning_chars - len(reasoning)) // len(filler) + 1)
        reasoning = reasoning[:reasoning_chars]
    return reasoning, f"The answer is \\boxed{{{value}}}."


def _last_user(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages or []):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def _count_tokens(text: str) -> int:
    return len(text.split())


# ------------------------------------------------------------------------------------------------
# OpenAI-compatible server


class OpenAIServer(LoopbackServer):
    """``POST /v1/chat/completions`` (JSON or SSE), ``GET /v1/models``, ``GET /health``.

    Options: ``latency`` (seconds before answering), ``reasoning_field`` (``"reasoning_content"``,
    ``"reasoning"``, or ``None`` to put ``<think>…</think>`` inline in ``content``), ``native_n``
    (``False`` ignores ``n`` like ``transformers serve``), ``api_key`` (require this bearer token),
    ``responder(problem, index) -> (reasoning, answer)``, ``faults`` (a :class:`FaultPlan`),
    ``fixed_response`` (serve one precomputed body: the cheapest server, for benchmarks).
    Token counts are whitespace words; ``max_tokens`` truncates the reasoning
    (``finish_reason="length"``).
    """

    def __init__(
        self,
        *,
        model: str = "teacher",
        latency: float = 0.0,
        reasoning_field: str | None = "reasoning_content",
        native_n: bool = True,
        api_key: str | None = None,
        responder: Callable[[str, int], tuple[str, str]] | None = None,
        reasoning_chars: int = 0,
        faults: FaultPlan | None = None,
        fixed_response: bool = False,
        stream_chunk_chars: int = 64,
        host: str = "127.0.0.1",
        port: int = 0,
        record_requests: bool = True,
        echo_headers: bool = False,
        content_parts: bool = False,
    ) -> None:
        super().__init__(host, port, record_requests=record_requests)
        #: error bodies repeat the request headers (as some proxies do): secrets must not leak
        self.echo_headers = echo_headers
        #: message content as OpenAI's content-parts list ``[{"type": "text", "text": ...}]``
        self.content_parts = content_parts
        self.model = model
        self.latency = latency
        self.reasoning_field = reasoning_field
        self.native_n = native_n
        self.api_key = api_key
        self.reasoning_chars = reasoning_chars
        self.responder = responder or (lambda p, i: default_responder(p, i, reasoning_chars))
        self.faults = faults
        self.hang_s = faults.hang_s if faults else 60.0
        self.fixed_response = fixed_response
        self.stream_chunk_chars = stream_chunk_chars
        self._fixed: dict[int, bytes] = {}
        self._counter = 0

    async def handle(self, request: Request) -> Response:
        self.stats[request.path] += 1
        if request.method == "GET" and request.path in ("/health", "/v1/health"):
            return Response.json({"status": "ok"})
        if request.method == "GET" and request.path in ("/v1/models", "/models"):
            return Response.json(
                {
                    "object": "list",
                    "data": [{"id": self.model, "object": "model", "owned_by": "loopback"}],
                }
            )
        if request.path not in ("/v1/chat/completions", "/chat/completions"):
            return _openai_error(404, f"no route {request.method} {request.path}", "not_found")
        if request.method != "POST":
            return _openai_error(405, "use POST", "method_not_allowed")
        if (
            self.api_key is not None
            and request.headers.get("authorization") != f"Bearer {self.api_key}"
        ):
            return _openai_error(
                401, "Incorrect API key provided." + self._echo(request), "invalid_api_key"
            )
        fault = self._fault(self.faults, request)
        if fault == "429":
            self.stats["429"] += 1
            assert self.faults is not None
            return _openai_error(
                429, "Rate limit reached, retry later.", "rate_limit_exceeded",
                retry_after=self.faults.retry_after,
            )  # fmt: skip
        if fault == "500":
            self.stats["500"] += 1
            return _openai_error(
                500,
                "The server had an error while processing your request." + self._echo(request),
                "server_error",
            )
        if fault == "malformed":
            self.stats["malformed"] += 1
            return Response(200, b'{"id": "chatcmpl-cut", "choices": [{"index": 0, "mess')
        if fault == "drop" and not request.json().get("stream"):
            fault = "reset"
        if fault == "reset":
            raise _Reset
        if fault == "hang":
            raise _Hang
        if self.fixed_response and self.latency:
            await asyncio.sleep(self.latency)
            self.stats["completed"] += 1
            return Response(200, self._fixed_body(request))
        body = request.json()
        if self.record_requests:
            self.requests.append(body)
        if body.get("model") != self.model:
            return _openai_error(
                404, f"The model `{body.get('model')}` does not exist.", "model_not_found"
            )
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return _openai_error(
                400, "'messages' must be a non-empty list", "invalid_request_error"
            )
        if self.latency:
            await asyncio.sleep(self.latency)
        n = int(body.get("n") or 1) if self.native_n else 1
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
        problem = _last_user(body["messages"])
        choices = [self._choice(problem, i, max_tokens) for i in range(n)]
        prompt_tokens = sum(_count_tokens(str(m.get("content", ""))) for m in body["messages"])
        completion_tokens = sum(c[3] for c in choices)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        self._counter += 1
        completion_id = f"chatcmpl-loopback-{self._counter}"
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            stream = self._sse(completion_id, choices, usage if include_usage else None)
            if fault == "drop":
                self.stats["drop"] += 1
                stream = _cut(stream)
            else:
                self.stats["completed"] += 1
            return Response(200, content_type="text/event-stream", stream=stream)
        self.stats["completed"] += 1
        return Response.json(
            self._completion(completion_id, [choice[:3] for choice in choices], usage)
        )

    def _completion(
        self,
        completion_id: str,
        choices: Sequence[tuple[str, str, str]],
        usage: dict[str, int],
    ) -> dict[str, Any]:
        """A non-streamed ``chat.completion`` body from ``(reasoning, content, finish_reason)``
        per choice, rendered as this server's model would (see :meth:`_message`)."""
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [
                {
                    "index": i,
                    "message": self._message(reasoning, content),
                    "finish_reason": finish,
                }
                for i, (reasoning, content, finish) in enumerate(choices)
            ],
            "usage": usage,
        }

    def _choice(
        self, problem: str, index: int, max_tokens: int | None
    ) -> tuple[str, str, str, int]:
        reasoning, content = self.responder(problem, index)
        words = reasoning.split(" ")
        if max_tokens is not None and len(words) > max_tokens:
            return " ".join(words[:max_tokens]), "", "length", max_tokens
        return reasoning, content, "stop", _count_tokens(reasoning) + _count_tokens(content)

    def _echo(self, request: Request) -> str:
        if not self.echo_headers:
            return ""
        return " Request headers: " + json.dumps(request.headers)

    def _message(self, reasoning: str, content: str) -> dict[str, Any]:
        if self.reasoning_field is None:
            closed = f"</think>\n\n{content}" if content else ""
            message = {"role": "assistant", "content": f"<think>\n{reasoning}\n{closed}"}
        else:
            message = {"role": "assistant", "content": content, self.reasoning_field: reasoning}
        if self.content_parts:
            message["content"] = [{"type": "text", "text": message["content"]}]
        return message

    async def _sse(
        self,
        completion_id: str,
        choices: list[tuple[str, str, str, int]],
        usage: dict[str, int] | None,
    ) -> AsyncIterator[bytes]:
        def event(delta: dict[str, Any], index: int, finish: str | None = None) -> bytes:
            chunk = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": self.model,
                "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(chunk)}\n\n".encode()

        size = self.stream_chunk_chars
        for index, (reasoning, content, finish, _) in enumerate(choices):
            yield event({"role": "assistant", "content": ""}, index)
            if self.reasoning_field is None:
                text = self._message(reasoning, content)["content"]
                for start in range(0, len(text), size):
                    yield event({"content": text[start : start + size]}, index)
            else:
                for start in range(0, len(reasoning), size):
                    yield event({self.reasoning_field: reasoning[start : start + size]}, index)
                for start in range(0, len(content), size):
                    yield event({"content": content[start : start + size]}, index)
            yield event({}, index, finish)
            await asyncio.sleep(0)
        if usage is not None:
            tail = {"id": completion_id, "object": "chat.completion.chunk", "model": self.model,
                    "created": int(time.time()), "choices": [], "usage": usage}  # fmt: skip
            yield f"data: {json.dumps(tail)}\n\n".encode()
        yield b"data: [DONE]\n\n"

    def _fixed_body(self, request: Request) -> bytes:
        # Cheapest possible path for benchmarks: no JSON parsing beyond finding `"n"`.
        n = 1
        if self.native_n and b'"n":' in request.body:
            n = int(json.loads(request.body).get("n") or 1)
        cached = self._fixed.get(n)
        if cached is None:
            reasoning, content = self.responder("benchmark problem", 0)
            words = _count_tokens(reasoning) + _count_tokens(content)
            usage = {
                "prompt_tokens": 40,
                "completion_tokens": words * n,
                "total_tokens": 40 + words * n,
            }
            body = self._completion("chatcmpl-loopback", [(reasoning, content, "stop")] * n, usage)
            cached = json.dumps(body).encode()
            self._fixed[n] = cached
        return cached


async def _cut(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The first half of a stream's events, then a dropped connection."""
    events = [event async for event in stream]
    for event in events[: max(1, len(events) // 2)]:
        yield event
    raise _Reset


def _openai_error(
    status: int, message: str, code: str, retry_after: float | None = None
) -> Response:
    kind = "invalid_request_error" if status < 500 else "server_error"
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    return Response.json(
        {"error": {"message": message, "type": kind, "param": None, "code": code}},
        status,
        **headers,
    )


# ------------------------------------------------------------------------------------------------
# Ollama server


class OllamaServer(LoopbackServer):
    """Ollama's HTTP API: ``POST /api/chat`` (NDJSON stream by default, or one JSON object),
    ``GET /api/tags``, ``POST /api/show``, ``GET /api/version``; errors are ``{"error": "..."}``
    with Ollama's status codes (404 unknown model, 400 ``does not support thinking``).

    ``models`` maps a name to its capabilities: ``{"thinking": True}`` separates the reasoning into
    ``message.thinking`` when asked with ``think=true``; ``{"thinking": False}`` rejects ``think``
    and, with ``"inline_think": True``, writes ``<think>…</think>`` into the content (models whose
    template does not separate thinking).
    """

    def __init__(
        self,
        *,
        models: dict[str, dict[str, Any]] | None = None,
        latency: float = 0.0,
        responder: Callable[[str, int], tuple[str, str]] | None = None,
        faults: FaultPlan | None = None,
        stream_chunk_chars: int = 48,
        host: str = "127.0.0.1",
        port: int = 0,
        record_requests: bool = True,
    ) -> None:
        super().__init__(host, port, record_requests=record_requests)
        self.models = models or {"qwen3:0.6b": {"thinking": True}}
        self.latency = latency
        self.responder = responder or (lambda p, i: default_responder(p, i))
        self.faults = faults
        self.hang_s = faults.hang_s if faults else 60.0
        self.stream_chunk_chars = stream_chunk_chars

    async def handle(self, request: Request) -> Response:
        self.stats[request.path] += 1
        if request.path == "/" and request.method in ("GET", "HEAD"):
            return Response(200, b"Ollama is running", "text/plain; charset=utf-8")
        if request.path == "/api/version":
            return Response.json({"version": "0.12.0"})
        if request.path == "/api/tags":
            return Response.json({"models": [self._model_entry(name) for name in self.models]})
        if request.path == "/api/show":
            return self._show(request.json())
        if request.path != "/api/chat":
            return Response(404, b"404 page not found", "text/plain")
        if request.method != "POST":
            return _ollama_error(405, "method not allowed")
        fault = self._fault(self.faults, request)
        if fault == "429":
            self.stats["429"] += 1
            retry = self.faults.retry_after if self.faults else 1.0
            return _ollama_error(
                429, "server busy, please try again.  maximum pending requests exceeded", retry
            )
        if fault == "500":
            self.stats["500"] += 1
            return _ollama_error(500, "llama runner process has terminated: exit status 2")
        if fault == "reset":
            raise _Reset
        if fault == "hang":
            raise _Hang
        try:
            body = request.json()
        except json.JSONDecodeError:
            return _ollama_error(400, "invalid character in request body")
        if self.record_requests:
            self.requests.append(body)
        name = body.get("model")
        if not name:
            return _ollama_error(400, "model is required")
        capabilities = self.models.get(name)
        if capabilities is None:
            return _ollama_error(404, f"model '{name}' not found")
        think = body.get("think")
        if think and not capabilities.get("thinking"):
            return _ollama_error(400, f'"{name}" does not support thinking')
        if self.latency:
            await asyncio.sleep(self.latency)
        options = body.get("options") or {}
        problem = _last_user(body.get("messages") or [])
        reasoning, content = self.responder(problem, self.stats["/api/chat"])
        done_reason = "stop"
        limit = options.get("num_predict")
        if isinstance(limit, int) and limit > 0 and _count_tokens(reasoning) > limit:
            reasoning, content, done_reason = " ".join(reasoning.split()[:limit]), "", "length"
        separate = bool(think) and capabilities.get("thinking")
        if not separate and (capabilities.get("inline_think") or capabilities.get("thinking")):
            content = (
                f"<think>\n{reasoning}\n</think>\n\n{content}"
                if content
                else f"<think>\n{reasoning}"
            )
            reasoning = ""
        elif not separate:
            reasoning = ""
        prompt_tokens = sum(
            _count_tokens(str(m.get("content", ""))) for m in body.get("messages") or []
        )
        final = {
            "model": name,
            "created_at": _timestamp(),
            "done": True,
            "done_reason": done_reason,
            "total_duration": int(self.latency * 1e9) + 1000,
            "load_duration": 1000,
            "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": 1000,
            "eval_count": _count_tokens(reasoning) + _count_tokens(content),
            "eval_duration": 1000,
        }
        self.stats["completed"] += 1
        if body.get("stream", True):
            return Response(
                200,
                content_type="application/x-ndjson",
                stream=self._ndjson(name, reasoning, content, final, fault == "stream_error"),
            )
        message = {"role": "assistant", "content": content}
        if reasoning:
            message["thinking"] = reasoning
        return Response.json({**final, "message": message})

    async def _ndjson(
        self, name: str, reasoning: str, content: str, final: dict[str, Any], fail_midway: bool
    ) -> AsyncIterator[bytes]:
        size = self.stream_chunk_chars

        def part(**message: str) -> bytes:
            payload = {
                "model": name,
                "created_at": _timestamp(),
                "message": {"role": "assistant", **message},
                "done": False,
            }
            return json.dumps(payload).encode() + b"\n"

        for start in range(0, len(reasoning), size):
            yield part(content="", thinking=reasoning[start : start + size])
        if fail_midway:
            self.stats["stream_error"] += 1
            yield (
                json.dumps(
                    {"error": "an error was encountered while running the model: unexpected EOF"}
                ).encode()
                + b"\n"
            )
            return
        for start in range(0, len(content), size):
            yield part(content=content[start : start + size])
            await asyncio.sleep(0)
        yield (
            json.dumps({**final, "message": {"role": "assistant", "content": ""}}).encode() + b"\n"
        )

    def _model_entry(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "model": name,
            "modified_at": "2026-01-01T00:00:00Z",
            "size": 522653767,
            "digest": hashlib.sha256(name.encode()).hexdigest(),
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": name.split(":")[0],
                "families": [name.split(":")[0]],
                "parameter_size": "596.05M",
                "quantization_level": "Q4_K_M",
            },
        }

    def _show(self, body: dict[str, Any]) -> Response:
        name = body.get("model") or body.get("name")
        capabilities = self.models.get(name or "")
        if capabilities is None:
            return _ollama_error(404, f"model '{name}' not found")
        caps = ["completion"] + (["thinking"] if capabilities.get("thinking") else [])
        entry = self._model_entry(name)  # type: ignore[arg-type]
        return Response.json(
            {
                "modelfile": f"FROM {name}\n",
                "parameters": "temperature 0.6\ntop_p 0.95",
                "template": "{{ .Prompt }}",
                "details": entry["details"],
                "model_info": {"general.architecture": entry["details"]["family"]},
                "capabilities": caps,
                "modified_at": entry["modified_at"],
            }
        )


def _ollama_error(status: int, message: str, retry_after: float | None = None) -> Response:
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    return Response.json({"error": message}, status, **headers)


def _timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


# ------------------------------------------------------------------------------------------------
# Subprocess mode


class SubprocessServer:
    """Run a server in its own Python process (``python servers.py KIND ...``).

    ``options`` are the constructor keywords of :class:`OpenAIServer` / :class:`OllamaServer`
    that have a command-line flag (see ``main``). ``start`` waits (bounded) for the ``URL`` line.
    """

    def __init__(self, kind: str, *, startup_timeout: float = 20.0, **options: Any) -> None:
        self.kind = kind
        self.options = options
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> SubprocessServer:
        command = [sys.executable, os.path.abspath(__file__), self.kind]
        for name, value in self.options.items():
            flag = "--" + name.replace("_", "-")
            if value is True:
                command.append(flag)
            elif value not in (False, None):
                command += [flag, str(value)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + self.startup_timeout
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line.startswith("URL "):
                self.url = line.split(" ", 1)[1].strip()
                return self
            if not line and self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"{self.kind} server subprocess did not start")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def __enter__(self) -> SubprocessServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a loopback teacher server until SIGTERM.")
    parser.add_argument("kind", choices=["openai", "ollama"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--model", default=None)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--reasoning-chars", type=int, default=0)
    parser.add_argument("--reasoning-field", default="reasoning_content")
    parser.add_argument("--no-native-n", action="store_true")
    parser.add_argument("--fixed-response", action="store_true")
    parser.add_argument("--rate-429", type=float, default=0.0)
    parser.add_argument("--rate-500", type=float, default=0.0)
    parser.add_argument("--rate-hang", type=float, default=0.0)
    parser.add_argument("--rate-reset", type=float, default=0.0)
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--hang-s", type=float, default=60.0)
    args = parser.parse_args(argv)
    faults = None
    if args.rate_429 or args.rate_500 or args.rate_hang or args.rate_reset:
        faults = FaultPlan(args.rate_429, args.rate_500, args.rate_hang, args.rate_reset,
                           retry_after=args.retry_after, hang_s=args.hang_s)  # fmt: skip
    server: LoopbackServer
    if args.kind == "openai":
        server = OpenAIServer(
            model=args.model or "teacher",
            latency=args.latency,
            reasoning_field=None if args.reasoning_field == "none" else args.reasoning_field,
            native_n=not args.no_native_n,
            reasoning_chars=args.reasoning_chars,
            faults=faults,
            fixed_response=args.fixed_response,
            port=args.port,
            record_requests=False,
        )
    else:
        server = OllamaServer(
            models={args.model or "qwen3:0.6b": {"thinking": True}},
            latency=args.latency,
            faults=faults,
            port=args.port,
            record_requests=False,
        )

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await server._open()
        print(f"URL {server.url}", flush=True)
        await stop.wait()
        await server.close()

    try:  # the cheapest server leaves the most CPU to the client being measured
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(run())


if __name__ == "__main__":
    main()
