"""Exact scoring of recorded completions: split → extract → grade, per task, with known verdicts.

(The per-kind extraction cases that lived here moved to ``tests/test_answers.py`` with the code.)
"""

from __future__ import annotations

import json

import pytest

from toolkit.backends import Completion
from toolkit.evaluation.scoring import score_completions, task_metrics
from toolkit.evaluation.tasks import get_benchmark


def _cases(fixtures_dir):
    path = fixtures_dir / "evaluate" / "completions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _score(case):
    task = get_benchmark(case["task"])
    completion = Completion(
        content=case["completion"],
        finish_reason=case["finish_reason"],
        reasoning=case.get("reasoning"),
    )
    row = {"index": 0, "problem": "p", "gold_answer": case["gold"]}
    [sample] = score_completions(
        task, [row], ["prompt"], [[completion]], prefilled=case["prefilled"]
    )
    return sample


def test_every_recorded_completion_scores_exactly(fixtures_dir):
    cases = _cases(fixtures_dir)
    assert {c["task"] for c in cases} == {"gsm8k", "math500", "aime24", "gpqa_diamond"}
    mismatches = []
    for task_name in sorted({c["task"] for c in cases}):
        task_cases = [c for c in cases if c["task"] == task_name]
        rows = [
            {"index": i, "problem": "p", "gold_answer": c["gold"]} for i, c in enumerate(task_cases)
        ]
        completions = [
            [Completion(c["completion"], c.get("reasoning"), c["finish_reason"])]
            for c in task_cases
        ]
        samples = score_completions(
            get_benchmark(task_name),
            rows,
            ["prompt"] * len(rows),
            completions,
            prefilled=[c["prefilled"] for c in task_cases],
        )
        for case, sample in zip(task_cases, samples, strict=True):
            got = (sample.extracted, sample.correct, sample.unclosed, sample.no_answer)
            want = (case["extracted"], case["correct"], case["unclosed"], case["extracted"] is None)
            if got != want:
                mismatches.append(f"{case['id']}: got {got}, want {want}")
    assert not mismatches, "\n".join(mismatches)


def test_unclosed_reasoning_is_never_rescued(fixtures_dir):
    """A boxed answer inside unfinished thinking is not the model's answer."""
    case = next(c for c in _cases(fixtures_dir) if c["id"] == "math-unclosed-boxed-inside")
    sample = _score(case)
    assert sample.reasoning and "\\boxed{5}" in sample.reasoning
    assert sample.answer == ""
    assert (sample.extracted, sample.correct, sample.truncated) == (None, False, True)


def test_separate_reasoning_field_is_counted_as_thinking(fixtures_dir):
    case = next(c for c in _cases(fixtures_dir) if c["id"] == "math-reasoning-field")
    sample = _score(case)
    assert sample.reasoning == "width 1, height 5"
    assert sample.thinking_tokens == 4  # default counter: whitespace words
    assert sample.correct


def test_task_metrics_reasoning_statistics(fixtures_dir):
    cases = [c for c in _cases(fixtures_dir) if c["task"] == "gsm8k"]
    task = get_benchmark("gsm8k")
    rows = [{"index": i, "problem": "p", "gold_answer": c["gold"]} for i, c in enumerate(cases)]
    samples = score_completions(
        task,
        rows,
        ["prompt"] * len(cases),
        [[Completion(c["completion"], finish_reason=c["finish_reason"])] for c in cases],
        prefilled=[c["prefilled"] for c in cases],
    )
    metrics = task_metrics(samples, n=1)
    correct = sum(c["correct"] for c in cases)
    assert metrics["metrics"]["pass@1"]["value"] == pytest.approx(correct / len(cases))
    assert metrics["num_problems"] == len(cases)
    stats = metrics["reasoning"]
    assert stats["share_unclosed"] == pytest.approx(2 / len(cases))
    assert stats["share_truncated"] == pytest.approx(2 / len(cases))
    assert stats["share_no_answer"] == pytest.approx(3 / len(cases))


def test_results_record_the_grader_and_details_the_verdicts(fixtures_dir, tmp_path):
    """Issue 11 item 5: results.json names the grader, its version and rules; details.parquet
    carries each sample's verdict reason; the model card's protocol table shows the grader."""
    import pandas as pd

    from tests.helpers.evaluate import ScriptedBackend
    from toolkit import answers
    from toolkit.cards.model_card import _task_rows
    from toolkit.evaluation import evaluate

    def script(prompt: str, sample: int) -> Completion:
        text = ["\\boxed{204}", "I am not sure.", "Answer: C"][sample]
        return Completion(f"<think>\nwork\n</think>\n\n{text}", finish_reason="stop")

    data = {"aime25": fixtures_dir / "evaluate" / "aime25_test.jsonl"}
    evaluation = evaluate(
        "scripted",
        ["aime25"],
        n=3,
        limit=1,
        backend=ScriptedBackend(script),
        data_files=data,
        output_dir=tmp_path,
        show_progress=False,
    )
    grader = evaluation.results["protocol"]["grader"]
    assert grader["name"] == "toolkit.answers"
    assert grader["version"] == answers.GRADER_VERSION
    assert grader["math_verify"] and set(grader["rules"]) == set(answers.RULES)
    details = pd.read_parquet(tmp_path / "details.parquet")
    gold = str(details["gold"].iloc[0])
    expected = ["correct" if gold == "204" else "wrong", "no_answer", "wrong"]
    assert list(details["verdict"]) == expected
    [row] = _task_rows(evaluation.results)
    assert f"toolkit.answers v{answers.GRADER_VERSION}, math-verify" in row["extraction_md"]
