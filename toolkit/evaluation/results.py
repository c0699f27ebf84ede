"""results.json, details.parquet, and comparison tables across result files.

``results.json`` is the record a number can be reproduced from: per task the headline metric, its
value and standard error, ``n``, the number of problems, all other metrics (pass@k, maj@n), the
reasoning statistics, the task's prompt and extraction rule, and the dataset's id, revision and
content hash; at the top the protocol (sampling, ``max_new_tokens``, seed), the model id, path and
revision, and the date. ``details.parquet`` holds one row per sample (prompt, completion, the
reasoning/answer split, the extracted answer, the verdict, finish reason, token counts, flags) so
that any score can be audited sample by sample.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.errors import DataError, MissingError

if TYPE_CHECKING:
    from rich.table import Table

    from toolkit.evaluation.scoring import ScoredSample

RESULTS_FILE = "results.json"
DETAILS_FILE = "details.parquet"
DETAIL_COLUMNS = (
    "task",
    "index",
    "sample",
    "prompt",
    "completion",
    "reasoning",
    "answer",
    "extracted",
    "gold",
    "correct",
    "finish_reason",
    "completion_tokens",
    "thinking_tokens",
    "unclosed",
    "truncated",
    "no_answer",
    "grade_error",
    "verdict",
)
REQUIRED_KEYS = ("model", "protocol", "tasks")


def flat_results(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (task, metric): ``task, metric, value, stderr, n, num_problems`` — the shape
    of the ``results`` list in results.json and of model-index entries."""
    rows = []
    for task, entry in results["tasks"].items():
        for metric, score in entry["metrics"].items():
            rows.append(
                {
                    "task": task,
                    "metric": metric,
                    "value": score["value"],
                    "stderr": score["stderr"],
                    "n": entry["n"],
                    "num_problems": entry["num_problems"],
                    "headline": metric == entry["metric"],
                }
            )
    return rows


def write_results(
    results: dict[str, Any],
    details: Sequence[ScoredSample],
    output_dir: str | os.PathLike[str],
) -> tuple[Path, Path]:
    """Write ``results.json`` and ``details.parquet`` into ``output_dir`` (atomically: a crash
    never leaves a half-written results file that a later ``toolkit card`` would trust)."""
    import pandas as pd

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / RESULTS_FILE
    details_path = out / DETAILS_FILE
    frame = pd.DataFrame([asdict(sample) for sample in details], columns=list(DETAIL_COLUMNS))
    frame["completion_tokens"] = frame["completion_tokens"].astype("Int64")
    partial = details_path.with_suffix(".parquet.partial")
    frame.to_parquet(partial, index=False)
    partial.replace(details_path)
    partial = results_path.with_suffix(".json.partial")
    partial.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    partial.replace(results_path)
    return results_path, details_path


def load_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a results.json (or the directory holding one) and check its shape."""
    source = Path(path)
    if source.is_dir():
        source = source / RESULTS_FILE
    if not source.exists():
        raise MissingError(f"{source}: no such results file", hint="write one with `toolkit eval`")
    try:
        results = json.loads(source.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"not valid JSON ({error})", path=str(source)) from None
    if not isinstance(results, dict):
        raise DataError("not a toolkit results file (not a JSON object)", path=str(source))
    missing = [key for key in REQUIRED_KEYS if key not in results]
    if missing:
        raise DataError(
            f"not a toolkit results file (missing {', '.join(missing)})",
            path=str(source),
            hint="write one with `toolkit eval`",
        )
    for task, entry in results["tasks"].items():
        for key in ("metric", "metrics", "n", "num_problems"):
            if key not in entry:
                raise DataError(f"task {task!r} lacks field {key!r}", path=str(source))
    results["_path"] = str(source)
    return results


def load_details(path: str | os.PathLike[str]) -> Any:
    """details.parquet next to a results.json (or in a directory) as a DataFrame, or ``None``."""
    import pandas as pd

    source = Path(path)
    folder = source if source.is_dir() else source.parent
    details = folder / DETAILS_FILE
    return pd.read_parquet(details) if details.exists() else None


def _label(results: dict[str, Any], fallback: str) -> str:
    return str(results.get("model", {}).get("id") or fallback)


def comparison_rows(
    results_list: Sequence[dict[str, Any]], labels: Sequence[str] | None = None
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a table with one row per task and one column per results file:
    the headline metric as ``value ± stderr`` in percent (``—`` where a file lacks the task), and
    the protocol in the header so runs with different settings are not silently compared."""
    if labels is None:
        labels = [_label(r, f"run {i + 1}") for i, r in enumerate(results_list)]
        if len(set(labels)) < len(labels):
            # Same model twice (two protocols, two checkpoints): tell them apart by folder.
            labels = [
                f"{label} [{Path(r['_path']).parent.name}]"
                if "_path" in r
                else f"{label} [{i + 1}]"
                for i, (label, r) in enumerate(zip(labels, results_list, strict=True))
            ]
    header = ["task"]
    for label, results in zip(labels, results_list, strict=True):
        protocol = results["protocol"]
        sampling = (
            "greedy"
            if protocol.get("greedy")
            else f"T={protocol.get('temperature')}, p={protocol.get('top_p')}"
        )
        header.append(
            f"{label} (n={protocol.get('n')}, {sampling}, max={protocol.get('max_new_tokens')})"
        )
    tasks: list[str] = []
    for results in results_list:
        tasks.extend(t for t in results["tasks"] if t not in tasks)
    rows = []
    for task in tasks:
        row = [task]
        for results in results_list:
            entry = results["tasks"].get(task)
            score = entry["metrics"].get(entry["metric"]) if entry is not None else None
            if score is None:
                row.append("—")
                continue
            row.append(
                f"{entry['metric']} {100 * score['value']:.1f} ± {100 * score['stderr']:.1f}"
                f" ({entry['num_problems']})"
            )
        rows.append(row)
    return header, rows


def comparison_markdown(
    results_list: Sequence[dict[str, Any]], labels: Sequence[str] | None = None
) -> str:
    """The comparison as a GitHub-flavoured markdown table."""
    header, rows = comparison_rows(results_list, labels)
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def comparison_table(
    results_list: Sequence[dict[str, Any]], labels: Sequence[str] | None = None
) -> Table:
    """The comparison as a rich table (for the terminal)."""
    from rich.table import Table

    header, rows = comparison_rows(results_list, labels)
    table = Table(title="evaluation results (headline metric, % ± stderr, problems)")
    table.add_column(header[0], style="bold")
    for column in header[1:]:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*row)
    return table
