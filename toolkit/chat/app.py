"""The Gradio app: chat with a distilled reasoning model, its thinking shown apart.

Used by ``spaces/app.py`` (a Hugging Face Space) and ``toolkit space``; everything else in
:mod:`toolkit.chat` is Gradio-free and unit-testable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from toolkit.backends import Model
from toolkit.chat.session import ChatSession
from toolkit.chat.settings import SpaceSettings

EXAMPLES: tuple[str, ...] = (
    "What is the sum of the first 10 positive odd numbers?",
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in "
    "May. How many clips did Natalia sell altogether in April and May?",
    "Solve for $x$: $2x + 3 = 11$.",
    "How many positive divisors does $360$ have?",
)

#: KaTeX delimiters: display math first, so ``$$`` is not read as two empty ``$`` spans.
LATEX_DELIMITERS: list[dict[str, Any]] = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "\\[", "right": "\\]", "display": True},
    {"left": "$", "right": "$", "display": False},
    {"left": "\\(", "right": "\\)", "display": False},
]


def build_demo(
    settings: SpaceSettings | None = None,
    *,
    model: Model | None = None,
    examples: Sequence[str] = EXAMPLES,
) -> Any:
    """The Gradio Blocks app used by ``spaces/app.py`` and ``toolkit space``."""
    import gradio as gr

    settings = settings or SpaceSettings.from_env()
    session = ChatSession(settings, model)

    async def respond(
        message: str,
        history: list[dict],
        system_prompt: str,
        temperature: float,
        max_new_tokens: float,
    ) -> AsyncIterator[list[dict]]:
        async for shown in session.respond(
            message, history, system_prompt, temperature, max_new_tokens
        ):
            yield shown

    description = (
        f"Model: {session.model.model}. The model's reasoning streams into the "
        "collapsible *Thinking* panel; the answer appears below it. Earlier thinking is not "
        "sent back to the model."
    )
    # Components are created unrendered: ChatInterface places them (the settings go into its
    # collapsed "Settings" accordion).
    chatbot = gr.Chatbot(
        elem_id="chatbot",
        label="Chat",
        latex_delimiters=LATEX_DELIMITERS,
        placeholder="Ask a math or reasoning question.",
        scale=1,
        buttons=["copy", "copy_all"],
        render=False,
    )
    textbox = gr.Textbox(
        elem_id="chat-input",
        placeholder=f"Your question (up to {settings.max_input_chars:,} characters)",
        max_length=settings.max_input_chars,
        show_label=False,
        lines=1,
        max_lines=8,
        submit_btn=True,
        stop_btn=True,
        render=False,
    )
    system_box = gr.Textbox(
        value=settings.system_prompt,
        label="System prompt",
        lines=2,
        elem_id="system-prompt",
        render=False,
    )
    temperature = gr.Slider(
        0.0,
        1.5,
        value=settings.temperature,
        step=0.05,
        label="Temperature",
        elem_id="temperature",
        render=False,
    )
    max_tokens = gr.Slider(
        16,
        settings.max_new_tokens_limit,
        value=settings.max_new_tokens,
        step=16,
        label="Max new tokens",
        elem_id="max-new-tokens",
        render=False,
    )
    demo = gr.ChatInterface(
        respond,
        chatbot=chatbot,
        textbox=textbox,
        additional_inputs=[system_box, temperature, max_tokens],
        additional_inputs_accordion=gr.Accordion("Settings", open=False, render=False),
        examples=[[example, None, None, None] for example in examples] or None,
        cache_examples=False,
        title=settings.display_title,
        description=description,
        fill_height=True,
        autofocus=True,
    )
    return demo


__all__ = ["EXAMPLES", "LATEX_DELIMITERS", "build_demo"]
