"""The root Typer application, and the CLI's one error boundary.

Every verb module under ``toolkit.cli`` registers on :data:`app`. :class:`ToolkitGroup` wraps
every command: a :class:`toolkit.errors.ToolkitError` (a problem the user can fix) prints as one
line plus a hint and exits with the error's code; anything else is a bug and shows its
traceback. ``TOOLKIT_DEBUG=1`` shows the traceback of user errors too.

Exit codes: ``0`` success, ``1`` failure (including "some samples failed"), ``2`` usage error.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click
import typer
from rich.console import Console
from rich.logging import RichHandler
from typer.core import TyperGroup

from toolkit.errors import EXIT_USAGE, ToolkitError

console = Console(stderr=True)


def debug_enabled() -> bool:
    return os.environ.get("TOOLKIT_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


def report_error(error: ToolkitError) -> None:
    """One red line with the message (redacted), and the hint when there is one."""
    from rich.markup import escape

    from toolkit.redact import redact

    console.print(f"[bold red]error:[/] {escape(redact(error.message))}", soft_wrap=True)
    if error.hint:
        console.print(f"[dim]hint:[/] {escape(redact(error.hint))}", soft_wrap=True)


class ToolkitGroup(TyperGroup):
    """Typer's group with the toolkit's error boundary around every command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ToolkitError as error:
            if debug_enabled():
                raise
            report_error(error)
            raise typer.Exit(error.exit_code) from None


app = typer.Typer(
    name="toolkit",
    cls=ToolkitGroup,
    help="Distil DeepSeek-R1-style reasoning into small models: "
    "generate → normalize → verify → curate → push → train → evaluate → publish → chat. "
    "Exit codes: 0 ok, 1 failure, 2 usage error; TOOLKIT_DEBUG=1 shows tracebacks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain click help: typer's rich help imports rich.markdown and markdown-it (~0.3 s on
    # every `--help`), for boxes around the same text.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from toolkit import __version__

        typer.echo(f"toolkit {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    # The toolkit draws its own progress bars; datasets' per-step bars (map, filter, parquet
    # writes) would print a dozen more for every verb.
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)],
        force=True,
    )
    from toolkit.redact import install_log_filter

    install_log_filter()
    for noisy in ("httpx", "httpcore", "urllib3", "filelock", "fsspec", "aiohttp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if "datasets" in sys.modules:  # imported already (tests): switch its bars off directly
        sys.modules["datasets"].disable_progress_bars()


def fail(message: str, code: int = 1, hint: str | None = None) -> None:
    """Stop the command with a one-line error (no traceback): bad input is a message."""
    from toolkit.errors import UsageError

    error = (
        UsageError(message, hint=hint) if code == EXIT_USAGE else ToolkitError(message, hint=hint)
    )
    raise error


def print_json(payload: Any) -> None:
    """Machine-readable output on stdout (``--json``): one JSON document."""
    import json

    typer.echo(json.dumps(payload, indent=2, sort_keys=True, default=str))


def main_entry() -> None:
    """The ``toolkit`` console script."""
    try:
        app(prog_name="toolkit")
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)


__all__ = [
    "EXIT_USAGE",
    "ToolkitGroup",
    "app",
    "console",
    "fail",
    "main_entry",
    "print_json",
]
