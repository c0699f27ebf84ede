"""Evaluation survives faults (issue 15, item 1): 30 % transient server errors, requests that
exhaust their retries, and a ``kill -9`` in the middle lose nothing; a re-run of the same
command resumes and asks only for what is missing."""

from __future__ import annotations

import json
import re
import signal
import sys
from pathlib import Path

from typer.testing import CliRunner

from tests.helpers.kill import kill_after_lines, run
from tests.helpers.servers import FaultPlan, OpenAIServer
from toolkit.cli import app
from toolkit.evaluation.results import load_results

REPO = Path(__file__).resolve().parent.parent
PROBLEMS = 100
SAMPLES = 4


def _task_file(tmp_path: Path) -> Path:
    """A user task in the trace schema: 100 problems with known integer answers."""
    path = tmp_path / "sums.jsonl"
    rows = [
        {"problem_id": f"p{i}", "problem": f"What is {i} + {2 * i}?", "gold_answer": str(3 * i)}
        for i in range(PROBLEMS)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _responder(prompt: str, index: int) -> tuple[str, str]:
    left, right = (int(x) for x in re.search(r"What is (\d+) \+ (\d+)\?", prompt).groups())
    return f"Adding {left} and {right}.", f"The answer is \\boxed{{{left + right}}}."


def _args(task: Path, url: str, out: Path, *extra: str) -> list[str]:
    return ["eval", "m", "--backend", "openai", "--base-url", url + "/v1", "--tasks", str(task),
            "-n", str(SAMPLES), "-o", str(out), "--no-progress", "--concurrency", "8",
            *extra]  # fmt: skip


def test_transient_faults_cost_at_most_one_rerun_and_nothing_is_discarded(tmp_path):
    task, out = _task_file(tmp_path), tmp_path / "eval"
    # 30 % of requests fail (429/500) up to 3 times each; 1 retry is not always enough.
    faults = FaultPlan(rate_429=0.15, rate_500=0.15, retry_after=0.01, faults_per_request=3)
    with OpenAIServer(model="m", responder=_responder, faults=faults, native_n=False) as server:
        first = CliRunner().invoke(
            app, _args(task, server.url, out, "--max-retries", "1", "--seed", "3")
        )
        completed_first = server.stats["completed"]
        # the first run wrote its results and says what is missing instead of discarding them
        assert first.exit_code == 1, first.output
        assert "failed after their retries" in first.output and "re-run" in first.output
        partial = load_results(out)
        missing = partial["run"]["missing_samples"]
        assert 0 < missing < PROBLEMS * SAMPLES and not partial["run"]["complete"]
        state_lines = (out / "state" / "results.jsonl").read_text().splitlines()
        assert len(state_lines) == PROBLEMS * SAMPLES - missing == completed_first

        second = CliRunner().invoke(app, _args(task, server.url, out, "--seed", "3"))
        assert second.exit_code == 0, second.output
        # only the missing samples were asked again
        assert server.stats["completed"] - completed_first == missing
    results = load_results(out)
    entry = results["tasks"]["sums"]
    assert results["run"]["complete"] and entry["num_samples"] == PROBLEMS * SAMPLES
    assert entry["metrics"]["pass@1"]["value"] == 1.0


def test_kill_9_in_the_middle_loses_nothing(tmp_path):
    task, out = _task_file(tmp_path), tmp_path / "eval"
    results_file = out / "state" / "results.jsonl"
    command = [sys.executable, "-m", "toolkit", *_args(task, "URL", out)]
    with OpenAIServer(model="m", responder=_responder, latency=0.05, native_n=False) as server:
        command = [server.url + "/v1" if part == "URL/v1" else part for part in command]
        assert kill_after_lines(command, results_file, 60) == -signal.SIGKILL
        finished = {json.loads(line)["key"] for line in results_file.read_text().splitlines()}
        asked_before = server.stats["completed"]
        assert 60 <= len(finished) < PROBLEMS * SAMPLES and not (out / "results.json").exists()

        rerun = run(command)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        asked_again = server.stats["completed"] - asked_before
    # nothing finished was asked again (requests in flight at the kill are asked again)
    assert asked_again <= PROBLEMS * SAMPLES - len(finished) + 8
    lines = [json.loads(line) for line in results_file.read_text().splitlines()]
    keys = [line["key"] for line in lines]
    assert len(keys) == len(set(keys)) == PROBLEMS * SAMPLES and finished <= set(keys)
    results = load_results(out)
    assert results["tasks"]["sums"]["num_samples"] == PROBLEMS * SAMPLES
    assert results["tasks"]["sums"]["metrics"]["pass@1"]["value"] == 1.0


def test_secrets_echoed_by_the_server_stay_out_of_state_output_and_results(tmp_path, monkeypatch):
    """Issue 15, item 2: `eval` printed an API key that a failing server echoed back."""
    secret = "sk-live-EVALKEY0123456789abcdef"
    monkeypatch.setenv("EVAL_KEY", secret)
    task, out = _task_file(tmp_path), tmp_path / "eval"
    faults = FaultPlan(rate_500=0.5, faults_per_request=9, seed=1)
    with OpenAIServer(model="m", responder=_responder, faults=faults, echo_headers=True,
                      native_n=False) as server:  # fmt: skip
        result = CliRunner().invoke(
            app, _args(task, server.url, out, "--api-key-env", "EVAL_KEY", "--max-retries", "0")
        )
    assert result.exit_code == 1  # some samples failed: reported, resumable
    errors = (out / "state" / "errors.jsonl").read_text()
    assert "Request headers" in errors and "***" in errors
    for text in (errors, result.output, (out / "results.json").read_text()):
        assert secret not in text
