"""Eval results <-> ``model-index``: the card's numbers are the results file's, checked.

:func:`eval_results_from` turns a results.json into :class:`huggingface_hub.EvalResult` entries
(values in percent); :func:`validate_model_card` parses a written card back with
huggingface_hub's own parser and checks every value against the results file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from huggingface_hub import EvalResult, ModelCard

#: ``model-index`` values are percentages rounded to this many decimals.
VALUE_DECIMALS = 2


def hub_id(value: Any) -> str | None:
    """``value`` when it looks like a Hub repo id (``org/name``), not a local path."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if (
        re.fullmatch(r"[\w.-]+/[\w.-]+", text)
        and not Path(text).is_absolute()
        and not text.startswith(".")
        and not Path(text).exists()
    ):
        return text
    return None


def _percent(value: float) -> float:
    return round(100.0 * float(value), VALUE_DECIMALS)


def eval_key(
    dataset_type: str, dataset_config: str | None, metric_type: str
) -> tuple[str, str, str]:
    """How a (task, metric) pair is identified in ``model-index``."""
    return (dataset_type, dataset_config or "", metric_type)


def _dataset_type(task: str, entry: dict[str, Any]) -> str:
    return hub_id(entry.get("hub_id")) or task


def eval_results_from(results: dict[str, Any], model_name: str) -> list[EvalResult]:
    """One :class:`huggingface_hub.EvalResult` per task and metric of a results.json."""
    from huggingface_hub import EvalResult

    protocol = results["protocol"]
    out = []
    for task, entry in results["tasks"].items():
        dataset = entry.get("dataset") or {}
        for metric, score in entry["metrics"].items():
            out.append(
                EvalResult(
                    task_type="text-generation",
                    task_name="Text Generation",
                    dataset_type=_dataset_type(task, entry),
                    dataset_name=entry.get("pretty_name") or task,
                    dataset_config=entry.get("config"),
                    dataset_split=entry.get("split"),
                    dataset_revision=dataset.get("revision"),
                    metric_type=metric,
                    metric_name=f"{metric} (n={entry['n']}, %)",
                    metric_value=_percent(score["value"]),
                    metric_args={
                        "n": entry["n"],
                        "temperature": 0.0
                        if protocol.get("greedy")
                        else protocol.get("temperature"),
                        "top_p": 1.0 if protocol.get("greedy") else protocol.get("top_p"),
                        "max_new_tokens": protocol.get("max_new_tokens"),
                        "num_problems": entry["num_problems"],
                    },
                )
            )
    return out


def expected_model_index_values(results: dict[str, Any]) -> dict[tuple[str, str, str], float]:
    """The values a card built from ``results`` must carry, keyed by :func:`eval_key`."""
    return {
        eval_key(_dataset_type(task, entry), entry.get("config"), metric): _percent(score["value"])
        for task, entry in results["tasks"].items()
        for metric, score in entry["metrics"].items()
    }


def model_index_values(card: ModelCard | str) -> dict[tuple[str, str, str], float]:
    """Parse a card's ``model-index`` back (with huggingface_hub's own parser) into
    ``{(dataset_type, config, metric_type): value}``."""
    from huggingface_hub import ModelCard
    from huggingface_hub.repocard_data import model_index_to_eval_results

    parsed = ModelCard(card) if isinstance(card, str) else ModelCard(str(card))
    model_index = parsed.data.to_dict().get("model-index")
    if not model_index:
        raise ValueError("the card has no model-index")
    _, eval_results = model_index_to_eval_results(model_index)
    return {
        eval_key(r.dataset_type, r.dataset_config, r.metric_type): float(r.metric_value)
        for r in eval_results
    }


def validate_model_card(
    card: ModelCard | str,
    results: dict[str, Any] | None = None,
    *,
    remote: bool = False,
) -> None:
    """Check a card the way the Hub would, and that its numbers are the results file's.

    * the YAML header parses into :class:`ModelCardData` (``model-index`` included: an invalid
      one raises inside huggingface_hub), with ``license``, ``library_name``, ``pipeline_tag``;
    * every ``model-index`` entry has a numeric value;
    * with ``results``, the ``model-index`` values equal the results file's, one for one;
    * with ``remote=True``, the Hub's own ``/api/validate-yaml`` endpoint (needs the Hub).

    Raises ``ValueError`` listing every problem found.
    """
    from huggingface_hub import ModelCard

    text = card if isinstance(card, str) else str(card)
    problems: list[str] = []
    try:
        parsed = ModelCard(text)
    except ValueError as error:
        raise ValueError(f"invalid model card metadata: {error}") from error
    data = parsed.data
    for key in ("license", "library_name", "pipeline_tag"):
        if not data.get(key):
            problems.append(f"metadata field {key!r} is missing")
    try:
        values = model_index_values(text)
    except (ValueError, KeyError, TypeError) as error:
        problems.append(f"model-index: {error}")
        values = {}
    for key, value in values.items():
        if not isinstance(value, int | float):
            problems.append(f"model-index {key}: value {value!r} is not a number")
    if results is not None and values:
        expected = expected_model_index_values(results)
        for key in sorted(set(expected) | set(values)):
            if key not in values:
                problems.append(f"model-index lacks {key} from the results file")
            elif key not in expected:
                problems.append(f"model-index has {key}, which is not in the results file")
            elif abs(values[key] - expected[key]) > 10**-VALUE_DECIMALS / 2:
                problems.append(f"model-index {key} = {values[key]}, results say {expected[key]}")
    if problems:
        raise ValueError("model card is invalid: " + "; ".join(problems))
    if remote:
        parsed.validate(repo_type="model")


__all__ = [
    "VALUE_DECIMALS",
    "eval_key",
    "eval_results_from",
    "expected_model_index_values",
    "hub_id",
    "model_index_values",
    "validate_model_card",
]
