"""Command-line interface: ``toolkit VERB ...`` (same verbs as the Python API).

Each verb lives in its own module and registers itself on :data:`toolkit.cli.app.app`.
Modules import their heavy dependencies (torch, transformers, gradio) inside the commands, so that
``toolkit --help`` stays fast.
"""

from toolkit.cli import normalize as _normalize  # noqa: F401
from toolkit.cli.app import app

__all__ = ["app"]
