"""Evaluation with an explicit protocol: GSM8K, MATH-500, AIME 2024/2025, GPQA-Diamond and user
tasks; pass@1 over ``n`` samples with standard errors, pass@k, majority vote; results.json and
per-sample details.parquet. Sampling runs on the durable engine generation uses, so an
evaluation resumes after a crash instead of starting over. See :func:`evaluate`.

The package face exports :func:`evaluate` as ``toolkit.evaluate``; names here are imported on
first use, so the CLI can read :class:`EvalConfig` cheaply.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "EvalConfig": "toolkit.evaluation.sampling",
    "EvalResults": "toolkit.evaluation.runner",
    "evaluate": "toolkit.evaluation.runner",
}
__all__ = ["EvalConfig", "EvalResults", "evaluate"]

if TYPE_CHECKING:
    from toolkit.evaluation.runner import EvalResults, evaluate
    from toolkit.evaluation.sampling import EvalConfig


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'toolkit.evaluation' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
