"""Crash safety: ``toolkit generate`` killed with SIGKILL mid-run, then re-run, ends exactly-once."""

from __future__ import annotations

import signal
import sys
from collections import Counter
from pathlib import Path

import datasets

from tests.helpers.kill import kill_after_lines, run
from tests.helpers.servers import OpenAIServer
from toolkit.generation import read_jsonl_tolerant
from toolkit.schema import loads_metadata, validate_dataset

REPO = Path(__file__).resolve().parent.parent
PROBLEMS = 30
SAMPLES = 2


def _command(source: Path, url: str, output: Path) -> list[str]:
    return [
        sys.executable, "-m", "toolkit", "generate", str(source), "--backend", "openai",
        "--base-url", url + "/v1", "--model", "m", "-n", str(SAMPLES), "-o", str(output),
        "--concurrency", "4", "--no-native-n", "--seed", "7", "--no-progress",
        "--max-retries", "2",
    ]  # fmt: skip


def test_sigkill_mid_run_then_rerun_is_exactly_once(tmp_path):
    source = tmp_path / "problems.jsonl"
    datasets.Dataset.from_dict(
        {"problem": [f"Resume problem {i}: what is {i} squared?" for i in range(PROBLEMS)]}
    ).to_json(source)
    output = tmp_path / "out.parquet"
    results = tmp_path / "out.parquet.state" / "results.jsonl"
    with OpenAIServer(model="m", latency=0.15) as server:
        returncode = kill_after_lines(_command(source, server.url, output), results, 12, timeout=90)
        assert returncode == -signal.SIGKILL
        assert not output.exists()
        # a kill during a write leaves a torn line; simulate the worst case on top of the real kill
        with open(results, "ab") as handle:
            handle.write(b'{"key": "torn-by-kill", "row": {"id"')
        survived, torn = read_jsonl_tolerant(results)
        assert torn == 1 and 12 <= len(survived) < PROBLEMS * SAMPLES
        finished_first = {line["key"] for line in survived}
        assert len(finished_first) == len(survived)
        # bodies are recorded on arrival: everything the killed process sent is already counted
        requests_before = len(server.requests)

        rerun = run(_command(source, server.url, output), timeout=120)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        requests_second = len(server.requests) - requests_before

    # nothing finished was asked again: the re-run sent exactly the missing samples
    assert requests_second == PROBLEMS * SAMPLES - len(finished_first)
    table = datasets.load_dataset("parquet", data_files=str(output), split="train")
    validate_dataset(table)
    meta = [loads_metadata(m) for m in table["metadata"]]
    counts = Counter((m["problem_index"], m["sample_index"]) for m in meta)
    assert counts == Counter({(p, s): 1 for p in range(PROBLEMS) for s in range(SAMPLES)})
    assert [(m["problem_index"], m["sample_index"]) for m in meta] == sorted(counts)
    keys = {m["request_key"] for m in meta}
    assert finished_first <= keys and len(keys) == PROBLEMS * SAMPLES
    # the repaired state file holds every key exactly once, and no torn bytes
    lines, torn_after = read_jsonl_tolerant(results)
    assert torn_after == 0 and len(lines) == len({line["key"] for line in lines}) == len(keys)
