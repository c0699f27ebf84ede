"""One chat turn, Gradio-free: a user message plus the displayed history in, display messages
out as tokens arrive — through the same :class:`~toolkit.backends.Model` layer that generation
and evaluation use."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

from toolkit.backends import R1_TOP_P, Model, SamplingParams
from toolkit.chat.settings import SpaceSettings
from toolkit.chat.stream import ThinkingStreamParser, clean_history, notice, state_to_messages
from toolkit.errors import BackendError
from toolkit.redact import redact

log = logging.getLogger(__name__)


class ChatSession:
    """Turns a user message plus the displayed history into streamed display messages."""

    def __init__(self, settings: SpaceSettings, model: Model | None = None):
        self.settings = settings
        self.model = model if model is not None else settings.build_model()

    def build_messages(
        self, message: str, history: Iterable[Any], system_prompt: str | None
    ) -> list[dict]:
        """System prompt + cleaned history + the new user message."""
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
    ) -> AsyncIterator[list[dict]]:
        """Yield the assistant messages to display, growing as tokens arrive.

        Never raises for backend problems: a friendly notice is yielded instead (the details go
        to the server log, redacted), so a visitor never sees a stack trace or a secret.
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

        shown: list[dict] = []
        try:
            prefilled = await asyncio.to_thread(self.model.prefills_thinking, messages)
            parser = ThinkingStreamParser(prefilled=bool(prefilled))
            async for delta in self.model.stream(messages, params):
                if delta.content or delta.reasoning:
                    shown = state_to_messages(parser.feed(delta.content, delta.reasoning))
                    if shown:
                        yield shown
            yield state_to_messages(parser.finish(), max_new_tokens=tokens)
        except BackendError as error:
            log.warning("backend error: %s", redact(error))
            yield [*shown, notice(_friendly(error))]
        except Exception as error:
            log.exception("chat turn failed")
            yield [
                *shown,
                notice(
                    f"The model backend failed ({type(error).__name__}). Please try again; "
                    "details are in the server log."
                ),
            ]


def _friendly(error: BackendError) -> str:
    """What a visitor is told: the gist, never the server's raw text or address."""
    if error.status in (401, 403):
        return (
            "The model server refused the request (authentication). The Space's owner "
            "needs to check its API key."
        )
    if error.status == 404:
        return "The model server does not serve this model. Please try again later."
    if error.status == 429:
        return "The model server is busy right now. Please try again in a minute."
    if error.retryable:
        return (
            "The model server is not reachable right now. Please send your message again "
            "in a moment."
        )
    return "The model backend failed. Please try again; details are in the server log."


__all__ = ["ChatSession"]
