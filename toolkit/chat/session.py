"""One chat turn, Gradio-free: a user message plus the displayed history in, display messages
out as tokens arrive — through the same :class:`~toolkit.backends.Model` layer that generation
and evaluation use.

What a visitor sees is decided here, and it never includes an operator detail: backend errors
become one friendly line (the redacted detail goes to the server log), the server's address
and the model's path stay out, and a turn always ends in a settled view — an answer, an
unfinished-thinking panel with a notice, or a notice — never a spinner left turning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from toolkit.backends import R1_TOP_P, Delta, Model, SamplingParams
from toolkit.chat.settings import GENERIC_TITLE, SpaceSettings, display_name
from toolkit.chat.stream import (
    STOPPED_NOTICE,
    ThinkingStreamParser,
    clean_history,
    notice,
    state_to_messages,
)
from toolkit.errors import BackendError
from toolkit.redact import redact

log = logging.getLogger(__name__)

#: At most one display update per this many seconds (the final view is always sent): a fast
#: server streams hundreds of tokens a second, and each update re-renders the whole answer
#: here and in every visitor's browser. Long answers space updates further (5x the time one
#: update takes), so rendering stays under a fifth of a core whatever the length.
UPDATE_INTERVAL_S = 0.05
IDENTIFY_TIMEOUT_S = 15.0

_STOPPED: Any = object()
_IDLE: Any = object()


class ChatSession:
    """Turns a user message plus the displayed history into streamed display messages."""

    def __init__(self, settings: SpaceSettings, model: Model | None = None):
        self.settings = settings
        self.model = model if model is not None else settings.build_model()
        self._ready = False
        self._prepare_lock: asyncio.Lock | None = None

    async def aclose(self) -> None:
        """Release the model's connections (they belong to the event loop that opened them)."""
        await self.model.aclose()

    # -- identity ----------------------------------------------------------------------------
    @property
    def title(self) -> str:
        """The model's name for the page (the served name once known), never a path or URL."""
        if self.settings.title:
            return self.settings.title
        return (
            display_name(getattr(self.model, "model", None))
            or display_name(self.settings.resolved_model)
            or GENERIC_TITLE
        )

    def identify(self, timeout: float = IDENTIFY_TIMEOUT_S) -> None:
        """Learn the served model's name from ``/v1/models`` before the first visitor (for the
        title, and to recognise an R1 model whose template prefills ``<think>``). A server that
        is down is logged, not fatal: the first chat turn tries again."""
        if self.model.backend != "openai" or self.model.model:
            return

        async def ask() -> None:
            try:
                await self.model.check()
            finally:
                await self.model.aclose()  # its connections belong to this temporary loop

        try:
            with _worker() as pool:
                pool.submit(asyncio.run, ask()).result(timeout)
            self._ready = True
        except Exception as error:
            log.warning("could not ask the server for its model name: %s", redact(error))

    async def prepare(self) -> None:
        """Before the first turn (once it succeeds): load a local model, or learn which model a
        server serves when none was named. Raises :class:`BackendError`."""
        if self._ready:
            return
        if self._prepare_lock is None:
            self._prepare_lock = asyncio.Lock()
        async with self._prepare_lock:
            if self._ready:
                return
            if self.model.backend == "transformers" or (
                self.model.backend == "openai" and not self.model.model
            ):
                await self.model.check()
            self._ready = True

    async def prefill_mode(self, messages: list[dict]) -> bool | None:
        """``True``/``False``: whether the prompt opens ``<think>``; ``None``: it may (a server
        whose template is unknown), so output before any marker is shown as tentative
        thinking. The ``prefilled_thinking`` setting wins over detection."""
        setting = self.settings.prefilled_thinking
        if setting != "auto":
            return setting == "true"
        detected = await asyncio.to_thread(self.model.prefills_thinking, messages)
        if detected is not None:
            return bool(detected)
        if self.model.backend == "openai":
            return None  # any served model may be an R1 distill behind a renamed endpoint
        if self.model.backend == "ollama" and not getattr(self.model, "think", True):
            return None  # without think=true, Ollama leaves the template's <think> to us
        return False

    # -- a turn ------------------------------------------------------------------------------
    def build_messages(
        self, message: str, history: Iterable[Any], system_prompt: str | None
    ) -> list[dict]:
        """System prompt (if any) + cleaned history + the new user message."""
        messages: list[dict] = []
        system = self.settings.system_prompt if system_prompt is None else system_prompt
        if system and system.strip():
            messages.append({"role": "system", "content": system.strip()})
        messages.extend(clean_history(history, max_messages=self.settings.max_history_messages))
        messages.append({"role": "user", "content": message})
        return messages

    async def respond(
        self,
        message: str,
        history: Iterable[Any],
        system_prompt: str | None = None,
        temperature: float | None = None,
        max_new_tokens: float | None = None,
        *,
        stop: asyncio.Event | None = None,
    ) -> AsyncIterator[list[dict]]:
        """Yield the assistant messages to display, growing as tokens arrive.

        ``stop`` (set by the app's Stop button) ends the turn at once: the model's stream is
        closed (an HTTP stream is dropped; a local generation stops at its next token) and a
        settled view is yielded. Never raises for backend problems: a friendly notice is
        yielded instead (the details go to the server log, redacted).
        """
        settings = self.settings
        text = (message or "").strip()
        if not text:
            yield [notice("Type a question first.")]
            return
        if len(text) > settings.max_input_chars:
            yield [
                notice(
                    f"Your message has {len(text):,} characters; the limit is "
                    f"{settings.max_input_chars:,}. Please shorten it."
                )
            ]
            return
        temperature = settings.temperature if temperature is None else float(temperature)
        temperature = min(max(temperature, 0.0), 2.0)
        tokens = settings.max_new_tokens if max_new_tokens is None else int(max_new_tokens)
        tokens = min(max(tokens, 1), settings.max_new_tokens_limit)
        messages = self.build_messages(text, history, system_prompt)
        params = SamplingParams(temperature, R1_TOP_P, tokens)

        def view(state: Any) -> list[dict]:
            return state_to_messages(state, max_new_tokens=tokens, image_hosts=settings.image_hosts)

        parser: ThinkingStreamParser | None = None
        race: _Race | None = None
        try:
            await self.prepare()
            if stop is not None and stop.is_set():
                yield [notice(STOPPED_NOTICE)]
                return
            parser = ThinkingStreamParser(prefilled=await self.prefill_mode(messages))
            if parser.prefilled:  # the thinking panel shows at once, before the first token
                yield view(parser.feed())
            race = _Race(self.model.stream(messages, params), stop)
            end: str | None = None
            first = True
            last_update = 0.0
            interval = UPDATE_INTERVAL_S
            held_back = False  # a view newer than the one shown is waiting for its turn
            while True:
                wait = None
                if held_back:
                    wait = max(0.0, last_update + interval - time.monotonic())
                delta = await race.next(wait)
                if delta is None:
                    break
                if delta is _STOPPED:
                    end = "stopped"
                    break
                if delta is not _IDLE:
                    if delta.finish_reason:
                        end = "length" if delta.finish_reason == "length" else "stop"
                    if not (delta.content or delta.reasoning):
                        continue
                    if first and self.model.backend == "ollama":
                        # Ollama may have dropped think=true for this model only now.
                        parser.prefilled = await self.prefill_mode(messages)
                    first = False
                    parser.add(delta.content, delta.reasoning)
                now = time.monotonic()
                held_back = now - last_update < interval
                if not held_back:
                    shown = view(parser.state())
                    cost = time.monotonic() - now
                    # Re-rendering grows with the answer: keep it a small share of a core.
                    interval = max(UPDATE_INTERVAL_S, 5 * cost)
                    last_update = time.monotonic()
                    yield shown
            shown = view(parser.finish(end))
            if end == "stopped":
                shown.append(notice(STOPPED_NOTICE))
            yield shown
        except BackendError as error:
            log.warning("model backend error: %s", redact(error))
            yield _after_failure(parser, view, _friendly(error, parser))
        except Exception as error:  # a bug or an unexpected library error: log it, stay calm
            # The traceback (which may quote outside text) only when debugging is asked for.
            log.error(
                "chat turn failed: %s",
                redact(f"{type(error).__name__}: {error}"),
                exc_info=os.environ.get("TOOLKIT_DEBUG") == "1",
            )
            yield _after_failure(
                parser,
                view,
                "The model failed to answer. Please try again; the Space's owner can find the "
                "details in its logs.",
            )
        finally:
            if race is not None:
                await race.aclose()


def _after_failure(parser: ThinkingStreamParser | None, view: Any, text: str) -> list[dict]:
    """What was received so far, settled (no spinner), and a notice."""
    shown: list[dict] = []
    if parser is not None and (parser.content or parser.reasoning):
        shown = view(parser.finish("dropped"))
    return [*shown, notice(text)]


def _friendly(error: BackendError, parser: ThinkingStreamParser | None) -> str:
    """What a visitor is told: the gist, never the server's raw text, address or key."""
    if error.status in (401, 403):
        return (
            "The model server refused the request (authentication). The Space's owner "
            "needs to check its API key."
        )
    if error.status == 404:
        return "The model server does not serve this model. Please try again later."
    if error.status == 429:
        return "The model server is busy right now. Please try again in a minute."
    if parser is not None and (parser.content or parser.reasoning):
        return (
            "The connection to the model was lost before the answer was complete. Please "
            "send your message again."
        )
    if error.status is None and error.retryable:
        return (
            "The model server is not reachable right now. Please send your message again "
            "in a moment."
        )
    if error.retryable:
        return "The model server had a problem answering. Please try again in a moment."
    return "The model is not available right now. Please try again later."


class _Race:
    """The model's deltas, each raced against ``stop`` (Stop must not wait for a token that a
    busy CPU takes seconds to produce) and, when asked, against a deadline (a view held back
    by the update interval must not wait for a token either). A step cancelled by Stop is
    finished in :meth:`aclose`, after the settled view has been shown."""

    def __init__(self, stream: AsyncIterator[Delta], stop: asyncio.Event | None) -> None:
        self.stream = stream
        self.stop_task = asyncio.ensure_future(stop.wait()) if stop is not None else None
        self.step: asyncio.Future[Any] | None = None
        self.cancelled: asyncio.Future[Any] | None = None

    async def next(self, timeout: float | None = None) -> Any:
        """The next delta, ``None`` at the end, ``_STOPPED``, or ``_IDLE`` after ``timeout``
        (the pending read carries on into the next call)."""
        if self.step is None:
            self.step = asyncio.ensure_future(anext(self.stream, None))
        waiting = {self.step} if self.stop_task is None else {self.step, self.stop_task}
        try:
            done, _ = await asyncio.wait(
                waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        except BaseException:
            self._cancel_step()
            raise
        if self.step in done:
            step, self.step = self.step, None
            return step.result()
        if self.stop_task is not None and self.stop_task in done:
            self._cancel_step()  # closes the HTTP stream / stops the local generation
            return _STOPPED
        return _IDLE

    def _cancel_step(self) -> None:
        if self.step is not None:
            self.step.cancel()
            self.cancelled, self.step = self.step, None

    async def aclose(self) -> None:
        if self.stop_task is not None:
            self.stop_task.cancel()
        self._cancel_step()
        if self.cancelled is not None:
            with contextlib.suppress(BaseException):
                await self.cancelled
        aclose = getattr(self.stream, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


@contextlib.contextmanager
def _worker() -> Any:
    """A one-thread pool whose thread may run its own event loop (the caller may be inside
    one, e.g. a notebook or an async test)."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1, thread_name_prefix="toolkit-chat")
    try:
        yield pool
    finally:
        pool.shutdown(wait=False)


__all__ = ["UPDATE_INTERVAL_S", "ChatSession"]
