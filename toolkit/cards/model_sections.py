"""What a model card says, computed from the evaluation and training records, never typed by hand.

The licence (inferred only for base models whose licence is known, else the publisher must say),
the one-sentence claim about thinking (it follows the measured thinking tokens: a card whose
table shows 0 thinking tokens must not say "it thinks inside ``<think>``"), a real evaluated
sample from ``details.parquet``, the exact prompts, limitations and usage recommendations that
follow from the numbers, and the citation block. Kept apart from
:mod:`toolkit.cards.model_card`, which assembles and renders the card (as
:mod:`toolkit.cards.dataset_sections` is for dataset cards).

Every string that comes from the machine the model was made on (a base model loaded from
``/home/me/.cache/…``, a local training file, a temporary evaluation file) goes through
:func:`toolkit.cards.provenance.public_text` or :func:`public_name` first.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from toolkit.cards.dataset_sections import DEEPSEEK_R1_CITATION, fence
from toolkit.cards.provenance import public_text
from toolkit.errors import UsageError

#: Licences of common base models, as their Hub cards state them (exact ids only: Qwen2.5-3B and
#: -72B, say, carry other licences than the rest of their family, so no prefix matching).
KNOWN_BASE_LICENSES = {
    **{
        f"HuggingFaceTB/SmolLM2-{size}{suffix}": "apache-2.0"
        for size in ("135M", "360M", "1.7B")
        for suffix in ("", "-Instruct")
    },
    **{
        f"Qwen/Qwen2.5-{size}{suffix}": "apache-2.0"
        for size in ("0.5B", "1.5B", "7B", "14B", "32B")
        for suffix in ("", "-Instruct")
    },
    **{f"Qwen/Qwen2.5-Math-{size}": "apache-2.0" for size in ("1.5B", "7B")},
    **{
        f"deepseek-ai/DeepSeek-R1-Distill-{name}": "mit"
        for name in ("Qwen-1.5B", "Qwen-7B", "Qwen-14B", "Qwen-32B", "Llama-8B", "Llama-70B")
    },
    "meta-llama/Llama-3.1-8B": "llama3.1",
    "meta-llama/Llama-3.1-8B-Instruct": "llama3.1",
    "meta-llama/Llama-3.1-70B-Instruct": "llama3.1",
    "microsoft/Phi-3-mini-4k-instruct": "mit",
    "microsoft/Phi-3-mini-128k-instruct": "mit",
}

SAMPLE_CHARS = 1500


def infer_base_license(base_model: str | None) -> str | None:
    """The licence of a known base model, else ``None`` (then the publisher must say)."""
    return KNOWN_BASE_LICENSES.get(base_model or "")


def resolve_license(license: str | None, base_model: str | None) -> str:
    """``license`` as given, else the base model's known licence; otherwise a usage error: a
    fine-tuned model inherits its base model's terms, and the card must not guess them."""
    if license:
        return license
    inferred = infer_base_license(base_model)
    if inferred:
        return inferred
    what = (
        f"the licence of the base model {public_name(base_model)} is not known to the toolkit"
        if base_model
        else "the base model is not recorded (no training_summary.json), so its licence is unknown"
    )
    raise UsageError(
        f"{what}; the model card needs a licence",
        hint="pass --license (license=…), e.g. apache-2.0, mit, llama3.1 or other, after checking "
        "the base model's and the training data's terms",
    )


def public_name(value: Any) -> str:
    """A model or dataset name fit for a public card: a Hub or store id as it is, a local path
    as its last component (the folder a user downloaded it into is nobody's business)."""
    text = str(value).strip()
    if re.fullmatch(r"[\w.-]+/[\w.-]+(@[\w.+-]+)?", text) and not Path(text).exists():
        return text
    if "/" in text or "\\" in text or Path(text).exists():
        return Path(text.rstrip("/\\")).name or text
    return public_text(text)


def public_results(results: dict[str, Any]) -> dict[str, Any]:
    """``results.json`` as published next to the card: local paths (the model directory, a
    local benchmark copy, a temporary task file) reduced to their last component."""

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return public_text(value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if not str(k).startswith("_")}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return clean(results)


def _tasks(results: dict[str, Any]) -> list[dict[str, Any]]:
    return list(results.get("tasks", {}).values())


def thinking_claim(results: dict[str, Any]) -> str:
    """One sentence on how the model reasons, as measured: never "it thinks" when it did not."""
    entries = _tasks(results)
    if not entries:
        return "It is meant to reason inside `<think>…</think>` before it answers."
    stats = [entry.get("reasoning") or {} for entry in entries]
    samples = sum(entry.get("num_samples") or 0 for entry in entries) or len(entries)
    with_reasoning = sum(
        (s.get("share_with_reasoning") or 0) * (e.get("num_samples") or 1)
        for s, e in zip(stats, entries, strict=True)
    )
    share = with_reasoning / samples
    mean = sum(
        (s.get("mean_thinking_tokens") or 0) * (e.get("num_samples") or 1)
        for s, e in zip(stats, entries, strict=True)
    ) / sum(e.get("num_samples") or 1 for e in entries)
    if share == 0 or mean == 0:
        return (
            "In its evaluation it wrote **no** `<think>…</think>` reasoning (0 thinking tokens): "
            "it answers directly, so do not expect R1-style reasoning from it yet."
        )
    unclosed = max((s.get("share_unclosed") or 0) for s in stats)
    sentence = (
        f"It reasons inside `<think>…</think>` before it answers: {100 * share:.0f}% of its "
        f"evaluation samples hold reasoning, {mean:.0f} thinking tokens per sample on average"
    )
    if unclosed:
        sentence += f", and up to {100 * unclosed:.0f}% never close it"
    return sentence + "."


def sample_row(details: Any, results: dict[str, Any]) -> dict[str, Any] | None:
    """A real evaluated sample (``details.parquet``): the first correct one, else the first,
    with its exact prompt, the completion (clipped), the extracted answer and the gold."""
    if details is None or not len(details):
        return None
    records = details.to_dict("records") if hasattr(details, "to_dict") else list(details)
    chosen = next((r for r in records if r.get("correct") is True), records[0])
    completion = str(chosen.get("completion") or "")
    if len(completion) > SAMPLE_CHARS:
        completion = completion[:SAMPLE_CHARS] + f" … [{len(completion) - SAMPLE_CHARS} more]"
    task = str(chosen.get("task"))
    entry = results.get("tasks", {}).get(task, {})
    return {
        "task": public_text(entry.get("pretty_name") or task),
        "prompt": public_text(str(chosen.get("prompt") or "")),
        "completion": public_text(completion),
        "completion_fence": fence(completion),
        "prompt_fence": fence(str(chosen.get("prompt") or "")),
        "extracted": public_text(str(chosen.get("extracted"))),
        "gold": public_text(str(chosen.get("gold"))),
        "verdict": "correct" if chosen.get("correct") is True else "incorrect",
        "finish_reason": chosen.get("finish_reason"),
        "tokens": chosen.get("completion_tokens"),
    }


def prompts(results: dict[str, Any]) -> list[dict[str, str]]:
    """The exact prompt text of every task (``{problem}`` marks where the problem goes), with
    the system prompt when one was sent."""
    system = results.get("protocol", {}).get("system_prompt")
    out = []
    for task, entry in results.get("tasks", {}).items():
        text = str(entry.get("prompt_template") or "{problem}")
        if system:
            text = f"[system]\n{system}\n[user]\n{text}"
        out.append({"task": public_text(entry.get("pretty_name") or task), "text": text,
                    "fence": fence(text)})  # fmt: skip
    return out


def limitations(
    results: dict[str, Any], base: dict[str, Any] | None, training: dict[str, Any] | None
) -> list[str]:
    """What a user should know before relying on the model, from its own numbers."""
    notes = [
        "Distilled reasoning can read well and still be wrong: check answers that matter "
        "(math-verify grades only the final answer, never the steps)."
    ]
    protocol = results.get("protocol", {})
    limit = protocol.get("max_new_tokens")
    for task, entry in results.get("tasks", {}).items():
        name = public_text(entry.get("pretty_name") or task)
        stats = entry.get("reasoning") or {}
        problems = entry.get("num_problems") or 0
        if problems and problems < 100:
            score = (entry.get("metrics") or {}).get(entry.get("metric"), {})
            notes.append(
                f"{name}: evaluated on {problems} problem{'s' if problems != 1 else ''} only "
                f"(standard error ±{100 * (score.get('stderr') or 0):.1f} points); a larger "
                "evaluation can move the score a lot."
            )
        if stats.get("share_truncated"):
            notes.append(
                f"{name}: {100 * stats['share_truncated']:.0f}% of the samples stopped at "
                f"max_new_tokens = {limit}: the score is a lower bound for longer budgets."
            )
        if stats.get("share_no_answer"):
            notes.append(
                f"{name}: {100 * stats['share_no_answer']:.0f}% of the samples give no "
                "extractable final answer."
            )
    if base is not None:
        worse = [
            public_text(entry.get("pretty_name") or task)
            for task, entry in results.get("tasks", {}).items()
            if _score(entry) is not None
            and _score(base.get("tasks", {}).get(task)) is not None
            and _score(entry) < _score(base["tasks"][task])
        ]
        if worse:
            notes.append(f"It scores below its base model on {', '.join(worse)}.")
    if training and training.get("steps") is not None and int(training["steps"]) < 100:
        notes.append(
            f"Trained for {training['steps']} optimizer steps only: a demonstration of the "
            "pipeline, not a finished model."
        )
    return notes


def _score(entry: dict[str, Any] | None) -> float | None:
    if not entry:
        return None
    score = (entry.get("metrics") or {}).get(entry.get("metric"))
    return None if score is None else float(score["value"])


def recommendations(results: dict[str, Any], usage: dict[str, Any]) -> list[str]:
    """How to get the evaluated behaviour (DeepSeek's advice for R1-style models, where it
    applies, with this model's own numbers)."""
    protocol = results.get("protocol", {})
    tips = [
        f"Sample with temperature {usage['temperature']} and top-p {usage['top_p']} (the R1 "
        "recommendation: greedy decoding makes reasoning models repeat themselves).",
        "Send no system prompt; put every instruction in the user turn.",
        'For math, end the question with "Please reason step by step, and put your final '
        'answer within \\boxed{}."',
        f"Allow at least {usage['max_new_tokens']} new tokens: reasoning that is cut off gives "
        "no answer.",
    ]
    if any((entry.get("reasoning") or {}).get("share_truncated") for entry in _tasks(results)):
        tips[-1] = (
            f"Allow more than the {protocol.get('max_new_tokens')} new tokens of this evaluation "
            f"(at least {usage['max_new_tokens']}): some answers were cut off."
        )
    skipped = any(
        (entry.get("reasoning") or {}).get("share_with_reasoning", 1) < 1
        for entry in _tasks(results)
    )
    if skipped and not protocol.get("prefilled_thinking"):
        tips.append(
            "If it skips its reasoning, start the assistant turn with `<think>\\n` (the chat "
            "template does not do it for you)."
        )
    tips.append("Report scores as the mean over several samples per problem, not a single run.")
    return tips


def citation(repo_id: str, local_store: bool = False) -> str:
    """A BibTeX entry for the model. No version or year: the card of identical weights and
    results must render identically (a re-publish of unchanged content makes no new version).
    A model in the local store has no URL yet: the entry names the store id."""
    key = re.sub(r"\W+", "_", repo_id).strip("_").lower()
    where = (
        f"r1-distill-toolkit local store, {repo_id}"
        if local_store
        else f"\\url{{https://huggingface.co/{repo_id}}}"
    )
    return "\n".join(
        [
            f"@misc{{{key},",
            f"  title        = {{{repo_id.split('/')[-1]}}},",
            f"  howpublished = {{{where}}},",
            "}",
        ]
    )


__all__ = [
    "DEEPSEEK_R1_CITATION",
    "KNOWN_BASE_LICENSES",
    "citation",
    "infer_base_license",
    "limitations",
    "prompts",
    "public_name",
    "public_results",
    "recommendations",
    "resolve_license",
    "sample_row",
    "thinking_claim",
]
