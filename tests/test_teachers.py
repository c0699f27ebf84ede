"""Teacher backends against real loopback servers (real ``openai``/``ollama``/``httpx`` clients)."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers.servers import FaultPlan, OllamaServer, OpenAIServer
from toolkit.teachers import (
    PooledTeacher,
    SamplingParams,
    TeacherError,
    TeacherRequest,
    make_teacher,
    parse_retry_after,
)
from toolkit.teachers.ollama_chat import OllamaTeacher
from toolkit.teachers.openai_compat import OpenAICompatTeacher

MESSAGES = [{"role": "user", "content": "What is 6 times 7?"}]


def run(coro):
    return asyncio.run(coro)


async def _complete_and_close(teacher, request):
    try:
        return await teacher.complete(request)
    finally:
        await teacher.aclose()


@pytest.fixture(scope="module")
def openai_server():
    with OpenAIServer(model="teacher", api_key="sk-test") as server:
        yield server


@pytest.mark.parametrize("transport", ["http11", "httpx", "openai"])
@pytest.mark.parametrize("stream", [False, True])
def test_openai_backend_reads_reasoning_content_and_native_n(
    openai_server, monkeypatch, transport, stream
):
    monkeypatch.setenv("TEST_TEACHER_KEY", "sk-test")
    teacher = OpenAICompatTeacher(
        "teacher", openai_server.url + "/v1", api_key_env="TEST_TEACHER_KEY", transport=transport
    )
    request = TeacherRequest(MESSAGES, n=3, params=SamplingParams(max_tokens=500), stream=stream)
    responses = run(_complete_and_close(teacher, request))
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
    total = sum(len(r.reasoning.split()) + len(r.content.split()) for r in responses)
    assert sum(r.completion_tokens for r in responses) == total


@pytest.mark.parametrize("field", ["reasoning", None])
def test_openai_backend_reasoning_field_variants(field):
    with OpenAIServer(model="m", reasoning_field=field) as server:
        teacher = OpenAICompatTeacher("m", server.url + "/v1")
        request = TeacherRequest(MESSAGES, params=SamplingParams(max_tokens=3))
        (response,) = run(_complete_and_close(teacher, request))
    assert response.finish_reason == "length"
    if field is None:  # inline tags stay in content for split_thinking
        assert response.reasoning is None and response.content.startswith("<think>")
    else:
        assert response.reasoning == "Let me work"


@pytest.mark.parametrize("transport", ["http11", "openai"])
def test_openai_backend_classifies_errors(monkeypatch, transport):
    faults = FaultPlan(rate_429=1.0, retry_after=7)
    with OpenAIServer(model="m", faults=faults, api_key="right") as server:
        monkeypatch.setenv("OPENAI_API_KEY", "wrong")
        teacher = OpenAICompatTeacher("m", server.url + "/v1", transport=transport)
        with pytest.raises(TeacherError) as unauthorized:
            run(_complete_and_close(teacher, TeacherRequest(MESSAGES)))
        assert unauthorized.value.status == 401 and unauthorized.value.fatal
        assert "wrong" not in str(unauthorized.value)  # the key is never echoed

        monkeypatch.setenv("OPENAI_API_KEY", "right")
        teacher = OpenAICompatTeacher("m", server.url + "/v1", transport=transport)
        with pytest.raises(TeacherError) as limited:
            run(_complete_and_close(teacher, TeacherRequest(MESSAGES)))
        assert limited.value.status == 429 and limited.value.retryable
        assert limited.value.retry_after == 7

        server.faults = None
        teacher = OpenAICompatTeacher("other-model", server.url + "/v1", transport=transport)
        with pytest.raises(TeacherError) as missing:
            run(_complete_and_close(teacher, TeacherRequest(MESSAGES)))
        assert missing.value.status == 404 and missing.value.fatal
        assert "does not exist" in str(missing.value)


def test_openai_backend_connection_reset_and_refused_are_retryable():
    with OpenAIServer(model="m", faults=FaultPlan(rate_reset=1.0)) as server:
        teacher = OpenAICompatTeacher("m", server.url + "/v1")
        with pytest.raises(TeacherError) as reset:
            run(_complete_and_close(teacher, TeacherRequest(MESSAGES)))
        url = server.url
    assert reset.value.retryable and "connection" in str(reset.value)
    teacher = OpenAICompatTeacher("m", url + "/v1", timeout=5)
    with pytest.raises(TeacherError) as refused:
        run(_complete_and_close(teacher, TeacherRequest(MESSAGES)))
    assert refused.value.retryable


def test_parse_retry_after():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None


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
    teacher = OllamaTeacher("qwen3:0.6b", ollama_server.url)
    request = TeacherRequest(
        MESSAGES, n=2, params=SamplingParams(max_tokens=300, seed=5), stream=stream
    )
    responses = run(_complete_and_close(teacher, request))
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
    teacher = OllamaTeacher("r1-gguf:1.5b", ollama_server.url)
    (response,) = run(_complete_and_close(teacher, TeacherRequest(MESSAGES, stream=True)))
    # the server answered 400 "does not support thinking"; the retry without think= got tags
    assert teacher.think is False
    assert response.reasoning is None and response.content.startswith("<think>")
    assert "think" not in ollama_server.requests[-1]
    teacher = OllamaTeacher("llama3.2:1b", ollama_server.url)
    (plain,) = run(_complete_and_close(teacher, TeacherRequest(MESSAGES)))
    assert plain.reasoning is None and plain.content.startswith("The answer is")


def test_ollama_backend_errors_as_ollama_sends_them(ollama_server):
    teacher = OllamaTeacher("missing:7b", ollama_server.url)
    with pytest.raises(TeacherError) as missing:
        run(_complete_and_close(teacher, TeacherRequest(MESSAGES)))
    assert missing.value.status == 404 and missing.value.fatal
    assert "model 'missing:7b' not found" in str(missing.value)
    with OllamaServer(faults=FaultPlan(rate_stream_error=1.0)) as server:
        teacher = OllamaTeacher("qwen3:0.6b", server.url)
        with pytest.raises(TeacherError) as midway:
            run(_complete_and_close(teacher, TeacherRequest(MESSAGES, stream=True)))
    assert midway.value.retryable and "unexpected EOF" in str(midway.value)
    with OllamaServer(faults=FaultPlan(rate_429=1.0, retry_after=2)) as server:
        teacher = OllamaTeacher("qwen3:0.6b", server.url)
        with pytest.raises(TeacherError) as busy:
            run(_complete_and_close(teacher, TeacherRequest(MESSAGES)))
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


# -- registry and pooling --------------------------------------------------------------------


def test_registry_builds_backends_and_rejects_unknown():
    teacher = make_teacher("openai", base_urls=["http://127.0.0.1:9/v1"], model="m")
    assert isinstance(teacher, OpenAICompatTeacher) and teacher.base_url == "http://127.0.0.1:9/v1"
    assert "api_key" not in str(teacher.describe()).lower()
    assert isinstance(make_teacher("ollama", model="qwen3:0.6b"), OllamaTeacher)
    with pytest.raises(ValueError, match="unknown teacher backend 'vllm'"):
        make_teacher("vllm", model="m")


def test_pooled_teacher_prefers_the_least_busy_endpoint():
    with (
        OpenAIServer(model="m", latency=0.3) as slow,
        OpenAIServer(model="m", latency=0.01) as fast,
    ):
        teacher = make_teacher("openai", base_urls=[slow.url + "/v1", fast.url + "/v1"], model="m")
        assert isinstance(teacher, PooledTeacher)

        async def burst():
            async def one():
                await teacher.complete(TeacherRequest(MESSAGES))

            # 4 workers, 24 requests: the slow endpoint keeps each request 30x longer
            queue = list(range(24))

            async def worker():
                while queue:
                    queue.pop()
                    await one()

            await asyncio.gather(*(worker() for _ in range(4)))
            await teacher.aclose()

        run(burst())
        assert slow.stats["completed"] + fast.stats["completed"] == 24
        assert fast.stats["completed"] >= 3 * slow.stats["completed"]
        assert teacher.describe()["endpoints"] == [slow.url + "/v1", fast.url + "/v1"]


def test_transformers_backend_batches_left_padded(tiny_model_dir):
    teacher = make_teacher("transformers", model=str(tiny_model_dir), batch_size=4)
    params = SamplingParams(temperature=0.0, max_tokens=6)

    async def both():
        requests = [
            TeacherRequest([{"role": "user", "content": "Hi"}], n=2, params=params),
            TeacherRequest(
                [{"role": "user", "content": "A much longer question here?"}], params=params
            ),
        ]
        try:
            return await asyncio.gather(*(teacher.complete(r) for r in requests))
        finally:
            await teacher.aclose()

    short, long = run(both())
    assert len(short) == 2 and len(long) == 1
    # greedy: both samples of one prompt are identical, and left padding did not change them
    assert short[0].content == short[1].content
    for response in [*short, *long]:
        assert response.finish_reason in ("stop", "length")
        assert 0 < response.completion_tokens <= 6 or response.finish_reason == "stop"
    assert long[0].prompt_tokens > short[0].prompt_tokens
