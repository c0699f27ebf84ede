"""The chat stage: talk to a distilled model with its thinking shown apart from the answer.

:mod:`~toolkit.chat.settings` (what to talk to), :mod:`~toolkit.chat.stream` (deltas → thinking
panel + answer, history cleaning), :mod:`~toolkit.chat.session` (one turn through the shared
model layer) and :mod:`~toolkit.chat.app` (the Gradio app). Importing this package imports no
datasets, pandas, pyarrow or torch, so a Space needs only what chat needs.
"""

from toolkit.chat.settings import SpaceSettings
from toolkit.chat.stream import ThinkingStreamParser, clean_history

__all__ = ["SpaceSettings", "ThinkingStreamParser", "build_demo", "clean_history"]


def __getattr__(name: str):  # build_demo imports gradio only when asked for
    if name == "build_demo":
        from toolkit.chat.app import build_demo

        return build_demo
    raise AttributeError(f"module 'toolkit.chat' has no attribute {name!r}")
