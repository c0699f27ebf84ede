"""Distil DeepSeek-R1-style reasoning into small models, native to the Hugging Face Hub.

The pipeline, one verb per stage (the CLI has the same verbs)::

    toolkit.generate(...)   # teacher traces: OpenAI-compatible servers, Ollama, local models
    toolkit.normalize(...)  # any reasoning dataset -> one schema (toolkit.schema)
    toolkit.verify(...)     # grade final answers against gold answers (toolkit.answers)
    toolkit.curate.*        # correct-only, dedup, decontaminate, length filters
    toolkit.push(...)       # versioned datasets (Hub or local store) with dataset cards
    toolkit.train(...)      # YAML recipes: SFT (TRL + PEFT), logits distillation
    toolkit.evaluate(...)   # GSM8K / MATH-500 / AIME / GPQA with an explicit protocol
    toolkit.publish(...)    # model card with the eval table, to the Hub or the local store

Over a small kernel: :mod:`toolkit.schema`, :mod:`toolkit.thinking`, :mod:`toolkit.answers`,
:mod:`toolkit.backends`, :mod:`toolkit.store`, :mod:`toolkit.errors`.

The face is lazy: ``import toolkit`` imports nothing heavy, and each name is imported on first
use. Stage modules are named for what they hold (``toolkit.generation``,
``toolkit.evaluation``, …), so no public function shadows a module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from toolkit.lazy import lazy_getattr

#: public name -> "module:attribute" (or "module" for a namespace module)
_EXPORTS = {
    "generate": "toolkit.generation:generate",
    "normalize": "toolkit.formats:normalize",
    "verify": "toolkit.verification:verify",
    "curate": "toolkit.curate",
    "push": "toolkit.store:push",
    "load": "toolkit.store:load",
    "train": "toolkit.training:train",
    "evaluate": "toolkit.evaluation:evaluate",
    "publish": "toolkit.publishing:publish",
    "split_thinking": "toolkit.thinking:split_thinking",
    "render_thinking": "toolkit.thinking:render_thinking",
    "FEATURES": "toolkit.schema:FEATURES",
    "TraceRecord": "toolkit.schema:TraceRecord",
    "ToolkitError": "toolkit.errors:ToolkitError",
}

__all__ = [
    "FEATURES",
    "ToolkitError",
    "TraceRecord",
    "__version__",
    "curate",
    "evaluate",
    "generate",
    "load",
    "normalize",
    "publish",
    "push",
    "render_thinking",
    "split_thinking",
    "train",
    "verify",
]

if TYPE_CHECKING:
    __version__: str
    from toolkit import curate
    from toolkit.errors import ToolkitError
    from toolkit.evaluation import evaluate
    from toolkit.formats import normalize
    from toolkit.generation import generate
    from toolkit.publishing import publish
    from toolkit.schema import FEATURES, TraceRecord
    from toolkit.store import load, push
    from toolkit.thinking import render_thinking, split_thinking
    from toolkit.training import train
    from toolkit.verification import verify


def _version() -> str:
    """The installed distribution's version (importlib.metadata costs ~0.1 s: only on use)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("r1-distill-toolkit")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


_exported = lazy_getattr(__name__, globals(), _EXPORTS)


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()[name] = value = _version()
        return value
    return _exported(name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
