"""One model layer for every stage (issue 10): generate, evaluate and chat run against the SAME
loopback OpenAI-compatible and Ollama-protocol servers through ``toolkit.backends``, and against
the real SmolLM2 through the one transformers loader — one ``Model`` object shared by all three.
"""

from __future__ import annotations

import asyncio
import json

import datasets
import pytest

from tests.helpers.servers import OllamaServer, OpenAIServer
from toolkit.backends import make_model
from toolkit.chat.session import ChatSession
from toolkit.chat.settings import SpaceSettings
from toolkit.evaluation import evaluate
from toolkit.generation import generate

PROBLEMS = ["What is 6 times 7?", "What is 2 + 3?"]


def _task(tmp_path):
    path = tmp_path / "mini.jsonl"
    rows = [{"problem_id": f"p{i}", "problem": p, "gold_answer": "42"} for i, p in
            enumerate(PROBLEMS)]  # fmt: skip
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _chat(model, settings=None) -> list[dict]:
    session = ChatSession(settings or SpaceSettings(backend="openai"), model)

    async def turn():
        shown: list[dict] = []
        async for update in session.respond(PROBLEMS[0], []):
            shown = update
        return shown

    return asyncio.run(turn())


def _all_three(model_factory, tmp_path, settings):
    """generate → evaluate → chat through models built by the same factory (one layer)."""
    table = datasets.Dataset.from_dict({"problem": PROBLEMS, "answer": ["42", "5"]})
    traces = generate(table, model_factory(), n=1, state_dir=tmp_path / "gen", progress=False)
    evaluation = evaluate(
        model_factory(), [str(_task(tmp_path))], output_dir=tmp_path / "eval", progress=False
    )
    shown = _chat(model_factory(), settings)
    return traces, evaluation, shown


@pytest.mark.parametrize("kind", ["openai", "ollama"])
def test_generate_evaluate_and_chat_share_the_server_backends(kind, tmp_path):
    if kind == "openai":
        server = OpenAIServer(model="reasoner")
        settings = SpaceSettings(backend="openai", model="reasoner")
    else:
        server = OllamaServer(models={"reasoner:1b": {"thinking": True}})
        settings = SpaceSettings(backend="ollama", model="reasoner:1b")
    with server:
        url = server.url + ("/v1" if kind == "openai" else "")
        name = "reasoner" if kind == "openai" else "reasoner:1b"
        traces, evaluation, shown = _all_three(
            lambda: make_model(kind, name, base_urls=url), tmp_path, settings
        )
    # generate: reasoning from the separate field, split from the answer
    assert len(traces) == 2 and all(r.startswith("Let me work") for r in traces["reasoning"])
    assert all(a.startswith("The answer is") for a in traces["answer"])
    # evaluate: every sample scored, reasoning counted, through the same client
    entry = evaluation.results["tasks"]["mini"]
    assert evaluation.results["run"]["complete"] and entry["num_samples"] == 2
    assert entry["reasoning"]["share_with_reasoning"] == 1.0
    assert evaluation.results["model"]["backend"] == kind
    # chat: a thinking panel, then the answer
    assert shown[0]["metadata"]["title"].startswith("Thinking")
    assert "Let me work" in shown[0]["content"] and shown[-1]["content"].startswith("The answer")


def test_generate_evaluate_and_chat_share_one_local_smollm2(smollm2_dir, tmp_path):
    """The real SmolLM2 through the one transformers loader: one loaded Model for all three."""
    model = make_model("transformers", str(smollm2_dir), batch_size=2)
    table = datasets.Dataset.from_dict({"problem": PROBLEMS})
    traces = generate(table, model, n=1, temperature=0.0, max_new_tokens=8,
                      state_dir=tmp_path / "gen", progress=False, allow_empty=False)  # fmt: skip
    evaluation = evaluate(model, [str(_task(tmp_path))], greedy=True, max_new_tokens=8,
                          output_dir=tmp_path / "eval", progress=False)  # fmt: skip
    shown = _chat(model, SpaceSettings(backend="transformers", max_new_tokens=8))
    loaded = model.load()
    assert loaded.model is model.load().model  # loaded once, shared
    assert len(traces) == 2 and all(answer.strip() for answer in traces["answer"])
    assert traces["reasoning"] == [None, None]  # SmolLM2 does not think
    entry = evaluation.results["tasks"]["mini"]
    assert entry["num_samples"] == 2
    assert evaluation.results["model"]["revision"]  # the weights are identified
    assert shown and shown[-1]["content"].strip()
    # every path stopped on the end-of-turn token or the limit, with the same stop set
    vocab = loaded.tokenizer.get_vocab()
    assert vocab["<|im_end|>"] in loaded.stop_token_ids
