"""The root Typer application, and the CLI's one error boundary.

Every verb module under ``toolkit.cli`` registers on :data:`app`. :class:`ToolkitGroup` wraps
every command: a :class:`toolkit.errors.ToolkitError` (a problem the user can fix) prints as one
line plus a hint and exits with the error's code; anything else is a bug and shows its
traceback. ``TOOLKIT_DEBUG=1`` shows the traceback of user errors too.

Exit codes: ``0`` success, ``1`` failure (including "some samples failed"), ``2`` usage error.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

import click
import typer
from typer.core import TyperGroup

from toolkit.errors import EXIT_USAGE, ToolkitError


@functools.cache
def stderr_console() -> Any:
    """The CLI's one rich ``Console`` (on stderr), created on first use."""
    from rich.console import Console

    return Console(stderr=True)


class _LazyConsole:
    """Stands for :func:`stderr_console` until something is printed: importing rich costs
    ~40 ms, which every ``toolkit --help`` would pay for a console it never uses."""

    def __getattr__(self, name: str) -> Any:
        return getattr(stderr_console(), name)


console: Any = _LazyConsole()


def debug_enabled() -> bool:
    return os.environ.get("TOOLKIT_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


def report_error(error: ToolkitError) -> None:
    """One red line with the message (redacted), and the hint when there is one."""
    from rich.markup import escape

    from toolkit.redact import redact

    console.print(f"[bold red]error:[/] {escape(redact(error.message))}", soft_wrap=True)
    if error.hint:
        console.print(f"[dim]hint:[/] {escape(redact(error.hint))}", soft_wrap=True)


#: Log records in which a stage reports its own result. Every CLI verb prints its summary itself
#: (one line, or a JSON document with ``--json``), so the CLI drops these records instead of
#: showing each summary twice; Python API users still get them through ``logging``. Keyed by
#: logger, matched against the record's message *template* (``record.msg``).
STAGE_SUMMARIES: dict[str, tuple[str, ...]] = {
    "toolkit.generation.traces": (r"generate: %s$",),
    "toolkit.formats": (r"%s \(%s, format %s\)$", r"detected format %s "),
    "toolkit.verification": (r"verified %d rows in ",),
    "toolkit.curate": (r"%s$",),
    "toolkit.store": (r"%s: (pushed version|content identical|version %s staged)",),
    "toolkit.publishing": (r"(wrote|published) %s",),
    "toolkit.evaluation.runner": (
        r"[^\s:]+: (\S+ = |no problem has all its samples)",
        r"wrote %s and %s$",
        r"\d+ of \d+ samples failed after their retries",
    ),
    "toolkit.training.sft": (r"trained %d steps in ",),
}
_SUMMARY_PATTERNS = {
    name: re.compile("|".join(f"(?:{p})" for p in patterns))
    for name, patterns in STAGE_SUMMARIES.items()
}


def is_stage_summary(record: logging.LogRecord) -> bool:
    """Whether ``record`` is a stage's summary line that the CLI prints itself."""
    pattern = _SUMMARY_PATTERNS.get(record.name)
    return pattern is not None and pattern.match(str(record.msg)) is not None


class _DropStageSummaries(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not is_stage_summary(record)


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
    from rich.logging import RichHandler

    handler = RichHandler(console=stderr_console(), show_path=False, rich_tracebacks=False)
    handler.addFilter(_DropStageSummaries())
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[handler],
        force=True,
    )
    from toolkit.redact import install_log_filter

    install_log_filter()
    for noisy in ("httpx", "httpcore", "urllib3", "filelock", "fsspec", "aiohttp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if "datasets" in sys.modules:  # imported already (tests): switch its bars off directly
        sys.modules["datasets"].disable_progress_bars()
    if not debug_enabled():
        quiet_library_warnings()


def quiet_library_warnings() -> None:
    """Hide deprecation notices that libraries print about their *own* internals (transformers'
    "`gradient_checkpointing` is deprecated", torch's "'pin_memory' … no accelerator"): a user
    cannot act on them, and they bury the toolkit's output. ``TOOLKIT_DEBUG=1`` shows them."""
    import warnings

    for module in ("transformers", "trl", "peft", "torch", "accelerate"):
        warnings.filterwarnings("ignore", category=FutureWarning, module=module)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
    warnings.filterwarnings("ignore", message=".*'pin_memory' argument is set as true.*")


def quiet_model_loading() -> None:
    """transformers' own "Loading weights" / "Writing model shards" bars (a verb that loads a
    local model calls this first): the toolkit draws the progress that matters (samples, steps)."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    if not debug_enabled():  # "generation flags are not valid" and other notes about internals
        transformers_logging.set_verbosity_error()


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


#: Suffixes that name a *file*: an option that expects a directory refuses them, as ``-o
#: out.txt`` would otherwise create a directory called ``out.txt``.
FILE_SUFFIXES = (".txt", ".json", ".jsonl", ".parquet", ".csv", ".md", ".yaml", ".yml", ".png")


def check_output_file(output: Path | str) -> Path:
    """A table output (``-o``) checked *before* any work: a bad suffix fails in a second,
    not after an hour of generation or grading."""
    from toolkit.io import check_output_path

    return check_output_path(output)


def check_output_dir(output: Path | str, option: str = "--output") -> Path:
    """A directory output checked before any work: an existing file, or a name that looks like
    a file (``results.json``, ``out.txt``), is refused."""
    from toolkit.errors import UsageError

    path = Path(output)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path} is a file; {option} names a directory")
    if not path.exists() and path.suffix.lower() in FILE_SUFFIXES:
        raise UsageError(
            f"{option} {path} looks like a file name; {option} names a directory",
            hint=f"e.g. {option} {path.with_suffix('')}",
        )
    return path


def main_entry() -> None:
    """The ``toolkit`` console script."""
    try:
        app(prog_name="toolkit")
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)


__all__ = [
    "EXIT_USAGE",
    "STAGE_SUMMARIES",
    "ToolkitGroup",
    "app",
    "check_output_dir",
    "check_output_file",
    "console",
    "fail",
    "is_stage_summary",
    "main_entry",
    "print_json",
    "quiet_model_loading",
]
