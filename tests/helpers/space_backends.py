"""Loopback chat servers that stream reasoning, for the Space's tests.

* :class:`LoopbackChatServer` speaks the OpenAI ``/v1/chat/completions`` streaming protocol
  (server-sent events) and sends reasoning as ``reasoning_content`` deltas (DeepSeek API, vLLM's
  reasoning parser), inline ``<think>…</think>`` content with ``inline_think=True``, or — as an
  R1 distill behind vLLM without a reasoning parser, or ``transformers serve``, does — content
  whose opening ``<think>`` was in the prompt (``prefilled=True``: the reasoning, then
  ``</think>``, then the answer).
* ``protocol="ollama"`` speaks Ollama's ``/api/chat`` (NDJSON lines with ``message.thinking``).

Both bind 127.0.0.1 on port 0, record every request body (to check what the model was sent),
and can hold the answer back behind ``gate`` so a test sees the thinking while it is pending.
``finish_reason="length"`` ends the stream as a token limit does; ``drop_after=N`` sends N pieces
and then closes the connection without a finish reason (a dropped connection); ``disconnects``
counts the streams whose client went away before the end (Stop must close the HTTP stream).
Every wait is bounded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

GATE_TIMEOUT_S = 30.0


class LoopbackChatServer:
    """A scripted reasoning model behind a real HTTP server."""

    def __init__(
        self,
        reasoning: Sequence[str],
        answer: Sequence[str],
        *,
        protocol: Literal["openai", "ollama"] = "openai",
        model: str = "loopback-reasoner",
        delay_s: float = 0.0,
        gate: threading.Event | None = None,
        inline_think: bool = False,
        prefilled: bool = False,
        finish_reason: str = "stop",
        drop_after: int | None = None,
    ):
        self.reasoning = list(reasoning)
        self.answer = list(answer)
        self.protocol = protocol
        self.model = model
        self.delay_s = delay_s
        self.gate = gate
        self.inline_think = inline_think
        self.prefilled = prefilled
        self.finish_reason = finish_reason
        self.drop_after = drop_after
        self.requests: list[dict[str, Any]] = []
        self.disconnects = 0
        self.disconnected = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> LoopbackChatServer:
        handler = _make_handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.gate is not None:
            self.gate.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """The base URL a client expects: ``…/v1`` for OpenAI, the host for Ollama."""
        root = f"http://127.0.0.1:{self.port}"
        return f"{root}/v1" if self.protocol == "openai" else root

    # -- the script --------------------------------------------------------------------------

    def events(self) -> list[tuple[str, str]]:
        """(kind, text) pieces in order: reasoning first, then a pause point, then the answer."""
        pieces: list[tuple[str, str]] = []
        if self.prefilled:  # the chat template opened <think>: the output starts inside it
            pieces += [("content", text) for text in self.reasoning]
            pieces.append(("gate", ""))  # held before the marker: the stream is still ambiguous
            if self.answer:
                pieces.append(("content", "\n</think>\n\n"))
            return pieces + [("content", text) for text in self.answer]
        if self.inline_think:
            pieces.append(("content", "<think>\n"))
            pieces += [("content", text) for text in self.reasoning]
            pieces.append(("content", "\n</think>\n\n"))
        else:
            pieces += [("reasoning", text) for text in self.reasoning]
        pieces.append(("gate", ""))
        pieces += [("content", text) for text in self.answer]
        return pieces

    def wait_gate(self) -> None:
        if self.gate is not None:
            self.gate.wait(timeout=GATE_TIMEOUT_S)


def _make_handler(script: LoopbackChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the body ends when the connection closes

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def _json(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                self._json(
                    200, {"object": "list", "data": [{"id": script.model, "object": "model"}]}
                )
            elif self.path.rstrip("/") == "/api/tags":
                self._json(200, {"models": [{"name": script.model, "model": script.model}]})
            else:
                self._json(404, {"error": f"no route {self.path}"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            script.requests.append(body)
            if self.path.rstrip("/") == "/v1/chat/completions" and script.protocol == "openai":
                self._stream_openai(body)
            elif self.path.rstrip("/") == "/api/chat" and script.protocol == "ollama":
                self._stream_ollama(body)
            else:
                self._json(404, {"error": f"no route {self.path}"})

        def _stream_openai(self, body: dict) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()

            def send(delta: dict, finish: str | None = None) -> None:
                chunk = {
                    "id": "chatcmpl-loopback",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body.get("model", script.model),
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()

            try:
                send({"role": "assistant", "content": ""})
                sent = 0
                for kind, text in script.events():
                    if kind == "gate":
                        script.wait_gate()
                        continue
                    if script.drop_after is not None and sent >= script.drop_after:
                        return  # the connection closes: no finish reason, no [DONE]
                    time.sleep(script.delay_s)
                    key = "reasoning_content" if kind == "reasoning" else "content"
                    send({key: text})
                    sent += 1
                send({}, finish=script.finish_reason)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                script.disconnects += 1
                script.disconnected.set()

        def _stream_ollama(self, body: dict) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.end_headers()
            think = bool(body.get("think"))

            def send(message: dict, done: bool = False) -> None:
                line = {
                    "model": body.get("model", script.model),
                    "created_at": "2026-01-01T00:00:00Z",
                    "message": {"role": "assistant", "content": "", **message},
                    "done": done,
                }
                if done:
                    line["done_reason"] = script.finish_reason
                self.wfile.write((json.dumps(line) + "\n").encode())
                self.wfile.flush()

            try:
                for kind, text in script.events():
                    if kind == "gate":
                        script.wait_gate()
                        continue
                    time.sleep(script.delay_s)
                    if kind == "reasoning":
                        if think:  # Ollama only separates thinking when asked to
                            send({"thinking": text})
                        continue
                    send({"content": text})
                send({}, done=True)
            except (BrokenPipeError, ConnectionResetError):
                script.disconnects += 1
                script.disconnected.set()

    return Handler


class ScriptedModel:
    """A :class:`toolkit.backends.Model` that streams a fixed script and records each call.

    ``deltas`` are streamed as they are (a final ``Delta(finish_reason=finish)`` is added unless
    ``finish`` is ``None``); then ``fail`` is raised if given. ``prefilled`` is what
    :meth:`prefills_thinking` reports; ``delay_s`` sleeps before each delta (cancellable, as a
    real stream's read is).
    """

    supports_native_n = False

    def __init__(
        self,
        deltas: Sequence[Any],
        *,
        backend: str = "openai",
        model: str = "scripted",
        prefilled: bool | None = False,
        finish: str | None = "stop",
        fail: BaseException | None = None,
        delay_s: float = 0.0,
    ) -> None:
        self.deltas = list(deltas)
        self.backend = backend
        self.model = model
        self.prefilled = prefilled
        self.finish = finish
        self.fail = fail
        self.delay_s = delay_s
        self.calls: list[dict[str, Any]] = []
        self.closed_streams = 0

    async def stream(self, messages: list[dict], params: Any) -> Any:
        import asyncio

        from toolkit.backends import Delta

        self.calls.append({"messages": messages, "params": params})
        try:
            for delta in self.deltas:
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                yield delta
            if self.fail is not None:
                raise self.fail
            if self.finish is not None:
                yield Delta(finish_reason=self.finish)
        finally:
            self.closed_streams += 1

    def prefills_thinking(self, messages: list[dict]) -> bool | None:
        return self.prefilled

    async def check(self) -> None:
        return None

    async def complete(self, request: Any) -> Any:
        raise NotImplementedError("the chat only streams")

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "model": self.model}

    async def aclose(self) -> None:
        return None


class AttackerServer:
    """An HTTP server that only counts what it is asked for: the host that an injected
    ``<img>`` or Markdown image in model output would make a visitor's browser fetch."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> AttackerServer:
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"


def run_turn(session: Any, message: str, history: Sequence[Any] = (), **kwargs: Any) -> list:
    """Every view one chat turn yields, on its own event loop (connections closed after)."""
    import asyncio

    async def run() -> list:
        try:
            return [shown async for shown in session.respond(message, list(history), **kwargs)]
        finally:
            await session.aclose()

    return asyncio.run(run())


def final_view(settings: Any, **kwargs: Any) -> list[dict]:
    """The last view of one turn ("What is 6 times 7?") with these settings."""
    from toolkit.chat.session import ChatSession

    return run_turn(ChatSession(settings), "What is 6 times 7?", **kwargs)[-1]


def closed_port() -> int:
    """A loopback port where nothing listens (a server that is down)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
