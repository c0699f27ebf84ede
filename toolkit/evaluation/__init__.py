"""Evaluation with an explicit protocol: GSM8K, MATH-500, AIME 2024/2025, GPQA-Diamond and user
tasks; pass@1 over ``n`` samples with standard errors, pass@k, majority vote; results.json and
per-sample details.parquet. Sampling runs on the durable engine generation uses, so an
evaluation resumes after a crash instead of starting over. See :func:`evaluate`.

The package face exports :func:`evaluate` as ``toolkit.evaluate``; names here are imported on
first use, so the CLI can read :class:`EvalConfig` cheaply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.lazy import lazy_getattr

_EXPORTS = {
    "EvalConfig": "toolkit.evaluation.sampling:EvalConfig",
    "EvalResults": "toolkit.evaluation.runner:EvalResults",
    "evaluate": "toolkit.evaluation.runner:evaluate",
}
__all__ = ["EvalConfig", "EvalResults", "evaluate"]

if TYPE_CHECKING:
    from toolkit.evaluation.runner import EvalResults, evaluate
    from toolkit.evaluation.sampling import EvalConfig


__getattr__ = lazy_getattr(__name__, globals(), _EXPORTS)
