"""The model card's figure: accuracy per task against the base model, thinking-length distribution,
and the training loss when known — one PNG committed next to the card.

matplotlib is imported lazily with the non-interactive Agg backend (servers and CI have no display).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def plot_evaluation(
    path: str | os.PathLike[str],
    results: dict[str, Any],
    *,
    base_results: dict[str, Any] | None = None,
    details: Any = None,
    loss_curve: list[dict[str, Any]] | None = None,
) -> Path:
    """Save the figure to ``path`` and return it.

    Panels: (1) the headline metric per task in percent with standard-error bars, side by side
    with the base model when ``base_results`` is given; (2) a histogram of thinking tokens per
    sample, from ``details`` (details.parquet as a DataFrame) when available; (3) the training
    loss curve when ``loss_curve`` (from training_summary.json) is given.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    has_details = details is not None and len(details) > 0
    has_loss = bool(loss_curve)
    panels = 1 + int(has_details) + int(has_loss)
    figure, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.8), squeeze=False)
    axes = axes[0]

    tasks = list(results["tasks"])
    labels = [results["tasks"][t].get("pretty_name") or t for t in tasks]
    series = [("this model", results)]
    if base_results is not None:
        series.append(((base_results.get("model") or {}).get("id") or "base model", base_results))
    width = 0.8 / len(series)
    ax = axes[0]
    for offset, (name, data) in enumerate(series):
        values, errors = [], []
        for task in tasks:
            entry = data["tasks"].get(task)
            metric = results["tasks"][task]["metric"]
            score = entry["metrics"].get(metric) if entry else None
            values.append(100 * score["value"] if score else 0.0)
            errors.append(100 * score["stderr"] if score else 0.0)
        positions = [i + (offset - (len(series) - 1) / 2) * width for i in range(len(tasks))]
        ax.bar(positions, values, width, yerr=errors, capsize=3, label=name)
    ax.set_xticks(range(len(tasks)))
    ax.set_xticklabels(labels, rotation=20, ha="right")
    ax.set_ylabel("pass@1 (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"accuracy (n={results['protocol'].get('n')})")
    ax.legend(fontsize=8)

    next_panel = 1
    if has_details:
        ax = axes[next_panel]
        next_panel += 1
        for task in tasks:
            lengths = details.loc[details["task"] == task, "thinking_tokens"].tolist()
            if lengths:
                ax.hist(
                    lengths,
                    bins=20,
                    alpha=0.55,
                    label=results["tasks"][task].get("pretty_name") or task,
                )
        if not details["thinking_tokens"].astype(float).gt(0).any():
            ax.text(
                0.5, 0.5, "no thinking tokens\n(no reasoning block in any output)",
                ha="center", va="center", transform=ax.transAxes,
            )  # fmt: skip
        ax.axvline(
            results["protocol"].get("max_new_tokens", 0), color="black", linestyle="--", linewidth=1
        )
        ax.set_xlabel("thinking tokens per sample (dashed: max_new_tokens)")
        ax.set_ylabel("samples")
        ax.set_title("thinking length")
        ax.legend(fontsize=8)
    if has_loss:
        ax = axes[next_panel]
        steps = [point["step"] for point in loss_curve if "loss" in point]
        losses = [point["loss"] for point in loss_curve if "loss" in point]
        ax.plot(steps, losses, marker="." if len(steps) < 50 else None)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("training loss")
        ax.set_title("training")
    figure.tight_layout()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=110)
    plt.close(figure)
    return target
