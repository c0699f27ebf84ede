"""The chat demo (Gradio Space) for a distilled reasoning model: thinking shown apart from the answer.

Users judge a distilled model by *how* it thinks, so the demo streams the reasoning live into a
collapsible "Thinking" panel (a spinner while it streams, its duration once it closes) and the
answer into its own message. Everything except :func:`build_demo` is free of Gradio, so the logic
is unit-testable and reusable by ``spaces/app.py`` (a Hugging Face Space) and ``toolkit space``.

Three backends, chosen by :class:`SpaceSettings` (environment ``TOOLKIT_SPACE_*``):

* ``transformers`` (default) — the model is loaded in-process and streamed with
  ``TextIteratorStreamer`` from a generation thread. R1-distill chat templates *prefill*
  ``<think>`` in the prompt, so the completion starts inside the thinking; we detect that from
  the rendered prompt instead of guessing from the output.
* ``ollama`` — the official client with ``think=True``: reasoning arrives in ``message.thinking``.
* ``openai`` — any OpenAI-compatible server (vLLM, SGLang, ``transformers serve``, DeepSeek API):
  reasoning arrives as ``reasoning_content`` (or ``reasoning``) deltas, or inline as
  ``<think>…</think>`` when the server has no reasoning parser.

:class:`ThinkingStreamParser` turns any mix of those deltas into :class:`ThinkingState` values;
the reasoning is never lost, even when it never closes (shown as "Thinking (unfinished)").
:func:`clean_history` removes thinking, and the demo's own notices, from the conversation that is
sent back to the model: reasoning models are trained on histories without earlier thoughts.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

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

log = logging.getLogger(__name__)

BackendName = Literal["transformers", "ollama", "openai"]
BACKENDS: tuple[str, ...] = ("transformers", "ollama", "openai")

#: A real distilled reasoning model that fits a free CPU Space; set ``TOOLKIT_SPACE_MODEL`` (a
#: Space variable) or ``toolkit space --model`` to chat with your own student instead.
DEFAULT_TRANSFORMERS_MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
DEFAULT_OLLAMA_MODEL = "deepseek-r1:1.5b"
DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"
#: ``transformers serve`` and vLLM both listen on port 8000 by default.
DEFAULT_OPENAI_URL = "http://127.0.0.1:8000/v1"

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant. Reason step by step, and put your final answer within \\boxed{}."
)
#: Assistant messages starting with this are the demo talking (errors, limits), not the model:
#: they are shown to the user but never sent back to the model.
NOTICE_PREFIX = "⚠️ "
THINKING_TITLE = "Thinking"
UNFINISHED_TITLE = "Thinking (unfinished)"

EXAMPLES: tuple[str, ...] = (
    "What is the sum of the first 10 positive odd numbers?",
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in "
    "May. How many clips did Natalia sell altogether in April and May?",
    "Solve for $x$: $2x + 3 = 11$.",
    "How many positive divisors does $360$ have?",
)

#: KaTeX delimiters: display math first, so ``$$`` is not read as two empty ``$`` spans.
LATEX_DELIMITERS: list[dict[str, Any]] = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "\\[", "right": "\\]", "display": True},
    {"left": "$", "right": "$", "display": False},
    {"left": "\\(", "right": "\\)", "display": False},
]

_MARKERS = (THINK_OPEN, THINK_CLOSE, THOUGHT_OPEN, THOUGHT_CLOSE, SOLUTION_OPEN, SOLUTION_CLOSE)
_LONGEST_MARKER = max(len(marker) for marker in _MARKERS)


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError as error:
        raise ValueError(f"{name}={raw!r} is not a number") from error


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise ValueError(f"{name}={raw!r} is not an integer") from error


@dataclass(frozen=True)
class SpaceSettings:
    """What the demo talks to and its limits.

    ``model`` is a local directory or a Hub id (transformers), an Ollama tag, or the served model
    name (openai; ``None`` = the first model the server lists). ``api_key`` is only sent to the
    server, never logged or shown (``repr`` hides it).
    """

    backend: BackendName = "transformers"
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    temperature: float = 0.6
    max_new_tokens: int = 1024
    #: Upper bound of the "Max new tokens" slider: protects a shared Space from runaway requests.
    max_new_tokens_limit: int = 4096
    #: Longest user message accepted (characters).
    max_input_chars: int = 4000
    #: Earlier messages kept in the prompt (the oldest are dropped first).
    max_history_messages: int = 16
    #: Seconds to wait for the backend before calling it down.
    request_timeout: float = 120.0
    title: str | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(
                f"backend {self.backend!r} is not one of {', '.join(BACKENDS)} "
                "(set TOOLKIT_SPACE_BACKEND or --backend)"
            )
        if self.max_new_tokens < 1 or self.max_new_tokens_limit < self.max_new_tokens:
            raise ValueError(
                f"max_new_tokens={self.max_new_tokens} must be between 1 and "
                f"max_new_tokens_limit={self.max_new_tokens_limit}"
            )
        if not 0 <= self.temperature <= 2:
            raise ValueError(f"temperature={self.temperature} must be between 0 and 2")
        if self.max_input_chars < 1:
            raise ValueError(f"max_input_chars={self.max_input_chars} must be positive")

    @classmethod
    def from_env(cls, **overrides: Any) -> SpaceSettings:
        """Settings from ``TOOLKIT_SPACE_*`` variables; non-``None`` ``overrides`` win.

        Variables: ``BACKEND``, ``MODEL``, ``BASE_URL``, ``API_KEY`` (or ``OPENAI_API_KEY``),
        ``SYSTEM_PROMPT``, ``TEMPERATURE``, ``MAX_NEW_TOKENS``, ``MAX_INPUT_CHARS``, ``TITLE``.
        On a Hugging Face Space these are the Space's variables and secrets.
        """
        env = os.environ
        values: dict[str, Any] = {
            "backend": (env.get("TOOLKIT_SPACE_BACKEND") or "transformers").strip().lower(),
            "model": env.get("TOOLKIT_SPACE_MODEL") or None,
            "base_url": env.get("TOOLKIT_SPACE_BASE_URL") or None,
            "api_key": env.get("TOOLKIT_SPACE_API_KEY") or env.get("OPENAI_API_KEY") or None,
            "system_prompt": env.get("TOOLKIT_SPACE_SYSTEM_PROMPT", DEFAULT_SYSTEM_PROMPT),
            "temperature": _env_float("TOOLKIT_SPACE_TEMPERATURE", 0.6),
            "max_new_tokens": _env_int("TOOLKIT_SPACE_MAX_NEW_TOKENS", 1024),
            "max_input_chars": _env_int("TOOLKIT_SPACE_MAX_INPUT_CHARS", 4000),
            "title": env.get("TOOLKIT_SPACE_TITLE") or None,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        if values["backend"] == "ollama" and not values["base_url"]:
            values["base_url"] = env.get("OLLAMA_HOST") or None
        if values["max_new_tokens"] > 4096:
            values.setdefault("max_new_tokens_limit", values["max_new_tokens"])
        return cls(**values)

    @property
    def resolved_model(self) -> str | None:
        """The model actually used: the setting or the backend's default."""
        if self.model:
            return self.model
        if self.backend == "transformers":
            return DEFAULT_TRANSFORMERS_MODEL
        if self.backend == "ollama":
            return DEFAULT_OLLAMA_MODEL
        return None

    @property
    def resolved_base_url(self) -> str | None:
        if self.base_url:
            return self.base_url
        if self.backend == "ollama":
            return DEFAULT_OLLAMA_URL
        if self.backend == "openai":
            return DEFAULT_OPENAI_URL
        return None

    @property
    def display_title(self) -> str:
        if self.title:
            return self.title
        model = self.resolved_model
        name = Path(model.rstrip("/")).name if model else "OpenAI-compatible server"
        return f"{name} · thinking chat"


# --------------------------------------------------------------------------------------------
# Streaming parser: token deltas -> (thinking, answer) states
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# History cleaning
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------------------------


class BackendUnavailable(RuntimeError):
    """The backend cannot be reached or loaded; ``str(error)`` is written for the user."""


@dataclass(frozen=True)
class Delta:
    """One streamed piece: answer/content text and/or reasoning from a separate field."""

    content: str = ""
    reasoning: str = ""


@dataclass
class ChatStream:
    """A started generation: whether the prompt prefilled ``<think>``, and its deltas."""

    deltas: Iterator[Delta]
    prefilled: bool = False


class ChatBackend(Protocol):
    """What the demo needs from a model server."""

    def describe(self) -> str: ...

    def open_stream(
        self, messages: list[dict], *, temperature: float, max_new_tokens: int
    ) -> ChatStream: ...


def prompt_is_prefilled(prompt: str) -> bool:
    """Whether a rendered prompt opens the thinking itself (R1-distill templates do)."""
    return prompt.rstrip().endswith((THINK_OPEN, THOUGHT_OPEN))


class TransformersBackend:
    """The model in this process, streamed from a generation thread.

    Loading is lazy and locked (the UI comes up at once; the first message waits for the
    weights) unless :meth:`load` is called up front, as ``toolkit space`` and the Space do.
    A LoRA adapter directory (``adapter_config.json``, as ``toolkit train`` saves) loads through
    PEFT on its base model.
    """

    def __init__(self, model: str, *, timeout: float = 120.0):
        self.model_id = model
        self.timeout = timeout
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None
        self._hidden_tokens: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"transformers · {self.model_id}"

    def load(self) -> None:
        """Load the tokenizer and weights once; raise :class:`BackendUnavailable` if impossible."""
        with self._lock:
            if self._model is not None:
                return
            try:
                self._model, self._tokenizer = _load_transformers_model(self.model_id)
            except Exception as error:
                log.warning("could not load %s: %s", self.model_id, error, exc_info=True)
                raise BackendUnavailable(
                    f"Could not load the model {self.model_id!r} "
                    f"({type(error).__name__}: {_first_line(error)}). Check the model id or "
                    "directory and that it has a tokenizer with a chat template."
                ) from None
            markers = set(_MARKERS)
            self._hidden_tokens = tuple(
                token for token in self._tokenizer.all_special_tokens if token not in markers
            )

    def render_prompt(self, messages: list[dict]) -> str:
        """The chat template applied; templates without a system role get it in the first turn."""
        from jinja2 import TemplateError

        self.load()
        try:
            return self._tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        except TemplateError:
            if not messages or messages[0]["role"] != "system" or len(messages) < 2:
                raise
            system, first, *rest = messages
            merged = {**first, "content": f"{system['content']}\n\n{first['content']}"}
            return self._tokenizer.apply_chat_template(
                [merged, *rest], tokenize=False, add_generation_prompt=True
            )

    def open_stream(
        self, messages: list[dict], *, temperature: float, max_new_tokens: int
    ) -> ChatStream:
        prompt = self.render_prompt(messages)
        return ChatStream(
            self._generate(prompt, temperature, max_new_tokens), prompt_is_prefilled(prompt)
        )

    def _generate(self, prompt: str, temperature: float, max_new_tokens: int) -> Iterator[Delta]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        tokenizer, model = self._tokenizer, self._model
        inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
        # Special tokens are decoded (a tokenizer may mark <think> as special) and the others
        # (EOS, padding) removed by hand below.
        streamer = TextIteratorStreamer(
            tokenizer, skip_prompt=True, skip_special_tokens=False, timeout=self.timeout
        )
        stop = threading.Event()

        class _StopWhenAsked(StoppingCriteria):
            """Ends generation when the user presses Stop (the generator is closed)."""

            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), stop.is_set(), dtype=torch.bool)

        generate_kwargs: dict[str, Any] = {
            **inputs,
            "streamer": streamer,
            "max_new_tokens": max_new_tokens,
            "stopping_criteria": StoppingCriteriaList([_StopWhenAsked()]),
            "pad_token_id": tokenizer.pad_token_id
            if tokenizer.pad_token_id is not None
            else tokenizer.eos_token_id,
        }
        if temperature > 0:
            generate_kwargs.update(do_sample=True, temperature=temperature, top_p=0.95)
        else:
            generate_kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    model.generate(**generate_kwargs)
            except BaseException as error:  # reported in the consumer thread
                failure.append(error)
                streamer.end()

        thread = threading.Thread(target=run, name="toolkit-space-generate", daemon=True)
        thread.start()
        try:
            for text in streamer:
                for token in self._hidden_tokens:
                    text = text.replace(token, "")
                if text:
                    yield Delta(content=text)
        finally:
            stop.set()
            thread.join(timeout=self.timeout)
        if failure:
            raise failure[0]


def _load_transformers_model(model_id: str) -> tuple[Any, Any]:
    """(model, tokenizer) for a directory or Hub id; a LoRA adapter loads on its base."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    local = Path(model_id)
    if (local / "adapter_config.json").exists() and not (local / "config.json").exists():
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(local, dtype=dtype)
        try:
            tokenizer = AutoTokenizer.from_pretrained(local)
        except (OSError, ValueError):
            tokenizer = AutoTokenizer.from_pretrained(
                model.peft_config["default"].base_model_name_or_path
            )
    else:
        tokenizer = AutoTokenizer.from_pretrained(model_id)
        model = AutoModelForCausalLM.from_pretrained(model_id, dtype=dtype)
    if not tokenizer.chat_template:
        raise ValueError(f"the tokenizer of {model_id} has no chat template")
    model.to(device)
    model.eval()
    return model, tokenizer


class OpenAICompatibleBackend:
    """Any OpenAI-compatible ``/v1/chat/completions`` server, streamed."""

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
    ):
        self.base_url = base_url
        self.model = model
        self.timeout = timeout
        self._api_key = api_key
        self._client: Any = None

    def describe(self) -> str:
        return f"OpenAI-compatible · {self.model or 'first served model'} @ {self.base_url}"

    def _unavailable(self) -> BackendUnavailable:
        return BackendUnavailable(
            f"The model server at {self.base_url} is not reachable. Start it (for example "
            "`transformers serve` or `vllm serve MODEL`) or point TOOLKIT_SPACE_BASE_URL at a "
            "running one, then send your message again."
        )

    def _get_client(self) -> Any:
        if self._client is None:
            from openai import OpenAI

            self._client = OpenAI(
                base_url=self.base_url,
                api_key=self._api_key or "not-needed",
                timeout=self.timeout,
                max_retries=0,
            )
        return self._client

    def open_stream(
        self, messages: list[dict], *, temperature: float, max_new_tokens: int
    ) -> ChatStream:
        import openai

        client = self._get_client()
        try:
            model = self.model or client.models.list().data[0].id
            stream = client.chat.completions.create(
                model=model,
                messages=messages,
                stream=True,
                temperature=temperature,
                max_tokens=max_new_tokens,
            )
        except (openai.APIConnectionError, openai.APITimeoutError):
            raise self._unavailable() from None
        except IndexError:
            raise BackendUnavailable(
                f"The model server at {self.base_url} serves no model; set TOOLKIT_SPACE_MODEL."
            ) from None
        except openai.APIStatusError as error:
            hint = " Check TOOLKIT_SPACE_API_KEY." if error.status_code in (401, 403) else ""
            raise BackendUnavailable(
                f"The model server at {self.base_url} refused the request "
                f"(HTTP {error.status_code}: {_openai_error_text(error)}).{hint}"
            ) from None
        return ChatStream(self._deltas(stream))

    def _deltas(self, stream: Any) -> Iterator[Delta]:
        import openai

        try:
            for chunk in stream:
                if not chunk.choices:
                    continue
                delta = chunk.choices[0].delta
                reasoning = getattr(delta, "reasoning_content", None) or getattr(
                    delta, "reasoning", None
                )
                content = delta.content or ""
                if content or reasoning:
                    yield Delta(content=content, reasoning=reasoning or "")
        except (openai.APIConnectionError, openai.APITimeoutError):
            raise self._unavailable() from None
        finally:
            stream.close()


class OllamaBackend:
    """An Ollama server through the official client, with ``think=True``."""

    def __init__(self, host: str, model: str, *, timeout: float = 120.0):
        self.host = host
        self.model = model
        self.timeout = timeout
        self._client: Any = None

    def describe(self) -> str:
        return f"Ollama · {self.model} @ {self.host}"

    def _unavailable(self) -> BackendUnavailable:
        return BackendUnavailable(
            f"Ollama is not reachable at {self.host}. Start it with `ollama serve` (and "
            f"`ollama pull {self.model}`), then send your message again."
        )

    def open_stream(
        self, messages: list[dict], *, temperature: float, max_new_tokens: int
    ) -> ChatStream:
        import httpx
        import ollama

        if self._client is None:
            self._client = ollama.Client(host=self.host, timeout=self.timeout)
        options = {"temperature": temperature, "num_predict": max_new_tokens}
        try:
            try:
                stream = self._client.chat(
                    self.model, messages, stream=True, think=True, options=options
                )
                first = next(stream, None)
            except ollama.ResponseError as error:
                # Models without a thinking mode reject think=True: chat with them anyway.
                if "think" not in str(error.error).lower():
                    raise
                stream = self._client.chat(self.model, messages, stream=True, options=options)
                first = next(stream, None)
        except (ConnectionError, httpx.TransportError):
            raise self._unavailable() from None
        except ollama.ResponseError as error:
            raise BackendUnavailable(
                f"Ollama at {self.host} refused the request for {self.model!r} "
                f"(HTTP {error.status_code}: {_first_line(error.error)})."
            ) from None
        return ChatStream(self._deltas(first, stream))

    def _deltas(self, first: Any, stream: Iterator[Any]) -> Iterator[Delta]:
        import httpx

        chunks = stream if first is None else _chain_one(first, stream)
        try:
            for chunk in chunks:
                message = chunk.message
                content = message.content or ""
                reasoning = getattr(message, "thinking", None) or ""
                if content or reasoning:
                    yield Delta(content=content, reasoning=reasoning)
        except (ConnectionError, httpx.TransportError):
            raise self._unavailable() from None


def _openai_error_text(error: Any) -> str:
    """The server's own error message, without the client's "Error code: 401 - " wrapper."""
    body = getattr(error, "body", None)
    if isinstance(body, Mapping):
        inner = body.get("error") if isinstance(body.get("error"), Mapping) else body
        if isinstance(inner.get("message"), str) and inner["message"].strip():
            return _first_line(inner["message"])
    text = str(getattr(error, "message", error))
    if text.startswith("Error code:") and " - " in text:
        text = text.split(" - ", 1)[1]
    return _first_line(text)


def _chain_one(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def _first_line(value: object, limit: int = 200) -> str:
    text = str(value).strip().splitlines()[0] if str(value).strip() else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def make_backend(settings: SpaceSettings) -> ChatBackend:
    """The backend the settings name (no network or weights touched yet)."""
    if settings.backend == "ollama":
        return OllamaBackend(
            settings.resolved_base_url or DEFAULT_OLLAMA_URL,
            settings.resolved_model or DEFAULT_OLLAMA_MODEL,
            timeout=settings.request_timeout,
        )
    if settings.backend == "openai":
        return OpenAICompatibleBackend(
            settings.resolved_base_url or DEFAULT_OPENAI_URL,
            settings.model,
            api_key=settings.api_key,
            timeout=settings.request_timeout,
        )
    return TransformersBackend(
        settings.resolved_model or DEFAULT_TRANSFORMERS_MODEL, timeout=settings.request_timeout
    )


# --------------------------------------------------------------------------------------------
# One chat turn (Gradio-free)
# --------------------------------------------------------------------------------------------


class ChatSession:
    """Turns a user message plus the displayed history into streamed display messages."""

    def __init__(self, settings: SpaceSettings, backend: ChatBackend | None = None):
        self.settings = settings
        self.backend = backend if backend is not None else make_backend(settings)

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

    def respond(
        self,
        message: str,
        history: Iterable[Any],
        system_prompt: str | None = None,
        temperature: float | None = None,
        max_new_tokens: int | None = None,
    ) -> Iterator[list[dict]]:
        """Yield the assistant messages to display, growing as tokens arrive.

        Never raises for backend problems: a friendly notice is yielded instead (the details go
        to the server log), so the user never sees a stack trace.
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

        shown: list[dict] = []
        try:
            stream = self.backend.open_stream(
                messages, temperature=temperature, max_new_tokens=tokens
            )
            parser = ThinkingStreamParser(prefilled=stream.prefilled)
            for delta in stream.deltas:
                shown = state_to_messages(parser.feed(delta.content, delta.reasoning))
                if shown:
                    yield shown
            yield state_to_messages(parser.finish(), max_new_tokens=tokens)
        except BackendUnavailable as error:
            log.warning("backend unavailable: %s", error)
            yield [*shown, notice(str(error))]
        except Exception as error:
            log.exception("chat turn failed")
            yield [
                *shown,
                notice(
                    f"The model backend failed ({type(error).__name__}: {_first_line(error)}). "
                    "Please try again; details are in the server log."
                ),
            ]


# --------------------------------------------------------------------------------------------
# The Gradio app
# --------------------------------------------------------------------------------------------


def build_demo(
    settings: SpaceSettings | None = None,
    *,
    backend: ChatBackend | None = None,
    examples: Sequence[str] = EXAMPLES,
) -> Any:
    """The Gradio Blocks app used by ``spaces/app.py`` and ``toolkit space``."""
    import gradio as gr

    settings = settings or SpaceSettings.from_env()
    session = ChatSession(settings, backend)

    def respond(
        message: str,
        history: list[dict],
        system_prompt: str,
        temperature: float,
        max_new_tokens: float,
    ) -> Iterator[list[dict]]:
        yield from session.respond(message, history, system_prompt, temperature, max_new_tokens)

    description = (
        f"Backend: {session.backend.describe()}. The model's reasoning streams into the "
        "collapsible *Thinking* panel; the answer appears below it. Earlier thinking is not "
        "sent back to the model."
    )
    # Components are created unrendered: ChatInterface places them (the settings go into its
    # collapsed "Settings" accordion).
    chatbot = gr.Chatbot(
        elem_id="chatbot",
        label="Chat",
        latex_delimiters=LATEX_DELIMITERS,
        placeholder="Ask a math or reasoning question.",
        scale=1,
        buttons=["copy", "copy_all"],
        render=False,
    )
    textbox = gr.Textbox(
        elem_id="chat-input",
        placeholder=f"Your question (up to {settings.max_input_chars:,} characters)",
        max_length=settings.max_input_chars,
        show_label=False,
        lines=1,
        max_lines=8,
        submit_btn=True,
        stop_btn=True,
        render=False,
    )
    system_box = gr.Textbox(
        value=settings.system_prompt,
        label="System prompt",
        lines=2,
        elem_id="system-prompt",
        render=False,
    )
    temperature = gr.Slider(
        0.0,
        1.5,
        value=settings.temperature,
        step=0.05,
        label="Temperature",
        elem_id="temperature",
        render=False,
    )
    max_tokens = gr.Slider(
        16,
        settings.max_new_tokens_limit,
        value=settings.max_new_tokens,
        step=16,
        label="Max new tokens",
        elem_id="max-new-tokens",
        render=False,
    )
    demo = gr.ChatInterface(
        respond,
        chatbot=chatbot,
        textbox=textbox,
        additional_inputs=[system_box, temperature, max_tokens],
        additional_inputs_accordion=gr.Accordion("Settings", open=False, render=False),
        examples=[[example, None, None, None] for example in examples] or None,
        cache_examples=False,
        title=settings.display_title,
        description=description,
        fill_height=True,
        autofocus=True,
    )
    return demo
