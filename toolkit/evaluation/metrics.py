"""Scores over ``n`` samples per problem: pass@1 (averaged), unbiased pass@k, majority vote.

Why not "pass@1 from one sample": with a sampled decoder a single run of a 30-problem benchmark
such as AIME moves by several points from one seed to the next. Averaging the per-problem success
rate ``c/n`` over ``n`` samples gives the same expectation with a much smaller variance, and the
standard error across problems tells the reader how much the number can still move.

Every metric is first computed *per problem* (a number in ``[0, 1]``), then averaged; the
standard error is the sample standard deviation of the per-problem values over ``sqrt(P)``
(``P`` problems), i.e. the uncertainty from the finite set of problems and samples.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Score:
    """One metric over a task: the mean of per-problem values and its standard error."""

    metric: str
    value: float
    stderr: float
    num_problems: int

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "metric": self.metric,
            "value": self.value,
            "stderr": self.stderr,
            "num_problems": self.num_problems,
        }


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimator of pass@k from ``n`` samples of which ``c`` are correct
    (Chen et al., 2021): ``1 - C(n-c, k) / C(n, k)``, the probability that at least one of ``k``
    samples drawn without replacement from the ``n`` is correct."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def majority_vote(answers: Sequence[str | None], correct: Sequence[bool]) -> bool:
    """Whether the most frequent extracted answer is correct.

    Samples without an answer do not vote; ties go to the answer that appeared first (a fixed,
    documented rule rather than a random one, so the score is reproducible). Answers are compared
    after whitespace normalisation; equivalent spellings (``0.5`` and ``\\frac{1}{2}``) count
    as different votes, as in the usual maj@k implementations.
    """
    if len(answers) != len(correct):
        raise ValueError("answers and correct must have the same length")
    votes: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    verdict: dict[str, bool] = {}
    for position, (answer, is_correct) in enumerate(zip(answers, correct, strict=True)):
        if answer is None or not answer.strip():
            continue
        key = " ".join(answer.split())
        votes[key] += 1
        first_seen.setdefault(key, position)
        verdict[key] = verdict.get(key, False) or bool(is_correct)
    if not votes:
        return False
    winner = max(votes, key=lambda key: (votes[key], -first_seen[key]))
    return verdict[winner]


def mean_and_stderr(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (sample standard deviation, ``ddof=1``; 0 for a
    single value, where there is no spread to estimate)."""
    if not values:
        raise ValueError("no values to average")
    count = len(values)
    mean = sum(values) / count
    if count == 1:
        return mean, 0.0
    variance = sum((v - mean) ** 2 for v in values) / (count - 1)
    return mean, math.sqrt(variance / count)


def default_ks(n: int) -> list[int]:
    """The pass@k values worth reporting for ``n`` samples: powers of two up to ``n``, and ``n``."""
    ks = [k for k in (2**i for i in range(1, 11)) if k <= n]
    if n > 1 and n not in ks:
        ks.append(n)
    return ks


def score_task(
    correct: Sequence[Sequence[bool]],
    answers: Sequence[Sequence[str | None]] | None = None,
    ks: Sequence[int] | None = None,
) -> dict[str, Score]:
    """All metrics for one task from per-problem lists of per-sample verdicts.

    ``correct[p][s]`` is whether sample ``s`` of problem ``p`` is correct (a missing answer is
    ``False``); every problem must have the same number of samples ``n``. Returns ``pass@1``,
    ``pass@k`` for each ``k`` in ``ks`` (default :func:`default_ks`) and, when ``answers`` is
    given and ``n > 1``, ``maj@n``.
    """
    if not correct:
        raise ValueError("no problems to score")
    n = len(correct[0])
    if n == 0 or any(len(row) != n for row in correct):
        raise ValueError("every problem needs the same, non-zero number of samples")
    problems = len(correct)
    scores: dict[str, Score] = {}
    for k in [1, *(ks if ks is not None else default_ks(n))]:
        if k > n or f"pass@{k}" in scores:
            continue
        per_problem = [pass_at_k(n, sum(bool(x) for x in row), k) for row in correct]
        value, stderr = mean_and_stderr(per_problem)
        scores[f"pass@{k}"] = Score(f"pass@{k}", value, stderr, problems)
    if answers is not None and n > 1:
        if len(answers) != problems:
            raise ValueError("answers and correct must cover the same problems")
        per_problem = [float(majority_vote(a, c)) for a, c in zip(answers, correct, strict=True)]
        value, stderr = mean_and_stderr(per_problem)
        scores[f"maj@{n}"] = Score(f"maj@{n}", value, stderr, problems)
    return scores
