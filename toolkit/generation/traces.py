"""Teacher traces: :func:`generate` runs the engine over a table of problems and turns the
finished samples into schema records; :func:`merge_shards` joins sharded runs."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.backends import Messages, Model, make_model
from toolkit.errors import DataError, EmptyOutputError, UsageError
from toolkit.generation.config import GenerateConfig
from toolkit.generation.engine import Work, run_durable, run_event_loop
from toolkit.generation.problems import (
    Problem,
    detect_columns,
    load_problems,
    params_json_of,
    parse_shard,
    request_key,
    shard_range,
)
from toolkit.generation.prompts import PromptTemplate, get_template
from toolkit.generation.settings import RunSummary
from toolkit.generation.state import (
    MANIFEST_FILE,
    RESULTS_FILE,
    read_jsonl_tolerant,
    read_manifest,
    record_quarantined,
)

if TYPE_CHECKING:
    import datasets

logger = logging.getLogger(__name__)

#: The summary of a generation run (the engine's, shared with evaluation).
GenerationSummary = RunSummary


@dataclass
class GenerationResult:
    dataset: datasets.Dataset
    summary: RunSummary


def _identity(model: Model, template: PromptTemplate, config: GenerateConfig, problem_field: str):
    return {
        "key_version": "gen-v1",
        "backend": model.backend,
        "model": model.model,
        "template": template.id,
        "params": config.params.as_dict(),
        "problem_field": problem_field,
    }


def _teacher_info(model: Model) -> dict[str, Any]:
    """What identifies the teacher in every record: endpoints are deployment details."""
    info = model.describe()
    for detail in ("base_url", "endpoints", "path"):
        info.pop(detail, None)
    return {k: v for k, v in info.items() if k in ("backend", "model", "revision") and v}


async def agenerate(
    dataset: Any,
    model: Model,
    config: GenerateConfig,
    *,
    output: str | os.PathLike[str] | None = None,
    state_dir: str | os.PathLike[str] | None = None,
    split: str | None = None,
    limit: int | None = None,
) -> GenerationResult:
    """The async core of :func:`generate` (for callers that already run an event loop)."""
    from toolkit.io import describe_source, load_table

    table = load_table(dataset, split=split, limit=limit)
    template = get_template(config.template, system=config.system_prompt)
    columns = detect_columns(
        table.column_names, config.problem_field, config.gold_field, config.id_field
    )
    if columns.gold is None:
        logger.warning(
            "no gold answer column (tried gold_answer, final_answer, expected_answer, "
            "reference_answer, answer): traces cannot be verified; pass --gold-field"
        )
    problems, bad_rows = load_problems(table, columns, config.shard)
    identity = _identity(model, template, config, columns.problem)
    directory = None
    if config.write_records:
        directory = Path(os.fspath(state_dir)) if state_dir else default_state_dir(output, identity)
    summary = RunSummary(quarantined_rows=len(bad_rows))
    record_quarantined(directory, bad_rows)
    params = config.params
    params_json = params_json_of(params)

    def key_for(problem: Problem, sample: int) -> str:
        return request_key(problem.key, sample, model.model, template.id, params_json)

    def messages_for(problem: Problem) -> Messages:
        return template.render(problem.text, problem.row)

    def line_extra(problem: Problem, messages: Messages) -> dict[str, Any]:
        system = messages[0]["content"] if messages and messages[0]["role"] == "system" else None
        domain = problem.row.get("domain")
        return {
            "problem": problem.text,
            "problem_id": problem.problem_id,
            "gold": problem.gold,
            "system": system,
            "domain": domain if isinstance(domain, str) and domain else None,
        }

    work = Work(problems, config.n, params, messages_for, key_for, line_extra)
    source = "dataset" if _is_dataset(dataset) else describe_source(dataset)
    run_meta = {
        "teacher": _teacher_info(model),
        "model": model.model,
        "params": params.as_dict(),
        "template": template.id,
        # the exact prompt text, for the dataset card (a template id alone is not reproducible)
        "prompt": template.user,
        "system_prompt": template.system,
        "source": f"generate:{model.model}",
    }
    lines, summary = await run_durable(
        model,
        work,
        config.engine,
        state_dir=directory,
        identity=identity,
        manifest_extra={
            "input": source,
            "n": config.n,
            "shard": list(config.shard) if config.shard else None,
            "teacher": model.describe(),
            "run": run_meta,
            "output": None if output is None else os.fspath(output),
        },
        summary=summary,
        desc="generate",
    )
    if config.price_per_mtok_in is not None or config.price_per_mtok_out is not None:
        summary.estimated_cost = (
            summary.prompt_tokens * (config.price_per_mtok_in or 0.0)
            + summary.completion_tokens * (config.price_per_mtok_out or 0.0)
        ) / 1e6
    produced = lines_to_dataset(list(lines.values()), run_meta)
    if not len(produced) and not config.allow_empty and (len(table) or bad_rows):
        raise EmptyOutputError(
            f"no trace was generated from {len(table)} input row(s): {summary.line()}",
            hint=f"see {directory}/errors.jsonl for why; --allow-empty accepts an empty output"
            if directory
            else "--allow-empty accepts an empty output",
        )
    if output is not None:
        from toolkit.io import write_table

        write_table(produced, output)
        summary.output = os.fspath(output)
    return GenerationResult(produced, summary)


def _is_dataset(value: Any) -> bool:
    return type(value).__name__ == "Dataset" and hasattr(value, "column_names")


def default_state_dir(output: str | os.PathLike[str] | None, identity: dict[str, Any]) -> Path:
    """``OUTPUT.state/`` next to the output, else a directory under ``$TOOLKIT_HOME/generate``
    named by the run identity (so the same call resumes)."""
    import json

    from toolkit.schema import content_hash

    if output is not None:
        path = Path(os.fspath(output))
        return path.with_name(path.name + ".state")
    from toolkit.models import cache_dir

    return cache_dir() / "generate" / content_hash(json.dumps(identity, sort_keys=True))


def lines_to_dataset(lines: Sequence[dict[str, Any]], run_meta: dict[str, Any] | None) -> Any:
    """Schema records from state lines, deduplicated by request key (first wins) and ordered by
    (problem index, sample). Splitting and answer extraction happen here, after the requests,
    never on the engine's event loop."""
    import datasets
    import pyarrow as pa

    from toolkit.schema import COLUMNS, FEATURES

    unique: dict[str, dict[str, Any]] = {}
    for line in lines:
        unique.setdefault(line["key"], line)
    ordered = sorted(unique.values(), key=lambda r: (r["problem_index"], r["sample"], r["key"]))
    rows = [line["row"] if "row" in line else _record(line, run_meta) for line in ordered]
    columns = {name: [row[name] for row in rows] for name in COLUMNS}
    # Straight to Arrow with the schema's types (Dataset.from_dict encodes row by row).
    return datasets.Dataset(pa.Table.from_pydict(columns, schema=FEATURES.arrow_schema))


def _record(line: dict[str, Any], run_meta: dict[str, Any] | None) -> dict[str, Any]:
    from toolkit.answers import final_answer
    from toolkit.backends import Completion
    from toolkit.schema import TraceRecord
    from toolkit.thinking import split_thinking

    meta = run_meta or {}
    completion = Completion.from_dict(line["completion"])
    split = split_thinking(completion.content, reasoning=completion.reasoning)
    metadata = {
        "teacher": meta.get("teacher"),
        "model": meta.get("model"),
        "params": meta.get("params"),
        "template": meta.get("template"),
        "prompt": meta.get("prompt"),
        "system_prompt": meta.get("system_prompt"),
        "sample_index": line["sample"],
        "problem_index": line["problem_index"],
        "problem_key": line["problem_key"],
        "request_key": line["key"],
        "finish_reason": completion.finish_reason,
        "usage": {
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
        },
        "latency_s": round(completion.latency_s, 4),
        "thinking_style": split.style,
    }
    record = TraceRecord(
        problem=line["problem"],
        reasoning=split.reasoning,
        answer=split.answer,
        reasoning_complete=split.reasoning_complete,
        final_answer=final_answer(split.answer),
        gold_answer=line.get("gold"),
        source=meta.get("source") or f"generate:{meta.get('model')}",
        domain=line.get("domain") or "math",
        metadata=metadata,
        system=line.get("system"),
        problem_id=line.get("problem_id") or None,
    )
    return record.to_row()


def generate(
    dataset: Any,
    backend: str | Model = "openai",
    *,
    model: str | None = None,
    base_url: str | Sequence[str] | None = None,
    output: str | os.PathLike[str] | None = None,
    state_dir: str | os.PathLike[str] | None = None,
    split: str | None = None,
    limit: int | None = None,
    config: GenerateConfig | None = None,
    model_options: dict[str, Any] | None = None,
    return_summary: bool = False,
    event_loop: str = "auto",
    **options: Any,
) -> Any:
    """Generate ``n`` teacher traces per problem of ``dataset`` into schema records.

    Args:
        dataset: anything :func:`toolkit.io.load_table` reads (a schema dataset, a table with a
            problem column, a local file, a Hub id).
        backend: a backend name (``"openai"``, ``"ollama"``, ``"transformers"``, a plugin) or a
            ready :class:`~toolkit.backends.Model`.
        model, base_url: for a backend name; several base URLs are used least-busy-first.
        output: where to write the final table (``.parquet``, ``.jsonl``, or an Arrow dir); the
            resumable state lives next to it in ``OUTPUT.state/`` unless ``state_dir`` is given.
        config: a :class:`GenerateConfig`; or give its fields as keyword ``options`` — ``n``
            (4), ``template``, ``system_prompt``, ``problem_field``, ``gold_field``,
            ``id_field``, ``temperature`` (0.6), ``top_p`` (0.95), ``max_new_tokens``, ``seed``,
            ``concurrency``, ``requests_per_minute``, ``tokens_per_minute``, ``max_retries``,
            ``request_timeout``, ``stream``, ``shard`` (``(i, N)`` or ``"i/N"``), ``progress``,
            ``check``, ``price_per_mtok_in``/``_out``, ``allow_empty``.
        model_options: backend options (``api_key_env``, ``native_n``, ``think``,
            ``batch_size``, …), passed to the backend factory.
        return_summary: return a :class:`GenerationResult` (dataset + totals).
        event_loop: ``"auto"`` (uvloop when installed, else asyncio), ``"uvloop"``, ``"asyncio"``.

    Re-running the same call resumes: finished samples are read back, not requested again.
    """
    if config is None:
        known = {f.name for f in fields(GenerateConfig)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise UsageError(f"unknown generate option(s): {', '.join(unknown)}")
        config = GenerateConfig(**options)
    elif options:
        raise UsageError("pass either config= or keyword options, not both")
    if isinstance(backend, str):
        extra = dict(model_options or {})
        if backend != "transformers":
            extra.setdefault("timeout", config.request_timeout + 30)
        model_object = make_model(backend, model, base_urls=base_url, **extra)
    else:
        model_object = backend
    result = run_event_loop(
        agenerate(
            dataset,
            model_object,
            config,
            output=output,
            state_dir=state_dir,
            split=split,
            limit=limit,
        ),
        event_loop,
    )
    logger.info("generate: %s", result.summary.line())
    return result if return_summary else result.dataset


def merge_shards(
    inputs: Sequence[str | os.PathLike[str] | Any],
    output: str | os.PathLike[str] | None = None,
    *,
    allow_partial: bool = False,
) -> Any:
    """Join the outputs of ``--shard i/N`` runs: deduplicated by request key, ordered by
    (problem index, sample index) — the same table one unsharded run would have produced.

    Each input is a shard's output table (Parquet/JSONL/Arrow dir/Dataset) or its state dir.
    Shards that do not add up to their ``N`` (1 of 8 given) are refused unless
    ``allow_partial``: a half-merged dataset looks complete otherwise.
    """
    from toolkit.io import load_table, write_table
    from toolkit.schema import COLUMNS, loads_metadata

    lines: list[dict[str, Any]] = []
    run_meta: dict[str, Any] | None = None
    shards: dict[int, set[int]] = {}
    for source in inputs:
        path = None if _is_dataset(source) else Path(os.fspath(source))
        if path is not None and path.is_dir() and (path / RESULTS_FILE).exists():
            lines.extend(read_jsonl_tolerant(path / RESULTS_FILE, require=("key",))[0])
            manifest = read_manifest(path)
            run_meta = run_meta or manifest.get("run")
            if manifest.get("shard"):
                index, total = manifest["shard"]
                shards.setdefault(total, set()).add(index)
            continue
        if path is not None:
            state = path.with_name(path.name + ".state") / MANIFEST_FILE
            if state.exists() and read_manifest(state.parent).get("shard"):
                index, total = read_manifest(state.parent)["shard"]
                shards.setdefault(total, set()).add(index)
        table = load_table(source)
        for number, row in enumerate(table):
            metadata = loads_metadata(row["metadata"])
            if "request_key" not in metadata:
                raise DataError(
                    "no metadata.request_key: not a `toolkit generate` output",
                    path=str(source),
                    row=number,
                )
            lines.append(
                {
                    "key": metadata["request_key"],
                    "problem_index": metadata["problem_index"],
                    "sample": metadata["sample_index"],
                    "row": {name: row[name] for name in COLUMNS},
                }
            )
    for total, seen in shards.items():
        missing = sorted(set(range(total)) - seen)
        if missing and not allow_partial:
            raise UsageError(
                f"merging {len(seen)} of {total} shards: shard(s) "
                f"{', '.join(f'{i}/{total}' for i in missing)} are missing",
                hint="pass every shard's output, or --allow-partial to merge what is there",
            )
    merged = lines_to_dataset(lines, run_meta)
    if output is not None:
        write_table(merged, output)
    return merged


__all__ = [
    "GenerateConfig",
    "GenerationResult",
    "GenerationSummary",
    "agenerate",
    "default_state_dir",
    "generate",
    "lines_to_dataset",
    "merge_shards",
    "parse_shard",
    "read_jsonl_tolerant",
    "request_key",
    "run_event_loop",
    "shard_range",
]
