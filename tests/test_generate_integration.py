"""The ``openai`` backend against a real ``transformers serve`` running the real SmolLM2-135M.

``transformers serve MODEL_DIR`` pins the server to that model: the request's ``model`` must be the
same string (the local path). The server ignores ``n``, so this also exercises the engine's
fallback to one request per sample. Outputs are kept tiny (12 tokens, 3 requests in all): SmolLM2
does ~15 tokens/s on an idle 2-core CPU.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request

import datasets
import pytest

from toolkit.generate import generate
from toolkit.schema import loads_metadata, validate_dataset

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def transformers_server(smollm2_dir):
    executable = shutil.which("transformers")
    if executable is None:
        pytest.skip("the `transformers` CLI is not installed (pip install transformers[serving])")
    port = _free_port()
    process = subprocess.Popen(
        [executable, "serve", str(smollm2_dir), "--host", "127.0.0.1", "--port", str(port),
         "--device", "cpu", "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"transformers serve exited: {process.stderr.read()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("transformers serve did not become ready within 180 s")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)
        process.stderr.close()


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
        max_tokens=12,
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
