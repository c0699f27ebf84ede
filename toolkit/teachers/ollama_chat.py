"""The ``ollama`` backend: a local or remote Ollama server through the official ``ollama`` client.

Ollama's ``/api/chat`` returns a reasoning model's thinking in ``message.thinking`` when asked with
``think=True``. Models without thinking support answer that request with HTTP 400
(``"<model>" does not support thinking``); the backend then drops ``think`` for the rest of the run,
and :func:`toolkit.thinking.split_thinking` finds any ``<think>`` tags left in ``content`` (older
Ollama versions and GGUFs whose template does not separate the thinking).

Ollama has no ``n``: the engine sends one request per sample. Sampling maps to Ollama options
(``temperature``, ``top_p``, ``num_predict``, ``seed``).
"""

from __future__ import annotations

import time
from typing import Any

from toolkit.teachers import TeacherError, TeacherRequest, TeacherResponse

DEFAULT_HOST = "http://127.0.0.1:11434"


class OllamaTeacher:
    """A teacher served by Ollama (``ollama serve``)."""

    backend = "ollama"
    supports_native_n = False

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        *,
        host: str | None = None,
        think: bool = True,
        timeout: float = 600.0,
        keep_alive: str | None = None,
        num_ctx: int | None = None,
    ) -> None:
        if not model:
            raise ValueError("the ollama backend needs a model name (--model), e.g. qwen3:0.6b")
        self.model = model
        self.host = (host or base_url or DEFAULT_HOST).rstrip("/")
        self.think = think
        self.timeout = timeout
        self.keep_alive = keep_alive
        self.num_ctx = num_ctx
        self._client: Any = None

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "model": self.model, "host": self.host}

    def _get_client(self) -> Any:
        if self._client is None:
            import ollama

            self._client = ollama.AsyncClient(host=self.host, timeout=self.timeout)
        return self._client

    async def complete(self, request: TeacherRequest) -> list[TeacherResponse]:
        responses = []
        for _ in range(request.n):
            responses.append(await self._complete_one(request))
        return responses

    async def _complete_one(self, request: TeacherRequest) -> TeacherResponse:
        options: dict[str, Any] = {
            "temperature": request.params.temperature,
            "top_p": request.params.top_p,
            "num_predict": request.params.max_tokens,
        }
        if request.params.seed is not None:
            options["seed"] = request.params.seed
        if self.num_ctx:
            options["num_ctx"] = self.num_ctx
        while True:
            think = True if self.think else None
            try:
                return await self._chat(request, options, think)
            except TeacherError as error:
                if think and error.status == 400 and "support thinking" in str(error):
                    # The model has no thinking mode: ask without it from now on; tags in the
                    # content (if any) are still split by the engine.
                    self.think = False
                    continue
                raise

    async def _chat(
        self, request: TeacherRequest, options: dict[str, Any], think: bool | None
    ) -> TeacherResponse:
        import httpx
        import ollama

        client = self._get_client()
        started = time.perf_counter()
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages,
            "options": options,
        }
        if think is not None:
            kwargs["think"] = think
        if self.keep_alive is not None:
            kwargs["keep_alive"] = self.keep_alive
        try:
            if request.stream:
                content: list[str] = []
                thinking: list[str] = []
                final: Any = None
                async for part in await client.chat(**kwargs, stream=True):
                    message = part.message
                    if message.content:
                        content.append(message.content)
                    if message.thinking:
                        thinking.append(message.thinking)
                    if part.done:
                        final = part
                if final is None:
                    raise TeacherError("stream ended before done=true", retryable=True)
                text, thought = "".join(content), "".join(thinking)
            else:
                final = await client.chat(**kwargs)
                text, thought = final.message.content or "", final.message.thinking or ""
        except ollama.ResponseError as error:
            status = error.status_code if error.status_code and error.status_code > 0 else 500
            raise TeacherError.from_status(status, str(error.error)) from error
        except (httpx.TimeoutException, TimeoutError) as error:
            raise TeacherError("timeout", retryable=True) from error
        except (httpx.TransportError, ConnectionError) as error:
            raise TeacherError(f"connection error: {error}", retryable=True) from error
        return TeacherResponse(
            content=text,
            reasoning=thought or None,
            finish_reason=final.done_reason,
            prompt_tokens=final.prompt_eval_count,
            completion_tokens=final.eval_count,
            latency_s=time.perf_counter() - started,
            endpoint=self.host,
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
