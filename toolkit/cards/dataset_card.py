"""Dataset cards: validated Hub metadata, lineage, statistics and a reasoning-length histogram.

The card is rendered from ``dataset_cards/dataset_card.md.j2`` (Jinja, overridable with
``$TOOLKIT_DATASET_CARD_TEMPLATE``) through :meth:`huggingface_hub.DatasetCard.from_template`, so
the YAML header is a real :class:`huggingface_hub.DatasetCardData` (``license``,
``task_categories``, ``size_categories``, ``configs``, ``source_datasets``, ``tags``…).
:func:`validate_dataset_card` parses a card back and checks that metadata against the values the
Hub accepts, offline, before anything is uploaded.

Everything in the card is computed from the data and the curation reports: the lineage (sources
with revisions, teacher models, prompt templates and sampling parameters found in ``metadata``,
every curation step with the rows it removed and why), the statistics (rows, reasoning-length
percentiles in tokens, correctness rate, rows per source) and the histogram PNG committed next to
the card. Nothing is typed by hand, and no timestamp goes in, so identical data renders an
identical card.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.cards import find_template

if TYPE_CHECKING:
    import datasets
    from huggingface_hub import DatasetCard

TEMPLATE_ENV = "TOOLKIT_DATASET_CARD_TEMPLATE"
PLOT_PATH = "plots/reasoning_length.png"

#: The size buckets the Hub recognises for ``size_categories``.
SIZE_CATEGORIES: tuple[tuple[int, str], ...] = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
    (10_000_000_000, "1B<n<10B"),
    (100_000_000_000, "10B<n<100B"),
    (1_000_000_000_000, "100B<n<1T"),
)
LARGEST_SIZE = "n>1T"
#: Hub task categories relevant to reasoning data (a card using another one fails validation).
TASK_CATEGORIES = frozenset(
    {
        "text-generation",
        "question-answering",
        "text2text-generation",
        "multiple-choice",
        "table-question-answering",
        "text-classification",
        "summarization",
        "translation",
        "other",
    }
)
#: Licence identifiers the Hub accepts (the common subset; "other" needs license_name).
LICENSES = frozenset(
    {
        "apache-2.0",
        "mit",
        "cc-by-4.0",
        "cc-by-sa-4.0",
        "cc-by-nc-4.0",
        "cc-by-nc-sa-4.0",
        "cc-by-nc-nd-4.0",
        "cc0-1.0",
        "odc-by",
        "odbl",
        "pddl",
        "bsd-3-clause",
        "bsd-2-clause",
        "gpl-3.0",
        "lgpl-3.0",
        "agpl-3.0",
        "llama3",
        "llama3.1",
        "llama3.2",
        "llama3.3",
        "gemma",
        "openrail",
        "unlicense",
        "cdla-permissive-2.0",
        "other",
        "unknown",
    }
)
_METADATA_KEYS = {
    "teacher": ("teacher", "teacher_model", "model"),
    "prompt_template": ("prompt_template", "template", "system_prompt"),
    "sampling": ("sampling", "sampling_params", "generation_config"),
}
_SAMPLING_FIELDS = ("temperature", "top_p", "top_k", "max_tokens", "max_new_tokens", "seed", "n")


def template_path() -> Path:
    """The card template: ``$TOOLKIT_DATASET_CARD_TEMPLATE``, else ``dataset_cards/dataset_card.md.j2`` (packaged copy if
    installed without the repository)."""
    return find_template("dataset_cards", "dataset_card.md.j2", TEMPLATE_ENV)


def size_category(rows: int) -> str:
    for limit, name in SIZE_CATEGORIES:
        if rows < limit:
            return name
    return LARGEST_SIZE


@dataclass
class CardStats:
    """What the card says about the data (also returned to callers for logging)."""

    rows: int
    splits: dict[str, int]
    reasoning_token_counts: list[int]
    reasoning_tokens: dict[str, float]
    token_counter: str
    with_reasoning: int
    correct_rate: float | None
    graded: int
    ungradable: int
    complete_rate: float | None
    sources: list[tuple[str, int]]
    domains: list[tuple[str, int]]


def _as_splits(data: Any) -> dict[str, datasets.Dataset]:
    import datasets

    if isinstance(data, datasets.DatasetDict):
        return dict(data)
    return {"train": data}


def _percentiles(counts: Sequence[int]) -> dict[str, float]:
    import numpy as np

    if not counts:
        return {key: 0 for key in ("p5", "p25", "p50", "p75", "p95", "max", "mean")}
    values = np.asarray(counts, dtype=float)
    result: dict[str, float] = {
        f"p{q}": round(float(np.percentile(values, q))) for q in (5, 25, 50, 75, 95)
    }
    result["max"] = int(values.max())
    result["mean"] = round(float(values.mean()))
    return result


def compute_stats(data: Any, *, tokenizer: Any = None) -> CardStats:
    """Statistics over all splits (``data`` is a Dataset or a DatasetDict)."""
    from toolkit.curate import _tokenizer_name, column_values, count_tokens

    splits = _as_splits(data)
    reasoning: list[str] = []
    correct: list[Any] = []
    complete: list[Any] = []
    sources: Counter[str] = Counter()
    domains: Counter[str] = Counter()
    has_correct = all("correct" in s.column_names for s in splits.values())
    has_complete = all("reasoning_complete" in s.column_names for s in splits.values())
    for split in splits.values():
        if "reasoning" in split.column_names:
            reasoning.extend(r for r in column_values(split, "reasoning") if r)
        if has_correct:
            correct.extend(column_values(split, "correct"))
        if has_complete:
            complete.extend(column_values(split, "reasoning_complete"))
        if "source" in split.column_names:
            sources.update(s or "(unknown)" for s in column_values(split, "source"))
        if "domain" in split.column_names:
            domains.update(d or "(unknown)" for d in column_values(split, "domain"))
    counts = count_tokens(reasoning, tokenizer)
    graded = [c for c in correct if c is not None]
    rows = sum(len(s) for s in splits.values())
    return CardStats(
        rows=rows,
        splits={name: len(s) for name, s in splits.items()},
        reasoning_token_counts=counts,
        reasoning_tokens=_percentiles(counts),
        token_counter=_tokenizer_name(tokenizer),
        with_reasoning=len(reasoning),
        correct_rate=(sum(1 for c in graded if c) / len(graded)) if graded else None,
        graded=len(graded),
        ungradable=len(correct) - len(graded),
        complete_rate=(sum(1 for c in complete if c) / len(complete)) if complete else None,
        sources=sources.most_common(),
        domains=domains.most_common(),
    )


def _distinct(values: Sequence[Any], limit: int = 5) -> list[str]:
    seen: list[str] = []
    for value in values:
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        if text and text not in seen:
            seen.append(text)
        if len(seen) >= limit:
            break
    return seen


def collect_lineage(
    data: Any, lineage: Sequence[Any] | None = None, *, scan_rows: int = 2000
) -> dict[str, Any]:
    """Sources with revisions (the ``source`` column), teachers, prompt templates and sampling
    parameters (from ``metadata``, first ``scan_rows`` rows per split), and the curation steps."""
    from toolkit.curate import CurationReport, column_values
    from toolkit.schema import loads_metadata

    sources: Counter[str] = Counter()
    teachers: list[Any] = []
    templates: list[Any] = []
    sampling: list[Any] = []
    for split in _as_splits(data).values():
        if "source" in split.column_names:
            sources.update(s for s in column_values(split, "source") if s)
        if "metadata" not in split.column_names:
            continue
        for raw in split.select(range(min(scan_rows, len(split))))["metadata"]:
            try:
                meta = loads_metadata(raw)
            except ValueError:
                continue
            if not isinstance(meta, dict):
                continue
            for key in _METADATA_KEYS["teacher"]:
                if meta.get(key):
                    teachers.append(meta[key])
                    break
            for key in _METADATA_KEYS["prompt_template"]:
                if meta.get(key):
                    templates.append(meta[key])
                    break
            params = next((meta[k] for k in _METADATA_KEYS["sampling"] if meta.get(k)), None)
            if params is None:
                params = {k: meta[k] for k in _SAMPLING_FIELDS if k in meta} or None
            if params:
                sampling.append(params)
    generated = [s.split(":", 1)[1] for s in sources if s.startswith("generate:")]
    steps = []
    for entry in lineage or []:
        report = entry if isinstance(entry, CurationReport) else CurationReport.from_dict(entry)
        step = report.to_dict()
        step["params_text"] = json.dumps(
            {k: v for k, v in report.params.items() if v is not None}, sort_keys=True
        ).replace("|", "\\|")
        steps.append(step)
    return {
        "sources": [s for s, _ in sources.most_common()],
        "teachers": _distinct(generated + teachers),
        "prompt_templates": _distinct(templates, limit=3),
        "sampling": _distinct(sampling),
        "steps": steps,
    }


def source_datasets(sources: Sequence[str]) -> list[str]:
    """Hub ids of the source datasets (``org/name@rev`` → ``org/name``; generated rows skipped)."""
    ids = []
    for source in sources:
        if source.startswith("generate:") or "/" not in source:
            continue
        name = source.split("@", 1)[0].split(":", 1)[0]
        if re.fullmatch(r"[\w.-]+/[\w.-]+", name) and name not in ids:
            ids.append(name)
    return ids


def build_dataset_card(
    data: Any,
    *,
    repo_id: str,
    version: str | None = None,
    lineage: Sequence[Any] | None = None,
    license: str = "apache-2.0",
    task_categories: Sequence[str] = ("text-generation", "question-answering"),
    tags: Sequence[str] = ("reasoning", "distillation", "r1", "chain-of-thought"),
    language: Sequence[str] = ("en",),
    pretty_name: str | None = None,
    description: str | None = None,
    content_hash: str | None = None,
    plot_path: str | None = PLOT_PATH,
    tokenizer: Any = None,
    stats: CardStats | None = None,
) -> DatasetCard:
    """Render the card (not yet written anywhere); validated before it is returned."""
    from huggingface_hub import DatasetCard, DatasetCardData

    stats = stats or compute_stats(data, tokenizer=tokenizer)
    found = collect_lineage(data, lineage)
    splits = _as_splits(data)
    domains = {d for d, _ in stats.domains}
    all_tags = list(dict.fromkeys([*tags, *sorted(d for d in domains if d != "(unknown)")]))
    card_data = DatasetCardData(
        license=license,
        language=list(language),
        task_categories=list(task_categories),
        size_categories=[size_category(stats.rows)],
        source_datasets=source_datasets(found["sources"]) or None,
        pretty_name=pretty_name or repo_id.split("/")[-1],
        tags=all_tags,
        configs=[
            {
                "config_name": "default",
                "data_files": [{"split": name, "path": f"data/{name}-*"} for name in splits],
            }
        ],
    )
    columns = next(iter(splits.values())).column_names if splits else []
    card = DatasetCard.from_template(
        card_data,
        template_path=str(template_path()),
        repo_id=repo_id,
        version=version,
        content_hash=content_hash,
        description=description
        or "Reasoning traces in the r1-distill-toolkit schema, verified with math-verify and "
        "curated step by step; every removal is counted in the lineage below.",
        stats=stats,
        lineage=found,
        columns=columns,
        plot_path=plot_path,
        license_text=f"`{license}` — check the licences of the source datasets and the "
        "terms of the teacher model before redistribution.",
    )
    validate_dataset_card(card)
    return card


def validate_dataset_card(card: DatasetCard | str) -> dict[str, Any]:
    """Parse the card's YAML header back and check it against what the Hub accepts.

    Raises ``ValueError`` naming the field and the reason; returns the metadata dict.
    """
    from huggingface_hub import DatasetCard

    parsed = DatasetCard(str(card)) if not isinstance(card, str) else DatasetCard(card)
    data = parsed.data.to_dict()
    problems: list[str] = []
    license_value = data.get("license")
    if not license_value:
        problems.append("license: missing")
    elif license_value not in LICENSES:
        problems.append(f"license: {license_value!r} is not a Hub licence identifier")
    elif license_value == "other" and not data.get("license_name"):
        problems.append("license: 'other' needs license_name")
    for category in data.get("task_categories") or []:
        if category not in TASK_CATEGORIES:
            problems.append(f"task_categories: unknown category {category!r}")
    if not data.get("task_categories"):
        problems.append("task_categories: missing")
    sizes = data.get("size_categories") or []
    valid_sizes = {name for _, name in SIZE_CATEGORIES} | {LARGEST_SIZE}
    if not sizes or any(s not in valid_sizes for s in sizes):
        problems.append(f"size_categories: {sizes!r} is not one of the Hub buckets")
    configs = data.get("configs")
    if not isinstance(configs, list) or not configs:
        problems.append("configs: missing")
    else:
        for position, config in enumerate(configs):
            if not isinstance(config, dict) or not config.get("config_name"):
                problems.append(f"configs[{position}]: needs config_name")
                continue
            for entry in config.get("data_files") or []:
                if not (isinstance(entry, dict) and entry.get("split") and entry.get("path")):
                    problems.append(f"configs[{position}].data_files: entries need split and path")
    for source in data.get("source_datasets") or []:
        if not re.fullmatch(r"[\w.-]+/[\w.-]+|original|extended(\|[\w./-]+)?", str(source)):
            problems.append(f"source_datasets: {source!r} is not a Hub dataset id")
    if not isinstance(data.get("tags", []), list):
        problems.append("tags: must be a list")
    if problems:
        raise ValueError("invalid dataset card metadata: " + "; ".join(problems))
    return data


def write_dataset_card(
    data: Any,
    folder: str | os.PathLike[str],
    *,
    repo_id: str,
    plot: bool = True,
    **card_kwargs: Any,
) -> Path:
    """Write ``README.md`` (and the histogram PNG under ``plots/``) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stats = compute_stats(data, tokenizer=card_kwargs.pop("tokenizer", None))
    plot_path: str | None = None
    if plot:
        from toolkit.cards.plots import histogram_png

        histogram_png(
            stats.reasoning_token_counts,
            folder / PLOT_PATH,
            title="Reasoning length",
            xlabel=f"tokens ({stats.token_counter})",
        )
        plot_path = PLOT_PATH
    card = build_dataset_card(
        data, repo_id=repo_id, stats=stats, plot_path=plot_path, **card_kwargs
    )
    path = folder / "README.md"
    card.save(path)
    return path
