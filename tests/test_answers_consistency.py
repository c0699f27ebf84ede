"""``toolkit verify`` and ``toolkit eval`` give the same verdict for the same text and gold.

Issue 11's first finding: the two stages had their own extraction rules, so a trace kept as correct
at curation could be scored wrong at evaluation (``\\boxed{6}. #### 5``: verify took 5, evaluate
6). Both now go through ``toolkit.answers``; this feeds one table to both and compares verdicts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.backends import Completion
from toolkit.evaluation.scoring import score_completions
from toolkit.evaluation.tasks import BenchmarkSource
from toolkit.schema import TraceRecord, records_to_dataset
from toolkit.thinking import split_thinking
from toolkit.verification import verify

FIXTURES = Path(__file__).parent / "fixtures"

#: (completion, gold, kind): the issue's examples and the styles graders meet.
TABLE = [
    ("<think>\n3+3\n</think>\n\nSo 3+3 = \\boxed{6}. #### 5", "6", "gsm8k"),
    ("<think>\n3+3\n</think>\n\nSo 3+3 = \\boxed{6}. #### 5", "5", "gsm8k"),
    ("<think>\nhmm\n</think>\n\nOptions considered: (A) and (D). Final: D", "D", "choice"),
    ("<think>\nx\n</think>\n\n**Answer:** $\\frac{1}{2}$", "\\frac{1}{2}", "math"),
    ("<think>\nx\n</think>\n\nANSWER: 12", "12", "math"),
    ("<think>\nx\n</think>\n\nAnswer: 2x", "2x", "math"),
    ("<think>\nx\n</think>\n\nThe answer is for sure D, it can't be A or B", "D", "choice"),
    ('<think>\nx\n</think>\n\nAnswer: "C"', "C", "choice"),
    ("<think>\nx\n</think>\n\nThe total is 1 000 apples.", "1000", "gsm8k"),
    ("<think>\nx\n</think>\n\nThe code is AZYUK2A.", "2", "gsm8k"),
    ("<think>\nThe answer is 18\n", "18", "gsm8k"),  # unclosed: no answer
    ("Let me think, 9 * 2 = 18\n</think>\n\n\\boxed{18}", "18", "gsm8k"),  # prefilled
    ("<think>\nx\n</think>\n\nThe answer is 18 because 9 eggs are sold", "18", "gsm8k"),
    (
        "<think>\nx\n</think>\n\n\\boxed{x = \\frac{1}{2}, x = 3}",
        "$$x = \\frac{1}{2}, x = 3$$",
        "math",
    ),
    ("<think>\nx\n</think>\n\n\\boxed{5}", "\\frac{1}{", "math"),
    ("<think>\nx\n</think>\n\nAnswer: Paris", "paris", "text"),
    ("<think>\nx\n</think>\n\nThe capital is\n**Lyon**", "Paris", "text"),
    ("<think>\nx\n</think>\n\n\\boxed{\\text{Monday}}", "Monday", "text"),
    ("<think>\nx\n</think>\n\n", "Monday", "text"),
]


def _fixture_rows() -> list[tuple[str, str, str]]:
    rows = []
    for line in (FIXTURES / "verify" / "answer_pairs.jsonl").read_text().splitlines():
        pair = json.loads(line)
        if pair["gold"] is not None and pair["answer_type"] != "auto":
            rows.append((pair["prediction"], pair["gold"], pair["answer_type"]))
    kinds = {"gsm8k": "gsm8k", "math500": "math", "aime24": "math", "gpqa_diamond": "choice"}
    for line in (FIXTURES / "evaluate" / "completions.jsonl").read_text().splitlines():
        case = json.loads(line)
        if not case.get("prefilled") and case.get("reasoning") is None:
            rows.append((case["completion"], case["gold"], kinds[case["task"]]))
    return rows


def _task(kind: str) -> BenchmarkSource:
    return BenchmarkSource(
        f"consistency-{kind}", "local", "test", "problem", "gold", answer_type=kind
    )


@pytest.mark.parametrize("kind", ["math", "gsm8k", "choice", "text"])
def test_verify_and_evaluate_give_the_same_verdicts(kind):
    table = [row for row in TABLE + _fixture_rows() if row[2] == kind]
    prefilled = [("<think>" not in text and "</think>" in text) for text, _, _ in table]
    records = []
    for (text, gold, _), is_prefilled in zip(table, prefilled, strict=True):
        parts = split_thinking(text, prefilled=is_prefilled)
        records.append(
            TraceRecord(
                problem="p",
                reasoning=parts.reasoning or "",
                answer=parts.answer,
                reasoning_complete=parts.reasoning_complete,
                gold_answer=gold,
                metadata={"answer_type": kind},
            )
        )
    verified = verify(records_to_dataset(records), num_proc=1, progress=False)
    samples = score_completions(
        _task(kind),
        [{"index": i, "problem": "p", "gold_answer": gold} for i, (_, gold, _) in enumerate(table)],
        ["prompt"] * len(table),
        [[Completion(text, finish_reason="stop")] for text, _, _ in table],
        prefilled=prefilled,
    )
    mismatches = [
        f"{text[-60:]!r} vs {gold!r}: verify {v_correct}/{v_reason}, evaluate "
        f"{sample.correct}/{sample.verdict}"
        for (text, gold, _), v_correct, v_reason, sample in zip(
            table, verified["correct"], verified["verdict"], samples, strict=True
        )
        if (bool(v_correct), v_reason) != (sample.correct, sample.verdict)
    ]
    assert not mismatches, "\n".join(mismatches)
    assert len(table) >= 4, table


def test_the_issue_examples_grade_as_intended():
    by_text = {}
    for text, gold, kind in TABLE:
        [sample] = score_completions(
            _task(kind),
            [{"index": 0, "problem": "p", "gold_answer": gold}],
            ["prompt"],
            [[Completion(text, finish_reason="stop")]],
            prefilled="<think>" not in text and "</think>" in text,
        )
        by_text[(text, gold)] = (sample.extracted, sample.verdict)
    assert by_text[(TABLE[0][0], "6")] == ("6", "correct")  # the box, not the later "#### 5"
    assert by_text[(TABLE[1][0], "5")] == ("6", "wrong")
    assert by_text[(TABLE[2][0], "D")] == ("D", "correct")
    assert by_text[(TABLE[9][0], "2")] == (None, "no_answer")  # AZYUK2A holds no number
    assert by_text[(TABLE[10][0], "18")] == (None, "no_answer")  # unclosed thinking
    assert by_text[(TABLE[11][0], "18")] == ("18", "correct")  # prefilled <think>
    assert by_text[(TABLE[13][0], TABLE[13][1])] == ("x = \\frac{1}{2}, x = 3", "correct")
    assert by_text[(TABLE[14][0], "\\frac{1}{")] == ("5", "gold_unparseable")
