"""Chat turns against the loopback OpenAI-compatible and Ollama servers and a local transformers
model: operator details and secrets stay on the server (issues 14.5, 15.2), reasoning fields,
Ollama's thinking, clean histories, long streams."""

from __future__ import annotations

import logging

import pytest

from tests.helpers.servers import FaultPlan, OllamaServer, OpenAIServer
from tests.helpers.space_backends import (
    LoopbackChatServer,
    closed_port,
    final_view,
    run_turn,
)
from toolkit.backends.openai import OpenAIModel
from toolkit.backends.transformers import TransformersModel, prompt_is_prefilled
from toolkit.chat.session import ChatSession
from toolkit.chat.settings import SpaceSettings
from toolkit.chat.stream import NOTICE_PREFIX, THINKING_TITLE, UNFINISHED_TITLE

# --------------------------------------------------------------------------------------------
# issue 14.5 / 15.2: operator details and secrets stay on the server
# --------------------------------------------------------------------------------------------


def test_openai_backend_down_gives_a_friendly_message(caplog):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    settings = SpaceSettings(backend="openai", base_url=url, model="m", request_timeout=5)
    with caplog.at_level(logging.WARNING, logger="toolkit.chat.session"):
        (output,) = run_turn(ChatSession(settings), "hello")
    text = output[0]["content"]
    assert text.startswith(NOTICE_PREFIX) and "is not reachable" in text
    assert "127.0.0.1" not in text and "Traceback" not in text
    assert url.split("//")[1].split("/")[0] in caplog.text  # the operator sees where


def test_ollama_backend_down_gives_a_friendly_message():
    host = f"http://127.0.0.1:{closed_port()}"
    settings = SpaceSettings(backend="ollama", base_url=host, model="r1:1.5b", request_timeout=5)
    (output,) = run_turn(ChatSession(settings), "hello")
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
            final = final_view(settings)
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
        unknown = final_view(SpaceSettings(backend="ollama", base_url=server.url, model="nope"))
    assert unknown[0]["content"] == (
        f"{NOTICE_PREFIX}The model server does not serve this model. Please try again later."
    )
    assert "model 'nope' not found" in caplog.text
    with OllamaServer(models=thinking, faults=FaultPlan(rate_stream_error=1.0)) as server:
        settings = SpaceSettings(backend="ollama", base_url=server.url, model="qwen3:0.6b")
        broken = final_view(settings)
    assert broken[0]["metadata"]["title"] == UNFINISHED_TITLE  # the reasoning seen so far
    assert broken[-1]["content"].startswith(NOTICE_PREFIX)
    assert "unexpected EOF" not in str(broken) and "unexpected EOF" in caplog.text


def test_title_is_the_served_model_name():
    with OpenAIServer(model="DeepSeek-R1-Distill-Qwen-7B") as server:
        session = ChatSession(SpaceSettings(backend="openai", base_url=server.url + "/v1"))
        session.identify()
    assert session.title == "DeepSeek-R1-Distill-Qwen-7B"
    down = ChatSession(
        SpaceSettings(backend="openai", base_url=f"http://127.0.0.1:{closed_port()}/v1")
    )
    down.identify(timeout=10)
    assert down.title == "Reasoning chat"


# --------------------------------------------------------------------------------------------
# the loopback servers: reasoning fields, Ollama, history
# --------------------------------------------------------------------------------------------


def test_openai_backend_streams_reasoning_content_from_a_loopback_server():
    with LoopbackChatServer(["Half of 48 ", "is 24."], ["48 + 24 = ", "**72**"]) as server:
        settings = SpaceSettings(backend="openai", base_url=server.url, temperature=0.0)
        outputs = run_turn(ChatSession(settings), "Clips?", max_new_tokens=64)
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
        outputs = run_turn(ChatSession(SpaceSettings(backend="openai"), model), "q")
    assert outputs[-1][0]["content"] == "ab" and outputs[-1][1]["content"] == "done"


def test_ollama_backend_streams_thinking_from_a_loopback_server():
    with LoopbackChatServer(["Think ", "hard."], ["Answer."], protocol="ollama") as server:
        settings = SpaceSettings(backend="ollama", base_url=server.url, model="r1")
        outputs = run_turn(ChatSession(settings), "q", temperature=0.1, max_new_tokens=32)
        (request,) = server.requests
    assert request["think"] is True and request["options"]["num_predict"] == 32
    assert outputs[-1][0]["content"] == "Think hard."
    assert outputs[-1][1]["content"] == "Answer."


def test_second_turn_sends_no_thinking_back_to_the_server():
    with LoopbackChatServer(["SECRET-REASONING"], ["Four < five."]) as server:
        session = ChatSession(SpaceSettings(backend="openai", base_url=server.url))
        first = run_turn(session, "2+2?")[-1]
        history = [{"role": "user", "content": "2+2?"}, *first]
        run_turn(session, "And 3+3?", history)
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
        final = final_view(settings)
    assert final[1] == {"role": "assistant", "content": "done"}


def test_openai_server_with_a_reasoning_field_named_reasoning():
    with OpenAIServer(model="r1", reasoning_field="reasoning", stream_chunk_chars=8) as server:
        final = final_view(SpaceSettings(backend="openai", base_url=server.url + "/v1"))
    assert final[0]["metadata"]["status"] == "done"
    assert final[0]["content"].startswith("Let me work through this carefully")
    assert final[1]["content"].startswith("The answer is $\\boxed{")  # issue 14.4: rendered


def test_openai_server_cut_off_while_thinking_shows_unfinished_reasoning():
    with OpenAIServer(model="r1", reasoning_chars=2000) as server:
        final = final_view(
            SpaceSettings(backend="openai", base_url=server.url + "/v1"), max_new_tokens=12
        )
    assert final[0]["metadata"] == {"title": UNFINISHED_TITLE}
    assert len(final[0]["content"].split()) == 12  # the 12 words the server sent, all kept
    assert final[1]["content"].startswith(NOTICE_PREFIX) and "12 tokens" in final[1]["content"]


def test_ollama_model_without_thinking_is_retried_without_think():
    with OllamaServer(models={"smol": {"thinking": False}}) as server:
        final = final_view(SpaceSettings(backend="ollama", base_url=server.url, model="smol"))
        first, second = server.requests
    assert first["think"] is True and "think" not in second
    # Without thinking the model's whole output is the answer.
    assert final == [{"role": "assistant", "content": final[0]["content"]}]
    assert "The answer is" in final[0]["content"]


def test_ollama_thinking_model_streams_message_thinking():
    with OllamaServer(models={"qwen3:0.6b": {"thinking": True}}) as server:
        final = final_view(SpaceSettings(backend="ollama", base_url=server.url, model="qwen3:0.6b"))
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
    views = run_turn(session, "2+2?", system_prompt="", temperature=0.0, max_new_tokens=4)
    assert all(THINKING_TITLE not in str(view) for view in views)  # not prefilled
    assert views[-1][0]["content"] and "metadata" not in views[-1][0]  # real tokens

    model.load().tokenizer.chat_template += "{% if add_generation_prompt %}<think>\n{% endif %}"
    final = run_turn(session, "2+2?", system_prompt="", temperature=0.0, max_new_tokens=6)[-1]
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
        (output,) = run_turn(session, "hi")
    assert output[0]["content"].startswith(f"{NOTICE_PREFIX}The model is not available")
    assert str(tmp_path) not in str(output)
    assert "cannot load the model" in caplog.text and "no-such-model" in caplog.text
