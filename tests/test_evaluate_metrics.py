"""pass@1 (averaged), unbiased pass@k, majority vote and standard errors against hand computations."""

from __future__ import annotations

import math

import pytest

from toolkit.evaluation.metrics import (
    default_ks,
    majority_vote,
    mean_and_stderr,
    pass_at_k,
    score_task,
)


def test_pass_at_k_hand_values():
    # n=4, c=1: pass@1 = 1/4; pass@2 = 1 - C(3,2)/C(4,2) = 1 - 3/6 = 1/2; pass@4 = 1.
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
    assert pass_at_k(4, 1, 4) == pytest.approx(1.0)
    # n=5, c=2, k=3: 1 - C(3,3)/C(5,3) = 1 - 1/10.
    assert pass_at_k(5, 2, 3) == pytest.approx(0.9)
    assert pass_at_k(8, 0, 4) == 0.0
    assert pass_at_k(8, 8, 1) == 1.0


@pytest.mark.parametrize(("n", "c", "k"), [(4, 5, 1), (4, 2, 0), (4, 2, 5), (3, -1, 1)])
def test_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_pass_at_k_matches_sampling_without_replacement():
    """The estimator is the exact probability over all k-subsets (brute force check)."""
    from itertools import combinations

    samples = [True, False, False, True, False, False]
    for k in range(1, 7):
        subsets = list(combinations(samples, k))
        exact = sum(any(s) for s in subsets) / len(subsets)
        assert pass_at_k(len(samples), sum(samples), k) == pytest.approx(exact)


def test_majority_vote_rules():
    # "5" has 2 votes (correct) against "6" with 1 vote.
    assert majority_vote(["5", "6", "5"], [True, False, True]) is True
    # Missing answers do not vote: one "6" wins over nothing.
    assert majority_vote([None, "6", None], [False, False, False]) is False
    # Tie: the answer seen first wins (fixed rule).
    assert majority_vote(["7", "5"], [False, True]) is False
    assert majority_vote(["5", "7"], [True, False]) is True
    # Whitespace differences are the same vote.
    assert majority_vote(["x + 1", "y", "x  +  1"], [False, True, False]) is False
    assert majority_vote([" 3", "3 ", "4"], [True, True, False]) is True
    assert majority_vote([None, None], [False, False]) is False


def test_mean_and_stderr_by_hand():
    mean, stderr = mean_and_stderr([1.0, 0.0, 0.5, 0.5])
    # variance (ddof=1) = (0.25 + 0.25 + 0 + 0) / 3 = 1/6; stderr = sqrt(1/6 / 4).
    assert mean == pytest.approx(0.5)
    assert stderr == pytest.approx(math.sqrt(1 / 24))
    assert mean_and_stderr([0.3]) == (0.3, 0.0)


def test_score_task_two_problems_four_samples():
    correct = [[True, False, False, False], [True, True, True, False]]
    answers = [["1", "2", "2", None], ["3", "3", "3", "4"]]
    scores = score_task(correct, answers)
    assert set(scores) == {"pass@1", "pass@2", "pass@4", "maj@4"}
    # pass@1 per problem: 1/4 and 3/4 -> mean 0.5, stderr = std([.25,.75], ddof=1)/sqrt(2) = 0.25.
    assert scores["pass@1"].value == pytest.approx(0.5)
    assert scores["pass@1"].stderr == pytest.approx(0.25)
    # pass@2: 1 - C(3,2)/C(4,2) = 0.5 and 1 - C(1,2)/C(4,2) = 1 -> mean 0.75.
    assert scores["pass@2"].value == pytest.approx(0.75)
    assert scores["pass@4"].value == pytest.approx(1.0)
    assert scores["pass@4"].stderr == 0.0
    # maj@4: problem 1 majority "2" (wrong), problem 2 majority "3" (right) -> 0.5.
    assert scores["maj@4"].value == pytest.approx(0.5)
    assert scores["maj@4"].num_problems == 2


def test_score_task_requires_rectangular_samples():
    with pytest.raises(ValueError, match="same"):
        score_task([[True], [True, False]])
    with pytest.raises(ValueError):
        score_task([])


def test_single_sample_has_no_pass_at_k_or_majority():
    scores = score_task([[True], [False]], [["1"], ["2"]])
    assert set(scores) == {"pass@1"}


def test_default_ks():
    assert default_ks(1) == []
    assert default_ks(4) == [2, 4]
    assert default_ks(6) == [2, 4, 6]
    assert default_ks(16) == [2, 4, 8, 16]
