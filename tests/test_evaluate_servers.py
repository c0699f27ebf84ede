"""Evaluation against OpenAI-compatible and Ollama servers (loopback, real protocols) through the
shared model layer and the durable engine."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.helpers.servers import FaultPlan, OllamaServer, OpenAIServer
from toolkit.cli import app
from toolkit.evaluation import evaluate


def _answering(golds: dict[str, str]):
    """A server responder that answers each known problem with its gold the first time it is
    asked and wrongly the second time (so exactly one of two samples is right)."""
    asked: dict[str, int] = {}

    def responder(prompt: str, index: int) -> tuple[str, str]:
        for problem, gold in golds.items():
            if problem in prompt:
                asked[problem] = asked.get(problem, 0) + 1
                answer = gold if asked[problem] == 1 else "999"
                return "Working it out step by step.", f"So the answer is \\boxed{{{answer}}}."
        return "No idea.", "I cannot tell."

    return responder


def test_openai_backend_against_loopback_server(benchmark_data):
    from toolkit.evaluation.tasks import get_benchmark

    rows = get_benchmark("gsm8k").load(benchmark_data / "gsm8k_test.jsonl", limit=2)
    golds = {r["problem"]: r["gold_answer"] for r in rows}
    with OpenAIServer(model="student", responder=_answering(golds), native_n=False) as server:
        evaluation = evaluate(
            "student",
            ["gsm8k"],
            n=2,
            limit=2,
            backend="openai",
            base_url=server.url + "/v1",
            max_new_tokens=256,
            data_files={"gsm8k": benchmark_data / "gsm8k_test.jsonl"},
            concurrency=1,
            progress=False,
        )
        bodies = [r for r in server.requests if "messages" in r]
    entry = evaluation.results["tasks"]["gsm8k"]
    # Sample 0 is right, sample 1 wrong, for both problems: pass@1 = 0.5, pass@2 = 1.
    assert entry["metrics"]["pass@1"]["value"] == pytest.approx(0.5)
    assert entry["metrics"]["pass@2"]["value"] == pytest.approx(1.0)
    assert entry["reasoning"]["share_with_reasoning"] == 1.0
    assert evaluation.results["model"]["backend"] == "openai"
    assert evaluation.results["protocol"]["token_count_method"] == "approx-words"
    assert evaluation.results["run"]["complete"] is True
    # the server ignores n (detected on the first request): then one request per sample, each
    # with its own derived seed
    seeds = [b["seed"] for b in bodies]
    assert len(bodies) == 4 and len(set(seeds)) == 4
    assert {(b["temperature"], b["top_p"], b["max_tokens"]) for b in bodies} == {(0.6, 0.95, 256)}


def test_openai_backend_retries_rate_limits(benchmark_data):
    faults = FaultPlan(rate_429=0.5, retry_after=0.01)
    with OpenAIServer(model="student", faults=faults) as server:
        evaluation = evaluate(
            "student", ["gsm8k"], limit=4, backend="openai", base_url=server.url + "/v1",
            data_files={"gsm8k": benchmark_data / "gsm8k_test.jsonl"}, progress=False,
            retry_base_delay=0.01,
        )  # fmt: skip
        injected = server.stats["429"]
    assert injected > 0 and evaluation.results["run"]["complete"]
    assert evaluation.results["tasks"]["gsm8k"]["num_samples"] == 4


def test_openai_backend_fatal_error_is_raised(benchmark_data):
    from toolkit.errors import BackendError

    with (
        OpenAIServer(model="student", api_key="right") as server,
        pytest.raises(BackendError, match="401"),
    ):
        evaluate(
            "student", ["gsm8k"], limit=1, backend="openai", base_url=server.url + "/v1",
            data_files={"gsm8k": benchmark_data / "gsm8k_test.jsonl"}, progress=False,
        )  # fmt: skip


def test_ollama_backend_keeps_thinking_separate(benchmark_data):
    with OllamaServer(models={"student:tiny": {"thinking": True}}) as server:
        evaluation = evaluate(
            "student:tiny", ["gsm8k"], limit=1, backend="ollama", base_url=server.url,
            max_new_tokens=512, data_files={"gsm8k": benchmark_data / "gsm8k_test.jsonl"},
            progress=False,
        )  # fmt: skip
    [sample] = evaluation.details
    assert sample.reasoning and "Let me work through this" in sample.reasoning
    assert "\\boxed{" in sample.answer and sample.finish_reason == "stop"
    assert evaluation.results["model"]["base_url"] == server.url


def test_cli_eval_against_openai_server_with_api_key(benchmark_data, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_SERVER_KEY", "sk-loopback-secret")
    with OpenAIServer(model="student", api_key="sk-loopback-secret") as server:
        result = CliRunner().invoke(
            app,
            ["eval", "student", "--backend", "openai", "--base-url", server.url + "/v1",
             "--api-key-env", "MY_SERVER_KEY", "--tasks", "gsm8k", "--limit", "2",
             "--max-new-tokens", "300", "--data-file",
             f"gsm8k={benchmark_data / 'gsm8k_test.jsonl'}", "-o", str(tmp_path)],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "sk-loopback-secret" not in result.output
    results_text = (tmp_path / "results.json").read_text()
    assert "sk-loopback-secret" not in results_text
    results = json.loads(results_text)
    assert results["model"]["base_url"] == server.url + "/v1"
    assert results["tasks"]["gsm8k"]["num_samples"] == 2
