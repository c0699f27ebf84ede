"""Answers/s of ``toolkit.verify`` versus a plain loop of math-verify ``parse``/``verify``.

Both sides grade the same 20,000 MATH-style (prediction, gold) pairs in one run, with the same
extraction configs (``\\boxed{}`` first, then LaTeX, then expressions; bare golds wrapped in
``\\boxed{}``), and the script prints how many verdicts differ. Gold answers come from MATH-500
(``$TOOLKIT_BENCHMARK_DIR/math500_test.jsonl`` or ``../shared/data``) when present, else from a
synthetic set of integers, fractions, roots, intervals and tuples. Every prediction string is
unique (a numbered preamble), so ``toolkit.verify``'s de-duplication of identical pairs does not
inflate the figure; what remains is the process pool and per-worker caching of parsed golds
(N predictions per problem share one gold, as in real distillation data).

    python benchmarks/verify.py [--pairs 20000] [--num-proc 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def load_golds() -> tuple[list[str], str]:
    for folder in (os.environ.get("TOOLKIT_BENCHMARK_DIR"), SHARED):
        if folder and (Path(folder) / "math500_test.jsonl").exists():
            path = Path(folder) / "math500_test.jsonl"
            rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            return [str(r["answer"]) for r in rows], str(path)
    rng = random.Random(0)
    golds = []
    for i in range(500):
        kind = i % 5
        a, b = rng.randint(1, 99), rng.randint(2, 40)
        golds.append(
            [
                str(a),
                f"\\frac{{{a}}}{{{b}}}",
                f"{a}\\sqrt{{{b}}}",
                f"[{a}, {a + b})",
                f"({a}, {b})",
            ][kind]
        )
    return golds, "synthetic"


def make_pairs(golds: list[str], count: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    predictions, gold_list = [], []
    for i in range(count):
        gold = rng.choice(golds)
        style = rng.random()
        if style < 0.55:
            answer = gold  # right
        elif style < 0.7 and gold.strip().lstrip("-").isdigit():
            answer = f"{int(gold)}.0"  # right, another form
        elif style < 0.9:
            answer = rng.choice(golds)  # usually wrong
        else:
            answer = str(rng.randint(0, 1000))
        body = f"Step {i}: we simplify and check the cases carefully."
        if rng.random() < 0.8:
            predictions.append(f"{body} Therefore the final answer is $\\boxed{{{answer}}}$.")
        else:
            predictions.append(f"{body} So the answer is ${answer}$.")
        gold_list.append(gold)
    return predictions, gold_list


def plain_loop(predictions: list[str], golds: list[str]) -> list[bool]:
    from math_verify import parse, verify

    from toolkit.verify import math_extraction_config, wrap_gold

    config = math_extraction_config()
    return [
        bool(
            verify(
                parse(wrap_gold(g), extraction_config=config), parse(p, extraction_config=config)
            )
        )
        for p, g in zip(predictions, golds, strict=True)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20_000)
    parser.add_argument("--num-proc", type=int, default=2)
    args = parser.parse_args()

    import datasets

    from toolkit.verify import math_extraction_config, verify

    math_extraction_config()  # import math-verify/sympy before timing either side
    golds, origin = load_golds()
    predictions, gold_list = make_pairs(golds, args.pairs)
    print(f"{len(predictions)} pairs, golds from {origin}, {os.cpu_count()} CPU cores")

    started = time.perf_counter()
    baseline = plain_loop(predictions, gold_list)
    loop_s = time.perf_counter() - started

    dataset = datasets.Dataset.from_dict(
        {
            "answer": predictions,
            "final_answer": [None] * len(predictions),
            "gold_answer": gold_list,
        },
        features=datasets.Features(
            {
                "answer": datasets.Value("string"),
                "final_answer": datasets.Value("string"),
                "gold_answer": datasets.Value("string"),
            }
        ),
    )
    started = time.perf_counter()
    graded = verify(dataset, num_proc=args.num_proc, answer_type="math", progress=False)
    toolkit_s = time.perf_counter() - started
    # The same with one worker: separates the process pool's share from the caches' share.
    started = time.perf_counter()
    single = verify(dataset, num_proc=1, answer_type="math", progress=False)
    single_s = time.perf_counter() - started

    ours = list(graded["correct"])
    errors = list(graded["verify_error"])
    differing = sum(1 for a, b in zip(ours, baseline, strict=True) if a is not None and a != b)
    ungraded = sum(1 for a in ours if a is None)
    ungraded_loop_true = sum(1 for a, b in zip(ours, baseline, strict=True) if a is None and b)
    timeouts = sum(1 for e in errors if e == "timeout")
    loop_rate = len(predictions) / loop_s
    ours_rate = len(predictions) / toolkit_s
    print(f"plain math-verify loop : {loop_rate:8.1f} answers/s ({loop_s:.1f} s)")
    print(f"toolkit.verify (np={args.num_proc})  : {ours_rate:8.1f} answers/s ({toolkit_s:.1f} s)")
    print(f"speed-up               : {ours_rate / loop_rate:.2f}x (target >= 1.8x)")
    print(
        f"toolkit.verify (np=1)  : {len(predictions) / single_s:8.1f} answers/s "
        f"({single_s:.1f} s; caches alone: {loop_s / single_s:.2f}x, "
        f"pool np={args.num_proc} over np=1: {single_s / toolkit_s:.2f}x)"
    )
    assert list(single["correct"]) == ours, "np=1 and np>1 verdicts differ"
    print(f"differing verdicts     : {differing} (of {len(ours) - ungraded} graded)")
    print(
        f"ungraded by toolkit    : {ungraded} (gold_unparseable/timeouts; {ungraded_loop_true} of "
        f"them scored True by the plain loop), timeouts: {timeouts}"
    )
    print(f"correct rate           : {sum(1 for a in ours if a) / len(ours):.3f}")


if __name__ == "__main__":
    main()
