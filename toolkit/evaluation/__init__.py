"""Evaluation with an explicit protocol: GSM8K, MATH-500, AIME 2024/2025, GPQA-Diamond and user
tasks; pass@1 over ``n`` samples with standard errors, pass@k, majority vote; results.json and
per-sample details.parquet. Sampling runs on the durable engine generation uses, so an
evaluation resumes after a crash instead of starting over. See :func:`evaluate`.

The package face exports :func:`evaluate` as ``toolkit.evaluate``.
"""

from toolkit.evaluation.runner import EvalResults, evaluate
from toolkit.evaluation.sampling import EvalConfig

__all__ = ["EvalConfig", "EvalResults", "evaluate"]
