"""Optional: run the same benchmarks through lighteval, and read its scores into results.json form.

The toolkit's own evaluator never needs lighteval. This adapter exists for users who want
lighteval's numbers next to ours (leaderboards report them). lighteval is *not* a dependency:
it pins ``latex2sympy2_extended==1.0.6``, which drags math-verify back to 0.5.2, so it lives in
the separate ``eval`` extra and should be installed in its own environment
(``pip install 'r1-distill-toolkit[eval]'``). Everything here imports lighteval lazily and fails
with a message naming that extra when it is missing.
"""

from __future__ import annotations

import datetime as _dt
import importlib.util
import os
from pathlib import Path
from typing import Any

from toolkit.backends.base import R1_TEMPERATURE, R1_TOP_P

#: Our task names → lighteval's task names (suite ``lighteval``, zero-shot).
LIGHTEVAL_TASKS = {
    "gsm8k": "gsm8k",
    "math500": "math_500",
    "aime24": "aime24",
    "aime25": "aime25",
    "gpqa_diamond": "gpqa:diamond",
}
MISSING_MESSAGE = (
    "lighteval is not installed. It is optional: install the 'eval' extra in a separate "
    "environment (pip install 'r1-distill-toolkit[eval]'; it pins an older math-verify), or use "
    "the toolkit's own evaluator (toolkit eval --backend transformers|openai|ollama)."
)


def lighteval_available() -> bool:
    return importlib.util.find_spec("lighteval") is not None


def require_lighteval() -> None:
    """Raise ``ImportError`` naming the ``eval`` extra when lighteval cannot be imported."""
    if not lighteval_available():
        raise ImportError(MISSING_MESSAGE)


def task_string(tasks: list[str]) -> str:
    """lighteval's comma-separated ``suite|task|fewshot`` list for our task names."""
    unknown = [t for t in tasks if t not in LIGHTEVAL_TASKS]
    if unknown:
        raise ValueError(
            f"no lighteval equivalent for task(s) {', '.join(unknown)}; "
            f"supported: {', '.join(LIGHTEVAL_TASKS)}"
        )
    return ",".join(f"lighteval|{LIGHTEVAL_TASKS[t]}|0" for t in tasks)


def results_from_lighteval(
    raw: dict[str, Any], *, model: str, protocol: dict[str, Any]
) -> dict[str, Any]:
    """Convert lighteval's ``{"results": {"lighteval|math_500|0": {"metric": v,
    "metric_stderr": s}}}`` into the toolkit's results.json shape (so ``toolkit compare`` and
    ``toolkit card`` read it). The first non-stderr metric of each task is its headline."""
    from toolkit.evaluation.results import flat_results
    from toolkit.evaluation.tasks import get_benchmark

    reverse = {v: k for k, v in LIGHTEVAL_TASKS.items()}
    tasks: dict[str, Any] = {}
    for key, scores in (raw.get("results") or {}).items():
        parts = key.split("|")
        if len(parts) < 2 or parts[1] not in reverse:
            continue  # lighteval's "all" aggregate and tasks we do not map
        name = reverse[parts[1]]
        metrics = {
            metric: {"value": float(value), "stderr": float(scores.get(f"{metric}_stderr", 0.0))}
            for metric, value in scores.items()
            if not metric.endswith("_stderr") and isinstance(value, int | float)
        }
        if not metrics:
            continue
        source = get_benchmark(name)
        tasks[name] = {
            **source.describe(),
            "prompt_template": "lighteval's own prompt",
            "extraction": "lighteval's own extraction",
            "metric": next(iter(metrics)),
            "metrics": metrics,
            "num_problems": int(
                raw.get("config_tasks", {}).get(key, {}).get("effective_num_docs") or 0
            ),
            "n": int(protocol.get("n", 1)),
            "dataset": {
                "id": source.hub_id,
                "config": source.config,
                "split": source.split,
                "revision": source.revision,
            },
            "reasoning": {},
        }
    results = {
        "schema_version": 1,
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "model": {"id": model, "path": None, "revision": None, "backend": "lighteval"},
        "protocol": {**protocol, "grader": "lighteval"},
        "tasks": tasks,
    }
    results["results"] = flat_results(results)
    return results


def run_lighteval(
    model: str | os.PathLike[str],
    tasks: list[str],
    *,
    output_dir: str | os.PathLike[str],
    max_new_tokens: int = 32768,
    temperature: float = R1_TEMPERATURE,
    top_p: float = R1_TOP_P,
    limit: int | None = None,
    engine: str = "transformers",
) -> dict[str, Any]:
    """Evaluate with lighteval (``engine="transformers"`` or ``"vllm"``) and return the scores in
    the toolkit's results.json shape (also written to ``output_dir/results_lighteval.json``)."""
    require_lighteval()
    import json

    from lighteval.logging.evaluation_tracker import EvaluationTracker
    from lighteval.models.model_input import GenerationParameters
    from lighteval.pipeline import ParallelismManager, Pipeline, PipelineParameters

    generation = GenerationParameters(
        temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens
    )
    if engine == "vllm":
        from lighteval.models.vllm.vllm_model import VLLMModelConfig

        config = VLLMModelConfig(model_name=os.fspath(model), generation_parameters=generation)
        launcher = ParallelismManager.VLLM
    elif engine == "transformers":
        from lighteval.models.transformers.transformers_model import TransformersModelConfig

        config = TransformersModelConfig(
            model_name=os.fspath(model), generation_parameters=generation
        )
        launcher = ParallelismManager.ACCELERATE
    else:
        raise ValueError(f"engine must be 'transformers' or 'vllm', not {engine!r}")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    pipeline = Pipeline(
        tasks=task_string(tasks),
        pipeline_parameters=PipelineParameters(launcher_type=launcher, max_samples=limit),
        evaluation_tracker=EvaluationTracker(output_dir=str(out), save_details=True),
        model_config=config,
    )
    pipeline.evaluate()
    pipeline.save_and_push_results()
    protocol = {
        "temperature": temperature,
        "top_p": top_p,
        "max_new_tokens": max_new_tokens,
        "greedy": temperature == 0,
        "n": 1,
        "seed": None,
        "limit": limit,
    }
    results = results_from_lighteval(
        pipeline.get_results(), model=os.fspath(model), protocol=protocol
    )
    (out / "results_lighteval.json").write_text(json.dumps(results, indent=2) + "\n")
    return results
