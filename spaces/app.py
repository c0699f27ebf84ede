"""Hugging Face Space: chat with a distilled reasoning model, its thinking shown apart.

The chat logic lives in :mod:`toolkit.chat` (also behind ``toolkit space``); this file only wires
it up. Configure it with Space variables (Settings → Variables and secrets), listed in README.md:

* ``TOOLKIT_SPACE_BACKEND`` — ``transformers`` (default: the model runs in the Space),
  ``ollama`` or ``openai`` (any OpenAI-compatible server);
* ``TOOLKIT_SPACE_MODEL`` — a Hub id (or Ollama tag / served model name);
* ``TOOLKIT_SPACE_BASE_URL`` and the secret ``TOOLKIT_SPACE_API_KEY`` for remote servers;
* ``TOOLKIT_SPACE_PREFILLED_THINKING``, ``TOOLKIT_SPACE_MAX_NEW_TOKENS``, … (see README.md).

Errors are logged here, redacted (no API key, even when a server echoes it); visitors only ever
see a friendly line.

Run it from a clone with ``python spaces/app.py`` or ``toolkit space``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# In the repository the package sits one level up; on the Space, sync-space.yml uploads it next
# to this file. Either copy wins over an unrelated installed "toolkit".
for _root in (_HERE, _HERE.parent):
    if (_root / "toolkit" / "__init__.py").is_file():
        if str(_root) not in sys.path:
            sys.path.insert(0, str(_root))
        break

try:
    from toolkit.chat import SpaceSettings, build_demo
    from toolkit.errors import ToolkitError
    from toolkit.redact import install_log_filter, redact
except ImportError as error:  # a Space uploaded without its toolkit/ folder
    raise SystemExit(
        f"cannot import the toolkit ({error}). Upload this folder with "
        ".github/scripts/sync_space.sh (it adds toolkit/ next to app.py), or add the package "
        "to requirements.txt, e.g. 'r1-distill-toolkit @ git+https://github.com/ORG/REPO'."
    ) from None

log = logging.getLogger("space")
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
install_log_filter()

SETTINGS = SpaceSettings.from_env()
MODEL = SETTINGS.build_model()
demo = build_demo(SETTINGS, model=MODEL)

if __name__ == "__main__":
    load = getattr(MODEL, "load", None)
    if load is not None:  # load the weights before the first visitor, not during their question
        try:
            load()
        except (ToolkitError, OSError, ValueError) as error:
            log.error("the model cannot be loaded: %s", redact(error))  # visitors: a notice
    demo.launch()
