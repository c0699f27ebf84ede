"""What a dataset card says, computed from the data rather than typed by hand.

The statistics record (:class:`CardStats`), a sample row, limitations and usage recommendations
that follow from those numbers (how much is graded incorrect, whether the data was
decontaminated, how long the reasoning is), and the citation block. Kept apart from
:mod:`toolkit.cards.dataset_card`, which computes the statistics, renders and validates.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from toolkit.cards.provenance import public_source
from toolkit.tables import splits_of


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


SAMPLE_FIELDS = ("problem", "reasoning", "answer", "final_answer", "gold_answer", "source")
SAMPLE_CHARS = 1500


def sample_row(data: Any, max_chars: int = SAMPLE_CHARS) -> str | None:
    """The first row's main fields as JSON (long texts clipped), for the card's example."""
    split = next((s for s in splits_of(data).values() if len(s)), None)
    if split is None:
        return None
    row = split.select([0]).to_list()[0]
    sample: dict[str, Any] = {}
    for key in SAMPLE_FIELDS:
        value = row.get(key)
        if value is None:
            continue
        if key == "source":
            value = public_source(str(value))
        if isinstance(value, str) and len(value) > max_chars:
            value = value[:max_chars] + f" … [{len(value) - max_chars} more characters]"
        sample[key] = value
    return json.dumps(sample, indent=2, ensure_ascii=False)


def fence(text: str | None) -> str:
    """A code fence longer than any backtick run in ``text`` (Markdown cannot escape one)."""
    runs = [len(run) for run in re.findall(r"`+", text or "")]
    return "`" * max(3, max(runs, default=0) + 1)


def limitations(stats: CardStats, found: dict[str, Any]) -> list[str]:
    """What a user should know before training on the data, from the numbers themselves."""
    notes = [
        "The reasoning traces are machine-generated"
        + (f" (teacher: {', '.join(found['teachers'][:3])})" if found["teachers"] else "")
        + "; a correct final answer does not mean that every step of the reasoning is right."
    ]
    if stats.correct_rate is None:
        notes.append(
            "Answers were not verified (no `correct` column): run `toolkit verify` and "
            "`toolkit curate correct-only` to keep only traces with a correct final answer."
        )
    elif stats.correct_rate < 1:
        notes.append(
            f"{100 * (1 - stats.correct_rate):.1f} % of the {stats.graded} graded rows are "
            "graded incorrect by math-verify"
            + (f"; {stats.ungradable} rows could not be graded" if stats.ungradable else "")
            + "."
        )
    if stats.complete_rate is not None and stats.complete_rate < 1:
        notes.append(
            f"{100 * (1 - stats.complete_rate):.1f} % of rows have reasoning that never closed "
            "(cut off by the token limit)."
        )
    decontamination = [s for s in found["steps"] if s.get("step") == "decontaminate"]
    if not decontamination:
        notes.append(
            "Not decontaminated against evaluation benchmarks: problems of GSM8K, MATH-500, "
            "AIME or GPQA may be included, so scores on them after training on this data can be "
            "inflated (run `toolkit curate decontaminate`)."
        )
    else:
        params = decontamination[-1].get("params") or {}
        missed = params.get("unavailable") or []
        checked = [b for b in params.get("benchmarks") or [] if b not in missed]
        notes.append(
            f"Decontaminated ({params.get('ngram', 8)}-gram overlap) against "
            f"{', '.join(checked) or 'no benchmark'}"
            + (f"; NOT checked against {', '.join(missed)} (unavailable)" if missed else "")
            + "."
        )
    if stats.with_reasoning:
        notes.append(
            f"Reasoning length: p95 {stats.reasoning_tokens['p95']:.0f}, max "
            f"{stats.reasoning_tokens['max']:.0f} tokens ({stats.token_counter}); train with a "
            "max length above the p95 (or filter with `toolkit curate length`), or the thinking "
            "the student is meant to learn is truncated."
        )
    return notes


def recommendations(stats: CardStats) -> list[str]:
    """How to use the data well (DeepSeek's usage advice for R1-style models included)."""
    budget = max(4096, int(stats.reasoning_tokens.get("p95", 0) or 0) * 2)
    return [
        "Train on `messages`: the assistant turn holds the reasoning inside `<think>…</think>` "
        "followed by the answer; keep the reasoning in the loss so the student learns to think "
        "before answering (`toolkit train` does).",
        "Sample the trained student like DeepSeek-R1 models: temperature 0.6, top-p 0.95, no "
        f"system prompt, and a generation budget well above the reasoning length (≥ {budget} "
        "new tokens here).",
        "Pin the version when training (`toolkit.load(..., version=...)` or "
        '`revision="v<version>"`) so that results can be reproduced.',
    ]


def citation(repo_id: str, version: str | None, pretty_name: str) -> str:
    """A BibTeX entry for the dataset (no year: the card holds no timestamp)."""
    key = re.sub(r"\W+", "_", repo_id + (f"_v{version}" if version else "")).strip("_").lower()
    lines = [
        f"@misc{{{key},",
        f"  title        = {{{pretty_name}}},",
        f"  howpublished = {{\\url{{https://huggingface.co/datasets/{repo_id}}}}},",
    ]
    if version:
        lines.append(f"  note         = {{Version {version}}},")
    lines.append("}")
    return "\n".join(lines)


DEEPSEEK_R1_CITATION = """@misc{deepseekai2025deepseekr1,
  title         = {DeepSeek-R1: Incentivizing Reasoning Capability in LLMs via Reinforcement Learning},
  author        = {DeepSeek-AI},
  year          = {2025},
  eprint        = {2501.12948},
  archivePrefix = {arXiv},
  primaryClass  = {cs.CL}
}"""


__all__ = ["CardStats", "citation", "fence", "limitations", "recommendations", "sample_row"]
