"""Seconds per row for 1 MB degenerate completions through split → extract → grade (issue 15).

A model that loops until its token limit produces megabytes of the same fragment. The old
extraction was quadratic in unclosed ``\\boxed{`` (70 KB took 7 s, 140 KB over a minute) and its
"final answer is" regex backtracked (80 spaces: 4–6 s, growing ~n⁵), on the main thread of
``normalize`` and in ``generate``'s event loop. Each row here is ~1 MB; for every row the script
times, separately, :func:`toolkit.thinking.split_thinking`, :func:`toolkit.answers.extract` for
the four kinds plus :func:`toolkit.answers.final_answer` (what normalize stores), and grading in
the worker pool (:func:`toolkit.answers.verify_many`, one worker: extraction + math-verify on the
capped candidate; in this process, then all rows in one pool batch). The peer is the same
pipeline on a short, ordinary completion.

    python benchmarks/degenerate.py [--max-seconds 0.5]

Exits 1 if any row's extraction takes more than ``--max-seconds`` (default 0.5 s).
"""

from __future__ import annotations

import argparse
import os
import time

MB = 1_000_000


def rows() -> dict[str, str]:
    think = "<think>\nLet me work it out.\n</think>\n\n"
    return {
        "unclosed boxes": think + "\\boxed{" * (MB // 7),
        "unclosed boxes in thinking": "<think>\n" + "\\boxed{" * (MB // 7),
        "final answer + spaces": think + "The final answer is" + " " * MB,
        "answer lines": think + "Answer: \n" * (MB // 9),
        "nested braces": think + "\\boxed{" + "{" * (MB // 2) + "}" * (MB // 2 - 1),
        "dollars": think + "$" * MB,
        "display openers": think + "\\[" * (MB // 2),
        "digits with spaces": think + "1 000 " * (MB // 6),
        "letters in parentheses": think + "(A) " * (MB // 4),
        "looping sentence": think + "Wait, so x = \\frac{1}{2} and \\boxed{" * (MB // 40),
        "huge box": think + "\\boxed{" + "1+" * (MB // 2) + "1}",
    }


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-seconds", type=float, default=0.5)
    args = parser.parse_args()

    from toolkit.answers import (
        KINDS,
        extract,
        final_answer,
        grade,
        math_extraction_config,
        verify_many,
    )
    from toolkit.thinking import split_thinking

    math_extraction_config()  # import math-verify before timing
    normal = "<think>\nSo 3 + 4 = 7.\n</think>\n\nThe total is \\boxed{7}."
    print(f"load average {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPU cores")
    print(f"{'row':28} {'size':>8} {'split':>8} {'extract':>8} {'grade':>8}  verdict")
    worst = 0.0
    answers = []
    for name, text in {"ordinary (peer)": normal, **rows()}.items():
        parts, split_s = timed(split_thinking, text)
        started = time.perf_counter()
        for kind in KINDS:
            extract(parts.answer, kind)
        final_answer(parts.answer)
        extract_s = time.perf_counter() - started
        verdict, grade_s = timed(grade, parts.answer, "7", answer_type="math", timeout_s=5.0)
        answers.append(parts.answer)
        worst = max(worst, extract_s)
        print(
            f"{name:28} {len(text) / MB:7.2f}M {split_s:8.4f} {extract_s:8.4f} {grade_s:8.3f}"
            f"  {verdict.reason}"
        )
    _, pool_s = timed(verify_many, answers, ["7"] * len(answers), "math", num_proc=2)
    print(
        f"all {len(answers)} rows in one pool batch (2 workers): {pool_s / len(answers):.3f} s/row"
    )
    met = worst <= args.max_seconds
    print(
        f"slowest extraction {worst:.4f} s per row (target <= {args.max_seconds} s): "
        f"{'met' if met else 'NOT met'}"
    )
    raise SystemExit(0 if met else 1)


if __name__ == "__main__":
    main()
