"""The chat demo's settings: which model it talks to and its limits (``TOOLKIT_SPACE_*``).

On a Hugging Face Space these are the Space's variables and secrets; ``toolkit space`` sets them
from its options. The API key is only sent to the server: it is registered with
:mod:`toolkit.redact` and hidden from ``repr``, so it reaches no log line and no visitor.

Defaults follow DeepSeek's usage advice for R1 models rather than a generic chat's:

* **no system prompt** ("avoid adding a system prompt; all instructions should be contained
  within the user prompt"); an operator can still set one;
* **8,192 new tokens** per answer, slider up to **32,768**: R1 models think for thousands of
  tokens (DeepSeek evaluates with a 32,768-token limit; hosted R1 APIs advise keeping
  ``max_tokens`` at 8,192 or less for quality), so the former 1,024 cut most thinking off
  before any answer. A cut answer gets a notice, never a silent end;
* temperature 0.6 / top-p 0.95 (:data:`toolkit.backends.R1_TEMPERATURE`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Literal

from toolkit.backends import R1_TEMPERATURE
from toolkit.errors import UsageError

BackendName = Literal["transformers", "ollama", "openai"]
BACKENDS: tuple[str, ...] = ("transformers", "ollama", "openai")
PrefillSetting = Literal["auto", "true", "false"]
PREFILL_SETTINGS: tuple[str, ...] = ("auto", "true", "false")

#: A real distilled reasoning model that fits a free CPU Space; set ``TOOLKIT_SPACE_MODEL`` (a
#: Space variable) or ``toolkit space --model`` to chat with your own student instead.
DEFAULT_TRANSFORMERS_MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
DEFAULT_OLLAMA_MODEL = "deepseek-r1:1.5b"
DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"
#: ``transformers serve`` and vLLM both listen on port 8000 by default.
DEFAULT_OPENAI_URL = "http://127.0.0.1:8000/v1"

#: No system prompt: DeepSeek advises none for R1 models (instructions go in the user turn).
DEFAULT_SYSTEM_PROMPT = ""
DEFAULT_MAX_NEW_TOKENS = 8192
DEFAULT_MAX_NEW_TOKENS_LIMIT = 32768
#: Chats streaming at once (the Gradio queue's concurrency): a server batches requests, so
#: many visitors can stream together; a model in the Space's own process shares its CPU/GPU.
DEFAULT_CONCURRENCY = {"openai": 16, "ollama": 8, "transformers": 2}
#: Directory names that say nothing about the model (the parent names it instead).
_GENERIC_DIRS = re.compile(r"final|last|best|model|output|merged|checkpoint-\d+|[0-9a-f]{40}")


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
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    #: Upper bound of the "Max new tokens" slider: protects a shared Space from runaway requests.
    max_new_tokens_limit: int = DEFAULT_MAX_NEW_TOKENS_LIMIT
    #: Longest user message accepted (characters).
    max_input_chars: int = 4000
    #: Earlier messages kept in the prompt (the oldest are dropped first).
    max_history_messages: int = 16
    #: Seconds without any data from the backend before calling it down (an idle limit: a
    #: long answer that keeps streaming is never cut by it).
    request_timeout: float = 120.0
    title: str | None = None
    #: Whether the model's chat template opens ``<think>`` itself: ``auto`` detects it (the
    #: template of a local model; the served name of an R1 model), ``true``/``false`` say so.
    prefilled_thinking: PrefillSetting = "auto"
    #: Chats that stream at once; ``None``: :data:`DEFAULT_CONCURRENCY` for the backend.
    concurrency: int | None = None
    #: Hosts whose ``https`` images model output may show (none by default: an image in model
    #: output is fetched by the visitor's browser, an exfiltration channel).
    image_hosts: tuple[str, ...] = ()

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
        if self.prefilled_thinking not in PREFILL_SETTINGS:
            raise UsageError(
                f"prefilled_thinking={self.prefilled_thinking!r} is not one of auto, true, false "
                "(TOOLKIT_SPACE_PREFILLED_THINKING)"
            )
        if self.concurrency is not None and self.concurrency < 1:
            raise UsageError(f"concurrency={self.concurrency} must be at least 1")

    @classmethod
    def from_env(cls, **overrides: Any) -> SpaceSettings:
        """Settings from ``TOOLKIT_SPACE_*`` variables; non-``None`` ``overrides`` win.

        Variables: ``BACKEND``, ``MODEL``, ``BASE_URL``, ``API_KEY`` (or ``OPENAI_API_KEY``),
        ``SYSTEM_PROMPT``, ``TEMPERATURE``, ``MAX_NEW_TOKENS``, ``MAX_NEW_TOKENS_LIMIT``,
        ``MAX_INPUT_CHARS``, ``TITLE``, ``PREFILLED_THINKING`` (auto/true/false),
        ``CONCURRENCY``, ``IMAGE_HOSTS`` (comma-separated). On a Hugging Face Space these are
        the Space's variables and secrets.
        """
        env = os.environ
        values: dict[str, Any] = {
            "backend": (env.get("TOOLKIT_SPACE_BACKEND") or "transformers").strip().lower(),
            "model": env.get("TOOLKIT_SPACE_MODEL") or None,
            "base_url": env.get("TOOLKIT_SPACE_BASE_URL") or None,
            "api_key": env.get("TOOLKIT_SPACE_API_KEY") or env.get("OPENAI_API_KEY") or None,
            "system_prompt": env.get("TOOLKIT_SPACE_SYSTEM_PROMPT", DEFAULT_SYSTEM_PROMPT),
            "temperature": _env_float("TOOLKIT_SPACE_TEMPERATURE", R1_TEMPERATURE),
            "max_new_tokens": _env_int("TOOLKIT_SPACE_MAX_NEW_TOKENS", DEFAULT_MAX_NEW_TOKENS),
            "max_new_tokens_limit": _env_int(
                "TOOLKIT_SPACE_MAX_NEW_TOKENS_LIMIT", DEFAULT_MAX_NEW_TOKENS_LIMIT
            ),
            "max_input_chars": _env_int("TOOLKIT_SPACE_MAX_INPUT_CHARS", 4000),
            "title": env.get("TOOLKIT_SPACE_TITLE") or None,
            "prefilled_thinking": (env.get("TOOLKIT_SPACE_PREFILLED_THINKING") or "auto")
            .strip()
            .lower(),
            "concurrency": _env_int("TOOLKIT_SPACE_CONCURRENCY", 0) or None,
            "image_hosts": tuple(
                host.strip().lower()
                for host in (env.get("TOOLKIT_SPACE_IMAGE_HOSTS") or "").split(",")
                if host.strip()
            ),
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        if values["backend"] == "ollama" and not values["base_url"]:
            values["base_url"] = env.get("OLLAMA_HOST") or None
        # A default above the slider's top raises the top (the operator asked for it).
        values["max_new_tokens_limit"] = max(
            values["max_new_tokens_limit"], values["max_new_tokens"]
        )
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
        """The page title: ``TOOLKIT_SPACE_TITLE``, else the model's name (never a path or a
        URL; the app replaces it with the served name from ``/v1/models`` when it learns it)."""
        if self.title:
            return self.title
        return display_name(self.resolved_model) or GENERIC_TITLE

    @property
    def resolved_concurrency(self) -> int:
        return self.concurrency or DEFAULT_CONCURRENCY.get(self.backend, 4)

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


GENERIC_TITLE = "Reasoning chat"


def display_name(model: str | None) -> str | None:
    """A model's name fit for visitors: a Hub id or served name as is; for a local path only
    its meaningful last part (``/srv/runs/tiny-cpu/final`` → ``tiny-cpu``; a Hub cache snapshot
    → ``org/name``), so no server path reaches the page."""
    if not model or not model.strip():
        return None
    text = model.strip().rstrip("/\\")
    if "://" in text:  # a URL is an operator detail, not a name
        return None
    looks_local = text.startswith(("/", ".", "~")) or "\\" in text or text.count("/") > 1
    if not looks_local:
        return text
    parts = [
        part for part in PurePath(text.replace("\\", "/")).parts if part not in ("/", ".", "~")
    ]
    for part in parts:
        if part.startswith("models--") and part.count("--") >= 2:  # the Hub cache layout
            return "/".join(part.split("--")[1:])
    for part in reversed(parts):
        if part and part != ".." and not _GENERIC_DIRS.fullmatch(part):
            return part
    return parts[-1] if parts else None


__all__ = [
    "BACKENDS",
    "DEFAULT_OLLAMA_MODEL",
    "DEFAULT_OLLAMA_URL",
    "DEFAULT_OPENAI_URL",
    "DEFAULT_SYSTEM_PROMPT",
    "DEFAULT_TRANSFORMERS_MODEL",
    "GENERIC_TITLE",
    "SpaceSettings",
    "display_name",
]
