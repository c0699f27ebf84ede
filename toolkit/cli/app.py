"""The root Typer application; every verb module under ``toolkit.cli`` registers on it."""

from __future__ import annotations

import logging

import typer
from rich.console import Console
from rich.logging import RichHandler

app = typer.Typer(
    name="toolkit",
    help="Distil DeepSeek-R1-style reasoning into small models: "
    "generate → normalize → verify → curate → push → train → evaluate → publish → chat.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
console = Console(stderr=True)


@app.callback()
def main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)],
        force=True,
    )
    for noisy in ("httpx", "httpcore", "urllib3", "filelock", "fsspec"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def fail(message: str, code: int = 1) -> None:
    """Print a one-line error (no traceback) and exit: bad input is a message, not a stack."""
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)
