"""``toolkit quickstart``: the whole pipeline on bundled problems (see :mod:`toolkit.quickstart`)."""

from __future__ import annotations

from toolkit.cli.app import app, quiet_model_loading, stderr_console
from toolkit.cli.options import with_config
from toolkit.errors import ToolkitError
from toolkit.quickstart import QuickstartConfig


@app.command()
@with_config(config=QuickstartConfig)
def quickstart(config: QuickstartConfig) -> None:
    """Run generate → normalize → verify → curate → push → train → evaluate (student and
    base) → card, offline; then `toolkit space --model local/quickstart-student` chats with it.

    Re-running resumes: finished stages are skipped (state in WORKDIR/quickstart.json).
    """
    from toolkit.quickstart import Quickstart

    quiet_model_loading()
    try:
        Quickstart(config, console=stderr_console()).run()
    except ToolkitError as error:  # anything else is a bug: its traceback shows
        resume = "re-run the same command to resume (finished stages are kept)"
        error.hint = f"{error.hint}; then {resume}" if error.hint else resume
        raise
