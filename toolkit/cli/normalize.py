"""``toolkit normalize FORMAT INPUT -o OUTPUT``: any reasoning dataset into the trace schema."""

from __future__ import annotations

from pathlib import Path

import typer

from toolkit.cli.app import app, console, fail


@app.command("normalize")
def normalize_command(
    format_name: str = typer.Argument(
        ...,
        metavar="FORMAT",
        help="Source format (bespoke, magpie, numina, openr1, s1k, gsm8k, math500, messages), "
        "'auto' to detect it from the columns, or a known Hub dataset id.",
    ),
    input_source: str | None = typer.Argument(
        None,
        metavar="[INPUT]",
        help="Local file/directory (jsonl, json, parquet, csv, Arrow dir) or Hub dataset id "
        "(org/name or org/name:config). Leave it out when FORMAT is a known Hub id.",
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Where to write: .parquet, .jsonl/.json, or an Arrow directory."
    ),
    split: str | None = typer.Option(None, "--split", help="Split to load (default: train)."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N input rows."),
    strict: bool = typer.Option(False, "--strict", help="Fail on the first bad row."),
    revision: str | None = typer.Option(None, "--revision", help="Hub revision (commit/tag)."),
    num_proc: int | None = typer.Option(None, "--num-proc", min=1, help="Worker processes."),
    quarantine: Path | None = typer.Option(
        None, "--quarantine", help="Also write the quarantined rows (with reasons) here."
    ),
    generations: str | None = typer.Option(
        None, "--generations", help="openr1 only: 'all' generations or only 'verified' ones."
    ),
    teacher: str | None = typer.Option(
        None, "--teacher", help="s1k only: auto, deepseek, gemini or original trajectories."
    ),
) -> None:
    """Normalize a reasoning dataset into the toolkit trace schema, with a quarantine summary."""
    from toolkit.formats import normalize
    from toolkit.io import write_table

    options = {} if generations is None else {"generations": generations}
    if teacher is not None:
        options["teacher"] = teacher
    data = None if input_source in (None, "-") else input_source
    try:
        result = normalize(
            format_name,
            data,
            split=split,
            revision=revision,
            limit=limit,
            strict=strict,
            num_proc=num_proc,
            return_quarantine=True,
            **options,
        )
    except (ValueError, OSError) as error:  # FormatError is a ValueError; OSError: files, Hub
        fail(" ".join(str(error).split()) or type(error).__name__)
        return
    dataset, quarantined = result
    written = write_table(dataset, output)
    console.print(f"wrote {len(dataset)} records to {written}")
    if quarantine is not None:
        write_table(quarantined, quarantine)
        console.print(f"wrote {len(quarantined)} quarantined rows to {quarantine}")
    elif len(quarantined):
        console.print("(use --quarantine PATH to keep the quarantined rows and their reasons)")
    console.print(f"[bold]{result.summary.line()}[/]")
