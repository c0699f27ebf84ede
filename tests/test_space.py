"""The Space's chat logic: streaming parser, history cleaning, backends, limits and errors."""

from __future__ import annotations

import importlib.util
import socket
import sys
import threading
from pathlib import Path

import pytest
import yaml
from toolkit.space import (
    NOTICE_PREFIX,
    THINKING_TITLE,
    UNFINISHED_TITLE,
    BackendUnavailable,
    ChatSession,
    ChatStream,
    Delta,
    OllamaBackend,
    OpenAICompatibleBackend,
    SpaceSettings,
    ThinkingStreamParser,
    TransformersBackend,
    clean_history,
    make_backend,
    prompt_is_prefilled,
    state_to_messages,
)

from tests.helpers.space_backends import LoopbackChatServer

REPO = Path(__file__).resolve().parent.parent


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
# settings
# --------------------------------------------------------------------------------------------


def test_settings_from_env_and_overrides(monkeypatch):
    monkeypatch.setenv("TOOLKIT_SPACE_BACKEND", "OpenAI")
    monkeypatch.setenv("TOOLKIT_SPACE_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("TOOLKIT_SPACE_API_KEY", "sk-secret-value")
    monkeypatch.setenv("TOOLKIT_SPACE_MAX_NEW_TOKENS", "256")
    settings = SpaceSettings.from_env(temperature=0.2, model=None)
    assert settings.backend == "openai" and settings.max_new_tokens == 256
    assert settings.temperature == 0.2 and settings.model is None
    assert "sk-secret-value" not in repr(settings)
    backend = make_backend(settings)
    assert isinstance(backend, OpenAICompatibleBackend)
    assert backend.base_url == "http://127.0.0.1:9/v1"


def test_settings_defaults_per_backend(monkeypatch):
    assert isinstance(make_backend(SpaceSettings()), TransformersBackend)
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:1")
    ollama = make_backend(SpaceSettings.from_env(backend="ollama"))
    assert isinstance(ollama, OllamaBackend) and ollama.host == "http://127.0.0.1:1"
    assert SpaceSettings(model="/runs/my-student/").display_title.startswith("my-student")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TOOLKIT_SPACE_BACKEND": "vllm"}, "backend 'vllm' is not one of"),
        ({"TOOLKIT_SPACE_TEMPERATURE": "hot"}, "TOOLKIT_SPACE_TEMPERATURE='hot' is not a number"),
        ({"TOOLKIT_SPACE_MAX_NEW_TOKENS": "0"}, "max_new_tokens=0 must be between"),
    ],
)
def test_bad_settings_are_clear_errors(monkeypatch, env, message):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        SpaceSettings.from_env()


# --------------------------------------------------------------------------------------------
# chat turns
# --------------------------------------------------------------------------------------------


class RecordingBackend:
    """Streams a fixed script and records what it was sent."""

    def __init__(
        self, deltas: list[Delta], *, prefilled: bool = False, fail: Exception | None = None
    ):
        self.deltas = deltas
        self.prefilled = prefilled
        self.fail = fail
        self.calls: list[dict] = []

    def describe(self) -> str:
        return "recording"

    def open_stream(self, messages, *, temperature, max_new_tokens):
        self.calls.append(
            {"messages": messages, "temperature": temperature, "max_new_tokens": max_new_tokens}
        )

        def deltas():
            yield from self.deltas
            if self.fail is not None:
                raise self.fail

        return ChatStream(deltas(), prefilled=self.prefilled)


def test_respond_streams_thinking_then_answer_and_sends_clean_history():
    backend = RecordingBackend(
        [Delta(reasoning="Two twos "), Delta(reasoning="make four."), Delta(content="**4**")]
    )
    session = ChatSession(SpaceSettings(max_new_tokens=256, max_new_tokens_limit=512), backend)
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "secret thoughts", "metadata": {"title": "Thinking"}},
        {"role": "assistant", "content": "hello"},
    ]
    outputs = list(session.respond("2+2?", history, "Be brief.", 0.3, 10_000))
    assert outputs[0][0]["metadata"]["status"] == "pending"
    assert outputs[-1][0]["metadata"]["status"] == "done"
    assert outputs[-1][0]["content"] == "Two twos make four."
    assert outputs[-1][1] == {"role": "assistant", "content": "**4**"}
    call = backend.calls[0]
    assert call["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "2+2?"},
    ]
    assert call["temperature"] == 0.3 and call["max_new_tokens"] == 512  # clamped


def test_respond_rejects_empty_and_too_long_input_without_calling_the_backend():
    backend = RecordingBackend([Delta(content="x")])
    session = ChatSession(SpaceSettings(max_input_chars=10), backend)
    assert list(session.respond("   ", [])) == [
        [{"role": "assistant", "content": f"{NOTICE_PREFIX}Type a question first."}]
    ]
    (too_long,) = list(session.respond("x" * 11, []))
    assert "11 characters; the limit is 10" in too_long[0]["content"]
    assert backend.calls == []


def test_respond_turns_unexpected_errors_into_a_one_line_notice():
    backend = RecordingBackend(
        [Delta(content="Partial ")], fail=RuntimeError("CUDA exploded\nTraceback")
    )
    outputs = list(ChatSession(SpaceSettings(), backend).respond("q", []))
    last = outputs[-1]
    assert last[0] == {"role": "assistant", "content": "Partial"}
    assert last[1]["content"].startswith(NOTICE_PREFIX)
    assert "RuntimeError: CUDA exploded" in last[1]["content"]
    assert "Traceback" not in last[1]["content"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_openai_backend_down_gives_a_friendly_message():
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    settings = SpaceSettings(backend="openai", base_url=url, model="m", request_timeout=5)
    (output,) = list(ChatSession(settings).respond("hello", []))
    text = output[0]["content"]
    assert text.startswith(NOTICE_PREFIX)
    assert f"The model server at {url} is not reachable" in text
    assert "Traceback" not in text


def test_ollama_backend_down_gives_a_friendly_message():
    host = f"http://127.0.0.1:{_closed_port()}"
    settings = SpaceSettings(backend="ollama", base_url=host, model="r1:1.5b", request_timeout=5)
    (output,) = list(ChatSession(settings).respond("hello", []))
    assert output[0]["content"] == (
        f"{NOTICE_PREFIX}Ollama is not reachable at {host}. Start it with `ollama serve` "
        "(and `ollama pull r1:1.5b`), then send your message again."
    )


def test_openai_backend_streams_reasoning_content_from_a_loopback_server():
    with LoopbackChatServer(["Half of 48 ", "is 24."], ["48 + 24 = ", "**72**"]) as server:
        settings = SpaceSettings(backend="openai", base_url=server.url, temperature=0.0)
        outputs = list(ChatSession(settings).respond("Clips?", [], max_new_tokens=64))
        (request,) = server.requests
    assert request["model"] == "loopback-reasoner"  # the first served model
    assert request["stream"] is True and request["max_tokens"] == 64
    assert any(out[0]["metadata"].get("status") == "pending" for out in outputs)
    final = outputs[-1]
    assert final[0]["content"] == "Half of 48 is 24."
    assert final[0]["metadata"]["status"] == "done"
    assert final[1]["content"] == "48 + 24 = **72**"


def test_openai_backend_with_inline_think_tags():
    with LoopbackChatServer(["a", "b"], ["done"], inline_think=True) as server:
        backend = OpenAICompatibleBackend(server.url, "loopback-reasoner")
        outputs = list(ChatSession(SpaceSettings(backend="openai"), backend).respond("q", []))
    assert outputs[-1][0]["content"] == "ab" and outputs[-1][1]["content"] == "done"


def test_ollama_backend_streams_thinking_from_a_loopback_server():
    with LoopbackChatServer(["Think ", "hard."], ["Answer."], protocol="ollama") as server:
        settings = SpaceSettings(backend="ollama", base_url=server.url, model="r1")
        outputs = list(ChatSession(settings).respond("q", [], temperature=0.1, max_new_tokens=32))
        (request,) = server.requests
    assert request["think"] is True and request["options"]["num_predict"] == 32
    assert outputs[-1][0]["content"] == "Think hard."
    assert outputs[-1][1]["content"] == "Answer."


def test_second_turn_sends_no_thinking_back_to_the_server():
    gate = threading.Event()
    gate.set()
    with LoopbackChatServer(["SECRET-REASONING"], ["Four."], gate=gate) as server:
        session = ChatSession(SpaceSettings(backend="openai", base_url=server.url))
        first = list(session.respond("2+2?", []))[-1]
        history = [{"role": "user", "content": "2+2?"}, *first]
        list(session.respond("And 3+3?", history))
        second = server.requests[1]["messages"]
    assert "SECRET-REASONING" not in str(second)
    assert second[-3:] == [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "Four."},
        {"role": "user", "content": "And 3+3?"},
    ]


# --------------------------------------------------------------------------------------------
# transformers backend (tiny random model: fast, deterministic with greedy decoding)
# --------------------------------------------------------------------------------------------


def test_prompt_is_prefilled():
    assert prompt_is_prefilled("<|im_start|>assistant\n<think>\n")
    assert not prompt_is_prefilled("<|im_start|>assistant\n")


def test_transformers_backend_detects_a_prefilled_template(tiny_model_dir):
    backend = TransformersBackend(str(tiny_model_dir))
    backend.load()
    messages = [{"role": "user", "content": "What is 2+2?"}]
    stream = backend.open_stream(messages, temperature=0.0, max_new_tokens=4)
    assert not stream.prefilled
    assert "".join(d.content for d in stream.deltas)  # real tokens were generated

    backend._tokenizer.chat_template += "{% if add_generation_prompt %}<think>\n{% endif %}"
    outputs = list(ChatSession(SpaceSettings(), backend).respond("2+2?", [], "", 0.0, 6))
    final = outputs[-1]
    # A prefilled template whose model never closes the thinking: all of it is reasoning,
    # shown as unfinished with a notice, never glued into the answer.
    assert final[0]["metadata"]["title"] == UNFINISHED_TITLE
    assert final[0]["content"].strip()
    assert final[1]["content"].startswith(NOTICE_PREFIX) and "6 tokens" in final[1]["content"]


def test_transformers_backend_folds_the_system_prompt_into_templates_without_one(
    tiny_model_dir,
):
    from toolkit.models import TINY_CHAT_TEMPLATE

    backend = TransformersBackend(str(tiny_model_dir))
    backend.load()
    backend._tokenizer.chat_template = (
        "{% if messages[0]['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}" + TINY_CHAT_TEMPLATE
    )
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    prompt = backend.render_prompt(messages)
    assert "<|im_start|>user\nBe brief.\n\nHi<|im_end|>" in prompt
    assert "<|im_start|>system" not in prompt


def test_transformers_backend_missing_model_is_a_clear_message(tmp_path):
    backend = TransformersBackend(str(tmp_path / "no-such-model"))
    with pytest.raises(BackendUnavailable, match="Could not load the model"):
        backend.load()
    (output,) = list(ChatSession(SpaceSettings(), backend).respond("hi", []))
    assert output[0]["content"].startswith(f"{NOTICE_PREFIX}Could not load the model")


# --------------------------------------------------------------------------------------------
# the Space folder
# --------------------------------------------------------------------------------------------


def _front_matter(path: Path) -> dict:
    text = path.read_text()
    assert text.startswith("---\n"), "README.md must start with YAML front matter"
    return yaml.safe_load(text.split("---\n", 2)[1])


def test_space_readme_front_matter_is_valid():
    import gradio

    meta = _front_matter(REPO / "spaces" / "README.md")
    assert meta["sdk"] == "gradio"
    assert meta["sdk_version"] == gradio.__version__
    assert (REPO / "spaces" / meta["app_file"]).is_file()
    for key in ("title", "emoji", "colorFrom", "colorTo", "license", "short_description"):
        assert meta.get(key), f"front matter lacks {key}"
    colors = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
    assert meta["colorFrom"] in colors and meta["colorTo"] in colors
    assert len(meta["short_description"]) <= 60
    assert isinstance(meta["models"], list) and meta["models"]
    from toolkit.space import DEFAULT_TRANSFORMERS_MODEL

    assert DEFAULT_TRANSFORMERS_MODEL in meta["models"]


def test_space_requirements_cover_the_toolkit_runtime():
    """The Space runs the vendored toolkit package: every core dependency must be installed."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

    def name(requirement: str) -> str:
        for stop in "[<>=!~ ;":
            requirement = requirement.split(stop)[0]
        return requirement.strip().lower().replace("_", "-")

    lines = (REPO / "spaces" / "requirements.txt").read_text().splitlines()
    listed = {name(line) for line in lines if line.strip() and not line.startswith("#")}
    needed = {name(dep) for dep in project["dependencies"]}
    needed |= {"transformers", "torch", "openai", "ollama", "accelerate", "peft"}
    assert needed <= listed, f"missing from spaces/requirements.txt: {sorted(needed - listed)}"
    assert "gradio" not in listed  # the Space's sdk_version installs gradio


def test_space_app_imports_standalone_and_builds_the_demo(monkeypatch):
    monkeypatch.setenv("TOOLKIT_SPACE_BACKEND", "openai")
    monkeypatch.setenv("TOOLKIT_SPACE_BASE_URL", f"http://127.0.0.1:{_closed_port()}/v1")
    spec = importlib.util.spec_from_file_location("space_app", REPO / "spaces" / "app.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "space_app", module)
    spec.loader.exec_module(module)
    import gradio

    assert isinstance(module.demo, gradio.Blocks)
    assert module.SETTINGS.backend == "openai"


# --------------------------------------------------------------------------------------------
# toolkit space (CLI)
# --------------------------------------------------------------------------------------------


def _cli_space_module():
    import importlib

    return importlib.import_module("toolkit.cli.space")


def test_cli_space_launches_the_app_for_a_trained_model_dir(monkeypatch, tiny_model_dir):
    from typer.testing import CliRunner

    from toolkit.cli import app

    launched = {}

    def fake_launch(demo, *, host, port, share):
        launched.update(demo=demo, host=host, port=port, share=share)

    monkeypatch.setattr(_cli_space_module(), "launch", fake_launch)
    result = CliRunner().invoke(
        app, ["space", "--model", str(tiny_model_dir), "--port", "0", "--max-new-tokens", "32"]
    )
    assert result.exit_code == 0, result.output
    import gradio

    assert isinstance(launched["demo"], gradio.Blocks)
    assert launched == {**launched, "host": "127.0.0.1", "port": 0, "share": False}
    assert str(tiny_model_dir) in result.output or tiny_model_dir.name in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "./no/such/dir"], "does not exist"),
        (["--backend", "vllm"], "--backend 'vllm' is not one of"),
    ],
)
def test_cli_space_bad_arguments_are_one_line_errors(monkeypatch, args, message):
    from typer.testing import CliRunner

    from toolkit.cli import app

    monkeypatch.setattr(_cli_space_module(), "launch", lambda *a, **k: pytest.fail("launched"))
    result = CliRunner().invoke(app, ["space", *args])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_cli_space_rejects_a_dir_that_is_not_a_model(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from toolkit.cli import app

    monkeypatch.setattr(_cli_space_module(), "launch", lambda *a, **k: pytest.fail("launched"))
    result = CliRunner().invoke(app, ["space", "--model", str(tmp_path)])
    assert result.exit_code == 1
    assert "is not a model directory" in " ".join(result.output.split())


# --------------------------------------------------------------------------------------------
# against the team's loopback teacher servers (tests/helpers/servers.py)
# --------------------------------------------------------------------------------------------


def _final(settings: SpaceSettings, **kwargs) -> list[dict]:
    return list(ChatSession(settings).respond("What is 6 times 7?", [], **kwargs))[-1]


def test_openai_server_with_a_reasoning_field_named_reasoning():
    from tests.helpers.servers import OpenAIServer

    with OpenAIServer(model="r1", reasoning_field="reasoning", stream_chunk_chars=8) as server:
        final = _final(SpaceSettings(backend="openai", base_url=server.url + "/v1"))
    assert final[0]["metadata"]["status"] == "done"
    assert final[0]["content"].startswith("Let me work through this carefully")
    assert final[1]["content"].startswith("The answer is \\boxed{")


def test_openai_server_cut_off_while_thinking_shows_unfinished_reasoning():
    from tests.helpers.servers import OpenAIServer

    with OpenAIServer(model="r1", reasoning_chars=2000) as server:
        final = _final(
            SpaceSettings(backend="openai", base_url=server.url + "/v1"), max_new_tokens=12
        )
    assert final[0]["metadata"] == {"title": UNFINISHED_TITLE}
    assert len(final[0]["content"].split()) == 12  # the 12 words the server sent, all kept
    assert final[1]["content"].startswith(NOTICE_PREFIX) and "12 tokens" in final[1]["content"]


def test_openai_server_that_refuses_gives_a_friendly_message():
    from tests.helpers.servers import OpenAIServer

    with OpenAIServer(model="r1", api_key="right-key") as server:
        settings = SpaceSettings(
            backend="openai", base_url=server.url + "/v1", model="r1", api_key="wrong-key"
        )
        final = _final(settings)
    assert final == [
        {
            "role": "assistant",
            "content": f"{NOTICE_PREFIX}The model server at {server.url}/v1 refused the request "
            "(HTTP 401: Incorrect API key provided.). Check TOOLKIT_SPACE_API_KEY.",
        }
    ]


def test_ollama_model_without_thinking_is_retried_without_think():
    from tests.helpers.servers import OllamaServer

    with OllamaServer(models={"smol": {"thinking": False}}) as server:
        final = _final(SpaceSettings(backend="ollama", base_url=server.url, model="smol"))
        first, second = server.requests
    assert first["think"] is True and "think" not in second
    # Without thinking the model's whole output is the answer.
    assert final == [{"role": "assistant", "content": final[0]["content"]}]
    assert "The answer is" in final[0]["content"]


def test_ollama_thinking_model_streams_message_thinking():
    from tests.helpers.servers import OllamaServer

    with OllamaServer(models={"qwen3:0.6b": {"thinking": True}}) as server:
        final = _final(SpaceSettings(backend="ollama", base_url=server.url, model="qwen3:0.6b"))
    assert final[0]["metadata"]["status"] == "done"
    assert "Let me work through this carefully" in final[0]["content"]
    assert final[1]["content"].startswith("The answer is")


def test_ollama_unknown_model_and_mid_stream_errors_are_friendly():
    from tests.helpers.servers import FaultPlan, OllamaServer

    with OllamaServer(models={"qwen3:0.6b": {"thinking": True}}) as server:
        unknown = _final(SpaceSettings(backend="ollama", base_url=server.url, model="nope"))
    assert unknown[0]["content"] == (
        f"{NOTICE_PREFIX}Ollama at {server.url} refused the request for 'nope' "
        "(HTTP 404: model 'nope' not found)."
    )
    plan = FaultPlan(rate_stream_error=1.0)
    with OllamaServer(models={"qwen3:0.6b": {"thinking": True}}, faults=plan) as server:
        broken = _final(SpaceSettings(backend="ollama", base_url=server.url, model="qwen3:0.6b"))
    assert broken[0]["metadata"]["title"] == THINKING_TITLE  # the reasoning seen so far is kept
    assert broken[-1]["content"].startswith(f"{NOTICE_PREFIX}The model backend failed")
    assert "unexpected EOF" in broken[-1]["content"]
