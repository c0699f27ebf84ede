"""The Space in a real headless Chromium: type a question, watch the thinking, read the answer.

Two backends: a loopback OpenAI-compatible server that streams ``reasoning_content`` (the answer
is held back until the test has seen the pending thinking panel), and the real SmolLM2-135M
model through the local transformers backend.
"""

from __future__ import annotations

import re
import socket
import threading

import pytest
from toolkit.space import NOTICE_PREFIX, SpaceSettings, build_demo

from tests.helpers.browser import (
    THOUGHT,
    THOUGHT_DURATION,
    THOUGHT_SPINNER,
    THOUGHT_TITLE,
    answer_text,
    ask,
    chromium_browser,
    screenshot,
    served,
    wait_for_answer,
    wait_idle,
    wait_reply,
    wait_thought_settled,
)
from tests.helpers.space_backends import LoopbackChatServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as browser:
        yield browser


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def test_streamed_reasoning_shows_in_a_thinking_panel_then_the_answer(page, tmp_path):
    gate = threading.Event()
    reasoning = ["Half of 48 ", "is 24, ", "and 48 + 24 = 72."]
    answer = ["Natalia sold ", "$48 + 24 = ", "\\boxed{72}$ clips."]
    with LoopbackChatServer(reasoning, answer, delay_s=0.05, gate=gate) as server:
        settings = SpaceSettings(backend="openai", base_url=server.url, max_new_tokens=128)
        with served(build_demo(settings)) as url:
            page.goto(url)
            ask(page, "How many clips did Natalia sell in April and May?")

            # While the reasoning streams (the answer is held back), the panel is pending.
            live = page.locator(THOUGHT).get_by_text("and 48 + 24 = 72.")
            live.wait_for(timeout=30_000)
            wait_thought_settled(page)
            assert live.is_visible()
            assert page.locator(THOUGHT_TITLE).first.inner_text().strip() == "Thinking"
            assert page.locator(THOUGHT_SPINNER).count() == 1
            pending_shot = screenshot(page, tmp_path / "space_thinking_pending.png")

            gate.set()
            wait_for_answer(page, "Natalia sold")
            wait_idle(page)
            # Done: the panel shows its duration, and the answer (with KaTeX) sits apart from it.
            duration = page.locator(THOUGHT_DURATION).first.inner_text()
            assert re.fullmatch(r"\(\d+(\.\d+)?s\)", duration.strip()), duration
            assert page.locator(THOUGHT_SPINNER).count() == 0
            answer = answer_text(page)
            assert answer.startswith("Natalia sold") and "Half of 48" not in answer
            assert page.locator("#chatbot .katex").count() >= 1
            done_shot = screenshot(page, tmp_path / "space_thinking_done.png")

            # Second turn: the model is not sent the earlier thinking.
            before = ask(page, "And in June, twice as many as May?")
            wait_reply(page, before)
            page.wait_for_function(
                "() => document.querySelectorAll('#chatbot .thought-group').length >= 2"
            )
            second = server.requests[1]["messages"]
    assert "Half of 48" not in str(second)
    assert second[-2] == {
        "role": "assistant",
        "content": "Natalia sold $48 + 24 = \\boxed{72}$ clips.",
    }
    print(f"screenshots: {pending_shot} {done_shot}")


def test_backend_down_shows_a_friendly_message(page, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = SpaceSettings(backend="openai", base_url=f"http://127.0.0.1:{port}/v1", model="m")
    with served(build_demo(settings)) as url:
        page.goto(url)
        before = ask(page, "Hello?")
        wait_reply(page, before)
        wait_for_answer(page, "is not reachable")
        text = answer_text(page)
        assert text.startswith(NOTICE_PREFIX.strip())
        assert "Traceback" not in page.content()
        screenshot(page, tmp_path / "space_backend_down.png")


def test_real_smollm2_model_answers_through_transformers(page, tmp_path, smollm2_dir):
    settings = SpaceSettings(
        backend="transformers",
        model=str(smollm2_dir),
        system_prompt="You are a helpful assistant. Answer in one short sentence.",
        temperature=0.0,
        max_new_tokens=24,
    )
    demo = build_demo(settings)
    with served(demo) as url:
        page.goto(url)
        before = ask(page, "What is the capital of France?")
        wait_reply(page, before, timeout_ms=120_000)
        answer = answer_text(page)
        shot = screenshot(page, tmp_path / "space_smollm2.png")
    # SmolLM2 does not think: an answer, no thinking panel, no error notice.
    assert answer and not answer.startswith(NOTICE_PREFIX.strip()), answer
    assert page.locator(THOUGHT).count() == 0
    assert "Paris" in answer, answer
    print(f"screenshot: {shot}")
