"""``toolkit quickstart``: the whole pipeline on bundled problems (see :mod:`toolkit.quickstart`)."""

from __future__ import annotations

from pathlib import Path

import typer

from toolkit.cli.app import app, console, quiet_model_loading
from toolkit.errors import ToolkitError


@app.command()
def quickstart(
    workdir: Path = typer.Option(Path("runs/quickstart"), help="Where every stage writes."),
    train_problems: int = typer.Option(12, help="Bundled problems used for traces."),
    eval_problems: int = typer.Option(8, help="Held-out bundled problems for evaluation."),
    samples: int = typer.Option(2, "-n", "--samples", help="Teacher samples per problem."),
    teacher_max_tokens: int = typer.Option(40, help="Teacher max_tokens per sample."),
    train_steps: int = typer.Option(16, help="LoRA SFT steps."),
    eval_max_new_tokens: int = typer.Option(96, help="Student max_new_tokens at evaluation."),
    teacher: str | None = typer.Option(
        None, help="Teacher model dir or Hub id (default: SmolLM2-135M-Instruct, offline)."
    ),
    fresh: bool = typer.Option(False, "--fresh", help="Delete WORKDIR and start over."),
) -> None:
    """Run generate → normalize → verify → curate → push → train → evaluate (student and
    base) → card, offline; then `toolkit space --model local/quickstart-student` chats with it.

    Re-running resumes: finished stages are skipped (state in WORKDIR/quickstart.json).
    """
    from toolkit.quickstart import Quickstart, QuickstartConfig

    config = QuickstartConfig(
        workdir=workdir,
        train_problems=train_problems,
        eval_problems=eval_problems,
        samples=samples,
        teacher_max_tokens=teacher_max_tokens,
        train_steps=train_steps,
        eval_max_new_tokens=eval_max_new_tokens,
        teacher=teacher,
        fresh=fresh,
    )
    quiet_model_loading()
    try:
        Quickstart(config, console=console).run()
    except ToolkitError as error:  # anything else is a bug: its traceback shows
        resume = "re-run the same command to resume (finished stages are kept)"
        error.hint = f"{error.hint}; then {resume}" if error.hint else resume
        raise
