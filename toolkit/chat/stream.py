"""Streaming deltas → what the chat shows: a thinking panel apart from the answer.

:class:`ThinkingStreamParser` turns any mix of deltas (inline ``<think>`` tags, a prefilled
``<think>``, Sky-T1 markers, a separate reasoning field) into :class:`ThinkingState` values; the
reasoning is never lost, even when it never closes (shown as "Thinking (unfinished)").
:func:`clean_history` removes thinking, and the demo's own notices, from the conversation that is
sent back to the model: reasoning models are trained on histories without earlier thoughts.
Nothing here imports Gradio, datasets or torch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from toolkit.thinking import (
    SOLUTION_CLOSE,
    SOLUTION_OPEN,
    THINK_CLOSE,
    THINK_OPEN,
    THOUGHT_CLOSE,
    THOUGHT_OPEN,
    split_thinking,
    strip_thinking,
)

#: Assistant messages starting with this are the demo talking (errors, limits), not the model:
#: they are shown to the user but never sent back to the model.
NOTICE_PREFIX = "⚠️ "
THINKING_TITLE = "Thinking"
UNFINISHED_TITLE = "Thinking (unfinished)"

_MARKERS = (THINK_OPEN, THINK_CLOSE, THOUGHT_OPEN, THOUGHT_CLOSE, SOLUTION_OPEN, SOLUTION_CLOSE)
_LONGEST_MARKER = max(len(marker) for marker in _MARKERS)


@dataclass(frozen=True)
class ThinkingState:
    """What to show after the deltas seen so far.

    ``reasoning`` is ``None`` when the output has no reasoning at all (a model that does not
    think). ``thinking`` is true while the reasoning is still streaming. After :meth:`finish`,
    ``finished`` is true and ``reasoning_complete=False`` means the reasoning never closed.
    ``duration`` is the thinking time in seconds, once the thinking has closed.
    """

    reasoning: str | None
    answer: str
    thinking: bool
    reasoning_complete: bool
    finished: bool
    duration: float | None = None


def _hold_back_partial_marker(text: str) -> str:
    """``text`` without a trailing incomplete marker (``…<thi``): it must not flash as answer."""
    start = text.rfind("<", max(0, len(text) - _LONGEST_MARKER))
    if start < 0:
        return text
    tail = text[start:]
    if any(marker.startswith(tail) and marker != tail for marker in _MARKERS):
        return text[:start]
    return text


class ThinkingStreamParser:
    """Accumulates content and reasoning deltas and splits them at every step.

    Re-splitting the whole text each time (instead of a hand-written state machine) keeps the
    streaming view identical to what :func:`toolkit.thinking.split_thinking` gives for the final
    text, for every marker style; the texts are a few thousand tokens, so this is cheap.

    Args:
        prefilled: the prompt ended with ``<think>``: the output starts inside the thinking.
        clock: seconds (injectable for tests).
    """

    def __init__(self, *, prefilled: bool = False, clock: Callable[[], float] = time.monotonic):
        self.prefilled = prefilled
        self._clock = clock
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._started: float | None = None
        self._duration: float | None = None

    @property
    def content(self) -> str:
        return "".join(self._content)

    @property
    def reasoning(self) -> str:
        return "".join(self._reasoning)

    def feed(self, content: str = "", reasoning: str = "") -> ThinkingState:
        """Add one delta (content, a separate reasoning field, or both) and return the view."""
        if self._started is None:
            self._started = self._clock()
        if content:
            self._content.append(content)
        if reasoning:
            self._reasoning.append(reasoning)
        return self._state(final=False)

    def finish(self) -> ThinkingState:
        """The final view: unclosed reasoning is reported as unfinished, never as the answer."""
        return self._state(final=True)

    def _state(self, *, final: bool) -> ThinkingState:
        content = self.content if final else _hold_back_partial_marker(self.content)
        split = split_thinking(content, reasoning=self.reasoning or None, prefilled=self.prefilled)
        reasoning = split.reasoning
        complete = split.reasoning_complete
        if reasoning is None:
            state = ThinkingState(None, split.answer, False, True, final)
        else:
            if complete and self._duration is None:
                now = self._clock()
                self._duration = max(0.0, now - (self._started if self._started else now))
            thinking = not complete and not final
            duration = self._duration if complete else None
            state = ThinkingState(reasoning, split.answer, thinking, complete, final, duration)
        return state


def state_to_messages(state: ThinkingState, *, max_new_tokens: int | None = None) -> list[dict]:
    """Chat messages (Gradio ``messages`` format) for one state: a thinking panel and an answer.

    The panel uses Gradio's thought metadata: ``status="pending"`` shows a spinner with the
    accordion open while the reasoning streams; ``"done"`` closes it and shows the duration.
    Unfinished reasoning gets its own title and no status, so it stays open and readable.
    """
    messages: list[dict] = []
    if state.reasoning is not None and (
        state.reasoning or state.thinking or not state.reasoning_complete
    ):
        metadata: dict[str, Any] = {"title": THINKING_TITLE}
        if state.thinking:
            metadata["status"] = "pending"
        elif state.reasoning_complete:
            metadata["status"] = "done"
            if state.duration is not None:
                metadata["duration"] = round(state.duration, 1)
        else:
            metadata["title"] = UNFINISHED_TITLE
        messages.append(
            {"role": "assistant", "content": state.reasoning or "…", "metadata": metadata}
        )
    if state.answer:
        messages.append({"role": "assistant", "content": state.answer})
    elif state.finished:
        if not state.reasoning_complete:
            limit = f" ({max_new_tokens} tokens)" if max_new_tokens else ""
            text = (
                f"{NOTICE_PREFIX}The model was still thinking when it reached the token "
                f"limit{limit}, so there is no final answer. Raise “Max new tokens” in the "
                "settings and ask again."
            )
        else:
            text = f"{NOTICE_PREFIX}The model returned an empty answer."
        messages.append({"role": "assistant", "content": text})
    return messages


def notice(text: str) -> dict:
    """An assistant-side message from the demo itself (never sent back to the model)."""
    return {"role": "assistant", "content": f"{NOTICE_PREFIX}{text}"}


def _message_text(content: Any) -> str | None:
    """The text of a history message: a string, or Gradio 6's list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        if content.get("type", "text") == "text" and isinstance(content.get("text"), str):
            return content["text"]
        return None
    if isinstance(content, Sequence):
        parts = [_message_text(part) for part in content]
        texts = [part for part in parts if part]
        return "\n".join(texts) if texts else None
    return None


def _field(message: Any, name: str) -> Any:
    return message.get(name) if isinstance(message, Mapping) else getattr(message, name, None)


def clean_history(history: Iterable[Any], *, max_messages: int | None = None) -> list[dict]:
    """The conversation to send back to the model: user turns and answers only.

    Thinking panels (messages whose metadata has a title) and the demo's notices are dropped;
    any ``<think>`` markup left inside an answer is stripped; a user turn whose reply was dropped
    entirely (an error) is dropped with it, so roles still alternate for strict chat templates.
    ``max_messages`` keeps the most recent messages, starting at a user turn.
    """
    turns: list[tuple[str, list[str]]] = []
    for message in history:
        role = _field(message, "role")
        text = _message_text(_field(message, "content"))
        if role not in ("user", "assistant") or text is None:
            continue
        if role == "user":
            turns.append((text, []))
            continue
        metadata = _field(message, "metadata") or {}
        if metadata.get("title") or text.startswith(NOTICE_PREFIX) or not turns:
            continue
        answer = strip_thinking(text)
        if answer:
            turns[-1][1].append(answer)
    cleaned: list[dict] = []
    for user_text, answers in turns:
        if answers:
            cleaned.append({"role": "user", "content": user_text})
            cleaned.append({"role": "assistant", "content": "\n\n".join(answers)})
    if max_messages is not None and len(cleaned) > max_messages:
        cleaned = cleaned[len(cleaned) - max_messages :]
        if cleaned and cleaned[0]["role"] != "user":
            cleaned = cleaned[1:]
    return cleaned


__all__ = [
    "NOTICE_PREFIX",
    "THINKING_TITLE",
    "UNFINISHED_TITLE",
    "ThinkingState",
    "ThinkingStreamParser",
    "clean_history",
    "notice",
    "state_to_messages",
]
