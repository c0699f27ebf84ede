"""Verification with the real math-verify: a fixture table of answer pairs with known verdicts,
the process pool (order, de-duplication, hard timeouts), and the dataset stage's columns."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import datasets
import pytest

from toolkit.answers import (
    GOLD_UNPARSEABLE,
    TIMEOUT,
    Verdict,
    choice_letter,
    grade,
    resolve_answer_type,
    verify_many,
)
from toolkit.schema import TraceRecord, records_to_dataset
from toolkit.verification import verify

PAIRS = Path(__file__).parent / "fixtures" / "verify" / "answer_pairs.jsonl"
#: sympy evaluates 9^(9^(9^9)) inside C big-integer code: no Python signal can interrupt it.
PATHOLOGICAL = r"\boxed{9^{9^{9^{9}}}}"


def _pairs() -> list[dict]:
    return [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("pair", _pairs(), ids=lambda p: p["note"])
def test_grade_matches_known_verdict(pair):
    verdict = grade(pair["prediction"], pair["gold"], answer_type=pair["answer_type"])
    assert verdict.correct == pair["correct"], verdict
    assert verdict.error == pair["error"], verdict


def test_pool_matches_in_process_grades_in_input_order():
    pairs = _pairs()
    predictions = [p["prediction"] for p in pairs]
    golds = [p["gold"] for p in pairs]
    types = [p["answer_type"] for p in pairs]
    pooled = verify_many(predictions, golds, types, num_proc=2, timeout_s=5)
    assert [v.correct for v in pooled] == [p["correct"] for p in pairs]
    assert [v.error for v in pooled] == [p["error"] for p in pairs]


def test_unparseable_gold_is_never_correct_even_for_identical_strings():
    # open-r1's bug: an unparseable gold rewarded every completion. Identical text included.
    for gold in (r"\frac{1}{", r"\sqrt{", "", "   "):
        verdict = grade(rf"\boxed{{{gold}}}", gold, answer_type="math")
        assert verdict.correct is None
        assert verdict.error in (GOLD_UNPARSEABLE, "gold_missing")


def test_pathological_expression_times_out_within_the_bound():
    started = time.monotonic()
    verdicts = verify_many(
        [PATHOLOGICAL, r"\boxed{3}", r"\boxed{4}"],
        ["3", "3", "3"],
        "math",
        num_proc=1,
        timeout_s=1.0,
        hard_timeout_s=2.0,
    )
    elapsed = time.monotonic() - started
    assert verdicts[0] == Verdict(None, TIMEOUT, None)
    # The worker that overran was killed and replaced; the items after it were still graded.
    assert verdicts[1].correct is True
    assert verdicts[2].correct is False
    assert elapsed < 15, f"took {elapsed:.1f}s"


def test_hard_timeout_kills_and_replaces_the_worker():
    # A soft deadline far away: only the parent's hard deadline can stop the item, by killing
    # the worker process; the items queued behind it go to a fresh worker.
    started = time.monotonic()
    verdicts = verify_many(
        [r"\boxed{1}", PATHOLOGICAL, r"\boxed{3}", "#### 4"],
        ["1", "3", "3", "4"],
        ["math", "math", "math", "gsm8k"],
        num_proc=1,
        timeout_s=60.0,
        hard_timeout_s=1.0,
        chunk_size=4,
    )
    elapsed = time.monotonic() - started
    assert [(v.correct, v.error) for v in verdicts] == [
        (True, None),
        (None, TIMEOUT),
        (True, None),
        (True, None),
    ]
    assert elapsed < 20, f"took {elapsed:.1f}s"


def test_soft_timeout_in_main_thread_restores_previous_timer():
    import signal

    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(True))
    try:
        signal.setitimer(signal.ITIMER_REAL, 30)
        assert grade(r"\boxed{2}", "2").correct is True
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 25 < remaining <= 30  # the outer timer is still armed
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not fired


def test_grade_works_off_the_main_thread():
    results: list[Verdict] = []
    thread = threading.Thread(target=lambda: results.append(grade(r"\boxed{0.25}", r"\frac14")))
    thread.start()
    thread.join(timeout=60)
    assert [(v.correct, v.error) for v in results] == [(True, None)]


def test_duplicate_items_are_graded_once_and_fanned_out():
    verdicts = verify_many([r"\boxed{2}"] * 50 + ["#### 7"], ["2"] * 50 + ["7"], num_proc=2)
    assert all(v.correct is True for v in verdicts)
    assert len(verdicts) == 51


def test_verify_many_rejects_mismatched_lengths_and_types():
    with pytest.raises(ValueError, match="2 predictions but 1 gold"):
        verify_many(["1", "2"], ["1"])
    with pytest.raises(ValueError, match="row 1: answer_type 'latex'"):
        verify_many(["1", "2"], ["1", "2"], ["math", "latex"])


def test_answer_type_detection():
    assert resolve_answer_type("C") == "choice"
    assert resolve_answer_type("(B)") == "choice"
    assert resolve_answer_type("#### 12") == "gsm8k"
    assert resolve_answer_type(r"\frac{1}{2}") == "math"
    assert choice_letter(r"\text{(D)}") == "D"
    assert choice_letter("D) 42 meters") == "D"
    assert choice_letter("Dog") is None


def test_verify_dataset_adds_columns():
    records = [
        TraceRecord(
            problem="1+1?", reasoning="r", answer=r"so \boxed{2}", final_answer="2", gold_answer="2"
        ),
        TraceRecord(problem="half?", reasoning="r", answer=r"It is $0.5$.", gold_answer=r"\frac12"),
        TraceRecord(
            problem="bad gold",
            reasoning="r",
            answer=r"\boxed{1}",
            final_answer="1",
            gold_answer=r"\frac{1}{",
        ),
        TraceRecord(
            problem="cut off", reasoning="r", answer="", reasoning_complete=False, gold_answer="4"
        ),
        TraceRecord(
            problem="gpqa",
            reasoning="r",
            answer="Answer: B",
            gold_answer="C",
            metadata={"answer_type": "choice"},
        ),
        TraceRecord(
            problem="wrong", reasoning="r", answer=r"\boxed{5}", final_answer="5", gold_answer="6"
        ),
    ]
    dataset = records_to_dataset(records)
    graded = verify(dataset, num_proc=2, progress=False)
    assert graded["correct"] == [True, True, None, False, False, False]
    assert graded["verify_error"] == [None, None, GOLD_UNPARSEABLE, "no_answer", None, None]
    assert graded.features["correct"] == datasets.Value("bool")
    # Re-verifying replaces the columns instead of failing on duplicates.
    again = verify(graded, num_proc=0, progress=False)
    assert again["correct"] == graded["correct"]


def test_verify_dataset_names_missing_columns():
    table = datasets.Dataset.from_dict({"answer": ["1"]})
    with pytest.raises(ValueError, match="gold field 'gold_answer'"):
        verify(table, num_proc=0)
    table = datasets.Dataset.from_dict({"answer": ["1"], "gold_answer": ["1"]})
    with pytest.raises(ValueError, match="prediction field 'completion'"):
        verify(table, prediction_field="completion", num_proc=0)


def test_cli_verify_writes_columns_and_summary(tmp_path):
    from typer.testing import CliRunner

    from toolkit.cli import app

    records = [
        TraceRecord(
            problem="a", reasoning="r", answer=r"\boxed{2}", final_answer="2", gold_answer="2"
        ),
        TraceRecord(
            problem="b",
            reasoning="r",
            answer=r"\boxed{3}",
            final_answer="3",
            gold_answer=r"\frac{1}{",
        ),
    ]
    source = tmp_path / "traces.parquet"
    records_to_dataset(records).to_parquet(str(source))
    out = tmp_path / "verified.jsonl"
    result = CliRunner().invoke(app, ["verify", str(source), "-o", str(out), "--num-proc", "1"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["correct"], r["verify_error"]) for r in rows] == [
        (True, None),
        (None, GOLD_UNPARSEABLE),
    ]
    output = " ".join(result.output.split())  # rich wraps long lines
    assert "1 correct of 1 graded" in output
    assert "gold_unparseable: 1" in output
    bad = CliRunner().invoke(app, ["verify", str(source), "-o", str(out), "--answer-type", "x"])
    # A usage error exits 2 (README: exit codes), through the CLI's one error boundary.
    assert bad.exit_code == 2 and "answer_type must be one of" in bad.output


def test_verify_dataset_flags_wrong_typed_golds_and_records_verdicts():
    """Issue 15: a list gold (["4"]) used to be graded as the string "['4']"; now it is flagged.
    The verdict column carries every row's reason, for curation reports."""
    table = datasets.Dataset.from_dict(
        {"answer": [r"\boxed{4}", r"\boxed{4}"], "gold_answer": [["4"], ["5"]]}
    )
    graded = verify(table, num_proc=0, progress=False)
    assert graded["correct"] == [None, None]
    assert graded["verdict"] == ["gold_wrong_type", "gold_wrong_type"]
    plain = datasets.Dataset.from_dict(
        {"answer": [r"\boxed{4}", r"\boxed{5}", "no idea"], "gold_answer": ["4", "4", "4"]}
    )
    assert verify(plain, num_proc=0, progress=False)["verdict"] == ["correct", "wrong", "no_answer"]


def test_verify_dataset_errors_are_toolkit_errors():
    from toolkit.errors import UsageError

    table = datasets.Dataset.from_dict({"answer": ["1"], "gold_answer": ["1"]})
    with pytest.raises(UsageError, match="answer_type must be one of"):
        verify(table, answer_type="latex", num_proc=0)
    with pytest.raises(UsageError, match="gold field 'gold'"):
        verify(table, gold_field="gold", num_proc=0)
