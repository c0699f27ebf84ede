"""``toolkit train RECIPE.yaml [--params.KEY VALUE ...] [--dry-run] [--remote hf-jobs] [--resume]``."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import typer

from toolkit.cli.app import app, console, print_json, quiet_model_loading
from toolkit.errors import ToolkitError, UsageError


@app.command(
    "train",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def train_command(
    ctx: typer.Context,
    recipe_path: Path = typer.Argument(..., metavar="RECIPE", help="Recipe YAML (see recipes/)."),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Validate the recipe (and what a run here would need) and print it resolved; "
        "load no model or data.",
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue from the newest complete checkpoint."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Start over in an output_dir that already holds a run."
    ),
    remote: str | None = typer.Option(
        None, "--remote", help="Run elsewhere: 'hf-jobs' prints the `hf jobs run` command."
    ),
    flavor: str | None = typer.Option(None, "--flavor", help="HF Jobs hardware, e.g. a100-large."),
    timeout: str | None = typer.Option(None, "--timeout", help="HF Jobs max duration, e.g. 6h."),
    source: str | None = typer.Option(
        None,
        "--source",
        help="Where the job installs the toolkit from: git (the pushed commit), wheel (built "
        "here, uploaded with the job) or auto.",
    ),
    allow_ephemeral: bool = typer.Option(
        False,
        "--allow-ephemeral",
        help="With --remote: submit although the results would not be pushed anywhere.",
    ),
    submit: bool = typer.Option(False, "--submit", help="With --remote: run the commands too."),
    accelerate: str | None = typer.Option(
        None,
        "--accelerate",
        help="Print the `accelerate launch` command for a shipped config (zero3 or fsdp).",
    ),
    num_processes: int = typer.Option(8, "--num-processes", help="GPUs for --accelerate."),
    json_output: bool = typer.Option(
        False, "--json", help="Print the training summary (training_summary.json) as JSON."
    ),
) -> None:
    """Train a model from a YAML recipe (overrides: --SECTION.KEY VALUE, e.g. --params.max_steps 5)."""
    from toolkit.training import load
    from toolkit.training.recipe import parse_overrides

    overrides = parse_overrides(list(ctx.args))
    if resume:
        overrides["params.resume"] = "true"
    if overwrite:
        overrides["params.overwrite"] = "true"
    loaded = load(recipe_path, **overrides)
    recipe = loaded.recipe

    if accelerate:
        from toolkit.training.remote import accelerate_command, format_command

        argv = accelerate_command(
            str(recipe_path),
            config=accelerate,
            num_processes=num_processes,
            overrides=list(ctx.args),
        )
        typer.echo(format_command(argv))
        return

    if remote is not None:
        _remote(loaded, remote, flavor, timeout, source, allow_ephemeral, submit)
        return

    if dry_run:
        from rich.markup import escape

        from toolkit.training.checks import preflight

        findings = preflight(loaded)
        typer.echo(recipe.to_yaml())
        for finding in findings:
            if finding.kind == "recipe":
                raise finding.error()
        for finding in findings:
            hint = f" ({finding.hint})" if finding.hint else ""
            message = escape(f"{finding.message}{hint}")
            console.print(f"[yellow]a run here would be refused:[/] {message}")
        console.print(
            f"[green]recipe OK[/]: task={recipe.task} base_model={recipe.base_model} → {recipe.output_dir}"
        )
        return

    from toolkit.training import train

    quiet_model_loading()
    if json_output:
        # stdout carries one JSON document: the trainer's own log lines (TRL prints its metric
        # dicts with tqdm.write to stdout) go to stderr with the rest of the chatter.
        with contextlib.redirect_stdout(sys.stderr):
            result = train(loaded)
    else:
        result = train(loaded)
    summary = result.summary
    if json_output:
        print_json({**summary, "output_dir": str(result.output_dir)})
        return
    loss = summary["final_loss"]
    console.print(
        f"[green]trained[/] {summary['steps']} steps, final loss "
        f"{f'{loss:.4f}' if loss is not None else 'n/a'}, {summary['tokens_seen']} tokens, "
        f"{summary['runtime_seconds']:.1f}s → {result.output_dir}"
    )


def _remote(loaded, remote, flavor, timeout, source, allow_ephemeral, submit) -> None:
    """Print (and with ``--submit`` run) the commands of a Hugging Face Jobs run."""
    if remote != "hf-jobs":
        raise UsageError(f"--remote {remote!r}: only 'hf-jobs' is supported (Hugging Face Jobs)")
    from toolkit.training.remote import format_command, remote_plan
    from toolkit.training.remote import submit as run_job

    plan = remote_plan(
        loaded, flavor=flavor, timeout=timeout, source=source, allow_ephemeral=allow_ephemeral
    )
    # The job command on stdout (scripts read it); the steps to run here first on stderr.
    for argv in plan[:-1]:
        console.print(f"first, here: {format_command(argv)}", markup=False, highlight=False)
    typer.echo(format_command(plan[-1]))
    if submit:
        for argv in plan:
            result = run_job(argv)
            if result.returncode != 0:
                tail = result.stderr.strip()[-500:]
                raise ToolkitError(
                    f"{format_command(argv)[:80]} failed ({result.returncode}): {tail}"
                )
            if result.stdout.strip():
                typer.echo(result.stdout.strip())
