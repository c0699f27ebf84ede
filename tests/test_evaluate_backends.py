"""Generation backends: batched transformers (left padding, stop on EOS), OpenAI-compatible and
Ollama servers (loopback fixtures from tests/helpers/servers.py, real clients)."""

from __future__ import annotations

import pytest

from tests.helpers.servers import FaultPlan, OllamaServer, OpenAIServer
from toolkit.evaluation import evaluate
from toolkit.evaluate.backends import (
    OllamaBackend,
    OpenAIBackend,
    SamplingParams,
    TransformersBackend,
    make_backend,
    model_revision,
)

CHATS = [
    [{"role": "user", "content": "What is 2 + 2?"}],
    [{"role": "user", "content": "Natalia sold clips to 48 of her friends in April. How many?"}],
    [{"role": "user", "content": "Reason step by step: 12 times 7, then add 3 and divide by 1."}],
]


@pytest.fixture(scope="module")
def tiny_backend(tiny_model_dir):
    return TransformersBackend(tiny_model_dir, batch_size=3)


def test_batched_greedy_equals_one_at_a_time(tiny_model_dir, tiny_backend):
    """Left padding is right: each row of a padded batch decodes exactly as it would alone."""
    params = SamplingParams(max_new_tokens=12, greedy=True)
    batched = tiny_backend.generate(CHATS, 1, params)
    single = TransformersBackend(tiny_model_dir, batch_size=1).generate(CHATS, 1, params)
    assert tiny_backend.tokenizer.padding_side == "left"
    assert [c[0].text for c in batched] == [c[0].text for c in single]
    assert all(c[0].finish_reason == "length" and c[0].completion_tokens == 12 for c in batched)


def test_generation_stops_at_end_of_turn_token(tiny_model_dir):
    """Make the third greedy token an end-of-turn token: generation must stop right there, drop
    it from the text and report finish_reason="stop"."""
    backend = TransformersBackend(tiny_model_dir, batch_size=2)
    params = SamplingParams(max_new_tokens=8, greedy=True)
    chat = [CHATS[0]]
    encoded = backend.tokenizer(backend.render(chat[0]), return_tensors="pt")
    output = backend.model.generate(**encoded, generation_config=backend.generation_config(params))
    new = output[0, encoded["input_ids"].shape[1] :].tolist()
    stop_token = new[2]
    first = new.index(stop_token)
    backend.eos_token_ids = [stop_token]
    [[completion]] = backend.generate(chat, 1, params)
    assert completion.finish_reason == "stop"
    assert completion.completion_tokens == first
    assert completion.text == backend.tokenizer.decode(new[:first], skip_special_tokens=False)


def test_n_samples_per_prompt_and_protocol_not_inherited(tiny_backend):
    params = SamplingParams(max_new_tokens=4, seed=3)
    out = tiny_backend.generate(CHATS[:2], 3, params)
    assert [len(row) for row in out] == [3, 3]
    config = tiny_backend.generation_config(params)
    assert (config.do_sample, config.temperature, config.top_p, config.top_k) == (
        True,
        0.6,
        0.95,
        0,
    )
    assert config.repetition_penalty == 1.0
    # Same seed, same samples: the run is reproducible.
    again = tiny_backend.generate(CHATS[:2], 3, params)
    assert [[c.text for c in row] for row in out] == [[c.text for c in row] for row in again]


def test_prefill_detection(tiny_backend):
    assert tiny_backend.prefills_thinking(CHATS[0]) is False
    template = tiny_backend.tokenizer.chat_template
    try:
        tiny_backend.tokenizer.chat_template = template.replace(
            "<|im_start|>assistant\n'", "<|im_start|>assistant\n<think>\n'"
        )
        assert tiny_backend.tokenizer.chat_template != template
        assert tiny_backend.prefills_thinking(CHATS[0]) is True
    finally:
        tiny_backend.tokenizer.chat_template = template


def test_model_revision_hashes_weights(tiny_model_dir, tmp_path):
    revision = model_revision(tiny_model_dir)
    assert revision and revision.startswith("sha256:") and len(revision) == 7 + 64
    assert model_revision(tiny_model_dir) == revision
    assert model_revision(tmp_path / "missing") is None
    snapshot = tmp_path / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    assert model_revision(snapshot) == "a" * 40


def test_sampling_params_validation():
    with pytest.raises(ValueError, match="max_new_tokens"):
        SamplingParams(max_new_tokens=0)
    with pytest.raises(ValueError, match="greedy"):
        SamplingParams(temperature=0.0)
    assert SamplingParams(greedy=True).to_dict()["temperature"] == 0.0
    with pytest.raises(ValueError, match="unknown backend"):
        make_backend("vllm-magic", "m")


def _answering(golds: dict[str, str]):
    """A server responder that answers each known problem with its gold the first time it is
    asked and wrongly the second time (one request per sample, so exactly one of two is right)."""
    asked: dict[str, int] = {}

    def responder(prompt: str, index: int) -> tuple[str, str]:
        for problem, gold in golds.items():
            if problem in prompt:
                asked[problem] = asked.get(problem, 0) + 1
                answer = gold if asked[problem] == 1 else "999"
                return "Working it out step by step.", f"So the answer is \\boxed{{{answer}}}."
        return "No idea.", "I cannot tell."

    return responder


def test_openai_backend_against_loopback_server(shared_data):
    from toolkit.evaluation.tasks import get_benchmark

    rows = get_benchmark("gsm8k").load(shared_data / "gsm8k_test.jsonl", limit=2)
    golds = {r["problem"]: r["gold_answer"] for r in rows}
    with OpenAIServer(model="student", responder=_answering(golds)) as server:
        evaluation = evaluate(
            "student",
            ["gsm8k"],
            n=2,
            limit=2,
            backend="openai",
            max_new_tokens=256,
            data_files={"gsm8k": shared_data / "gsm8k_test.jsonl"},
            backend_options={"base_url": server.url + "/v1", "concurrency": 4},
            show_progress=False,
        )
        bodies = [r for r in server.requests if "messages" in r]
    entry = evaluation.results["tasks"]["gsm8k"]
    # Sample 0 is right, sample 1 wrong, for both problems: pass@1 = 0.5, pass@2 = 1.
    assert entry["metrics"]["pass@1"]["value"] == pytest.approx(0.5)
    assert entry["metrics"]["pass@2"]["value"] == pytest.approx(1.0)
    assert entry["reasoning"]["share_with_reasoning"] == 1.0
    assert evaluation.results["model"]["backend"] == "openai"
    assert evaluation.results["protocol"]["token_count_method"] == "approx-words"
    assert len(bodies) == 4
    assert sorted(b["seed"] for b in bodies) == [0, 0, 1, 1]  # one seed per sample
    assert {(b["temperature"], b["top_p"], b["max_tokens"]) for b in bodies} == {(0.6, 0.95, 256)}


def test_openai_backend_retries_rate_limits():
    chats = [[{"role": "user", "content": f"problem {i}"}] for i in range(4)]
    faults = FaultPlan(rate_429=0.5, retry_after=0.01)
    with OpenAIServer(model="student", faults=faults) as server:
        backend = OpenAIBackend("student", base_url=server.url + "/v1", concurrency=2)
        out = backend.generate(chats, 1, SamplingParams(max_new_tokens=64))
        injected = server.stats["429"]
    assert injected > 0
    assert all(row[0].text.startswith("The answer is") for row in out)


def test_openai_backend_fatal_error_is_raised():
    with OpenAIServer(model="student", api_key="right") as server:
        backend = OpenAIBackend("student", base_url=server.url + "/v1", max_retries=1)
        with pytest.raises(RuntimeError, match="401"):
            backend.generate(CHATS[:1], 1, SamplingParams(max_new_tokens=8))


def test_ollama_backend_keeps_thinking_separate():
    with OllamaServer(models={"student:tiny": {"thinking": True}}) as server:
        backend = OllamaBackend("student:tiny", host=server.url)
        [[completion]] = backend.generate(CHATS[:1], 1, SamplingParams(max_new_tokens=512))
        assert completion.reasoning and "Let me work through this" in completion.reasoning
        assert "\\boxed{" in completion.text
        assert completion.finish_reason == "stop"
        assert backend.describe()["base_url"] == server.url


def test_cli_eval_against_openai_server_with_api_key(shared_data, tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from toolkit.cli import app

    monkeypatch.setenv("MY_SERVER_KEY", "sk-loopback-secret")
    with OpenAIServer(model="student", api_key="sk-loopback-secret") as server:
        result = CliRunner().invoke(
            app,
            ["eval", "student", "--backend", "openai", "--base-url", server.url + "/v1",
             "--api-key-env", "MY_SERVER_KEY", "--tasks", "gsm8k", "--limit", "2",
             "--max-new-tokens", "300", "--data-file",
             f"gsm8k={shared_data / 'gsm8k_test.jsonl'}", "-o", str(tmp_path)],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "sk-loopback-secret" not in result.output
    results_text = (tmp_path / "results.json").read_text()
    assert "sk-loopback-secret" not in results_text
    results = json.loads(results_text)
    assert results["model"]["base_url"] == server.url + "/v1"
    assert results["tasks"]["gsm8k"]["num_samples"] == 2
