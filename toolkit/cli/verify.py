"""``toolkit verify INPUT -o OUTPUT``: add ``correct`` and ``verify_error`` columns.

Bad input (an empty file, a missing gold column, an unknown ``--answer-type``) raises a
:class:`toolkit.errors.ToolkitError` that the CLI's one error boundary prints as one line; the
output path is checked before any grading, so ``-o out.txt`` fails in a second.
"""

from __future__ import annotations

from pathlib import Path

import typer

from toolkit.cli.app import app, check_output_file, console, print_json


@app.command("verify")
def verify_command(
    input_source: str = typer.Argument(
        ..., metavar="INPUT", help="Trace dataset: local file/dir or Hub id (org/name)."
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Where to write: .parquet, .jsonl/.json, or an Arrow directory."
    ),
    answer_type: str = typer.Option(
        "auto", "--answer-type", help="auto, math, gsm8k, choice or text (auto looks at each gold)."
    ),
    prediction_field: str = typer.Option(
        "auto", "--prediction-field", help="auto (final_answer, else answer) or a column name."
    ),
    gold_field: str = typer.Option("gold_answer", "--gold-field", help="Column of gold answers."),
    num_proc: int | None = typer.Option(None, "--num-proc", min=0, help="Worker processes."),
    timeout: float = typer.Option(5.0, "--timeout", min=0.1, help="Seconds per answer."),
    split: str | None = typer.Option(None, "--split", help="Split to load (default: train)."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N rows."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Grade answers against gold answers with math-verify (boxed first; GSM8K; letters)."""
    from toolkit.io import load_table, write_table
    from toolkit.verification import verify

    check_output_file(output)
    dataset = load_table(input_source, split=split, limit=limit)
    graded = verify(
        dataset,
        num_proc=num_proc,
        timeout_s=timeout,
        answer_type=answer_type,
        prediction_field=prediction_field,
        gold_field=gold_field,
    )
    written = write_table(graded, output)
    correct = graded["correct"]
    errors: dict[str, int] = {}
    for error in graded["verify_error"]:
        if error:
            errors[error] = errors.get(error, 0) + 1
    graded_count = sum(1 for c in correct if c is not None)
    right = sum(1 for c in correct if c)
    if json_output:
        print_json(
            {
                "rows": len(graded),
                "graded": graded_count,
                "correct": right,
                "ungradable": len(graded) - graded_count,
                "errors": errors,
                "output": str(written),
            }
        )
        return
    rate = f"{100 * right / graded_count:.1f} %" if graded_count else "n/a"
    detail = ", ".join(f"{k}: {v}" for k, v in sorted(errors.items())) or "none"
    console.print(
        f"verified {len(graded)} rows → {written}: {right} correct of {graded_count} graded "
        f"({rate}); {len(graded) - graded_count} ungradable; errors: {detail}"
    )
