"""The Gradio app: chat with a distilled reasoning model, its thinking shown apart.

Used by ``spaces/app.py`` (a Hugging Face Space) and ``toolkit space``; everything else in
:mod:`toolkit.chat` is Gradio-free and unit-testable.

A small ``Blocks`` app rather than ``gr.ChatInterface``, for one reason: Stop. ChatInterface's
Stop cancels the running task, so the generator cannot send a last view and the Thinking panel
keeps its spinner for good. Here Stop only *signals* the running turn
(:meth:`ChatSession.respond`'s ``stop``); the turn closes the model's stream, sends a settled
view and ends normally, so the display and the conversation state agree.

Several visitors stream at once: the chat event's Gradio concurrency limit is
:attr:`SpaceSettings.resolved_concurrency` (Gradio's default is one chat at a time).
"""

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from toolkit.backends import Model
from toolkit.chat.render import to_display
from toolkit.chat.session import ChatSession
from toolkit.chat.settings import SpaceSettings

#: (shown on the example card, sent to the model): cards show plain text (they are not
#: rendered as Markdown), the chat renders the LaTeX of the message that is sent.
EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "What is the sum of the first 10 positive odd numbers?",
        "What is the sum of the first 10 positive odd numbers?",
    ),
    (
        "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips "
        "in May. How many clips did Natalia sell altogether in April and May?",
        "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips "
        "in May. How many clips did Natalia sell altogether in April and May?",
    ),
    ("Solve for x: 2x + 3 = 11.", "Solve for $x$: $2x + 3 = 11$."),
    ("How many positive divisors does 360 have?", "How many positive divisors does $360$ have?"),
)

#: KaTeX delimiters: display math first, so ``$$`` is not read as two empty ``$`` spans.
LATEX_DELIMITERS: list[dict[str, Any]] = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "\\[", "right": "\\]", "display": True},
    {"left": "$", "right": "$", "display": False},
    {"left": "\\(", "right": "\\)", "display": False},
]

DESCRIPTION = (
    "The model's reasoning streams into the collapsible *Thinking* panel; the answer appears "
    "below it. Earlier thinking is not sent back to the model."
)


class _Turns:
    """The running (or queued) turn of each browser session, so Stop can reach it."""

    def __init__(self) -> None:
        self.stops: dict[str, asyncio.Event] = {}

    def open(self, key: str) -> asyncio.Event:
        event = asyncio.Event()
        self.stops[key] = event
        return event

    def stop(self, key: str) -> None:
        event = self.stops.get(key)
        if event is not None:
            event.set()

    def close(self, key: str, event: asyncio.Event) -> None:
        if self.stops.get(key) is event:
            del self.stops[key]


# No ``from __future__ import annotations`` here: Gradio finds ``gr.Request`` and
# ``gr.SelectData`` parameters by their annotations, which must be real classes (gradio is
# imported inside build_demo, so string annotations could not be resolved).


def _session_key(request: Any) -> str:
    return str(getattr(request, "session_hash", None) or id(request))


def build_demo(
    settings: SpaceSettings | None = None,
    *,
    model: Model | None = None,
    examples: Sequence[tuple[str, str] | str] = EXAMPLES,
) -> Any:
    """The Gradio Blocks app used by ``spaces/app.py`` and ``toolkit space``.

    A server's model name is asked for here (``/v1/models``) when none was configured, so the
    title names the model; a server that is down only costs that (the chat retries later).
    """
    import gradio as gr

    settings = settings or SpaceSettings.from_env()
    session = ChatSession(settings, model)
    session.identify()
    turns = _Turns()
    title = session.title

    async def start(message: str, history: list[dict], request: gr.Request) -> tuple:
        """Show the question at once and lock the input (Stop replaces Send)."""
        turns.open(_session_key(request))
        shown = [*(history or []), {"role": "user", "content": to_display(message or "")}]
        locked = gr.Textbox(value="", interactive=False, submit_btn=False, stop_btn=True)
        return locked, shown, message, list(history or [])

    async def start_example(
        history: list[dict], selected: gr.SelectData, request: gr.Request
    ) -> tuple:
        value = selected.value
        text = value.get("text", "") if isinstance(value, dict) else str(value)
        return await start(text, history, request)

    async def respond(
        message: str,
        history: list[dict],
        system_prompt: str,
        temperature: float,
        max_new_tokens: float,
        request: gr.Request,
    ) -> AsyncIterator[list[dict]]:
        key = _session_key(request)
        stop = turns.stops.get(key) or turns.open(key)
        asked = [*(history or []), {"role": "user", "content": to_display(message or "")}]
        try:
            async for shown in session.respond(
                message, history or [], system_prompt, temperature, max_new_tokens, stop=stop
            ):
                yield [*asked, *shown]
        finally:
            turns.close(key, stop)

    def unlock() -> Any:
        return gr.Textbox(interactive=True, submit_btn=True, stop_btn=False)

    async def stop_turn(request: gr.Request) -> None:
        # async: asyncio.Event.set() must run on the event loop, not in a worker thread
        turns.stop(_session_key(request))

    cards = [
        {"display_text": item[0], "text": item[1]}
        if isinstance(item, tuple)
        else {"display_text": item, "text": item}
        for item in examples
    ]
    limit = settings.resolved_concurrency
    with gr.Blocks(title=title, fill_height=True) as demo:
        gr.Markdown(f"# {to_display(title)}\n\n{DESCRIPTION}", elem_id="header")
        chatbot = gr.Chatbot(
            elem_id="chatbot",
            label="Chat",
            latex_delimiters=LATEX_DELIMITERS,
            placeholder="Ask a math or reasoning question.",
            examples=cards or None,
            scale=1,
            height="60vh",
            buttons=["copy", "copy_all"],
        )
        textbox = gr.Textbox(
            elem_id="chat-input",
            placeholder=f"Your question (up to {settings.max_input_chars:,} characters)",
            max_length=settings.max_input_chars,
            show_label=False,
            lines=1,
            max_lines=8,
            submit_btn=True,
            stop_btn=False,
            autofocus=True,
        )
        with gr.Accordion("Settings", open=False):
            system_box = gr.Textbox(
                value=settings.system_prompt,
                label="System prompt",
                placeholder="None: DeepSeek advises no system prompt for R1 models; "
                "put instructions in your message.",
                lines=2,
                elem_id="system-prompt",
            )
            temperature = gr.Slider(
                0.0, 1.5, value=settings.temperature, step=0.05, label="Temperature",
                elem_id="temperature",
            )  # fmt: skip
            # Gradio refuses a value below the slider's minimum: a small default lowers it.
            fine = settings.max_new_tokens < 16
            max_tokens = gr.Slider(
                1 if fine else 16,
                settings.max_new_tokens_limit,
                value=settings.max_new_tokens,
                step=1 if fine else 16,
                label="Max new tokens",
                elem_id="max-new-tokens",
            )
        question = gr.State("")
        before = gr.State([])

        settings_inputs = [system_box, temperature, max_tokens]
        hidden = {"queue": False, "api_visibility": "undocumented"}
        for started in (
            textbox.submit(
                start, [textbox, chatbot], [textbox, chatbot, question, before], **hidden
            ),
            chatbot.example_select(
                start_example, [chatbot], [textbox, chatbot, question, before], **hidden
            ),
        ):
            started.then(
                respond,
                [question, before, *settings_inputs],
                [chatbot],
                concurrency_limit=limit,
                concurrency_id="chat",
                api_visibility="undocumented",
            ).then(unlock, None, [textbox], **hidden)
        textbox.stop(stop_turn, None, None, **hidden)

        # The API (gradio_client, the load test): one call streams one turn.
        api_message = gr.Textbox(visible=False)
        gr.Button(visible=False).click(
            respond,
            [api_message, chatbot, *settings_inputs],
            [chatbot],
            api_name="chat",
            concurrency_limit=limit,
            concurrency_id="chat",
        )
    demo.queue(default_concurrency_limit=limit)
    return demo


__all__ = ["DESCRIPTION", "EXAMPLES", "LATEX_DELIMITERS", "build_demo"]
