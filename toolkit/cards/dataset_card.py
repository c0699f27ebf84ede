"""Dataset cards: validated Hub metadata, lineage, statistics and a reasoning-length histogram.

The card is rendered from the packaged ``toolkit/cards/templates/dataset_card.md.j2`` (Jinja,
overridable with ``$TOOLKIT_DATASET_CARD_TEMPLATE``) through :meth:`huggingface_hub.DatasetCard.from_template`, so
the YAML header is a real :class:`huggingface_hub.DatasetCardData` (``license``,
``task_categories``, ``size_categories``, ``configs``, ``source_datasets``, ``tags``…).
:func:`validate_dataset_card` parses a card back and checks that metadata against the values the
Hub accepts, offline, before anything is uploaded.

Everything in the card is computed from the data and the curation reports: the lineage (sources
with revisions, teacher models, the exact prompt text and sampling parameters found in
``metadata``, every curation step with the rows it removed and why), the statistics (rows,
reasoning-length percentiles in tokens, correctness rate, rows per source), a sample row, the
histogram PNG committed next to the card, and limitations and usage advice that follow from those
numbers. Nothing is typed by hand, and no timestamp goes in, so identical data renders an
identical card. What reaches the card is public: local paths, raw error text and secrets are
filtered out (:mod:`toolkit.cards.provenance`), and the licence is never guessed: it is inferred
only from source datasets with a known licence, otherwise the publisher passes ``license=``.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.cards import find_template
from toolkit.cards.dataset_sections import (
    DEEPSEEK_R1_CITATION,
    CardStats,
    citation,
    fence,
    limitations,
    recommendations,
    sample_row,
)
from toolkit.cards.provenance import (
    collect_lineage,
    infer_license,
    license_required_message,
    public_source,
    source_datasets,
)
from toolkit.errors import UsageError
from toolkit.redact import redact
from toolkit.tables import splits_of

if TYPE_CHECKING:
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


def template_path() -> Path:
    """The card template: ``$TOOLKIT_DATASET_CARD_TEMPLATE``, else the packaged one."""
    return find_template("dataset_card.md.j2", TEMPLATE_ENV)


def size_category(rows: int) -> str:
    for limit, name in SIZE_CATEGORIES:
        if rows < limit:
            return name
    return LARGEST_SIZE


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
    from toolkit.tables import column_values
    from toolkit.tokens import count_tokens, tokenizer_name

    splits = splits_of(data)
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
            sources.update(
                public_source(s) if s else "(unknown)" for s in column_values(split, "source")
            )
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
        token_counter=tokenizer_name(tokenizer),
        with_reasoning=len(reasoning),
        correct_rate=(sum(1 for c in graded if c) / len(graded)) if graded else None,
        graded=len(graded),
        ungradable=len(correct) - len(graded),
        complete_rate=(sum(1 for c in complete if c) / len(complete)) if complete else None,
        sources=sources.most_common(),
        domains=domains.most_common(),
    )


def resolve_license(data: Any, license: str | None) -> str:
    """The card's licence: ``license`` when given (a Hub identifier), else the one all source
    datasets share when they are known (:data:`~toolkit.cards.provenance.KNOWN_SOURCE_LICENSES`).

    Raises :class:`toolkit.errors.UsageError` otherwise: a licence is a legal statement, so it
    is never assumed (generated traces also carry the teacher model's terms).
    """
    if license is not None:
        if license not in LICENSES:
            raise UsageError(
                f"license: {license!r} is not a Hub licence identifier",
                hint="use e.g. apache-2.0, mit, cc-by-4.0, cc-by-nc-4.0, odc-by or other",
            )
        return license
    sources = _raw_sources(data)
    inferred = infer_license(sources)
    if inferred is None:
        raise license_required_message(sources)
    return inferred


def _raw_sources(data: Any) -> list[str]:
    from toolkit.tables import column_values

    found: dict[str, None] = {}
    for split in splits_of(data).values():
        if "source" in split.column_names:
            found.update(dict.fromkeys(s for s in column_values(split, "source") if s))
    return list(found)


def build_dataset_card(
    data: Any,
    *,
    repo_id: str,
    version: str | None = None,
    lineage: Sequence[Any] | None = None,
    license: str | None = None,
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
    """Render the card (not yet written anywhere); validated before it is returned.

    ``license=None`` infers the licence from known source datasets (see
    :func:`resolve_license`); when it cannot, validation fails with ``license: missing``.
    """
    from huggingface_hub import DatasetCard, DatasetCardData

    stats = stats or compute_stats(data, tokenizer=tokenizer)
    found = collect_lineage(data, lineage)
    license = license or infer_license(found["raw_sources"])
    splits = splits_of(data)
    domains = {d for d, _ in stats.domains}
    all_tags = list(dict.fromkeys([*tags, *sorted(d for d in domains if d != "(unknown)")]))
    name = pretty_name or repo_id.split("/")[-1]
    card_data = DatasetCardData(
        license=license,
        language=list(language),
        task_categories=list(task_categories),
        size_categories=[size_category(stats.rows)],
        source_datasets=source_datasets(found["raw_sources"]) or None,
        pretty_name=name,
        tags=all_tags,
        configs=[
            {
                "config_name": "default",
                "data_files": [{"split": name, "path": f"data/{name}-*"} for name in splits],
            }
        ],
    )
    columns = next(iter(splits.values())).column_names if splits else []
    sample = sample_row(data)
    teachers = " ".join(found["teachers"]).lower()
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
        sample=sample,
        sample_fence=fence(sample),
        limitations=limitations(stats, found),
        recommendations=recommendations(stats),
        citation=citation(repo_id, version, name),
        teacher_citation=DEEPSEEK_R1_CITATION if "deepseek" in teachers else None,
        license_text=f"`{license}` — check the licences of the source datasets and the "
        "terms of the teacher model before redistribution."
        if license
        else "Not set.",
    )
    # Secrets never reach a card, whatever a template or a metadata field put there.
    card = DatasetCard(redact(str(card)))
    validate_dataset_card(card)
    return card


def validate_dataset_card(card: DatasetCard | str) -> dict[str, Any]:
    """Parse the card's YAML header back and check it against what the Hub accepts.

    Raises :class:`toolkit.errors.UsageError` (a ``ValueError``) naming the field and the
    reason; returns the metadata dict.
    """
    from huggingface_hub import DatasetCard

    parsed = DatasetCard(str(card)) if not isinstance(card, str) else DatasetCard(card)
    data = parsed.data.to_dict()
    problems: list[str] = []
    license_value = data.get("license")
    if not license_value:
        problems.append("license: missing (pass license=/--license: the source licence is unknown)")
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
        raise UsageError("invalid dataset card metadata: " + "; ".join(problems))
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
