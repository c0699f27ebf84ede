"""Chat turns through the one model layer: scripted models, the loopback OpenAI-compatible and
Ollama servers, and a local transformers model — what a visitor sees, what the model is sent,
what reaches the server log (issues 14.1–14.5, 15.2)."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time

import pytest

from tests.helpers.servers import FaultPlan, OllamaServer, OpenAIServer
from tests.helpers.space_backends import LoopbackChatServer, ScriptedModel
from toolkit.backends import Delta
from toolkit.backends.openai import OpenAIModel
from toolkit.backends.transformers import TransformersModel, prompt_is_prefilled
from toolkit.chat.session import ChatSession
from toolkit.chat.settings import SpaceSettings
from toolkit.chat.stream import (
    NOTICE_PREFIX,
    STOPPED_NOTICE,
    STOPPED_TITLE,
    THINKING_TITLE,
    UNFINISHED_TITLE,
)
from toolkit.errors import BackendError


def turn(session: ChatSession, message: str, history=(), **kwargs) -> list[list[dict]]:
    """Every view one turn yields (its own event loop; connections closed after)."""

    async def run() -> list[list[dict]]:
        try:
            return [shown async for shown in session.respond(message, list(history), **kwargs)]
        finally:
            await session.aclose()

    return asyncio.run(run())


def _final(settings: SpaceSettings, **kwargs) -> list[dict]:
    return turn(ChatSession(settings), "What is 6 times 7?", **kwargs)[-1]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _visible(views: list[list[dict]]) -> str:
    return repr(views)


# --------------------------------------------------------------------------------------------
# turns with a scripted model
# --------------------------------------------------------------------------------------------


def test_respond_streams_thinking_then_answer_and_sends_clean_history():
    model = ScriptedModel(
        [Delta(reasoning="Two twos "), Delta(reasoning="make four."), Delta(content="**4**")]
    )
    session = ChatSession(SpaceSettings(max_new_tokens=256, max_new_tokens_limit=512), model)
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "secret thoughts", "metadata": {"title": "Thinking"}},
        {"role": "assistant", "content": "hello"},
    ]
    outputs = turn(
        session, "2+2?", history, system_prompt="Be brief.", temperature=0.3, max_new_tokens=10_000
    )
    assert outputs[0][0]["metadata"]["status"] == "pending"
    assert outputs[-1][0]["metadata"]["status"] == "done"
    assert outputs[-1][0]["content"] == "Two twos make four."
    assert outputs[-1][1] == {"role": "assistant", "content": "**4**"}
    call = model.calls[0]
    assert call["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "2+2?"},
    ]
    params = call["params"]
    assert params.temperature == 0.3 and params.max_new_tokens == 512  # clamped


def test_no_system_prompt_is_sent_by_default():
    """Issue 14.4: DeepSeek advises no system prompt for R1 models."""
    model = ScriptedModel([Delta(content="4")])
    turn(ChatSession(SpaceSettings(), model), "2+2?")
    assert model.calls[0]["messages"] == [{"role": "user", "content": "2+2?"}]
    assert model.calls[0]["params"].max_new_tokens == 8192


def test_respond_rejects_empty_and_too_long_input_without_calling_the_backend():
    model = ScriptedModel([Delta(content="x")])
    session = ChatSession(SpaceSettings(max_input_chars=10), model)
    assert turn(session, "   ") == [
        [{"role": "assistant", "content": f"{NOTICE_PREFIX}Type a question first."}]
    ]
    (too_long,) = turn(session, "x" * 11)
    assert "11 characters; the limit is 10" in too_long[0]["content"]
    assert model.calls == []


def test_respond_turns_unexpected_errors_into_a_one_line_notice(caplog):
    """Issue 14.5: the raw message goes to the server log, the visitor gets a friendly line."""
    model = ScriptedModel(
        [Delta(content="Partial ")], fail=RuntimeError("CUDA exploded\nTraceback"), finish=None
    )
    with caplog.at_level(logging.WARNING, logger="toolkit.chat.session"):
        outputs = turn(ChatSession(SpaceSettings(), model), "q")
    last = outputs[-1]
    assert last[0] == {"role": "assistant", "content": "Partial"}
    assert last[1]["content"].startswith(NOTICE_PREFIX)
    assert "CUDA" not in last[1]["content"] and "Traceback" not in last[1]["content"]
    assert "RuntimeError: CUDA exploded" in caplog.text


@pytest.mark.parametrize(
    "error",
    [
        BackendError(
            "HTTP 500: CUDA out of memory. Tried to allocate 2.00 GiB", status=500, retryable=True
        ),
        BackendError("cannot load the model '/srv/models/student': OSError: no file", fatal=True),
    ],
)
def test_backend_errors_reach_the_log_not_the_visitor(caplog, error):
    model = ScriptedModel([], fail=error, finish=None)
    with caplog.at_level(logging.WARNING, logger="toolkit.chat.session"):
        (shown,) = turn(ChatSession(SpaceSettings(), model), "q")
    text = shown[-1]["content"]
    assert text.startswith(NOTICE_PREFIX)
    for detail in ("CUDA", "/srv/", "OSError", "HTTP 500"):
        assert detail not in text
    assert error.message in caplog.text


# --------------------------------------------------------------------------------------------
# issue 14.1: templates that prefill <think>, behind servers
# --------------------------------------------------------------------------------------------


def test_server_with_a_prefilled_template_streams_pending_thinking_not_an_answer():
    """vLLM without a reasoning parser serving an R1 distill under any name: the reasoning
    arrives as plain content until ``</think>``. Before it, nothing is shown as an answer."""
    reasoning = ["Six sevens: ", "7, 14, 21, ", "28, 35, 42."]
    with LoopbackChatServer(
        reasoning, ["It is **42**."], prefilled=True, model="my-model", delay_s=0.08
    ) as server:
        views = turn(ChatSession(SpaceSettings(backend="openai", base_url=server.url)), "6*7?")
    pending = [view for view in views if view[0]["metadata"].get("status") == "pending"]
    assert len(pending) >= 2  # several views while thinking, each only a pending panel
    assert all(len(view) == 1 for view in pending), pending
    for view in views:  # an answer only ever shows under a closed thinking panel
        if len(view) > 1:
            assert view[0]["metadata"]["status"] == "done", view
    final = views[-1]
    assert final[0]["content"] == "Six sevens: 7, 14, 21, 28, 35, 42."
    assert final[0]["metadata"]["status"] == "done"
    assert final[1] == {"role": "assistant", "content": "It is **42**."}


def test_r1_served_name_means_prefilled_and_the_panel_shows_before_the_first_token():
    with LoopbackChatServer(
        ["Hmm."], ["42"], prefilled=True, model="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
    ) as server:
        session = ChatSession(SpaceSettings(backend="openai", base_url=server.url))
        session.identify()  # learns the served name from /v1/models
        assert session.title == "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
        views = turn(session, "6*7?")
    assert views[0] == [
        {
            "role": "assistant",
            "content": "…",
            "metadata": {"title": "Thinking", "status": "pending"},
        }
    ]
    assert views[-1][1] == {"role": "assistant", "content": "42"}


def test_thinking_cut_by_the_limit_is_not_the_answer_and_not_sent_back():
    with LoopbackChatServer(
        ["Let me ", "think about ", "SECRET-REASONING"],
        [],
        prefilled=True,
        finish_reason="length",
        model="r1-distill-qwen",
    ) as server:
        session = ChatSession(SpaceSettings(backend="openai", base_url=server.url))
        first = turn(session, "6*7?", max_new_tokens=3)[-1]
        turn(session, "And 6*8?", [{"role": "user", "content": "6*7?"}, *first])
        second = server.requests[1]["messages"]
    assert first[0]["metadata"] == {"title": UNFINISHED_TITLE}
    assert "SECRET-REASONING" in first[0]["content"]
    assert first[1]["content"].startswith(NOTICE_PREFIX) and "3 tokens" in first[1]["content"]
    assert second == [{"role": "user", "content": "And 6*8?"}]


@pytest.mark.parametrize(
    ("setting", "first_view_is_answer"), [("auto", False), ("true", False), ("false", True)]
)
def test_prefilled_thinking_setting(setting, first_view_is_answer):
    with LoopbackChatServer(
        ["Thinking aloud"], ["42"], prefilled=True, model="my-model", delay_s=0.06
    ) as server:
        settings = SpaceSettings(backend="openai", base_url=server.url, prefilled_thinking=setting)
        views = turn(ChatSession(settings), "6*7?")
    first = next(view for view in views if "Thinking aloud" in str(view))
    assert ("metadata" not in first[0]) == first_view_is_answer
    assert views[-1][-1] == {"role": "assistant", "content": "42"}


# --------------------------------------------------------------------------------------------
# issue 14.2: truncation and dropped connections are noticed
# --------------------------------------------------------------------------------------------


def test_answer_cut_by_the_token_limit_is_noticed():
    with LoopbackChatServer(["ok"], ["The answer ", "is"], finish_reason="length") as server:
        final = _final(SpaceSettings(backend="openai", base_url=server.url), max_new_tokens=5)
    assert final[1] == {"role": "assistant", "content": "The answer is"}
    assert final[2]["content"].startswith(NOTICE_PREFIX)
    assert "cut off at the token limit (5 tokens)" in final[2]["content"]


@pytest.mark.parametrize("drop_after", [1, 3])
def test_dropped_connection_is_noticed_not_shown_as_a_finished_answer(drop_after):
    pieces = ["Half of 48 ", "is 24."]
    with LoopbackChatServer(pieces, ["48 + 24 ", "= 72"], drop_after=drop_after) as server:
        final = _final(SpaceSettings(backend="openai", base_url=server.url))
    assert all(m.get("metadata", {}).get("status") != "pending" for m in final)
    assert final[-1]["content"].startswith(NOTICE_PREFIX)
    assert "connection to the model was lost" in final[-1]["content"]
    if drop_after == 3:  # what arrived is kept
        assert final[1] == {"role": "assistant", "content": "48 + 24"}


def test_dropped_connection_from_the_team_fault_server():
    with OpenAIServer(model="r1", faults=FaultPlan(rate_drop=1.0), stream_chunk_chars=8) as server:
        final = _final(SpaceSettings(backend="openai", base_url=server.url + "/v1"))
    assert final[0]["metadata"] == {"title": UNFINISHED_TITLE}  # reasoning kept, settled
    assert "connection to the model was lost" in final[-1]["content"]


# --------------------------------------------------------------------------------------------
# issue 14.3: Stop ends the stream and the spinner at once
# --------------------------------------------------------------------------------------------


def test_stop_closes_the_http_stream_and_settles_the_view():
    reasoning = [f"step {i}. " for i in range(60)]
    with LoopbackChatServer(reasoning, ["done"], delay_s=0.1) as server:
        session = ChatSession(SpaceSettings(backend="openai", base_url=server.url))

        async def run() -> tuple[list[list[dict]], float]:
            stop = asyncio.Event()
            views: list[list[dict]] = []
            stopped_at = 0.0
            try:
                async for view in session.respond("count", [], stop=stop):
                    views.append(view)
                    if len(views) == 2:
                        stop.set()
                        stopped_at = time.monotonic()
                return views, time.monotonic() - stopped_at
            finally:
                await session.aclose()

        views, latency = asyncio.run(run())
        assert server.disconnected.wait(10), "the HTTP stream was not closed"
    final = views[-1]
    assert latency < 0.5, latency
    assert final[0]["metadata"] == {"title": STOPPED_TITLE}
    assert final[-1]["content"] == f"{NOTICE_PREFIX}{STOPPED_NOTICE}"
    assert "step 59" not in str(final)


def test_stop_before_the_turn_starts_calls_no_model():
    model = ScriptedModel([Delta(content="x")])
    stop = asyncio.Event()
    stop.set()
    (view,) = turn(ChatSession(SpaceSettings(), model), "q", stop=stop)
    assert view == [{"role": "assistant", "content": f"{NOTICE_PREFIX}{STOPPED_NOTICE}"}]
    assert model.calls == []


def test_stop_does_not_wait_for_a_slow_token():
    """A CPU model can take seconds per token: Stop answers at once, the stream is closed."""
    model = ScriptedModel([Delta(reasoning="a"), Delta(reasoning="b")], delay_s=5.0)

    async def run() -> float:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.2, stop.set)
        started = time.monotonic()
        views = [
            view async for view in ChatSession(SpaceSettings(), model).respond("q", [], stop=stop)
        ]
        assert views[-1][-1]["content"] == f"{NOTICE_PREFIX}{STOPPED_NOTICE}"
        return time.monotonic() - started

    assert asyncio.run(run()) < 1.5
    assert model.closed_streams == 1


def test_stop_ends_a_local_generation(tiny_model_dir):
    model = TransformersModel(str(tiny_model_dir))
    session = ChatSession(SpaceSettings(), model)

    async def run() -> list[list[dict]]:
        stop = asyncio.Event()
        views = []
        async for view in session.respond(
            "Tell a long story.", [], temperature=1.0, max_new_tokens=4000, stop=stop
        ):
            views.append(view)
            stop.set()
        return views

    started = time.monotonic()
    views = asyncio.run(run())
    assert time.monotonic() - started < 30
    deadline = time.monotonic() + 10
    while any(t.name == "toolkit-stream" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the generation thread is still running"
        time.sleep(0.05)
    assert views[-1][-1]["content"] == f"{NOTICE_PREFIX}{STOPPED_NOTICE}"


# --------------------------------------------------------------------------------------------
# issue 14.5 / 15.2: operator details and secrets stay on the server
# --------------------------------------------------------------------------------------------


def test_openai_backend_down_gives_a_friendly_message(caplog):
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    settings = SpaceSettings(backend="openai", base_url=url, model="m", request_timeout=5)
    with caplog.at_level(logging.WARNING, logger="toolkit.chat.session"):
        (output,) = turn(ChatSession(settings), "hello")
    text = output[0]["content"]
    assert text.startswith(NOTICE_PREFIX) and "is not reachable" in text
    assert "127.0.0.1" not in text and "Traceback" not in text
    assert url.split("//")[1].split("/")[0] in caplog.text  # the operator sees where


def test_ollama_backend_down_gives_a_friendly_message():
    host = f"http://127.0.0.1:{_closed_port()}"
    settings = SpaceSettings(backend="ollama", base_url=host, model="r1:1.5b", request_timeout=5)
    (output,) = turn(ChatSession(settings), "hello")
    assert output[0]["content"].startswith(NOTICE_PREFIX)
    assert "is not reachable" in output[0]["content"] and "127.0.0.1" not in str(output)


@pytest.mark.parametrize("fault", ["401", "500"])
def test_the_owner_api_key_is_never_shown_even_when_the_server_echoes_it(caplog, fault):
    key = "sk-space-owner-0123456789abcdef"
    faults = FaultPlan(rate_500=1.0) if fault == "500" else None
    server_key = key if fault == "500" else "another-key-0123456789"
    with OpenAIServer(model="r1", api_key=server_key, echo_headers=True, faults=faults) as server:
        settings = SpaceSettings(
            backend="openai", base_url=server.url + "/v1", model="r1", api_key=key
        )
        with caplog.at_level(logging.DEBUG):
            final = _final(settings)
    text = final[-1]["content"]
    assert text.startswith(NOTICE_PREFIX)
    assert key not in str(final) and "Request headers" not in str(final)
    assert server.url not in str(final)
    if fault == "401":
        assert "authentication" in text and "owner" in text
    assert "Request headers" in caplog.text and key not in caplog.text  # logged, redacted


def test_ollama_raw_server_messages_stay_in_the_log(caplog):
    caplog.set_level(logging.WARNING, logger="toolkit.chat.session")
    thinking = {"qwen3:0.6b": {"thinking": True}}
    with OllamaServer(models=thinking) as server:
        unknown = _final(SpaceSettings(backend="ollama", base_url=server.url, model="nope"))
    assert unknown[0]["content"] == (
        f"{NOTICE_PREFIX}The model server does not serve this model. Please try again later."
    )
    assert "model 'nope' not found" in caplog.text
    with OllamaServer(models=thinking, faults=FaultPlan(rate_stream_error=1.0)) as server:
        settings = SpaceSettings(backend="ollama", base_url=server.url, model="qwen3:0.6b")
        broken = _final(settings)
    assert broken[0]["metadata"]["title"] == UNFINISHED_TITLE  # the reasoning seen so far
    assert broken[-1]["content"].startswith(NOTICE_PREFIX)
    assert "unexpected EOF" not in str(broken) and "unexpected EOF" in caplog.text


def test_title_is_the_served_model_name():
    with OpenAIServer(model="DeepSeek-R1-Distill-Qwen-7B") as server:
        session = ChatSession(SpaceSettings(backend="openai", base_url=server.url + "/v1"))
        session.identify()
    assert session.title == "DeepSeek-R1-Distill-Qwen-7B"
    down = ChatSession(
        SpaceSettings(backend="openai", base_url=f"http://127.0.0.1:{_closed_port()}/v1")
    )
    down.identify(timeout=10)
    assert down.title == "Reasoning chat"


# --------------------------------------------------------------------------------------------
# the loopback servers: reasoning fields, Ollama, history
# --------------------------------------------------------------------------------------------


def test_openai_backend_streams_reasoning_content_from_a_loopback_server():
    with LoopbackChatServer(["Half of 48 ", "is 24."], ["48 + 24 = ", "**72**"]) as server:
        settings = SpaceSettings(backend="openai", base_url=server.url, temperature=0.0)
        outputs = turn(ChatSession(settings), "Clips?", max_new_tokens=64)
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
        model = OpenAIModel("loopback-reasoner", server.url)
        outputs = turn(ChatSession(SpaceSettings(backend="openai"), model), "q")
    assert outputs[-1][0]["content"] == "ab" and outputs[-1][1]["content"] == "done"


def test_ollama_backend_streams_thinking_from_a_loopback_server():
    with LoopbackChatServer(["Think ", "hard."], ["Answer."], protocol="ollama") as server:
        settings = SpaceSettings(backend="ollama", base_url=server.url, model="r1")
        outputs = turn(ChatSession(settings), "q", temperature=0.1, max_new_tokens=32)
        (request,) = server.requests
    assert request["think"] is True and request["options"]["num_predict"] == 32
    assert outputs[-1][0]["content"] == "Think hard."
    assert outputs[-1][1]["content"] == "Answer."


def test_second_turn_sends_no_thinking_back_to_the_server():
    with LoopbackChatServer(["SECRET-REASONING"], ["Four < five."]) as server:
        session = ChatSession(SpaceSettings(backend="openai", base_url=server.url))
        first = turn(session, "2+2?")[-1]
        history = [{"role": "user", "content": "2+2?"}, *first]
        turn(session, "And 3+3?", history)
        second = server.requests[1]["messages"]
    assert "SECRET-REASONING" not in str(second)
    assert second[-3:] == [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "Four < five."},  # as written, not as displayed
        {"role": "user", "content": "And 3+3?"},
    ]


def test_long_answers_are_not_cut_by_the_request_timeout():
    """The timeout is an idle limit: a 2-second stream passes a 1-second timeout."""
    pieces = [f"{i} " for i in range(12)]
    with LoopbackChatServer(pieces, ["done"], delay_s=0.15) as server:
        settings = SpaceSettings(backend="openai", base_url=server.url, request_timeout=1.0)
        final = _final(settings)
    assert final[1] == {"role": "assistant", "content": "done"}


def test_openai_server_with_a_reasoning_field_named_reasoning():
    with OpenAIServer(model="r1", reasoning_field="reasoning", stream_chunk_chars=8) as server:
        final = _final(SpaceSettings(backend="openai", base_url=server.url + "/v1"))
    assert final[0]["metadata"]["status"] == "done"
    assert final[0]["content"].startswith("Let me work through this carefully")
    assert final[1]["content"].startswith("The answer is $\\boxed{")  # issue 14.4: rendered


def test_openai_server_cut_off_while_thinking_shows_unfinished_reasoning():
    with OpenAIServer(model="r1", reasoning_chars=2000) as server:
        final = _final(
            SpaceSettings(backend="openai", base_url=server.url + "/v1"), max_new_tokens=12
        )
    assert final[0]["metadata"] == {"title": UNFINISHED_TITLE}
    assert len(final[0]["content"].split()) == 12  # the 12 words the server sent, all kept
    assert final[1]["content"].startswith(NOTICE_PREFIX) and "12 tokens" in final[1]["content"]


def test_ollama_model_without_thinking_is_retried_without_think():
    with OllamaServer(models={"smol": {"thinking": False}}) as server:
        final = _final(SpaceSettings(backend="ollama", base_url=server.url, model="smol"))
        first, second = server.requests
    assert first["think"] is True and "think" not in second
    # Without thinking the model's whole output is the answer.
    assert final == [{"role": "assistant", "content": final[0]["content"]}]
    assert "The answer is" in final[0]["content"]


def test_ollama_thinking_model_streams_message_thinking():
    with OllamaServer(models={"qwen3:0.6b": {"thinking": True}}) as server:
        final = _final(SpaceSettings(backend="ollama", base_url=server.url, model="qwen3:0.6b"))
    assert final[0]["metadata"]["status"] == "done"
    assert "Let me work through this carefully" in final[0]["content"]
    assert final[1]["content"].startswith("The answer is")


# --------------------------------------------------------------------------------------------
# a local transformers model (tiny random model: fast, deterministic with greedy decoding)
# --------------------------------------------------------------------------------------------


def test_prompt_is_prefilled():
    assert prompt_is_prefilled("<|im_start|>assistant\n<think>\n")
    assert not prompt_is_prefilled("<|im_start|>assistant\n")


def test_transformers_backend_detects_a_prefilled_template(tiny_model_dir):
    model = TransformersModel(str(tiny_model_dir))
    session = ChatSession(SpaceSettings(), model)
    views = turn(session, "2+2?", system_prompt="", temperature=0.0, max_new_tokens=4)
    assert all(THINKING_TITLE not in str(view) for view in views)  # not prefilled
    assert views[-1][0]["content"] and "metadata" not in views[-1][0]  # real tokens

    model.load().tokenizer.chat_template += "{% if add_generation_prompt %}<think>\n{% endif %}"
    final = turn(session, "2+2?", system_prompt="", temperature=0.0, max_new_tokens=6)[-1]
    # A prefilled template whose model never closes the thinking: all of it is reasoning,
    # shown as unfinished with a notice, never glued into the answer.
    assert final[0]["metadata"]["title"] == UNFINISHED_TITLE
    assert final[0]["content"].strip()
    assert final[1]["content"].startswith(NOTICE_PREFIX) and "6 tokens" in final[1]["content"]


def test_transformers_backend_folds_the_system_prompt_into_templates_without_one(
    tiny_model_dir,
):
    from toolkit.models import TINY_CHAT_TEMPLATE

    model = TransformersModel(str(tiny_model_dir))
    model.load().tokenizer.chat_template = (
        "{% if messages[0]['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}" + TINY_CHAT_TEMPLATE
    )
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    prompt = model.render(messages)
    assert "<|im_start|>user\nBe brief.\n\nHi<|im_end|>" in prompt
    assert "<|im_start|>system" not in prompt


def test_transformers_backend_missing_model_is_a_friendly_message(tmp_path, caplog):
    missing = tmp_path / "no-such-model"
    session = ChatSession(SpaceSettings(model=str(missing)))
    with caplog.at_level(logging.WARNING, logger="toolkit.chat.session"):
        (output,) = turn(session, "hi")
    assert output[0]["content"].startswith(f"{NOTICE_PREFIX}The model is not available")
    assert str(tmp_path) not in str(output)
    assert "cannot load the model" in caplog.text and "no-such-model" in caplog.text
