"""``toolkit train RECIPE.yaml [--params.lr 1e-5 ...] [--dry-run] [--remote hf-jobs] [--resume]``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from toolkit.cli.app import app, console, fail


@app.command(
    "train",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def train_command(
    ctx: typer.Context,
    recipe_path: Path = typer.Argument(..., metavar="RECIPE", help="Recipe YAML (see recipes/)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Validate the recipe and print it resolved; load no model or data."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint."),
    remote: str | None = typer.Option(
        None, "--remote", help="Run elsewhere: 'hf-jobs' prints the `hf jobs run` command."
    ),
    flavor: str | None = typer.Option(None, "--flavor", help="HF Jobs hardware, e.g. a100-large."),
    timeout: str | None = typer.Option(None, "--timeout", help="HF Jobs max duration, e.g. 6h."),
    submit: bool = typer.Option(False, "--submit", help="With --remote: run the command too."),
    accelerate: str | None = typer.Option(
        None,
        "--accelerate",
        help="Print the `accelerate launch` command for a shipped config (zero3 or fsdp).",
    ),
    num_processes: int = typer.Option(8, "--num-processes", help="GPUs for --accelerate."),
) -> None:
    """Train a model from a YAML recipe (overrides: --SECTION.KEY VALUE, e.g. --params.lr 1e-5)."""
    from toolkit.training import load
    from toolkit.training.recipe import RecipeError, parse_overrides

    try:
        overrides = parse_overrides(list(ctx.args))
        if resume:
            overrides["params.resume"] = "true"
        loaded = load(recipe_path, **overrides)
    except RecipeError as error:
        fail(str(error))
        return
    recipe = loaded.recipe

    if accelerate:
        from toolkit.training.remote import accelerate_command, format_command

        try:
            argv = accelerate_command(
                str(recipe_path),
                config=accelerate,
                num_processes=num_processes,
                overrides=list(ctx.args),
            )
        except RecipeError as error:
            fail(str(error))
            return
        typer.echo(format_command(argv))
        return

    if remote is not None:
        if remote != "hf-jobs":
            fail(f"--remote {remote!r}: only 'hf-jobs' is supported (Hugging Face Jobs)")
        from toolkit.training.remote import format_command, hf_jobs_command
        from toolkit.training.remote import submit as run_job

        try:
            argv = hf_jobs_command(loaded, flavor=flavor, timeout=timeout)
        except RecipeError as error:
            fail(str(error))
            return
        typer.echo(format_command(argv))
        if submit:
            result = run_job(argv)
            if result.returncode != 0:
                fail(f"hf jobs run failed ({result.returncode}): {result.stderr.strip()[-500:]}")
            typer.echo(result.stdout.strip())
        return

    if dry_run:
        typer.echo(recipe.to_yaml())
        console.print(
            f"[green]recipe OK[/]: task={recipe.task} base_model={recipe.base_model} → {recipe.output_dir}"
        )
        return

    from toolkit.training import train

    try:
        result = train(loaded)
    except (RecipeError, ValueError, FileNotFoundError) as error:
        fail(str(error))
        return
    summary = result.summary
    console.print(
        f"[green]done[/]: {summary['steps']} steps, final loss "
        f"{summary['final_loss'] if summary['final_loss'] is not None else 'n/a'}, "
        f"{summary['tokens_seen']} tokens, {summary['runtime_seconds']:.1f}s → {result.output_dir}"
    )
    typer.echo(json.dumps({"output_dir": str(result.output_dir), "steps": summary["steps"]}))
