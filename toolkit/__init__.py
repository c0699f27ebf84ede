"""Distil DeepSeek-R1-style reasoning into small models, native to the Hugging Face Hub.

The pipeline, one verb per stage (the CLI has the same verbs)::

    toolkit.generate(...)   # teacher traces: Ollama, OpenAI-compatible, local transformers
    toolkit.normalize(...)  # any reasoning dataset -> one schema (toolkit.schema)
    toolkit.verify(...)     # math-verify correctness
    toolkit.push(...)       # versioned datasets (Hub or local store) with dataset cards
    toolkit.train(...)      # YAML recipes: SFT (TRL + PEFT), logits distillation
    toolkit.evaluate(...)   # GSM8K / MATH-500 / AIME / GPQA, model cards

Public functions are imported here eagerly (their modules import heavy libraries lazily), so that
``toolkit.normalize`` is the function even after ``toolkit.formats`` has been imported. Import a
module's other names with ``from toolkit.<module> import <name>``.
"""

from toolkit.evaluate import evaluate
from toolkit.formats import normalize
from toolkit.generate import generate
from toolkit.hub import load, push
from toolkit.publish import publish
from toolkit.schema import FEATURES, TraceRecord
from toolkit.thinking import render_thinking, split_thinking
from toolkit.train import train
from toolkit.verification import verify

__version__ = "0.1.0"

__all__ = [
    "FEATURES",
    "TraceRecord",
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
