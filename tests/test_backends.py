"""The one model layer (``toolkit.backends``) against real loopback servers (the real ``ollama``
client; aiohttp for OpenAI-compatible servers) and a real local model."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.helpers.servers import FaultPlan, OllamaServer, OpenAIServer
from toolkit.backends import (
    BackendError,
    ChatRequest,
    PooledModel,
    SamplingParams,
    make_model,
    parse_retry_after,
    register_backend,
)
from toolkit.backends.config import ModelConfig
from toolkit.backends.ollama import OllamaModel
from toolkit.backends.openai import OpenAIModel
from toolkit.errors import UsageError

MESSAGES = [{"role": "user", "content": "What is 6 times 7?"}]


def run(coro):
    return asyncio.run(coro)


async def _complete_and_close(model, request):
    try:
        return await model.complete(request)
    finally:
        await model.aclose()


def check(model):
    async def checked():
        try:
            await model.check()
        finally:
            await model.aclose()

    run(checked())


async def _stream_and_close(model, params=None):
    deltas = []
    try:
        async for delta in model.stream(MESSAGES, params or SamplingParams(max_new_tokens=500)):
            deltas.append(delta)
    finally:
        await model.aclose()
    return deltas


@pytest.fixture(scope="module")
def openai_server():
    with OpenAIServer(model="teacher", api_key="sk-test") as server:
        yield server


@pytest.mark.parametrize("stream", [False, True])
def test_openai_backend_reads_reasoning_content_and_native_n(openai_server, monkeypatch, stream):
    monkeypatch.setenv("TEST_TEACHER_KEY", "sk-test")
    model = OpenAIModel("teacher", openai_server.url + "/v1", api_key_env="TEST_TEACHER_KEY")
    request = ChatRequest(MESSAGES, n=3, params=SamplingParams(max_new_tokens=500), stream=stream)
    responses = run(_complete_and_close(model, request))
    assert len(responses) == 3
    for response in responses:
        assert response.reasoning.startswith("Let me work through this carefully")
        assert "What is 6 times 7?" in response.reasoning
        assert response.content.startswith("The answer is \\boxed{")
        assert response.finish_reason == "stop"
        assert response.prompt_tokens == 5
    # the server's total completion usage is split over the choices, summing exactly
    body = openai_server.requests[-1]
    assert body["n"] == 3 and body["temperature"] == 0.6 and body["top_p"] == 0.95
    assert body["max_tokens"] == 500  # the wire name of max_new_tokens
    total = sum(len(r.reasoning.split()) + len(r.content.split()) for r in responses)
    assert sum(r.completion_tokens for r in responses) == total


@pytest.mark.parametrize("field", ["reasoning", None])
def test_openai_backend_reasoning_field_variants(field):
    with OpenAIServer(model="m", reasoning_field=field) as server:
        model = OpenAIModel("m", server.url + "/v1")
        request = ChatRequest(MESSAGES, params=SamplingParams(max_new_tokens=3))
        (response,) = run(_complete_and_close(model, request))
    assert response.finish_reason == "length"
    if field is None:  # inline tags stay in content for split_thinking
        assert response.reasoning is None and response.content.startswith("<think>")
    else:
        assert response.reasoning == "Let me work"


def test_openai_backend_honours_the_proxy_environment(openai_server, monkeypatch):
    """HTTP_PROXY routes requests through the proxy (here the server itself, which answers the
    proxied absolute-form request), and NO_PROXY exempts the host, as with trust_env."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on: only the proxy can answer
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", openai_server.url)
    request = ChatRequest(MESSAGES, params=SamplingParams(max_new_tokens=50))
    (response,) = run(_complete_and_close(OpenAIModel("teacher", dead, api_key="sk-test"), request))
    assert response.content.startswith("The answer is")
    assert openai_server.proxied[-1] == dead + "/chat/completions"

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with pytest.raises(BackendError) as caught:
        run(_complete_and_close(OpenAIModel("teacher", dead, api_key="sk-test"), request))
    assert caught.value.retryable


def test_openai_backend_classifies_errors(monkeypatch):
    faults = FaultPlan(rate_429=1.0, retry_after=7)
    with OpenAIServer(model="m", faults=faults, api_key="right-key") as server:
        monkeypatch.setenv("OPENAI_API_KEY", "wrong-key")
        model = OpenAIModel("m", server.url + "/v1")
        with pytest.raises(BackendError) as unauthorized:
            run(_complete_and_close(model, ChatRequest(MESSAGES)))
        assert unauthorized.value.status == 401 and unauthorized.value.fatal
        assert "wrong" not in str(unauthorized.value)  # the key is never echoed
        assert "API key" in unauthorized.value.hint

        monkeypatch.setenv("OPENAI_API_KEY", "right-key")
        model = OpenAIModel("m", server.url + "/v1")
        with pytest.raises(BackendError) as limited:
            run(_complete_and_close(model, ChatRequest(MESSAGES)))
        assert limited.value.status == 429 and limited.value.retryable
        assert limited.value.retry_after == 7

        server.faults = None
        model = OpenAIModel("other-model", server.url + "/v1")
        with pytest.raises(BackendError) as missing:
            run(_complete_and_close(model, ChatRequest(MESSAGES)))
        assert missing.value.status == 404 and missing.value.fatal
        assert "does not exist" in str(missing.value)


def test_openai_backend_connection_reset_and_refused_are_retryable():
    with OpenAIServer(model="m", faults=FaultPlan(rate_reset=1.0)) as server:
        model = OpenAIModel("m", server.url + "/v1")
        with pytest.raises(BackendError) as reset:
            run(_complete_and_close(model, ChatRequest(MESSAGES)))
        url = server.url
    assert reset.value.retryable and "connection" in str(reset.value)
    model = OpenAIModel("m", url + "/v1", timeout=5)
    with pytest.raises(BackendError) as refused:
        run(_complete_and_close(model, ChatRequest(MESSAGES)))
    assert refused.value.retryable


def test_openai_backend_accepts_content_parts_and_retries_malformed_bodies():
    # content as a list of parts is valid OpenAI: it must not crash a run (issue 15, item 5)
    with OpenAIServer(model="m", content_parts=True) as server:
        for stream in (False, True):
            model = OpenAIModel("m", server.url + "/v1")
            (response,) = run(_complete_and_close(model, ChatRequest(MESSAGES, stream=stream)))
            assert response.content.startswith("The answer is")
    with OpenAIServer(model="m", faults=FaultPlan(rate_malformed=1.0)) as server:
        model = OpenAIModel("m", server.url + "/v1")
        with pytest.raises(BackendError) as malformed:
            run(_complete_and_close(model, ChatRequest(MESSAGES)))
    assert malformed.value.retryable and "malformed JSON" in str(malformed.value)


def test_secrets_echoed_by_a_server_never_reach_the_error(monkeypatch):
    secret = "sk-live-0123456789abcdefSECRET"
    monkeypatch.setenv("MY_TEACHER_KEY", secret)
    with OpenAIServer(
        model="m", api_key="something-else", echo_headers=True
    ) as server:  # the 401 body repeats the request headers, Authorization included
        model = OpenAIModel("m", server.url + "/v1", api_key_env="MY_TEACHER_KEY")
        with pytest.raises(BackendError) as refused:
            run(_complete_and_close(model, ChatRequest(MESSAGES)))
    text = f"{refused.value} {refused.value.hint}"
    assert "Request headers" in text and secret not in text and "***" in text


def test_parse_retry_after():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None


# -- streaming and pre-flight ----------------------------------------------------------------


@pytest.mark.parametrize("field", ["reasoning_content", None])
def test_openai_stream_yields_deltas_then_the_finish_reason(field):
    with OpenAIServer(model="m", reasoning_field=field, stream_chunk_chars=8) as server:
        deltas = run(_stream_and_close(OpenAIModel("m", server.url + "/v1")))
    assert len(deltas) > 5 and deltas[-1].finish_reason == "stop"
    text = "".join(d.content for d in deltas)
    thought = "".join(d.reasoning for d in deltas)
    if field is None:
        assert text.startswith("<think>") and "</think>" in text and not thought
    else:
        assert thought.startswith("Let me work") and text.startswith("The answer is")


def test_openai_stream_cut_by_the_token_limit_or_a_dropped_connection():
    with OpenAIServer(model="m") as server:
        deltas = run(_stream_and_close(OpenAIModel("m", server.url + "/v1"), SamplingParams(
            max_new_tokens=3)))  # fmt: skip
    assert deltas[-1].finish_reason == "length"
    faults = FaultPlan(rate_drop=1.0)
    with (
        OpenAIServer(model="m", faults=faults, stream_chunk_chars=8) as server,
        pytest.raises(BackendError) as dropped,
    ):
        run(_stream_and_close(OpenAIModel("m", server.url + "/v1")))
    assert dropped.value.retryable


def test_check_fails_fast_when_the_server_is_down_or_lacks_the_model():
    with OpenAIServer(model="served") as server:
        url = server.url + "/v1"
        check(OpenAIModel("served", url))
        with pytest.raises(BackendError, match="does not serve 'other'") as wrong:
            check(OpenAIModel("other", url))
        assert wrong.value.fatal and "--model" in wrong.value.hint
        unnamed = OpenAIModel(None, url)
        check(unnamed)
        assert unnamed.model == "served"  # the first served model when none is named
    started = time.monotonic()
    with pytest.raises(BackendError, match="not usable") as down:
        check(OpenAIModel("served", url))
    assert down.value.fatal and time.monotonic() - started < 5
    with OllamaServer(models={"qwen3:0.6b": {"thinking": True}}) as ollama:
        check(OllamaModel("qwen3:0.6b", ollama.url))
        with pytest.raises(BackendError, match="no model 'llama3:8b'") as absent:
            check(OllamaModel("llama3:8b", ollama.url))
        assert "ollama pull llama3:8b" in absent.value.hint
        ollama_url = ollama.url
    with pytest.raises(BackendError, match="not reachable"):
        check(OllamaModel("qwen3:0.6b", ollama_url))


# -- ollama ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ollama_server():
    models = {
        "qwen3:0.6b": {"thinking": True},
        "llama3.2:1b": {"thinking": False},
        "r1-gguf:1.5b": {"thinking": False, "inline_think": True},
    }
    with OllamaServer(models=models) as server:
        yield server


@pytest.mark.parametrize("stream", [False, True])
def test_ollama_backend_reads_message_thinking(ollama_server, stream):
    model = OllamaModel("qwen3:0.6b", ollama_server.url)
    request = ChatRequest(
        MESSAGES, n=2, params=SamplingParams(max_new_tokens=300, seed=5), stream=stream
    )
    responses = run(_complete_and_close(model, request))
    assert len(responses) == 2
    for response in responses:
        assert response.reasoning and "What is 6 times 7?" in response.reasoning
        assert response.content.startswith("The answer is")
        assert "<think>" not in response.content
        assert response.finish_reason == "stop"
        assert response.prompt_tokens == 5 and response.completion_tokens > 10
    body = ollama_server.requests[-1]
    assert body["think"] is True and body["stream"] is stream
    assert body["options"] == {"temperature": 0.6, "top_p": 0.95, "num_predict": 300, "seed": 5}


def test_ollama_backend_falls_back_when_model_cannot_think(ollama_server):
    model = OllamaModel("r1-gguf:1.5b", ollama_server.url)
    (response,) = run(_complete_and_close(model, ChatRequest(MESSAGES, stream=True)))
    # the server answered 400 "does not support thinking"; the retry without think= got tags
    assert model.think is False
    assert response.reasoning is None and response.content.startswith("<think>")
    assert "think" not in ollama_server.requests[-1]
    model = OllamaModel("llama3.2:1b", ollama_server.url)
    (plain,) = run(_complete_and_close(model, ChatRequest(MESSAGES)))
    assert plain.reasoning is None and plain.content.startswith("The answer is")
    # the same fallback serves streaming chat
    deltas = run(_stream_and_close(OllamaModel("r1-gguf:1.5b", ollama_server.url)))
    assert "".join(d.content for d in deltas).startswith("<think>")
    assert deltas[-1].finish_reason == "stop"


def test_ollama_backend_errors_as_ollama_sends_them(ollama_server):
    model = OllamaModel("missing:7b", ollama_server.url)
    with pytest.raises(BackendError) as missing:
        run(_complete_and_close(model, ChatRequest(MESSAGES)))
    assert missing.value.status == 404 and missing.value.fatal
    assert "model 'missing:7b' not found" in str(missing.value)
    with OllamaServer(faults=FaultPlan(rate_stream_error=1.0)) as server:
        model = OllamaModel("qwen3:0.6b", server.url)
        with pytest.raises(BackendError) as midway:
            run(_complete_and_close(model, ChatRequest(MESSAGES, stream=True)))
    assert midway.value.retryable and "unexpected EOF" in str(midway.value)
    with OllamaServer(faults=FaultPlan(rate_429=1.0, retry_after=2)) as server:
        model = OllamaModel("qwen3:0.6b", server.url)
        with pytest.raises(BackendError) as busy:
            run(_complete_and_close(model, ChatRequest(MESSAGES)))
    assert busy.value.status == 429 and busy.value.retryable


def test_ollama_server_speaks_tags_and_show(ollama_server):
    import ollama

    client = ollama.Client(host=ollama_server.url)
    names = [m.model for m in client.list().models]
    assert names == ["qwen3:0.6b", "llama3.2:1b", "r1-gguf:1.5b"]
    assert "thinking" in client.show("qwen3:0.6b").capabilities
    with pytest.raises(ollama.ResponseError) as error:
        client.show("nope")
    assert error.value.status_code == 404


# -- registry, config and pooling ------------------------------------------------------------


def test_registry_builds_backends_and_rejects_unknown():
    model = make_model("openai", "m", base_urls=["http://127.0.0.1:9/v1"])
    assert isinstance(model, OpenAIModel) and model.base_url == "http://127.0.0.1:9/v1"
    assert "api_key" not in str(model.describe()).lower()
    assert isinstance(make_model("ollama", "qwen3:0.6b"), OllamaModel)
    with pytest.raises(UsageError, match="unknown backend 'vllm'"):
        make_model("vllm", "m")


def test_a_plugin_backend_registers_like_the_built_in_ones():
    class EchoModel:
        backend = "echo"
        supports_native_n = False

        def __init__(self, model, base_url=None, **options):
            self.model, self.options = model, options

    register_backend("echo", EchoModel)
    built = ModelConfig(backend="echo", model="e").build(timeout=3)
    assert isinstance(built, EchoModel) and built.options["timeout"] == 3
    with pytest.raises(UsageError, match=r"'package\.module:attr'"):
        register_backend("bad", "no_colon")


def test_model_config_refuses_options_of_another_backend():
    with pytest.raises(UsageError, match="--think does not apply to the openai backend"):
        ModelConfig(backend="openai", model="m", think=False).build()
    built = ModelConfig(backend="ollama", model="q", think=False).build()
    assert isinstance(built, OllamaModel) and built.think is False


def test_pooled_model_prefers_the_least_busy_endpoint():
    with (
        OpenAIServer(model="m", latency=0.3) as slow,
        OpenAIServer(model="m", latency=0.01) as fast,
    ):
        model = make_model("openai", "m", base_urls=[slow.url + "/v1", fast.url + "/v1"])
        assert isinstance(model, PooledModel)

        async def burst():
            async def one():
                await model.complete(ChatRequest(MESSAGES))

            # 4 workers, 24 requests: the slow endpoint keeps each request 30x longer
            queue = list(range(24))

            async def worker():
                while queue:
                    queue.pop()
                    await one()

            await asyncio.gather(*(worker() for _ in range(4)))
            await model.aclose()

        run(burst())
        assert slow.stats["completed"] + fast.stats["completed"] == 24
        assert fast.stats["completed"] >= 3 * slow.stats["completed"]
        assert model.describe()["endpoints"] == [slow.url + "/v1", fast.url + "/v1"]


# -- local transformers ----------------------------------------------------------------------


def test_transformers_backend_batches_left_padded(tiny_model_dir):
    model = make_model("transformers", str(tiny_model_dir), batch_size=4)
    params = SamplingParams(temperature=0.0, max_new_tokens=6)

    async def both():
        requests = [
            ChatRequest([{"role": "user", "content": "Hi"}], n=2, params=params),
            ChatRequest(
                [{"role": "user", "content": "A much longer question here?"}], params=params
            ),
        ]
        try:
            return await asyncio.gather(*(model.complete(r) for r in requests))
        finally:
            await model.aclose()

    short, long = run(both())
    assert len(short) == 2 and len(long) == 1
    # greedy: both samples of one prompt are identical, and left padding did not change them
    assert short[0].content == short[1].content
    for response in [*short, *long]:
        assert response.finish_reason in ("stop", "length")
        assert 0 < response.completion_tokens <= 6 or response.finish_reason == "stop"
    assert long[0].prompt_tokens > short[0].prompt_tokens


def test_transformers_backend_batches_requests_that_differ_only_in_seed(tiny_model_dir):
    model = make_model("transformers", str(tiny_model_dir), batch_size=8)
    calls = []
    original = model._generate
    model._generate = lambda requests: calls.append(len(requests)) or original(requests)

    async def several():
        requests = [
            ChatRequest(MESSAGES, params=SamplingParams(max_new_tokens=3, seed=seed))
            for seed in range(4)
        ]
        try:
            return await asyncio.gather(*(model.complete(r) for r in requests))
        finally:
            await model.aclose()

    results = run(several())
    assert len(results) == 4 and calls == [4]  # one generate call for the four seeds


def test_transformers_stream_and_stop_tokens(tiny_model_dir):
    model = make_model("transformers", str(tiny_model_dir))
    deltas = run(_stream_and_close(model, SamplingParams(temperature=0.0, max_new_tokens=5)))
    assert deltas[-1].finish_reason in ("stop", "length")
    loaded = model.load()
    vocab = loaded.tokenizer.get_vocab()
    assert vocab["<|im_end|>"] in loaded.stop_token_ids  # end of turn, not only EOS
    assert model.prefills_thinking(MESSAGES) is False
