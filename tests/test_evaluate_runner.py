"""The evaluation loop end to end: tasks, results.json, details.parquet, comparison, CLI."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.helpers.evaluate import ScriptedBackend, gold_script
from toolkit.cli import app
from toolkit.evaluation import evaluate
from toolkit.evaluation.results import (
    DETAIL_COLUMNS,
    comparison_markdown,
    load_results,
)
from toolkit.evaluation.tasks import BENCHMARKS, get_benchmark, resolve_task, user_task


@pytest.fixture
def data_files(fixtures_dir, benchmark_data):
    return {
        "gsm8k": benchmark_data / "gsm8k_test.jsonl",
        "aime25": fixtures_dir / "evaluate" / "aime25_test.jsonl",
        "gpqa_diamond": fixtures_dir / "evaluate" / "gpqa_diamond.csv",
    }


def _golds(data_files, limit):
    golds = {}
    for task, path in data_files.items():
        for row in get_benchmark(task).load(path, limit=limit):
            golds[row["problem"]] = row["gold_answer"]
    return golds


def test_results_and_details_with_known_verdicts(data_files, tmp_path):
    # Samples 0 and 2 of 4 are right for every problem: pass@1 = 0.5, pass@2 = 5/6, pass@4 = 1,
    # maj@4 is a tie between the gold and the wrong answer, broken by first occurrence (gold).
    backend = ScriptedBackend(gold_script(_golds(data_files, 2), {0, 2}))
    evaluation = evaluate(
        "scripted",
        ["gsm8k", "aime25", "gpqa_diamond"],
        n=4,
        limit=2,
        backend=backend,
        max_new_tokens=1234,
        data_files=data_files,
        output_dir=tmp_path / "out",
        show_progress=False,
    )
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results == {k: v for k, v in evaluation.results.items()}
    assert results["protocol"]["max_new_tokens"] == 1234
    assert results["protocol"]["n"] == 4
    assert (results["protocol"]["temperature"], results["protocol"]["top_p"]) == (0.6, 0.95)
    assert results["model"]["revision"] == "scripted-1"
    # one request per problem carries its 4 samples (the local batcher would share batches)
    assert len(backend.calls) == 6 and {n for _, n, _ in backend.calls} == {4}
    for task in ("gsm8k", "aime25", "gpqa_diamond"):
        entry = results["tasks"][task]
        assert entry["num_problems"] == 2 and entry["n"] == 4 and entry["num_samples"] == 8
        assert entry["metrics"]["pass@1"] == {"value": 0.5, "stderr": 0.0}
        assert entry["metrics"]["pass@2"]["value"] == pytest.approx(5 / 6)
        assert entry["metrics"]["pass@4"]["value"] == 1.0
        assert entry["metrics"]["maj@4"]["value"] == 1.0
        assert entry["reasoning"]["share_no_answer"] == 0.0
        assert entry["reasoning"]["mean_thinking_tokens"] == pytest.approx(7.0)  # words
        assert entry["dataset"]["local_file"].endswith(data_files[task].name)
        assert len(entry["dataset"]["content_sha256"]) == 64
        assert "{problem}" in entry["prompt_template"] and entry["extraction"]
    assert results["tasks"]["gpqa_diamond"]["prompt_template"].startswith("Answer the following")
    flat = {(r["task"], r["metric"]): r for r in results["results"]}
    assert flat[("aime25", "pass@1")]["headline"] is True

    details = pd.read_parquet(tmp_path / "out" / "details.parquet")
    assert list(details.columns) == list(DETAIL_COLUMNS)
    assert len(details) == 3 * 2 * 4
    assert details.groupby("task")["correct"].mean().to_dict() == {
        "aime25": 0.5,
        "gpqa_diamond": 0.5,
        "gsm8k": 0.5,
    }
    first = details[(details.task == "gsm8k") & (details["index"] == 0)].iloc[0]
    assert first.reasoning.startswith("Let me think") and first.answer.startswith("\\boxed")
    assert first.prompt.endswith("within \\boxed{}.") and first.gold == "18"


def test_unclosed_and_truncated_outputs_are_counted(benchmark_data, tmp_path):
    def script(prompt, sample):
        from toolkit.backends import Completion

        if sample == 0:
            return Completion(
                "<think>\nstill thinking about 18", finish_reason="length", completion_tokens=50
            )
        return Completion(
            "<think>\nok\n</think>\n\nNo idea.", finish_reason="stop", completion_tokens=9
        )

    evaluation = evaluate(
        "scripted",
        "math500",
        n=2,
        limit=3,
        backend=ScriptedBackend(script),
        data_files={"math500": benchmark_data / "math500_test.jsonl"},
        show_progress=False,
    )
    stats = evaluation.results["tasks"]["math500"]["reasoning"]
    assert stats["share_unclosed"] == 0.5
    assert stats["share_truncated"] == 0.5
    assert stats["share_no_answer"] == 1.0
    assert evaluation.score("math500") == 0.0


def test_greedy_forces_one_sample(benchmark_data):
    backend = ScriptedBackend(gold_script({}, set()))
    backend.script = lambda prompt, sample: __import__(
        "toolkit.backends", fromlist=["Completion"]
    ).Completion("\\boxed{18}", finish_reason="stop")
    evaluation = evaluate(
        "scripted",
        ["gsm8k"],
        n=8,
        limit=1,
        greedy=True,
        backend=backend,
        data_files={"gsm8k": benchmark_data / "gsm8k_test.jsonl"},
        show_progress=False,
    )
    assert backend.calls[0][1] == 1
    assert evaluation.results["protocol"]["greedy"] is True
    assert evaluation.results["protocol"]["temperature"] == 0.0
    assert evaluation.score("gsm8k") == 1.0


def test_bad_arguments_fail_clearly(benchmark_data, tmp_path):
    backend = ScriptedBackend(gold_script({}, set()))
    with pytest.raises(KeyError, match="unknown task 'mmlu'"):
        evaluate("m", ["mmlu"], backend=backend)
    with pytest.raises(ValueError, match="not being evaluated: aime24"):
        evaluate("m", ["gsm8k"], backend=backend, data_files={"aime24": "x.jsonl"})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        evaluate("m", ["gsm8k"], backend=backend, data_files={"gsm8k": tmp_path / "no.jsonl"})
    with pytest.raises(ValueError, match="listed twice: gsm8k"):
        evaluate("m", "gsm8k,math500,gsm8k", backend=backend)
    with pytest.raises(ValueError, match="n must be"):
        evaluate("m", ["gsm8k"], n=0, backend=backend)


def test_user_task_from_schema_dataset(tmp_path):
    rows = [
        {"id": "a1", "problem_id": "p1", "problem": "What is 2+3?", "gold_answer": "5"},
        {"id": "a2", "problem_id": "p1", "problem": "What is 2+3?", "gold_answer": "5"},
        {"id": "b1", "problem_id": "p2", "problem": "What is 10/4?", "gold_answer": "\\frac{5}{2}"},
        {"id": "c1", "problem_id": "p3", "problem": "Unverifiable", "gold_answer": ""},
    ]
    path = tmp_path / "held_out.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = resolve_task(str(path))
    assert task.name == "held_out" and "held_out" not in BENCHMARKS
    loaded = task.load()
    assert [(r["index"], r["gold_answer"]) for r in loaded] == [(0, "5"), (1, "\\frac{5}{2}")]

    backend = ScriptedBackend(gold_script({r["problem"]: r["gold_answer"] for r in loaded}, {0}))
    evaluation = evaluate("m", [task], n=1, backend=backend, show_progress=False)
    assert evaluation.score("held_out") == 1.0

    registered = user_task("my_set", path, answer_type="math")
    assert get_benchmark("my_set") is registered
    BENCHMARKS.pop("my_set")
    with pytest.raises(ValueError, match="answer_type"):
        user_task("x", path, answer_type="essay")
    with pytest.raises(ValueError, match="column"):
        user_task("y", path, problem_field="question", register=False).load()


def test_identical_prompts_each_get_their_samples(tmp_path):
    """Two problems with the same text (distinct ids) are two problems: each is sampled and
    scored, neither is reported as a failed sample."""
    rows = [
        {"id": "a", "problem_id": "p1", "problem": "What is 2+3?", "gold_answer": "5"},
        {"id": "b", "problem_id": "p2", "problem": "What is 2+3?", "gold_answer": "5"},
        {"id": "c", "problem_id": "p3", "problem": "What is 10/4?", "gold_answer": "\\frac{5}{2}"},
    ]
    path = tmp_path / "repeats.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = resolve_task(str(path))
    golds = {r["problem"]: r["gold_answer"] for r in rows}
    backend = ScriptedBackend(gold_script(golds, {0, 1, 2, 3}))
    evaluation = evaluate(
        "m", [task], n=2, backend=backend, output_dir=tmp_path / "out", show_progress=False
    )
    assert evaluation.score("repeats") == 1.0
    details = pd.read_parquet(tmp_path / "out" / "details.parquet")
    assert len(details) == 6 and details["correct"].all()


def test_registry_keeps_curation_api():
    """The curation helper relies on BENCHMARKS, get_benchmark and .problems()."""
    assert {"gsm8k", "math500", "aime24", "aime25", "gpqa_diamond"} <= set(BENCHMARKS)
    gpqa = get_benchmark("gpqa_diamond")
    assert gpqa.answer_type == "choice" and gpqa.metric == "pass@1"
    assert callable(gpqa.problems)
    with pytest.raises(KeyError, match="known"):
        get_benchmark("nope")


def test_gpqa_options_shuffle_is_fixed(fixtures_dir):
    path = fixtures_dir / "evaluate" / "gpqa_diamond.csv"
    first = get_benchmark("gpqa_diamond").load(path)
    second = get_benchmark("gpqa_diamond").load(path)
    assert first == second
    for row in first:
        letter = row["gold_answer"]
        assert f"\n{letter}) {row['options']['ABCD'.index(letter)]}" in row["problem"]
    assert first[0]["options"][ord(first[0]["gold_answer"]) - 65] == "The photon"


def test_comparison_table_and_cli(data_files, tmp_path, monkeypatch):
    backend_a = ScriptedBackend(gold_script(_golds(data_files, 1), {0}))
    backend_b = ScriptedBackend(gold_script(_golds(data_files, 1), set()))
    for name, backend in (("a", backend_a), ("b", backend_b)):
        evaluate(
            "m",
            ["gsm8k", "aime25"],
            limit=1,
            backend=backend,
            data_files={k: v for k, v in data_files.items() if k != "gpqa_diamond"},
            output_dir=tmp_path / name,
            show_progress=False,
        )
    loaded = [load_results(tmp_path / "a"), load_results(tmp_path / "b" / "results.json")]
    table = comparison_markdown(loaded)
    lines = table.splitlines()
    assert lines[0].startswith("| task | scripted-model [a] (n=1, T=0.6, p=0.95, max=32768)")
    assert lines[2] == "| gsm8k | pass@1 100.0 ± 0.0 (1) | pass@1 0.0 ± 0.0 (1) |"

    result = CliRunner().invoke(
        app, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--markdown"]
    )
    assert result.exit_code == 0, result.output
    assert "| aime25 | pass@1 100.0 ± 0.0 (1) | pass@1 0.0 ± 0.0 (1) |" in result.output

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"tasks": {}}))
    result = CliRunner().invoke(app, ["compare", str(broken)])
    assert result.exit_code == 1
    assert "not a toolkit results file" in " ".join(result.output.split())


def test_cli_eval_with_tiny_model(tiny_model_dir, data_files, tmp_path):
    import torch

    out = tmp_path / "eval"
    threads = torch.get_num_threads()
    try:
        result = _invoke_eval(tiny_model_dir, data_files, out)
        assert torch.get_num_threads() == 1  # --threads 1
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    results = load_results(out)
    assert results["model"]["backend"] == "transformers"
    assert results["model"]["revision"].startswith("sha256:")
    assert results["protocol"]["prefilled_thinking"] is False
    for task in ("gsm8k", "gpqa_diamond"):
        entry = results["tasks"][task]
        assert entry["num_samples"] == 4
        # 6 new tokens from a random model: every sample is cut off at the limit.
        assert entry["reasoning"]["share_truncated"] == 1.0
    details = pd.read_parquet(out / "details.parquet")
    assert (details["completion_tokens"] == 6).all()

    result = CliRunner().invoke(
        app, ["eval", str(tiny_model_dir), "--data-file", "oops", "-o", "x"]
    )
    assert result.exit_code == 2 and "TASK=PATH" in " ".join(result.output.split())


def _invoke_eval(tiny_model_dir, data_files, out):
    return CliRunner().invoke(
        app,
        [
            "eval",
            str(tiny_model_dir),
            "--threads",
            "1",
            "--tasks",
            "gsm8k,gpqa_diamond",
            "-n",
            "2",
            "--limit",
            "2",
            "--max-new-tokens",
            "6",
            "--data-file",
            f"gsm8k={data_files['gsm8k']}",
            "--data-file",
            f"gpqa_diamond={data_files['gpqa_diamond']}",
            "-o",
            str(out),
        ],
    )


def test_lighteval_adapter_is_optional_and_says_how_to_get_it(tmp_path):
    from toolkit.evaluation.lighteval_adapter import (
        lighteval_available,
        results_from_lighteval,
        run_lighteval,
        task_string,
    )

    assert (
        task_string(["math500", "gpqa_diamond"]) == "lighteval|math_500|0,lighteval|gpqa:diamond|0"
    )
    with pytest.raises(ValueError, match="no lighteval equivalent"):
        task_string(["held_out"])
    raw = {
        "results": {
            "lighteval|math_500|0": {"extractive_match": 0.25, "extractive_match_stderr": 0.05},
            "all": {"extractive_match": 0.25},
        }
    }
    converted = results_from_lighteval(raw, model="m", protocol={"n": 1, "max_new_tokens": 10})
    assert converted["tasks"]["math500"]["metrics"] == {
        "extractive_match": {"value": 0.25, "stderr": 0.05}
    }
    if lighteval_available():
        pytest.skip("lighteval is installed here; the missing-package path cannot be exercised")
    with pytest.raises(ImportError, match=r"'eval' extra"):
        run_lighteval("m", ["math500"], output_dir=tmp_path)
    result = CliRunner().invoke(
        app, ["eval", "m", "--backend", "lighteval", "--tasks", "math500", "-o", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "'eval' extra" in " ".join(result.output.split())
