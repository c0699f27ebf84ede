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

from toolkit.chat.render import from_display, to_display
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
STOPPED_TITLE = "Thinking (stopped)"
#: Output cut before any marker while the prompt may have opened <think>: thinking or answer?
TENTATIVE_TITLE = "Unfinished output"
STOPPED_NOTICE = "Stopped. The answer above is incomplete."

_MARKERS = (THINK_OPEN, THINK_CLOSE, THOUGHT_OPEN, THOUGHT_CLOSE, SOLUTION_OPEN, SOLUTION_CLOSE)
_LONGEST_MARKER = max(len(marker) for marker in _MARKERS)


@dataclass(frozen=True)
class ThinkingState:
    """What to show after the deltas seen so far.

    ``reasoning`` is ``None`` when the output has no reasoning at all (a model that does not
    think). ``thinking`` is true while the reasoning is still streaming. After
    :meth:`ThinkingStreamParser.finish`, ``finished`` is true and ``reasoning_complete=False``
    means the reasoning never closed. ``duration`` is the thinking time in seconds, once the
    thinking has closed. ``end`` says how the output ended: ``"stop"`` (end of turn),
    ``"length"`` (the token limit), ``"dropped"`` (the connection was lost), ``"stopped"`` (the
    visitor pressed Stop) or ``None`` (unknown). ``tentative`` marks text shown as thinking only
    because the prompt may have opened ``<think>`` and no marker has arrived to tell.
    """

    reasoning: str | None
    answer: str
    thinking: bool
    reasoning_complete: bool
    finished: bool
    duration: float | None = None
    end: str | None = None
    tentative: bool = False


def _hold_back_partial_marker(text: str) -> str:
    """``text`` without a trailing incomplete marker (``…<thi``): it must not flash as answer."""
    start = text.rfind("<", max(0, len(text) - _LONGEST_MARKER))
    if start < 0:
        return text
    tail = text[start:]
    if any(marker.startswith(tail) and marker != tail for marker in _MARKERS):
        return text[:start]
    return text


def _has_marker(text: str) -> bool:
    return "<" in text and any(marker in text for marker in _MARKERS)


class ThinkingStreamParser:
    """Accumulates content and reasoning deltas and splits them at every step.

    Re-splitting the whole text each time (instead of a hand-written state machine) keeps the
    streaming view identical to what :func:`toolkit.thinking.split_thinking` gives for the final
    text, for every marker style; ``benchmarks/space_stream_parser.py`` measures the cost.

    Args:
        prefilled: ``True``: the prompt ended with ``<think>``, so the output starts inside the
            thinking. ``False``: it did not. ``None``: it may have (a server whose chat template
            is unknown): until a marker arrives the text is shown as *tentative* thinking, never
            as an answer; if the model ends its turn without any marker, the text was the
            answer; if it is cut (token limit, lost connection, Stop), it stays apart as
            unfinished output, not an answer.
        clock: seconds (injectable for tests).
    """

    def __init__(
        self, *, prefilled: bool | None = False, clock: Callable[[], float] = time.monotonic
    ):
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
        self.add(content, reasoning)
        return self.state()

    def add(self, content: str = "", reasoning: str = "") -> None:
        """Add one delta without computing the view (a caller that shows only some states
        saves the re-split of the whole text)."""
        if self._started is None:
            self._started = self._clock()
        if content:
            self._content.append(content)
        if reasoning:
            self._reasoning.append(reasoning)

    def state(self) -> ThinkingState:
        """The view after the deltas added so far."""
        return self._state(final=False)

    def finish(self, end: str | None = None) -> ThinkingState:
        """The final view: unclosed reasoning is reported as unfinished, never as the answer.
        ``end``: how the output ended (see :class:`ThinkingState`)."""
        return self._state(final=True, end=end)

    def _state(self, *, final: bool, end: str | None = None) -> ThinkingState:
        content = self.content if final else _hold_back_partial_marker(self.content)
        separate = self.reasoning
        if self.prefilled is None and not separate.strip() and not _has_marker(content):
            return _tentative(content.strip(), final, end)
        split = split_thinking(content, reasoning=separate or None, prefilled=bool(self.prefilled))
        reasoning = split.reasoning
        complete = split.reasoning_complete
        if reasoning is None:
            return ThinkingState(None, split.answer, False, True, final, end=end)
        if complete and self._duration is None:
            now = self._clock()
            self._duration = max(0.0, now - (self._started if self._started else now))
        thinking = not complete and not final
        duration = self._duration if complete else None
        return ThinkingState(reasoning, split.answer, thinking, complete, final, duration, end)


def _tentative(text: str, final: bool, end: str | None) -> ThinkingState:
    """Output with no marker while the prompt may have opened ``<think>``."""
    if not final:
        return ThinkingState(text, "", True, False, False, tentative=True)
    if end in (None, "stop"):  # the model ended its turn without a marker: that was the answer
        return ThinkingState(None, text, False, True, True, end=end)
    # Cut before any marker: thinking or answer cannot be told apart, so never an answer.
    return ThinkingState(text, "", False, False, True, end=end, tentative=True)


def state_to_messages(
    state: ThinkingState,
    *,
    max_new_tokens: int | None = None,
    image_hosts: Sequence[str] = (),
) -> list[dict]:
    """Chat messages (Gradio ``messages`` format) for one state: a thinking panel and an answer.

    The panel uses Gradio's thought metadata: ``status="pending"`` shows a spinner with the
    accordion open while the reasoning streams; ``"done"`` closes it and shows the duration.
    Unfinished reasoning gets its own title and no status, so it stays open and readable (and
    out of the history sent back). Text is made safe to show by :func:`to_display`. Notices
    say when the token limit cut the output; lost connections and Stop are noticed by the
    session.
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
        elif state.end == "stopped":
            metadata["title"] = STOPPED_TITLE
        else:
            metadata["title"] = TENTATIVE_TITLE if state.tentative else UNFINISHED_TITLE
        text = to_display(state.reasoning, image_hosts) or "…"
        messages.append({"role": "assistant", "content": text, "metadata": metadata})
    limit = f" ({max_new_tokens:,} tokens)" if max_new_tokens else ""
    if state.answer:
        messages.append({"role": "assistant", "content": to_display(state.answer, image_hosts)})
        if state.finished and state.end == "length":
            messages.append(
                notice(
                    f"The answer was cut off at the token limit{limit}, so it is incomplete. "
                    "Raise “Max new tokens” in the settings and ask again."
                )
            )
    elif state.finished and state.end not in ("dropped", "stopped"):
        if state.reasoning_complete:
            text = "The model returned an empty answer."
        elif state.end == "stop":
            text = (
                "The model ended its turn while still thinking, so there is no final answer. "
                "Ask again, or rephrase the question."
            )
        elif state.tentative:
            text = (
                f"The token limit{limit} cut the output before the model showed where its "
                "thinking ends, so there is no final answer. Raise “Max new tokens” in the "
                "settings and ask again."
            )
        else:
            text = (
                f"The model was still thinking when it reached the token limit{limit}, so "
                "there is no final answer. Raise “Max new tokens” in the settings and ask again."
            )
        messages.append(notice(text))
    return messages


def finalize_stopped(history: Sequence[Any]) -> list[Any]:
    """The displayed conversation after Stop: no thought left *pending* (its spinner would turn
    forever), and a notice that the answer was stopped. Used by the app when a turn ends
    without a final view of its own."""
    finished = list(history)
    for index in range(len(finished) - 1, -1, -1):
        message = finished[index]
        if _field(message, "role") != "assistant":
            break
        metadata = _field(message, "metadata") or {}
        if metadata.get("status") == "pending":
            updated = dict(message) if isinstance(message, Mapping) else dict(vars(message))
            updated["metadata"] = {"title": STOPPED_TITLE}
            finished[index] = updated
    last = finished[-1] if finished else None
    last_text = _message_text(_field(last, "content")) if last is not None else None
    if not (last_text or "").startswith(NOTICE_PREFIX):
        finished.append(notice(STOPPED_NOTICE))
    return finished


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
            turns.append((from_display(text), []))
            continue
        metadata = _field(message, "metadata") or {}
        if metadata.get("title") or text.startswith(NOTICE_PREFIX) or not turns:
            continue
        answer = strip_thinking(from_display(text))
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
    "STOPPED_NOTICE",
    "STOPPED_TITLE",
    "TENTATIVE_TITLE",
    "THINKING_TITLE",
    "UNFINISHED_TITLE",
    "ThinkingState",
    "ThinkingStreamParser",
    "clean_history",
    "finalize_stopped",
    "notice",
    "state_to_messages",
]
