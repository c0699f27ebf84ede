"""The chat demo's settings: which model it talks to and its limits (``TOOLKIT_SPACE_*``).

On a Hugging Face Space these are the Space's variables and secrets; ``toolkit space`` sets them
from its options. The API key is only sent to the server: it is registered with
:mod:`toolkit.redact` and hidden from ``repr``, so it reaches no log line and no visitor.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from toolkit.backends import R1_TEMPERATURE
from toolkit.errors import UsageError

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


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError as error:
        raise UsageError(f"{name}={raw!r} is not a number") from error


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise UsageError(f"{name}={raw!r} is not an integer") from error


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
    temperature: float = R1_TEMPERATURE
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
            raise UsageError(
                f"backend {self.backend!r} is not one of {', '.join(BACKENDS)} "
                "(set TOOLKIT_SPACE_BACKEND or --backend)"
            )
        if self.max_new_tokens < 1 or self.max_new_tokens_limit < self.max_new_tokens:
            raise UsageError(
                f"max_new_tokens={self.max_new_tokens} must be between 1 and "
                f"max_new_tokens_limit={self.max_new_tokens_limit}"
            )
        if not 0 <= self.temperature <= 2:
            raise UsageError(f"temperature={self.temperature} must be between 0 and 2")
        if self.max_input_chars < 1:
            raise UsageError(f"max_input_chars={self.max_input_chars} must be positive")

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
            "temperature": _env_float("TOOLKIT_SPACE_TEMPERATURE", R1_TEMPERATURE),
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

    def build_model(self) -> Any:
        """The :class:`~toolkit.backends.Model` these settings name (nothing is loaded or
        contacted yet)."""
        from toolkit.backends import make_model
        from toolkit.redact import register_secret

        register_secret(self.api_key)
        options: dict[str, Any] = {"timeout": self.request_timeout}
        if self.backend == "openai":
            options["api_key"] = self.api_key
        return make_model(
            self.backend,
            self.resolved_model,
            base_urls=self.resolved_base_url,
            **options,
        )


__all__ = [
    "BACKENDS",
    "DEFAULT_OLLAMA_MODEL",
    "DEFAULT_OLLAMA_URL",
    "DEFAULT_OPENAI_URL",
    "DEFAULT_SYSTEM_PROMPT",
    "DEFAULT_TRANSFORMERS_MODEL",
    "SpaceSettings",
]
