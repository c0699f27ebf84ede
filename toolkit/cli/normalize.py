"""``toolkit normalize FORMAT INPUT -o OUTPUT``: any reasoning dataset into the trace schema.

Also ``toolkit normalize --inspect DATA`` (what would happen, before converting 1M rows) and the
column mapping ``toolkit normalize columns DATA --problem COL --answer COL [--reasoning COL]
[--gold COL]``. When ``auto`` cannot tell the format, the command stops with the candidates and
exit code 2 (a usage error: choose with ``--format`` or the column mapping).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from toolkit.cli.app import app, console, fail, print_json


def _parse_options(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs of ``--option`` as format options (``true``/``false`` as booleans)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--option expects KEY=VALUE, got {pair!r}", code=2)
        options[key.strip()] = {"true": True, "false": False}.get(value.lower(), value)
    return options


@app.command("normalize")
def normalize_command(
    format_name: str | None = typer.Argument(
        None,
        metavar="FORMAT",
        help="Source format (`toolkit normalize --list-formats` lists them), 'auto' to detect it, "
        "'columns' for a column mapping, or a known Hub dataset id. With --inspect or --format, "
        "or when it is an existing path, this argument is the data.",
    ),
    input_source: str | None = typer.Argument(
        None,
        metavar="[INPUT]",
        help="Local file/directory (jsonl, json, parquet, csv, Arrow dir) or Hub dataset id "
        "(org/name or org/name:config). Leave it out when FORMAT is a known Hub id.",
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Where to write: .parquet, .jsonl/.json, .csv, or a path without suffix for an "
        "Arrow directory. Required unless --inspect.",
    ),
    inspect: bool = typer.Option(
        False,
        "--inspect",
        help="Show the detected format, columns and 3 split rows; write nothing.",
    ),
    list_formats: bool = typer.Option(
        False, "--list-formats", help="List the formats with what they read, and exit."
    ),
    format_option: str | None = typer.Option(
        None, "--format", "-f", help="The format, when the first argument is the data."
    ),
    split: str | None = typer.Option(None, "--split", help="Split to load (default: train)."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N input rows."),
    strict: bool = typer.Option(False, "--strict", help="Fail on the first bad row."),
    revision: str | None = typer.Option(None, "--revision", help="Hub revision (commit/tag)."),
    num_proc: int | None = typer.Option(
        None, "--num-proc", min=1, help="Worker processes (default: chosen from rows and cores)."
    ),
    quarantine: Path | None = typer.Option(
        None, "--quarantine", help="Also write the quarantined rows (with reasons) here."
    ),
    system_prompt: str = typer.Option(
        "rewrite",
        "--system-prompt",
        help="System prompts naming other markers (Sky-T1's <|begin_of_thought|>): rewrite "
        "them to <think> (default), drop them, or keep them.",
    ),
    keep_templates: bool = typer.Option(
        False,
        "--keep-templates",
        help="Keep answer-format instructions ('Return your final response within \\boxed{}.') "
        "in problem instead of moving them to metadata.",
    ),
    problem: str | None = typer.Option(None, "--problem", help="columns: the problem column."),
    answer: str | None = typer.Option(
        None, "--answer", help="columns: the completion/answer column (thinking split from it)."
    ),
    reasoning: str | None = typer.Option(
        None, "--reasoning", help="columns: a separate reasoning column."
    ),
    gold: str | None = typer.Option(None, "--gold", help="columns: the reference answer column."),
    system: str | None = typer.Option(None, "--system", help="columns: a system prompt column."),
    generations: str | None = typer.Option(
        None, "--generations", help="openr1/s1k_r1: 'all' generations or only 'verified' ones."
    ),
    teacher: str | None = typer.Option(
        None, "--teacher", help="s1k only: auto, deepseek, gemini or original trajectories."
    ),
    option: list[str] = typer.Option(
        [], "--option", "-O", help="Any other format option as KEY=VALUE (repeatable)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Normalize a reasoning dataset into the toolkit trace schema, with a quarantine summary."""
    from toolkit.formats import REGISTRY, format_names, normalize
    from toolkit.formats import inspect as inspect_data
    from toolkit.io import check_output_path, write_table

    if list_formats:
        for name in format_names():
            typer.echo(f"{name:22} {REGISTRY[name].description}")
        return

    fmt, data = format_name, input_source
    if (
        data is None
        and fmt is not None
        and (inspect or format_option or (os.path.exists(fmt) and fmt not in format_names()))
    ):
        fmt, data = None, fmt  # the single argument is the data
    fmt = format_option or fmt or "auto"
    if data == "-":
        data = None
    options = _parse_options(option)
    named = {"generations": generations, "teacher": teacher, "problem": problem, "answer": answer}
    named |= {"reasoning": reasoning, "gold": gold, "system": system}
    options |= {key: value for key, value in named.items() if value is not None}
    if inspect:
        report = inspect_data(
            data if data is not None else fmt,
            "auto" if data is None else fmt,
            split=split,
            revision=revision,
            limit=limit,
            **options,
        )
        typer.echo(report.render())
        if report.error is not None:
            raise typer.Exit(report.error.exit_code)
        return
    if output is None:
        fail("missing option -o/--output (or use --inspect to only look)", code=2)
        return
    # Before any conversion: a bad -o fails in a second. Errors below are ToolkitErrors (one
    # line at the CLI's boundary); anything else is a bug and keeps its traceback.
    check_output_path(output)
    if quarantine is not None:
        check_output_path(quarantine)
    result = normalize(
        fmt,
        data,
        split=split,
        revision=revision,
        limit=limit,
        strict=strict,
        num_proc=num_proc,
        return_quarantine=True,
        system_prompt=system_prompt,
        strip_templates=not keep_templates,
        **options,
    )
    dataset, quarantined = result
    written = write_table(dataset, output)
    if quarantine is not None:
        write_table(quarantined, quarantine)
    summary = result.summary
    detection = summary.detection
    if json_output:
        print_json(
            {
                "format": summary.format,
                "detected": fmt == "auto",
                "kept": summary.kept,
                "quarantined": summary.quarantined,
                "reasons": summary.reasons,
                "skipped": summary.skipped,
                "notes": summary.notes,
                "output": str(written),
                "quarantine": str(quarantine) if quarantine is not None else None,
            }
        )
        return
    if fmt == "auto" and detection is not None:
        console.print(f"format: {summary.format} (detected, score {detection.score:g})")
    for note in summary.notes:
        console.print(f"[yellow]note:[/] {note}")
    console.print(f"[bold]{summary.line()}[/] → {written}")
    if quarantine is not None:
        console.print(f"wrote {len(quarantined)} quarantined rows to {quarantine}")
    elif len(quarantined):
        console.print("(use --quarantine PATH to keep the quarantined rows and their reasons)")
