"""Seconds per row for 1 MB degenerate completions through split → extract → grade (issue 15).

A model that loops until its token limit produces megabytes of the same fragment. The old
extraction was quadratic in unclosed ``\\boxed{`` (70 KB took 7 s, 140 KB over a minute) and its
"final answer is" regex backtracked (80 spaces: 4–6 s, growing ~n⁵), on the main thread of
``normalize`` and in ``generate``'s event loop. Each row here is ~1 MB; for every row the script
times, separately, :func:`toolkit.thinking.split_thinking`, :func:`toolkit.answers.extract` for
the four kinds plus :func:`toolkit.answers.final_answer` (what normalize stores), and grading in
the worker pool (:func:`toolkit.answers.verify_many`, one worker: extraction + math-verify on the
capped candidate; in this process, then all rows in one pool batch), with a short, ordinary
completion for scale.

The peer is what a user calls to get the answer out of a completion: math-verify's ``parse`` with
its defaults, on the same rows (it stops at its own 5 s parsing timeout, so its figure is
capped). Toolkit (split + four kinds + final answer) and peer alternate row by row over >= 3
rounds; the headline is the slowest row of each round, held to ``--max-seconds``.

    python benchmarks/degenerate.py [--quick] [--rounds 3] [--max-seconds 0.5]

Exits 1 if the slowest row's extraction (median over rounds) takes more than ``--max-seconds``
(default 0.5 s). ``--quick``: 0.2 MB rows instead of 1 MB.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time

from common import Figure, print_figures

MB = 1_000_000


def rows(size: int = MB) -> dict[str, str]:
    think = "<think>\nLet me work it out.\n</think>\n\n"
    return {
        "unclosed boxes": think + "\\boxed{" * (size // 7),
        "unclosed boxes in thinking": "<think>\n" + "\\boxed{" * (size // 7),
        "final answer + spaces": think + "The final answer is" + " " * size,
        "answer lines": think + "Answer: \n" * (size // 9),
        "nested braces": think + "\\boxed{" + "{" * (size // 2) + "}" * (size // 2 - 1),
        "dollars": think + "$" * size,
        "display openers": think + "\\[" * (size // 2),
        "digits with spaces": think + "1 000 " * (size // 6),
        "letters in parentheses": think + "(A) " * (size // 4),
        "looping sentence": think + "Wait, so x = \\frac{1}{2} and \\boxed{" * (size // 40),
        "huge box": think + "\\boxed{" + "1+" * (size // 2) + "1}",
    }


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def toolkit_extraction(text: str) -> float:
    """Seconds for what the toolkit does to get a row's answer: split, the four kinds, the
    stored final answer."""
    from toolkit.answers import KINDS, extract, final_answer
    from toolkit.thinking import split_thinking

    started = time.perf_counter()
    parts = split_thinking(text)
    for kind in KINDS:
        extract(parts.answer, kind)
    final_answer(parts.answer)
    return time.perf_counter() - started


def peer_extraction(text: str) -> float:
    """Seconds for math-verify's ``parse`` of the completion, its defaults (what a user calls to
    get the answer; it gives up after its own 5 s parsing timeout)."""
    from math_verify import parse

    started = time.perf_counter()
    parse(text)
    return time.perf_counter() - started


def measure(
    quick: bool = False, rounds: int = 3, max_seconds: float = 0.5, size: int | None = None
) -> list[Figure]:
    """Per row: the toolkit's extraction next to math-verify's ``parse`` over interleaved rounds
    (the headline: the slowest row of each round); then the per-row table with grading, and all
    rows through the worker pool once."""
    from toolkit.answers import grade, math_extraction_config, verify_many
    from toolkit.thinking import split_thinking

    size = size if size is not None else (MB // 5 if quick else MB)
    rounds = max(rounds, 3)
    math_extraction_config()  # import math-verify before timing
    samples = rows(size)
    ours: dict[str, list[float]] = {name: [] for name in samples}
    theirs: dict[str, list[float]] = {name: [] for name in samples}
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)  # math-verify logs every timeout with the whole row
    try:
        for _ in range(rounds):
            for name, text in samples.items():
                ours[name].append(toolkit_extraction(text))
                theirs[name].append(peer_extraction(text))
    finally:
        logging.disable(previous)
    normal = "<think>\nSo 3 + 4 = 7.\n</think>\n\nThe total is \\boxed{7}."
    print(f"load average {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPU cores")
    print(
        f"{'row':28} {'size':>8} {'split':>8} {'extract':>8} {'math-verify':>12} {'grade':>8}"
        "  verdict"
    )
    answers = []
    for name, text in {"ordinary": normal, **samples}.items():
        parts, split_s = timed(split_thinking, text)
        extract_s = min(ours[name]) if name in ours else toolkit_extraction(text)
        peer_s = min(theirs[name]) if name in theirs else peer_extraction(text)
        verdict, grade_s = timed(grade, parts.answer, "7", answer_type="math", timeout_s=5.0)
        answers.append(parts.answer)
        print(
            f"{name:28} {len(text) / MB:7.2f}M {split_s:8.4f} {extract_s:8.4f} {peer_s:12.3f}"
            f" {grade_s:8.3f}  {verdict.reason}"
        )
    _, pool_s = timed(verify_many, answers, ["7"] * len(answers), "math", num_proc=2)
    pool_note = (
        f"all {len(answers)} rows in one pool batch (2 workers): {pool_s / len(answers):.3f} s/row"
    )
    print(pool_note)
    worst_ours = [max(ours[name][r] for name in samples) for r in range(rounds)]
    worst_theirs = [max(theirs[name][r] for name in samples) for r in range(rounds)]
    timeouts = sum(1 for name in samples if statistics.median(theirs[name]) >= 4.9)
    mean_ours = statistics.mean(statistics.median(v) for v in ours.values())
    mean_theirs = statistics.mean(statistics.median(v) for v in theirs.values())
    return [
        Figure(
            f"degenerate {size / MB:g} MB rows: slowest row's answer extraction",
            "s",
            worst_ours,
            worst_theirs,
            "math-verify parse",
            higher_is_better=False,
            target=max_seconds,
            target_absolute=True,
            notes=[
                f"{len(samples)} degenerate rows (looping output); toolkit: split + 4 kinds + "
                f"final answer; mean s/row: toolkit {mean_ours:.4f}, math-verify "
                f"{mean_theirs:.3f}; math-verify gave up at its 5 s timeout on {timeouts} rows",
                pool_note,
            ],
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-seconds", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="0.2 MB rows, not 1 MB")
    args = parser.parse_args()
    figures = measure(args.quick, args.rounds, args.max_seconds)
    print_figures(figures)
    raise SystemExit(0 if figures[0].met else 1)


if __name__ == "__main__":
    main()
