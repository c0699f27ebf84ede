"""``toolkit generate INPUT --backend openai --base-url URL --model M -n 4 -o OUT``: teacher traces.

Re-running the same command resumes (finished samples are kept, failed ones retried);
``--shard i/N`` splits the problems across machines and ``--merge`` joins the shard outputs.
The options come from :class:`~toolkit.generation.GenerateConfig` and
:class:`~toolkit.backends.config.ModelConfig`: the CLI and the Python API share one default.
"""

from __future__ import annotations

from pathlib import Path

import typer

from toolkit.backends.config import ModelConfig
from toolkit.cli.app import app, check_output_file, console, print_json
from toolkit.cli.options import with_config
from toolkit.errors import IncompleteError, UsageError
from toolkit.generation.config import GenerateConfig


@app.command("generate")
@with_config(config=GenerateConfig, model=ModelConfig)
def generate_command(
    inputs: list[str] = typer.Argument(
        ...,
        metavar="INPUT",
        help="Problems: a schema dataset or any table with a problem column (jsonl, json, "
        "parquet, csv, Arrow dir, Hub id). With --merge: the shard outputs to join.",
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Final table: .parquet, .jsonl/.json, or an Arrow directory."
    ),
    split: str | None = typer.Option(None, "--split", help="Split to load (default: train)."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N problems."),
    state_dir: Path | None = typer.Option(
        None, "--state-dir", help="Resumable run state (default: OUTPUT.state next to OUTPUT)."
    ),
    merge: bool = typer.Option(False, "--merge", help="Join shard outputs (INPUT...) into -o."),
    allow_partial: bool = typer.Option(
        False, "--allow-partial", help="With --merge: accept shards missing from the set."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    *,
    config: GenerateConfig,
    model: ModelConfig,
) -> None:
    """Generate N teacher traces per problem into the trace schema (concurrent, resumable)."""
    from toolkit.generation import generate, merge_shards

    check_output_file(output)  # before any request: a bad -o must not cost a generation run
    if merge:
        merged = merge_shards(inputs, output, allow_partial=allow_partial)
        if json_output:
            print_json({"shards": len(inputs), "rows": len(merged), "output": str(output)})
        else:
            console.print(f"merged {len(inputs)} shard(s): {len(merged)} rows → {output}")
        return
    if len(inputs) != 1:
        raise UsageError(
            f"expected one INPUT, got {len(inputs)}", hint="use --merge to join shard outputs"
        )
    if not model.model:
        raise UsageError(
            "--model is required",
            hint="the teacher model name (or a local dir / alias for --backend transformers)",
        )
    extra = {} if model.backend == "transformers" else {"timeout": config.request_timeout + 30}
    result = generate(
        inputs[0],
        model.build(**extra),
        output=output,
        state_dir=state_dir,
        split=split,
        limit=limit,
        config=config,
        return_summary=True,
    )
    summary = result.summary
    if json_output:
        print_json(summary.as_dict())
    else:
        console.print(
            f"wrote {len(result.dataset)} rows → {output}: {summary.line()} "
            f"(state: {summary.state_dir})"
        )
    if summary.failed:
        raise IncompleteError(
            f"{summary.failed} sample(s) failed",
            hint=f"see {summary.state_dir}/errors.jsonl; re-run the same command to retry them",
        )
