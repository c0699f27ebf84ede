"""Chat turns through the one model layer (scripted models, loopback servers, a local
transformers model): prefilled thinking (14.1), truncation and dropped connections (14.2), Stop
(14.3), R1 defaults (14.4), raw errors kept in the log (14.5). Servers, secrets and histories:
``test_space_servers.py``."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from tests.helpers.servers import FaultPlan, OpenAIServer
from tests.helpers.space_backends import (
    LoopbackChatServer,
    ScriptedModel,
    final_view,
    run_turn,
)
from toolkit.backends import Delta
from toolkit.backends.transformers import TransformersModel
from toolkit.chat.session import ChatSession
from toolkit.chat.settings import SpaceSettings
from toolkit.chat.stream import (
    NOTICE_PREFIX,
    STOPPED_NOTICE,
    STOPPED_TITLE,
    UNFINISHED_TITLE,
)
from toolkit.errors import BackendError

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
    outputs = run_turn(
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
    run_turn(ChatSession(SpaceSettings(), model), "2+2?")
    assert model.calls[0]["messages"] == [{"role": "user", "content": "2+2?"}]
    assert model.calls[0]["params"].max_new_tokens == 8192


def test_respond_rejects_empty_and_too_long_input_without_calling_the_backend():
    model = ScriptedModel([Delta(content="x")])
    session = ChatSession(SpaceSettings(max_input_chars=10), model)
    assert run_turn(session, "   ") == [
        [{"role": "assistant", "content": f"{NOTICE_PREFIX}Type a question first."}]
    ]
    (too_long,) = run_turn(session, "x" * 11)
    assert "11 characters; the limit is 10" in too_long[0]["content"]
    assert model.calls == []


def test_respond_turns_unexpected_errors_into_a_one_line_notice(caplog):
    """Issue 14.5: the raw message goes to the server log, the visitor gets a friendly line."""
    model = ScriptedModel(
        [Delta(content="Partial ")], fail=RuntimeError("CUDA exploded\nTraceback"), finish=None
    )
    with caplog.at_level(logging.WARNING, logger="toolkit.chat.session"):
        outputs = run_turn(ChatSession(SpaceSettings(), model), "q")
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
        (shown,) = run_turn(ChatSession(SpaceSettings(), model), "q")
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
        views = run_turn(ChatSession(SpaceSettings(backend="openai", base_url=server.url)), "6*7?")
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
        views = run_turn(session, "6*7?")
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
        first = run_turn(session, "6*7?", max_new_tokens=3)[-1]
        run_turn(session, "And 6*8?", [{"role": "user", "content": "6*7?"}, *first])
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
        views = run_turn(ChatSession(settings), "6*7?")
    first = next(view for view in views if "Thinking aloud" in str(view))
    assert ("metadata" not in first[0]) == first_view_is_answer
    assert views[-1][-1] == {"role": "assistant", "content": "42"}


# --------------------------------------------------------------------------------------------
# issue 14.2: truncation and dropped connections are noticed
# --------------------------------------------------------------------------------------------


def test_answer_cut_by_the_token_limit_is_noticed():
    with LoopbackChatServer(["ok"], ["The answer ", "is"], finish_reason="length") as server:
        final = final_view(SpaceSettings(backend="openai", base_url=server.url), max_new_tokens=5)
    assert final[1] == {"role": "assistant", "content": "The answer is"}
    assert final[2]["content"].startswith(NOTICE_PREFIX)
    assert "cut off at the token limit (5 tokens)" in final[2]["content"]


@pytest.mark.parametrize("drop_after", [1, 3])
def test_dropped_connection_is_noticed_not_shown_as_a_finished_answer(drop_after):
    pieces = ["Half of 48 ", "is 24."]
    with LoopbackChatServer(pieces, ["48 + 24 ", "= 72"], drop_after=drop_after) as server:
        final = final_view(SpaceSettings(backend="openai", base_url=server.url))
    assert all(m.get("metadata", {}).get("status") != "pending" for m in final)
    assert final[-1]["content"].startswith(NOTICE_PREFIX)
    assert "connection to the model was lost" in final[-1]["content"]
    if drop_after == 3:  # what arrived is kept
        assert final[1] == {"role": "assistant", "content": "48 + 24"}


def test_dropped_connection_from_the_team_fault_server():
    with OpenAIServer(model="r1", faults=FaultPlan(rate_drop=1.0), stream_chunk_chars=8) as server:
        final = final_view(SpaceSettings(backend="openai", base_url=server.url + "/v1"))
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
    (view,) = run_turn(ChatSession(SpaceSettings(), model), "q", stop=stop)
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
