"""``toolkit curate STEP INPUT -o OUTPUT``: one curation step per command.

Every command prints how many rows it removed and why, and carries the curation lineage along in
``OUTPUT.lineage.json`` (the input's lineage plus this step), which ``toolkit push`` puts into the
dataset card.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from toolkit.cli.app import app, check_output_file, console, print_json
from toolkit.curate import defaults

curate_app = typer.Typer(
    name="curate",
    help="Curation steps (each reports rows removed and why; lineage kept in OUTPUT.lineage.json).",
    no_args_is_help=True,
)
app.add_typer(curate_app, name="curate")

INPUT = typer.Argument(..., metavar="INPUT", help="Trace dataset: local file/dir or Hub id.")
OUTPUT = typer.Option(..., "--output", "-o", help="Output file (.parquet, .jsonl, Arrow dir).")
ALLOW_EMPTY = typer.Option(
    False, "--allow-empty", help="Write an empty output instead of failing when every row goes."
)
JSON = typer.Option(False, "--json", help="Print the step's report as JSON.")


def _run(
    input_source: str,
    output: Path,
    step: Callable[..., Any],
    json_output: bool = False,
    **kwargs: Any,
) -> None:
    from toolkit.curate import read_lineage, write_lineage
    from toolkit.io import load_table, write_table

    check_output_file(output)  # before the step runs: a bad -o fails in a second
    dataset = load_table(input_source)
    lineage = read_lineage(input_source) if Path(input_source).exists() else []
    dataset, report = step(dataset, **kwargs)  # a ToolkitError is one line at the boundary
    written = write_table(dataset, output)
    write_lineage(written, [*lineage, report])
    if json_output:
        print_json({**report.to_dict(), "output": str(written), "lineage_steps": len(lineage) + 1})
        return
    console.print(
        f"{report.summary()} → {written} (lineage: {len(lineage) + 1} step"
        f"{'' if not lineage else 's'})"
    )


@curate_app.command("correct-only")
def correct_only_command(
    input_source: str = INPUT,
    output: Path = OUTPUT,
    keep_ungradable: bool = typer.Option(
        False, "--keep-ungradable", help="Keep rows whose gold could not be graded."
    ),
    allow_empty: bool = ALLOW_EMPTY,
    json_output: bool = JSON,
) -> None:
    """Keep rows graded correct by `toolkit verify`."""
    from toolkit.curate import correct_only

    _run(
        input_source,
        output,
        correct_only,
        keep_ungradable=keep_ungradable,
        allow_empty=allow_empty,
        json_output=json_output,
    )


@curate_app.command("complete-only")
def complete_only_command(
    input_source: str = INPUT,
    output: Path = OUTPUT,
    allow_empty: bool = ALLOW_EMPTY,
    json_output: bool = JSON,
) -> None:
    """Drop traces whose reasoning never closed or that have no answer."""
    from toolkit.curate import complete_only

    _run(input_source, output, complete_only, json_output, allow_empty=allow_empty)


@curate_app.command("length")
def length_command(
    input_source: str = INPUT,
    output: Path = OUTPUT,
    min_tokens: int | None = typer.Option(None, "--min-tokens", min=0),
    max_tokens: int | None = typer.Option(None, "--max-tokens", min=1),
    text_field: str = typer.Option(
        defaults.LENGTH_FIELD, "--field", help="reasoning, answer, problem, messages or text (all)."
    ),
    tokenizer: str | None = typer.Option(
        None, "--tokenizer", help="Tokenizer name/path (default: fast word+punctuation estimate)."
    ),
    allow_empty: bool = ALLOW_EMPTY,
    json_output: bool = JSON,
) -> None:
    """Keep rows whose length in tokens lies within bounds."""
    from toolkit.curate import length_filter

    _run(
        input_source,
        output,
        length_filter,
        min_tokens=min_tokens,
        max_tokens=max_tokens,
        text_field=text_field,
        tokenizer=tokenizer,
        allow_empty=allow_empty,
        json_output=json_output,
    )


@curate_app.command("dedup")
def dedup_command(
    input_source: str = INPUT,
    output: Path = OUTPUT,
    fields: str = typer.Option(
        ",".join(defaults.TEXT_FIELDS), "--fields", help="Comma-separated columns forming the key."
    ),
    near: bool = typer.Option(False, "--near", help="Also remove MinHash near-duplicates."),
    threshold: float = typer.Option(defaults.NEAR_DUP_THRESHOLD, "--threshold", min=0.01, max=1.0),
    num_perm: int = typer.Option(defaults.NUM_PERM, "--num-perm", min=8),
    allow_empty: bool = ALLOW_EMPTY,
    json_output: bool = JSON,
) -> None:
    """Remove exact (normalised text) and optionally near duplicates, keeping the first."""
    from toolkit.curate import dedup

    names = tuple(f.strip() for f in fields.split(",") if f.strip())
    _run(
        input_source,
        output,
        dedup,
        fields=names,
        near=near,
        threshold=threshold,
        num_perm=num_perm,
        allow_empty=allow_empty,
        json_output=json_output,
    )


@curate_app.command("decontaminate")
def decontaminate_command(
    input_source: str = INPUT,
    output: Path = OUTPUT,
    benchmarks: str = typer.Option(
        ",".join(defaults.DEFAULT_BENCHMARKS), "--benchmarks", help="Comma-separated."
    ),
    ngram: int = typer.Option(defaults.NGRAM, "--ngram", min=1, help="Word n-gram size."),
    extra: list[str] = typer.Option(
        [], "--extra", help="Extra problem sets (file or Hub id); repeatable."
    ),
    text_field: str = typer.Option(
        defaults.CONTAMINATION_FIELD, "--field", help="Column compared."
    ),
    flag_only: bool = typer.Option(False, "--flag-only", help="Add the columns, remove nothing."),
    allow_empty: bool = ALLOW_EMPTY,
    json_output: bool = JSON,
) -> None:
    """Flag (contaminated_<bench> columns) and remove rows sharing n-grams with benchmarks."""
    from toolkit.curate import decontaminate

    names = [b.strip() for b in benchmarks.split(",") if b.strip()]
    _run(
        input_source,
        output,
        decontaminate,
        benchmarks=names,
        ngram=ngram,
        # Named sources, so a Hub id is loaded as a dataset, never read as a problem text.
        extra={_source_name(source): source for source in extra} or None,
        text_field=text_field,
        remove=not flag_only,
        allow_empty=allow_empty,
        json_output=json_output,
    )


@curate_app.command("pass-rate")
def pass_rate_command(
    input_source: str = INPUT,
    output: Path = OUTPUT,
    lo: float = typer.Option(0.0, "--lo", min=0.0, max=1.0, help="Lowest pass rate kept."),
    hi: float = typer.Option(1.0, "--hi", min=0.0, max=1.0, help="Highest pass rate kept."),
    group_field: str = typer.Option(defaults.GROUP_FIELD, "--group-field"),
    allow_empty: bool = ALLOW_EMPTY,
    json_output: bool = JSON,
) -> None:
    """Keep problems whose pass rate over their N samples lies between --lo and --hi."""
    from toolkit.curate import pass_rate

    _run(
        input_source,
        output,
        pass_rate,
        lo=lo,
        hi=hi,
        group_field=group_field,
        allow_empty=allow_empty,
        json_output=json_output,
    )


def _source_name(source: str) -> str:
    """A set's name in the ``contaminated_<name>`` column: the file stem or the repo name."""
    path = Path(source)
    return path.stem if path.exists() else source.rstrip("/").split("/")[-1].split(":")[0]
