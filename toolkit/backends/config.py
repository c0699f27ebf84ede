"""``ModelConfig``: how every verb that names a model (generate, eval, space) says which one.

One dataclass, so ``--backend``, ``--model``, ``--base-url``, ``--api-key-env`` and the
backend-specific switches mean the same thing (and default the same way) everywhere; the CLI
options are generated from these fields.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from toolkit.backends.base import Model
from toolkit.config import option
from toolkit.errors import UsageError

#: ModelConfig field → keyword argument of the backend factories that accept it.
_FACTORY_ARGUMENTS = {
    "api_key_env": "api_key_env",
    "native_n": "native_n",
    "think": "think",
    "prefilled_thinking": "prefilled_thinking",
    "batch_size": "batch_size",
    "device": "device",
    "dtype": "dtype",
    "threads": "num_threads",
}


@dataclass
class ModelConfig:
    """Which model to talk to, and how."""

    backend: str = option(
        "openai",
        "--backend",
        "-b",
        help="Model backend: openai (any OpenAI-compatible server), ollama, transformers "
        "(local), or a plugin's name.",
    )
    model: str | None = option(
        None,
        "--model",
        "-m",
        help="Model: the served name (openai/ollama), or a Hub id, local dir, store id "
        "(org/name[@version]) or alias (smollm2) for transformers.",
    )
    base_url: list[str] | None = option(
        None,
        "--base-url",
        help="Server URL (OpenAI-compatible: .../v1; Ollama: http://host:11434). Repeat for "
        "several endpoints serving the same model (least-busy dispatch).",
    )
    api_key_env: str = option(
        "OPENAI_API_KEY",
        "--api-key-env",
        help="openai: environment variable holding the API key (never logged or stored).",
    )
    native_n: bool = option(
        True, "--native-n/--no-native-n", help="openai: ask for n choices in one request."
    )
    think: bool = option(True, "--think/--no-think", help="ollama: ask for think=true.")
    prefilled_thinking: bool | None = option(
        None,
        "--prefilled-thinking/--no-prefilled-thinking",
        help="Servers: the chat template opens <think> itself (R1-distill). Default: detected "
        "from the template (transformers) or the model name.",
    )
    batch_size: int = option(8, "--batch-size", help="transformers: rows per batch.", min=1)
    device: str | None = option(None, "--device", help="transformers: cpu, cuda, cuda:1, mps.")
    dtype: str | None = option(
        None, "--dtype", help="transformers: float32, bfloat16, … (default: per device)."
    )
    threads: int | None = option(
        None,
        "--threads",
        help="transformers on CPU: torch threads (default: the idle cores).",
        min=1,
    )

    def build(self, **extra: Any) -> Model:
        """The :class:`Model` this config names. ``extra`` (e.g. ``timeout``) is passed to the
        factory when it accepts it. An option that the chosen backend does not take is an
        error when it was changed from its default (``--think`` with ``--backend openai``)."""
        from toolkit.backends import backend_factory, make_model

        factory = backend_factory(self.backend)
        accepted = _accepted_arguments(factory)
        options: dict[str, Any] = {}
        defaults = ModelConfig()
        for name, argument in _FACTORY_ARGUMENTS.items():
            value = getattr(self, name)
            if accepted is None or argument in accepted:
                options[argument] = value
            elif value != getattr(defaults, name):
                flag = "--" + name.replace("_", "-")
                raise UsageError(f"{flag} does not apply to the {self.backend} backend")
        for argument, value in extra.items():
            if accepted is None or argument in accepted:
                options[argument] = value
        return make_model(self.backend, self.model, base_urls=self.base_url, **options)


def _accepted_arguments(factory: Any) -> set[str] | None:
    """Keyword arguments a factory takes (``None``: it takes ``**kwargs``, i.e. anything)."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters}


__all__ = ["ModelConfig"]
