"""Command-line interface: ``toolkit VERB ...`` (same verbs as the Python API).

Each verb lives in its own module and registers itself on :data:`toolkit.cli.app.app`.
Modules import their heavy dependencies (torch, transformers, gradio) inside the commands, so that
``toolkit --help`` stays fast.
"""

from toolkit.cli import curate as _curate  # noqa: F401
from toolkit.cli import evaluate as _evaluate  # noqa: F401
from toolkit.cli import generate as _generate  # noqa: F401
from toolkit.cli import hub as _hub  # noqa: F401
from toolkit.cli import normalize as _normalize  # noqa: F401
from toolkit.cli import quickstart as _quickstart  # noqa: F401
from toolkit.cli import space as _space  # noqa: F401
from toolkit.cli import train as _train  # noqa: F401
from toolkit.cli import verify as _verify  # noqa: F401
from toolkit.cli.app import app

__all__ = ["app"]
