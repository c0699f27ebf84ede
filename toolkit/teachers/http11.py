"""A minimal asyncio HTTP/1.1 client with a keep-alive connection pool, for hot request loops.

Why not httpx: its connection pool scans every connection on every request, so at a few hundred
concurrent requests its client CPU per request grows to several milliseconds — more than the
teacher's work on a fast server, and enough to cap a 2-core machine far below the throughput the
server can deliver (``benchmarks/generate.py`` measures both). This client does only what an
OpenAI-compatible JSON/SSE endpoint needs: ``POST`` with a body, ``Content-Length`` or chunked
responses, keep-alive reuse, TLS via :mod:`ssl`, and no proxies (use the ``httpx``/``openai``
transports behind a proxy).

Connections are returned to the pool only after a response was read completely; a cancelled or
failed request closes its connection, so a timeout can never leave half a response on a pooled
socket.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit


class HTTPConnectionError(ConnectionError):
    """The connection failed or closed before a full response arrived."""


@dataclass(slots=True)
class HTTPResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def usable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        self.writer.close()


class HTTP11Pool:
    """Pooled HTTP/1.1 connections to one origin (``base_url``'s scheme, host and port)."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        max_connections: int = 1024,
        connect_timeout: float = 30.0,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"base URL must be http(s)://..., got {base_url!r}")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl = ssl.create_default_context() if parts.scheme == "https" else None
        self.prefix = parts.path.rstrip("/")
        host_header = self.host if parts.port is None else f"{self.host}:{parts.port}"
        fixed = {"Host": host_header, "User-Agent": "toolkit-generate", "Accept": "*/*"}
        fixed.update(headers or {})
        self._fixed_headers = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(max_connections)
        self.connect_timeout = connect_timeout

    async def _connect(self) -> _Connection:
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(
                    self.host, self.port, ssl=self.ssl, limit=1 << 20
                )
        except (OSError, TimeoutError) as error:
            raise HTTPConnectionError(
                f"cannot connect to {self.host}:{self.port}: {error!r}"
            ) from error
        return _Connection(reader, writer)

    def _head(self, method: str, path: str, body: bytes, content_type: str) -> bytes:
        return (
            f"{method} {self.prefix}{path} HTTP/1.1\r\n{self._fixed_headers}"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str = "application/json"
    ) -> HTTPResponse:
        """Send one request and read the whole response."""
        async with self._slots:
            payload = self._head(method, path, body, content_type) + body
            for attempt in (0, 1):
                connection, reused = self._checkout()
                if connection is None:
                    connection = await self._connect()
                finished = False
                try:
                    connection.writer.write(payload)
                    status, headers = await _read_head(connection.reader)
                    data = await _read_body(connection.reader, headers)
                    finished = headers.get("connection", "").lower() != "close"
                except (ConnectionError, asyncio.IncompleteReadError, OSError) as error:
                    if reused and attempt == 0 and _nothing_received(error):
                        continue  # a keep-alive connection the server had closed: retry fresh
                    raise HTTPConnectionError(f"{type(error).__name__}: {error}") from error
                finally:
                    self._checkin(connection, finished)
                return HTTPResponse(status, headers, data)
        raise AssertionError("unreachable")

    async def stream_lines(
        self, method: str, path: str, body: bytes, content_type: str = "application/json"
    ) -> tuple[int, dict[str, str], AsyncIterator[str]]:
        """Send a request; return status, headers and an iterator over the body's text lines.

        The caller must exhaust the iterator (or close it); the connection goes back to the pool
        only when the body was read to its end.
        """
        await self._slots.acquire()
        connection, _ = self._checkout()
        try:
            if connection is None:
                connection = await self._connect()
            connection.writer.write(self._head(method, path, body, content_type) + body)
            status, headers = await _read_head(connection.reader)
        except BaseException as error:
            if connection is not None:
                connection.close()
            self._slots.release()
            if isinstance(error, (ConnectionError, asyncio.IncompleteReadError, OSError)):
                raise HTTPConnectionError(f"{type(error).__name__}: {error}") from error
            raise

        async def lines() -> AsyncIterator[str]:
            finished = False
            try:
                buffer = b""
                async for chunk in _iter_body(connection.reader, headers):
                    buffer += chunk
                    *complete, buffer = buffer.split(b"\n")
                    for line in complete:
                        yield line.rstrip(b"\r").decode("utf-8")
                if buffer:
                    yield buffer.decode("utf-8")
                finished = True
            except (ConnectionError, asyncio.IncompleteReadError, OSError) as error:
                raise HTTPConnectionError(f"{type(error).__name__}: {error}") from error
            finally:
                self._checkin(connection, finished)
                self._slots.release()

        return status, headers, lines()

    def _checkout(self) -> tuple[_Connection | None, bool]:
        while self._idle:
            connection = self._idle.pop()
            if connection.usable():
                return connection, True
            connection.close()
        return None, False

    def _checkin(self, connection: _Connection, finished: bool) -> None:
        if finished and connection.usable():
            self._idle.append(connection)
        else:
            connection.close()

    async def aclose(self) -> None:
        while self._idle:
            connection = self._idle.pop()
            connection.close()


def _nothing_received(error: BaseException) -> bool:
    if isinstance(error, asyncio.IncompleteReadError):
        return not error.partial
    return isinstance(error, (ConnectionResetError, BrokenPipeError))


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split(" ", 2)[1])
    except (IndexError, ValueError):
        raise HTTPConnectionError(f"malformed status line {lines[0]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return status, headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    length = headers.get("content-length")
    if length is not None and "chunked" not in headers.get("transfer-encoding", ""):
        return await reader.readexactly(int(length))
    return b"".join([chunk async for chunk in _iter_body(reader, headers)])


async def _iter_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> AsyncIterator[bytes]:
    if "chunked" in headers.get("transfer-encoding", ""):
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                # trailers (usually none) end with an empty line
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return
            yield await reader.readexactly(size)
            await reader.readexactly(2)
    elif "content-length" in headers:
        remaining = int(headers["content-length"])
        while remaining > 0:
            chunk = await reader.read(min(remaining, 1 << 16))
            if not chunk:
                raise asyncio.IncompleteReadError(b"", remaining)
            remaining -= len(chunk)
            yield chunk
    else:  # body runs until the server closes the connection
        while chunk := await reader.read(1 << 16):
            yield chunk
