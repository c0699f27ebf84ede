"""Drive a Gradio app in a real headless Chromium (Debian's ``/usr/bin/chromium``).

Playwright's Python driver talks to the system browser; it never downloads one (no
``playwright install``). Every wait is bounded, and the app is served on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: Gradio's chatbot DOM (gradio 6.x): every assistant bubble, thought panels and their parts.
BOT_MESSAGE = '#chatbot [data-testid="bot"]'
THOUGHT = "#chatbot .thought-group"
THOUGHT_TITLE = "#chatbot .thought-group .title"
THOUGHT_DURATION = "#chatbot .thought-group .duration"
#: The spinner Gradio shows next to a thought's title while its status is "pending".
THOUGHT_SPINNER = "#chatbot .thought-group .loading-spinner"
INPUT = "#chat-input textarea"
#: The Stop button that replaces Send inside the input box while a turn runs.
STOP_BUTTON = "#chat-input button.stop-button"


def chromium_path() -> str:
    """The system Chromium, or skip (with the reason) where there is none."""
    for candidate in (os.environ.get("TOOLKIT_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    raise AssertionError("unreachable")


@contextmanager
def chromium_browser() -> Iterator[Any]:
    """A headless Chromium; fails the test with the driver's error if Playwright cannot start."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=executable, args=CHROMIUM_ARGS, timeout=60_000
            )
        except PlaywrightError as error:
            pytest.fail(f"Playwright could not start {executable}: {error}")
        try:
            yield browser
        finally:
            browser.close()


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (Gradio needs a number; it cannot report port 0 back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(demo: Any) -> Iterator[str]:
    """Launch a Gradio app in this process on 127.0.0.1 and yield its URL; close it after."""
    demo.launch(
        prevent_thread_lock=True,
        server_name="127.0.0.1",
        server_port=free_port(),
        quiet=True,
        share=False,
    )
    try:
        yield demo.local_url
    finally:
        demo.close()


def ask(page: Any, question: str) -> int:
    """Type a question into the chat box and submit it with Enter.

    Returns how many assistant bubbles there were before, for :func:`wait_reply`.
    """
    box = page.locator(INPUT)
    box.wait_for(state="visible", timeout=30_000)
    before = page.locator(BOT_MESSAGE).count()
    box.fill(question)
    box.press("Enter")
    return before


def bot_texts(page: Any) -> list[str]:
    """The visible text of every assistant bubble, in order."""
    return [text.strip() for text in page.locator(BOT_MESSAGE).all_inner_texts()]


def wait_for_answer(page: Any, expected: str, timeout_ms: int = 60_000) -> None:
    """Wait until an assistant bubble outside the thought panels contains ``expected``."""
    page.wait_for_function(
        """(expected) => [...document.querySelectorAll('#chatbot [data-testid="bot"]')]
            .some((bot) => {
                const clone = bot.cloneNode(true);
                clone.querySelectorAll('.thought-group').forEach((t) => t.remove());
                return clone.innerText.includes(expected);
            })""",
        arg=expected,
        timeout=timeout_ms,
    )


def answer_text(page: Any) -> str:
    """The last assistant bubble's text without its thought panels (the answer part)."""
    return page.evaluate(
        """() => {
            const bots = [...document.querySelectorAll('#chatbot [data-testid="bot"]')];
            if (!bots.length) return '';
            const clone = bots[bots.length - 1].cloneNode(true);
            clone.querySelectorAll('.thought-group').forEach((t) => t.remove());
            return clone.innerText.trim();
        }"""
    )


def wait_idle(page: Any, timeout_ms: int = 60_000) -> None:
    """Wait until the chat is no longer generating (the input box is editable again)."""
    page.wait_for_function(
        """() => { const box = document.querySelector('#chat-input textarea');
                   return box && !box.disabled
                       && !document.querySelector('#chatbot [aria-label="Loading response"]'); }""",
        timeout=timeout_ms,
    )


def wait_thought_settled(page: Any, timeout_ms: int = 10_000) -> None:
    """Wait until the first thought panel is open and its slide-in transition has ended."""
    page.wait_for_function(
        """() => { const c = document.querySelector('#chatbot .thought-group .content');
                   return c && !c.hasAttribute('inert') && !c.getAttribute('style'); }""",
        timeout=timeout_ms,
    )


def wait_reply(page: Any, bubbles_before: int, timeout_ms: int = 60_000) -> None:
    """Wait for a new assistant bubble, then for the generation to end.

    Waiting for "idle" alone races the submission (right after Enter nothing is loading yet).
    """
    page.wait_for_function(
        """(before) => document.querySelectorAll('#chatbot [data-testid="bot"]').length > before""",
        arg=bubbles_before,
        timeout=timeout_ms,
    )
    wait_idle(page, timeout_ms)


def screenshot_dir(tmp_path_factory: Any) -> Path:
    """Where screenshots are kept: ``$TOOLKIT_SCREENSHOT_DIR`` (e.g. a CI artefact folder) or a
    pytest temporary directory (pytest keeps the last three runs)."""
    configured = os.environ.get("TOOLKIT_SCREENSHOT_DIR")
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("space_screenshots", numbered=True)


def wait_no_spinner(page: Any, timeout_ms: int = 10_000) -> None:
    """Wait until no thought panel shows its spinner."""
    page.wait_for_function(
        "() => !document.querySelector('#chatbot .thought-group .loading-spinner')",
        timeout=timeout_ms,
    )


def screenshot(page: Any, path: Path) -> Path:
    """A full-page PNG; asserts it was written and is a real PNG."""
    page.screenshot(path=str(path), full_page=True)
    data = path.read_bytes()
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n", f"bad screenshot {path}"
    return path
