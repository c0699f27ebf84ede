"""The ``openai`` backend against a real ``transformers serve`` running the real SmolLM2-135M.

``transformers serve MODEL_DIR`` pins the server to that model: the request's ``model`` must be the
same string (the local path). The server ignores ``n``, so this also exercises the engine's
fallback to one request per sample. Outputs are kept tiny (12 tokens, 3 requests in all): SmolLM2
does ~15 tokens/s on an idle 2-core CPU.
"""

from __future__ import annotations

import shutil

import datasets
import pytest

from toolkit.generation import generate
from toolkit.models import serve_transformers
from toolkit.schema import loads_metadata, validate_dataset

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def transformers_server(smollm2_dir):
    if shutil.which("transformers") is None:
        pytest.skip("the `transformers` CLI is not installed (pip install transformers[serving])")
    with serve_transformers(smollm2_dir, ready_timeout=180) as base_url:
        yield base_url.removesuffix("/v1")


@pytest.mark.parametrize("stream", [False, True])
def test_openai_backend_against_transformers_serve(
    transformers_server, smollm2_dir, tmp_path, stream
):
    problems = datasets.Dataset.from_dict(
        {"problem": ["What is 2 + 3?", "Name a prime number."], "gold_answer": ["5", "2"]}
    )
    # Three requests in all: n=2 for the first problem (the server ignores n, so the engine falls
    # back to one request per sample), one streamed request for the second.
    problems = problems.select([1] if stream else [0])
    n = 1 if stream else 2
    result = generate(
        problems,
        "openai",
        model=str(smollm2_dir),
        base_url=transformers_server + "/v1",
        n=n,
        max_new_tokens=12,
        concurrency=1,  # CPU generation: parallel requests only fight over the cores
        stream=stream,
        state_dir=tmp_path / "state",
        progress=False,
        request_timeout=120,
        return_summary=True,
    )
    dataset = result.dataset
    validate_dataset(dataset)
    assert result.summary.failed == 0 and len(dataset) == len(problems) * n
    for row in dataset:
        meta = loads_metadata(row["metadata"])
        assert row["answer"].strip(), row
        assert (
            row["reasoning"] is None and meta["thinking_style"] == "none"
        )  # SmolLM2 does not think
        assert meta["finish_reason"] in ("stop", "length")
        assert 0 < meta["usage"]["completion_tokens"] <= 12
        assert meta["usage"]["prompt_tokens"] > 10  # chat template + open-r1 instruction
        assert meta["teacher"]["model"] == str(smollm2_dir)
    order = [
        (m["problem_index"], m["sample_index"]) for m in map(loads_metadata, dataset["metadata"])
    ]
    assert order == [(p, s) for p in range(len(problems)) for s in range(n)]
    assert dataset["gold_answer"][0] == ("2" if stream else "5")
