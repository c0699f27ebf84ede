"""Model cards whose eval table *is* the results file: ``model-index`` metadata + a readable card.

The card is rendered from the packaged ``toolkit/cards/templates/model_card.md.j2`` (Jinja) with
:class:`huggingface_hub.ModelCard`; its YAML header is a :class:`huggingface_hub.ModelCardData`
with ``eval_results`` → ``model-index`` (one entry per task and metric, values in percent), plus
``base_model``, ``datasets``, ``license``, ``library_name: transformers``, ``tags`` and
``pipeline_tag: text-generation``. The numbers are never typed by hand: they come from
``results.json``, and :func:`toolkit.cards.model_index.validate_model_card` parses the
written card back and checks that every ``model-index`` value equals the results file.

The body carries the protocol (sampling, ``max_new_tokens``, n, each task's exact prompt and
extraction, data revisions), reasoning statistics, a real evaluated sample, the training recipe
and summary when the model directory holds ``training_summary.json``/``recipe.yaml`` (written by
``toolkit train``), limitations and usage recommendations that follow from those numbers, usage
snippets (transformers, ``hf download`` + an Ollama Modelfile, the chat Space), a citation block
and a plot saved next to the card (:mod:`toolkit.cards.model_sections` computes the sections).
The licence is the caller's, or the base model's when it is a known one; otherwise building the
card is refused (:func:`~toolkit.cards.model_sections.resolve_license`).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.backends.base import R1_TEMPERATURE, R1_TOP_P
from toolkit.cards import find_template
from toolkit.cards import model_sections as sections
from toolkit.cards.model_index import eval_results_from
from toolkit.cards.model_index import hub_id as _hub_id
from toolkit.cards.provenance import public_text
from toolkit.errors import DataError

if TYPE_CHECKING:
    from huggingface_hub import ModelCard

log = logging.getLogger(__name__)

README = "README.md"
PLOT_FILE = "eval_plot.png"
TEMPLATE_ENV = "TOOLKIT_MODEL_CARD_TEMPLATE"
DEFAULT_TAGS = ["reasoning", "distillation", "chain-of-thought", "r1-distill-toolkit"]


def template_path() -> Path:
    """The card template: ``$TOOLKIT_MODEL_CARD_TEMPLATE``, else the packaged one."""
    return find_template("model_card.md.j2", TEMPLATE_ENV)


# --------------------------------------------------------------------------------------------
# Inputs


def read_training_summary(model_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """``training_summary.json`` of a model directory, or ``None`` when absent."""
    path = Path(model_dir) / "training_summary.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(f"not valid JSON ({error})", path=str(path)) from error


def infer_base_model(model_dir: Path, training: dict[str, Any] | None) -> str | None:
    """The base model's Hub id: from the training summary, else the checkpoint's config."""
    if training and _hub_id(training.get("base_model")):
        return training["base_model"]
    config = model_dir / "config.json"
    if config.is_file():
        name = json.loads(config.read_text(encoding="utf-8")).get("_name_or_path")
        return _hub_id(name)
    return None


# --------------------------------------------------------------------------------------------
# Rendering helpers


def _fmt_score(score: dict[str, float] | None) -> str:
    if score is None:
        return "—"
    return f"{100 * score['value']:.1f} ± {100 * score['stderr']:.1f}"


def _fmt_share(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def _task_name(entry: dict[str, Any], task: str) -> str:
    """A task's name for the card (a user task named by its file: the file name only)."""
    return public_text(str(entry.get("pretty_name") or task))


def _md(text: Any) -> str:
    """Text safe inside a markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", "⏎ ")


def _protocol_differences(results: dict[str, Any], base: dict[str, Any]) -> str:
    keys = ("temperature", "top_p", "greedy", "max_new_tokens", "n")
    diffs = [
        f"{key} {base['protocol'].get(key)} vs {results['protocol'].get(key)}"
        for key in keys
        if base["protocol"].get(key) != results["protocol"].get(key)
    ]
    return ", ".join(diffs)


def _eval_table(results: dict[str, Any], base: dict[str, Any] | None, base_label: str) -> str:
    header = "| task | metric | this model |"
    rule = "|---|---|---:|"
    if base is not None:
        header += f" {base_label} | Δ |"
        rule += "---:|---:|"
    lines = [header, rule]
    for task, entry in results["tasks"].items():
        metric = entry["metric"]
        score = entry["metrics"][metric]
        row = (
            f"| {_md(_task_name(entry, task))} | {metric} (n={entry['n']}, "
            f"{entry['num_problems']} problem{'' if entry['num_problems'] == 1 else 's'}) | "
            f"**{_fmt_score(score)}** |"
        )
        if base is not None:
            base_entry = base["tasks"].get(task)
            base_score = base_entry["metrics"].get(metric) if base_entry else None
            delta = f"{100 * (score['value'] - base_score['value']):+.1f}" if base_score else "—"
            row += f" {_fmt_score(base_score)} | {delta} |"
        lines.append(row)
    return "\n".join(lines)


def _other_metrics_table(results: dict[str, Any]) -> str | None:
    metrics: list[str] = []
    for entry in results["tasks"].values():
        metrics.extend(m for m in entry["metrics"] if m not in metrics)
    if metrics == ["pass@1"]:
        return None
    lines = ["| task | " + " | ".join(metrics) + " |", "|---|" + "---:|" * len(metrics)]
    for task, entry in results["tasks"].items():
        cells = [_fmt_score(entry["metrics"].get(m)) for m in metrics]
        lines.append(f"| {_md(_task_name(entry, task))} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _protocol_sentence(protocol: dict[str, Any]) -> str:
    sampling = (
        "greedy decoding"
        if protocol.get("greedy")
        else f"sampling with temperature {protocol.get('temperature')} and top-p "
        f"{protocol.get('top_p')} (no top-k)"
    )
    system = "no system prompt" if not protocol.get("system_prompt") else "a system prompt"
    return (
        f"{sampling}, n = {protocol.get('n')} samples per problem, max_new_tokens = "
        f"{protocol.get('max_new_tokens')}, seed {protocol.get('seed')}, {system}."
    )


def _grader_md(results: dict[str, Any]) -> str:
    """``; grader toolkit.answers v2 (math-verify 0.9.0)``: which grader (and version) produced
    the numbers, so a published score can be reproduced (older results name it as a string)."""
    grader = results.get("protocol", {}).get("grader")
    if isinstance(grader, dict):
        engine = f", math-verify {grader['math_verify']}" if grader.get("math_verify") else ""
        grader = f"{grader.get('name', 'grader')} v{grader.get('version', '?')}{engine}"
    return f"; grader `{_md(str(grader))}`" if grader else ""


def _task_rows(results: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for task, entry in results["tasks"].items():
        dataset = entry.get("dataset") or {}
        source = sections.public_name(dataset.get("id") or task)
        where = f"`{source}`"
        if dataset.get("config"):
            where += f" ({dataset['config']})"
        if dataset.get("split"):
            where += f", {dataset['split']}"
        where += f", revision `{dataset.get('revision') or 'unpinned'}`"
        if dataset.get("local_file"):
            where += " (read from a local copy)"
        if dataset.get("content_sha256"):
            where += f", content sha256 `{dataset['content_sha256'][:12]}`"
        reasoning = entry.get("reasoning") or {}
        rows.append(
            {
                "pretty": _md(_task_name(entry, task)),
                "prompt_md": "`"
                + _md(entry.get("prompt_template", "").replace("\n", "\\n")).replace("`", "'")
                + "`",
                "extraction_md": _md(entry.get("extraction", "")) + _grader_md(results),
                "data_md": where,
                "mean_thinking": f"{reasoning.get('mean_thinking_tokens', 0):.0f}",
                "unclosed": _fmt_share(reasoning.get("share_unclosed")),
                "truncated": _fmt_share(reasoning.get("share_truncated")),
                "no_answer": _fmt_share(reasoning.get("share_no_answer")),
            }
        )
    return rows


def _training_rows(training: dict[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []

    def add(label: str, value: Any) -> None:
        if value not in (None, "", [], {}):
            rows.append((label, _md(value)))

    add(
        "method",
        training.get("task")
        if not training.get("strategy")
        else f"{training.get('task')} ({training['strategy']})",
    )
    add("base model", training.get("base_model") and sections.public_name(training["base_model"]))
    add(
        "teacher", training.get("teacher_model") and sections.public_name(training["teacher_model"])
    )
    dataset = training.get("dataset") or {}
    if dataset:
        described = sections.public_name(dataset.get("source"))
        if dataset.get("version"):
            described = f"{described} v{dataset['version']}"
        if dataset.get("revision"):
            described = f"{described} @ {dataset['revision']}"
        add("dataset", described)
        add("rows used", dataset.get("rows_used"))
        if dataset.get("rows_dropped"):
            reasons = dataset.get("drop_reasons") or {}
            detail = (
                ", ".join(f"{k}: {v}" for k, v in reasons.items())
                if isinstance(reasons, dict)
                else reasons
            )
            add(
                "rows dropped",
                f"{dataset['rows_dropped']} ({detail})" if detail else dataset["rows_dropped"],
            )
    peft = training.get("peft") or {}
    if peft.get("method"):
        add(
            "PEFT",
            f"{peft['method']} r={peft.get('r')} alpha={peft.get('alpha')}, merged={peft.get('merged')}",
        )
    params = training.get("params") or {}
    add("learning rate", params.get("learning_rate"))
    add("effective batch size", params.get("effective_batch_size"))
    add("max length", params.get("max_length"))
    add("optimizer steps", training.get("steps"))
    add("epochs", training.get("epochs_completed"))
    add("tokens seen", training.get("tokens_seen"))
    if training.get("final_loss") is not None:
        add("final training loss", f"{training['final_loss']:.4f}")
    if training.get("runtime_seconds") is not None:
        add("training time", f"{training['runtime_seconds'] / 60:.1f} min")
    hardware = training.get("hardware") or {}
    if hardware:
        add("hardware", f"{hardware.get('num_devices')} × {hardware.get('device')}")
    versions = training.get("versions") or {}
    if versions:
        add("versions", ", ".join(f"{k} {v}" for k, v in versions.items() if v))
    return rows


def _end_of_turn(model_dir: Path) -> list[str]:
    """Stop strings for the Modelfile: the tokenizer's EOS (and ChatML's end of turn)."""
    stops: list[str] = []
    config = model_dir / "tokenizer_config.json"
    if config.is_file():
        eos = json.loads(config.read_text(encoding="utf-8")).get("eos_token")
        if isinstance(eos, dict):
            eos = eos.get("content")
        if isinstance(eos, str) and eos:
            stops.append(eos)
    for token in ("<|im_end|>",):
        if (
            token not in stops
            and (model_dir / "tokenizer.json").is_file()
            and token in (model_dir / "tokenizer.json").read_text(encoding="utf-8")
        ):
            stops.append(token)
    return stops


def modelfile(model_dir: Path, temperature: float, top_p: float, max_new_tokens: int) -> str:
    """An Ollama Modelfile importing the safetensors folder, with the recommended sampling."""
    lines = [
        "FROM .",
        f"PARAMETER temperature {temperature}",
        f"PARAMETER top_p {top_p}",
        f"PARAMETER num_predict {max_new_tokens}",
    ]
    lines.extend(f'PARAMETER stop "{stop}"' for stop in _end_of_turn(model_dir))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The card


def build_model_card(
    model_dir: str | os.PathLike[str],
    results: dict[str, Any],
    *,
    base_results: dict[str, Any] | None = None,
    repo_id: str | None = None,
    base_model: str | None = None,
    license: str | None = None,
    datasets: list[str] | None = None,
    tags: list[str] | None = None,
    language: str | None = "en",
    space_url: str | None = None,
    plot_file: str | None = PLOT_FILE,
    details: Any = None,
    local_store: bool = False,
) -> ModelCard:
    """Render the card for ``model_dir`` from ``results`` (a loaded results.json).

    ``license`` defaults to the base model's known licence and is required otherwise
    (:class:`toolkit.errors.UsageError`); ``details`` (details.parquet as a DataFrame) gives
    the card its sample; ``local_store`` words the usage for a repository in the local store
    (``resolve_model``) rather than on the Hub (``hf download``).
    """
    from huggingface_hub import ModelCard, ModelCardData

    folder = Path(model_dir)
    training = read_training_summary(folder)
    base_model = base_model or infer_base_model(folder, training)
    license = sections.resolve_license(license, base_model)
    repo_id = repo_id or f"your-org/{folder.resolve().name}"
    title = repo_id.split("/")[-1]
    if datasets is None:
        source = ((training or {}).get("dataset") or {}).get("source")
        datasets = [source] if _hub_id(source) else []
    extra: dict[str, Any] = {}
    if base_model:
        peft = (training or {}).get("peft") or {}
        extra["base_model_relation"] = (
            "adapter" if peft.get("method") and not peft.get("merged", True) else "finetune"
        )
    card_data = ModelCardData(
        base_model=base_model,
        datasets=datasets or None,
        license=license,
        library_name="transformers",
        pipeline_tag="text-generation",
        language=language,
        tags=list(dict.fromkeys([*DEFAULT_TAGS, *(tags or [])])),
        model_name=title,
        eval_results=eval_results_from(results, title),
        **extra,
    )
    recipe_path = folder / "recipe.yaml"
    protocol = results["protocol"]
    base_label = public_text(
        str((base_results.get("model") or {}).get("id") or "base model")
        if base_results
        else "base model"
    )
    # Usage snippets recommend the evaluated sampling (R1 defaults when evaluated greedily) and
    # at least 1024 new tokens (a smoke evaluation's tiny limit is no advice for users).
    usage = {
        "temperature": R1_TEMPERATURE
        if protocol.get("greedy")
        else protocol.get("temperature", R1_TEMPERATURE),
        "top_p": R1_TOP_P if protocol.get("greedy") else protocol.get("top_p", R1_TOP_P),
        "max_new_tokens": max(int(protocol.get("max_new_tokens") or 4096), 1024),
    }
    card = ModelCard.from_template(
        card_data,
        template_path=str(template_path()),
        title=title,
        repo_id=repo_id,
        base_model=base_model,
        training=training,
        training_rows=_training_rows(training) if training else [],
        recipe=public_text(recipe_path.read_text(encoding="utf-8").rstrip())
        if recipe_path.is_file()
        else None,
        trained_on=sections.public_name(((training or {}).get("dataset") or {}).get("source"))
        if ((training or {}).get("dataset") or {}).get("source")
        else None,
        thinking_claim=sections.thinking_claim(results),
        sample=sections.sample_row(details, results),
        prompts=sections.prompts(results),
        limitations=sections.limitations(results, base_results, training),
        recommendations=sections.recommendations(results, usage),
        citation=sections.citation(repo_id, local_store),
        deepseek_citation=sections.DEEPSEEK_R1_CITATION,
        license_id=license,
        eval_table=_eval_table(results, base_results, _md(base_label)),
        other_metrics_table=_other_metrics_table(results),
        has_base=base_results is not None,
        base_protocol_differs=_protocol_differences(results, base_results) if base_results else "",
        protocol_sentence=_protocol_sentence(protocol),
        eval_date=results.get("date", "unknown date"),
        toolkit_version=results.get("toolkit_version", "unknown"),
        model_revision=(results.get("model") or {}).get("revision"),
        tasks=_task_rows(results),
        plot_file=plot_file,
        usage_max_new_tokens=usage["max_new_tokens"],
        usage_temperature=usage["temperature"],
        usage_top_p=usage["top_p"],
        modelfile=modelfile(folder, **usage),
        ollama_name=title.lower(),
        local_dir=title,
        space_url=space_url,
        local_store=local_store,
    )
    return card


def write_training_card(model_dir: str | os.PathLike[str], *, repo_id: str | None = None) -> Path:
    """``README.md`` for a model directory that ``toolkit train`` just wrote: the training summary
    and recipe, and no evaluation yet. It replaces the placeholder card TRL writes (issue 13);
    :func:`toolkit.publishing.write_model_card` replaces it in turn once there are results."""
    folder = Path(model_dir)
    training = read_training_summary(folder)
    base = infer_base_model(folder, training)
    # Training must not stop for a licence: an unknown one is "other" until `toolkit card` /
    # `toolkit publish` (which require it) render the card again.
    card = build_model_card(
        folder,
        {"protocol": {}, "tasks": {}},
        repo_id=repo_id,
        plot_file=None,
        license=sections.infer_base_license(base) or "other",
    )
    card.data.eval_results = None  # no empty model-index before there are results
    card.data.model_name = None
    readme = folder / README
    card.save(readme)
    return readme
