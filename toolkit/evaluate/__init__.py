"""Evaluation with an explicit protocol: GSM8K, MATH-500, AIME 2024/2025, GPQA-Diamond and user
tasks; pass@1 over ``n`` samples with standard errors, pass@k, majority vote; results.json and
per-sample details.parquet. See :func:`toolkit.evaluate.runner.evaluate`.

Import other names with ``from toolkit.evaluate.<module> import <name>``: after ``import
toolkit``, ``toolkit.evaluate`` is this package's :func:`evaluate` function.
"""

from toolkit.evaluate.runner import EvalResults, evaluate

__all__ = ["EvalResults", "evaluate"]
