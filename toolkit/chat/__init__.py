"""The chat stage: talk to a distilled model with its thinking shown apart from the answer.

:mod:`~toolkit.chat.settings` (what to talk to, R1-sensible defaults), :mod:`~toolkit.chat.stream`
(deltas → thinking panel + answer + notices, history cleaning), :mod:`~toolkit.chat.render`
(model output made safe to show: HTML escaped, no remote images, bare ``\\boxed{}`` rendered),
:mod:`~toolkit.chat.session` (one turn through the shared model layer: Stop, errors, redaction)
and :mod:`~toolkit.chat.app` (the Gradio app). Importing this package imports no datasets,
pandas, pyarrow, torch or gradio, so a Space needs only what chat needs.
"""

from toolkit.chat.session import ChatSession
from toolkit.chat.settings import SpaceSettings
from toolkit.chat.stream import ThinkingStreamParser, clean_history
from toolkit.lazy import lazy_getattr

__all__ = ["ChatSession", "SpaceSettings", "ThinkingStreamParser", "build_demo", "clean_history"]


# build_demo imports gradio only when asked for
__getattr__ = lazy_getattr(__name__, globals(), {"build_demo": "toolkit.chat.app:build_demo"})
