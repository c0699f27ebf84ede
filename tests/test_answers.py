"""``toolkit.answers``: the one extraction implementation (every kind, every rule, in order), the
graders' verdict reasons, and bounded work on degenerate completions.

The boxed / final-answer cases moved here from ``tests/test_thinking.py`` and the per-kind cases
from ``tests/test_evaluate_scoring.py``, with their assertions (one deliberate change is marked).
"""

from __future__ import annotations

import time

import pytest

from toolkit.answers import (
    GOLD_UNPARSEABLE,
    GOLD_WRONG_TYPE,
    NO_ANSWER,
    RULES,
    Verdict,
    describe,
    extract,
    extract_boxed,
    final_answer,
    grade,
    parse_number,
    verify_many,
)

# ---------------------------------------------------------------------------------------------
# Moved from tests/test_thinking.py


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\\boxed{4}", "4"),
        ("first \\boxed{3} then \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("nested \\boxed{\\sqrt{x^{2}}}", "\\sqrt{x^{2}}"),
        ("\\fbox{7}", "7"),
        ("spaces \\boxed {  8 }", "8"),
        ("unbalanced \\boxed{1 + {2}", None),
        ("complete \\boxed{1} then broken \\boxed{2", "1"),
        ("no box", None),
        ("", None),
        (None, None),
        ("non-ASCII \\boxed{π ≈ 3.14}", "π ≈ 3.14"),
    ],
)
def test_extract_boxed(text, expected):
    assert extract_boxed(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so \\boxed{5}. The final answer is 6", "5"),
        ("Final Answer: The final answer is PARIS", "PARIS"),
        ("The final answer is $\\frac{1}{2}$.", "\\frac{1}{2}"),
        ("the final answer is: 12\nThe final answer is 13.", "13"),
        ("no answer here", None),
        (None, None),
    ],
)
def test_final_answer(text, expected):
    assert final_answer(text) == expected


def test_extraction_has_one_home():
    import toolkit.thinking as thinking

    assert not hasattr(thinking, "extract_boxed")  # splitting only: answers extract
    assert not hasattr(thinking, "extract_final_answer")


# ---------------------------------------------------------------------------------------------
# Moved from tests/test_evaluate_scoring.py


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Answer: C", "C"),
        ("The answer is a bit tricky.\nAnswer: (B)", "B"),
        ("\\boxed{\\text{D}}", "D"),
        ("so the options narrow down\n\n(A)", "A"),
        ("the answer is Both of them", None),
        ("I think it's C but not sure", None),
    ],
)
def test_extract_choice(text, expected):
    assert extract(text, "choice").answer == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("So she makes $18 every day.\n#### 18", "18"),
        ("The answer is 1,234 dollars.", "1234"),
        ("\\boxed{\\$18.00}", "18"),
        ("the answer is 18 because 9 eggs are sold", "18"),
        ("\\boxed{\\frac{7}{2}}", "\\frac{7}{2}"),
        ("x = 3, so 5.50", "5.5"),
        ("no numbers here", None),
    ],
)
def test_extract_gsm8k(text, expected):
    assert extract(text, "gsm8k").answer == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("The final answer is $\\frac{14}{3}$.", "\\frac{14}{3}"),
        ("**Final Answer:** \\boxed{42}", "42"),
        # Deliberate change: evaluate's old math extractor returned None here, while verify (the
        # whole text through math-verify) took 42. One rule now: the last number is the last
        # resort for maths too, as in math-verify, lighteval and Qwen2.5-Math.
        ("nothing here but 42", "42"),
    ],
)
def test_extract_math(text, expected):
    assert extract(text, "math").answer == expected


# ---------------------------------------------------------------------------------------------
# The rules named in issue 11


@pytest.mark.parametrize(
    ("text", "kind", "expected", "rule"),
    [
        # Boxed beats answer lines (verify took 5 here, evaluate 6: one answer now).
        ("So 3+3 = \\boxed{6}. #### 5", "gsm8k", "6", "boxed"),
        ("So 3+3 = \\boxed{6}. #### 5", "math", "6", "boxed"),
        ("Options considered: (A) and (D). Final: D", "choice", "D", "answer_line"),
        # Answer lines, with or without $…$ (the simple-evals styles).
        ("**Answer:** $x^2$", "math", "x^2", "answer_line"),
        ("**Answer**: 7", "math", "7", "answer_line"),
        ("ANSWER: \\frac{1}{2}", "math", "\\frac{1}{2}", "answer_line"),
        ("Answer: $3$", "math", "3", "answer_line"),
        ("Final answer: 12", "math", "12", "answer_line"),
        ("The answer is $\\sqrt{2}$.", "math", "\\sqrt{2}", "answer_line"),
        ("**Answer:**\n\n$5$", "math", "5", "answer_line"),
        ("The answer is 18 because 9 eggs are sold at $2", "math", "18", "answer_line"),
        # Option letters in the forms graders see.
        ('Answer: "C"', "choice", "C", "answer_line"),
        ("The answer is for sure D, it can't be A or B", "choice", "D", "answer_line"),
        ("The answer: D, it doesn't make sense for it to be A or B", "choice", "D", "answer_line"),
        ("D. it can't be A or B", "choice", "D", "letter_first"),
        ("therefore I think it's B", "choice", "B", "letter_last"),
        ("Answer: c", "choice", None, None),  # lower case is not an option letter
        # Numbers: separators, signs, decimals, percents, units.
        ("The total is 1 000", "gsm8k", "1000", "last_number"),
        ("The total is 1\u2009000", "gsm8k", "1000", "last_number"),
        ("The total is 7,425,000", "gsm8k", "7425000", "last_number"),
        ("It went down to −5", "gsm8k", "-5", "last_number"),
        ("so .4 of it", "gsm8k", "0.4", "last_number"),
        ("a rise of 28%", "gsm8k", "28", "last_number"),
        ("so the number is 10 which is 1,000.99m²", "gsm8k", "1000.99", "last_number"),
        ("AZYUK2A", "gsm8k", None, None),  # a digit inside a word is not a number
        ("2x", "gsm8k", None, None),  # an expression, not the number 2
        ("2x", "math", "2x", "bare_expression"),
        # Multi-part boxed answers.
        ("\\boxed{1} and \\boxed{2}", "math", "1, 2", "boxed"),
        ("\\( y_1 = \\boxed{3} \\) and \\( y_2 = \\boxed{4} \\)", "math", "3, 4", "boxed"),
        ("\\boxed{1} and and and or thus but \\boxed{2} and \\boxed{3}", "math", "2, 3", "boxed"),
        ("Fallback: so $k = \\frac{1}{3}$", "math", "k = \\frac{1}{3}", "math_span"),
        ("The capital is\nParis", "text", "Paris", "last_line"),
        ("Answer: Paris, obviously", "text", "Paris", "answer_line"),
    ],
)
def test_issue_11_rules(text, kind, expected, rule):
    found = extract(text, kind)
    assert (found.answer, found.rule) == (expected, rule)


def test_rules_are_listed_per_kind():
    assert set(RULES) == {"math", "gsm8k", "choice", "text"}
    info = describe()
    assert info["name"] == "toolkit.answers" and info["version"]
    assert info["math_verify"] and set(info["rules"]) == set(RULES)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1,080", "1080"), ("\\$18.00", "18"), ("1 000", "1000"), ("1000,99", "1000.99"),
     ("0,111", "0.111"), ("-5", "-5"), ("28\\%", "28"), ("five", None), ("1, 2", None)],
)  # fmt: skip
def test_parse_number(text, value):
    parsed = parse_number(text)
    assert (None if parsed is None else format(parsed.normalize(), "f")) == value


# ---------------------------------------------------------------------------------------------
# Grading: reasons, string-only golds, wrong-typed golds


def test_string_only_gold_is_compared_as_text_never_correct_by_accident():
    gold = r"$$x = \frac{1}{2}, x = \frac{-1 \pm \sqrt{13}}{4}$$"
    same = grade(r"\boxed{x = \frac{1}{2}, x = \frac{-1 \pm \sqrt{13}}{4}}", gold)
    assert (same.correct, same.reason) == (True, "correct")
    other = grade(r"\boxed{x = \frac{1}{2}}", gold)
    assert (other.correct, other.reason) == (False, "wrong")
    # open-r1's reward treated an unparseable gold as correct: not here.
    assert grade(r"\boxed{answer}", "unparseable_latex").correct is False


@pytest.mark.parametrize("gold", [["4"], {"answer": "4"}, True, b"4", ("4",)])
def test_wrong_typed_gold_is_flagged_not_graded(gold):
    verdict = grade(r"\boxed{4}", gold, answer_type="math")
    assert verdict == Verdict(None, GOLD_WRONG_TYPE, None)
    assert verdict.reason == "gold_wrong_type"
    pooled = verify_many([r"\boxed{4}", r"\boxed{4}"], [gold, "4"], num_proc=0)
    assert [v.reason for v in pooled] == ["gold_wrong_type", "correct"]


def test_numeric_golds_are_read_as_numbers():
    assert grade("#### 4", 4, answer_type="gsm8k").correct is True
    assert grade(r"\boxed{0.5}", 0.5, answer_type="math").correct is True


def test_verdict_reasons():
    assert grade("Answer: B", "C", answer_type="choice").reason == "wrong"
    assert grade("I am not sure.", "C", answer_type="choice").reason == NO_ANSWER
    assert grade(r"\boxed{3}", r"\frac{1}{", answer_type="math").reason == GOLD_UNPARSEABLE
    assert grade(r"\boxed{3}", None).reason == "gold_missing"
    assert grade("#### 1,000", "1000", answer_type="number").reason == "correct"


def test_numeric_tolerance_is_relative_one_in_a_million():
    assert grade("#### 1000000.5", "1000000", answer_type="gsm8k").correct is True
    assert grade("#### 3.14159", "3.14", answer_type="gsm8k").correct is False


# ---------------------------------------------------------------------------------------------
# Bounded work (issue 15 item 3): generous bounds, for a loaded CI machine

DEGENERATE = {
    "unclosed_boxes": "\\boxed{" * 150_000,
    "answer_cue_spaces": "The final answer is" + " " * 1_000_000,
    "nested_braces": "\\boxed{" + "{" * 500_000 + "}" * 499_999,
    "dollars": "$" * 1_000_000,
    "display_openers": "\\[" * 500_000,
    "digits": "1 000 " * 170_000,
    "answer_lines": "Answer: \n" * 110_000,
    "letters": "(A) " * 250_000,
}


@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_extraction_of_a_megabyte_is_bounded(name):
    text = DEGENERATE[name]
    assert len(text) >= 900_000
    started = time.perf_counter()
    for kind in ("math", "gsm8k", "choice", "text"):
        extract(text, kind)
    final_answer(text)
    extract_boxed(text)
    elapsed = time.perf_counter() - started
    assert elapsed < 5.0, f"{name}: {elapsed:.2f}s for 6 extractions"


def test_scanners_are_linear_without_the_size_cap():
    """The cap bounds the input; the scanners are linear anyway. The old box scanner rescanned the
    rest of the text per unclosed box (70 KB took 7 s, 140 KB over a minute): a megabyte of them
    would take hours."""
    from toolkit.answers.extract import _boxes, _cue_remainders, _math_spans

    started = time.perf_counter()
    assert _boxes("\\boxed{" * 150_000) == []
    assert len(_math_spans("\\[" * 500_000 + "$ $\n" * 1000)) == 1000
    assert len(list(_cue_remainders("The final answer is" + " " * 1_000_000))) == 1
    elapsed = time.perf_counter() - started
    assert elapsed < 15.0, f"{elapsed:.2f}s"


def test_reference_solutions_grade_correct_against_their_own_golds(shared_data):
    """Every published MATH-500 solution (its \\boxed{} answer) and GSM8K solution (``#### N``)
    must grade correct against the row's own gold: a floor any extraction change must keep."""
    import json

    def rows(name):
        path = shared_data / name
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    math500 = rows("math500_test.jsonl")
    verdicts = verify_many([r["solution"] for r in math500], [r["answer"] for r in math500], "math")
    assert [v.reason for v in verdicts].count("correct") == len(math500)
    gsm8k = rows("gsm8k_test.jsonl")
    golds = [r["answer"].rsplit("####", 1)[-1].strip() for r in gsm8k]
    verdicts = verify_many([r["answer"] for r in gsm8k], golds, "gsm8k")
    assert [v.reason for v in verdicts].count("correct") == len(gsm8k)
