"""Problems/s of the transformers evaluation backend: batched generation versus one at a time.

Both sides generate for the same prompts with the same tiny model
(:func:`toolkit.models.build_tiny_model`, a random Llama-style model with a real BPE tokenizer and
ChatML template), the same sampling protocol and token limit, in one run: the batched side with
``batch_size=16`` (left padding, per-row stop on EOS), the other with ``batch_size=1``. Prompts
are GSM8K test problems rendered with the MATH/GSM8K prompt template (from
``$TOOLKIT_BENCHMARK_DIR`` or ``../shared/data`` when present, else synthetic arithmetic word
problems of similar length). The random model rarely emits EOS, so both sides generate the full
``--max-new-tokens`` per problem: the comparison is of equal work. The script also checks that
greedy outputs are identical between the two modes (left padding must not change any row).

    python benchmarks/evaluate.py [--problems 48] [--max-new-tokens 48] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def load_problems(count: int) -> tuple[list[str], str]:
    for folder in (os.environ.get("TOOLKIT_BENCHMARK_DIR"), SHARED):
        path = Path(folder) / "gsm8k_test.jsonl" if folder else None
        if path is not None and path.exists():
            rows = [json.loads(line) for line in path.read_text().splitlines()[:count]]
            return [row["question"] for row in rows], str(path)
    rng = random.Random(0)
    problems = [
        f"A shop sells {rng.randint(2, 90)} pens on Monday and {rng.randint(2, 90)} pens on "
        f"Tuesday at ${rng.randint(1, 9)} each. It then gives away {rng.randint(1, 20)} pens. "
        "How much money did the shop make from the pens it sold on both days?"
        for _ in range(count)
    ]
    return problems, "synthetic"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--problems", type=int, default=48)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: torch's choice). On an oversubscribed machine "
        "1 thread avoids OpenMP spin-wait stalls that distort both sides.",
    )
    args = parser.parse_args()

    import torch
    from toolkit.evaluate.backends import SamplingParams, TransformersBackend

    from toolkit.evaluation.tasks import get_benchmark
    from toolkit.models import build_tiny_model

    if args.threads:
        torch.set_num_threads(args.threads)
    problems, source = load_problems(args.problems)
    task = get_benchmark("gsm8k")
    chats = [[{"role": "user", "content": task.build_prompt(p)}] for p in problems]
    params = SamplingParams(max_new_tokens=args.max_new_tokens, seed=0)

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_model(Path(tmp) / "tiny")
        batched = TransformersBackend(model_dir, batch_size=args.batch_size)
        single = TransformersBackend(model_dir, batch_size=1)
        # Warm-up (first-call allocations, lazy imports) on both, outside the timings.
        warm = SamplingParams(max_new_tokens=4, greedy=True)
        batched.generate(chats[:2], 1, warm)
        single.generate(chats[:1], 1, warm)

        print(
            f"{len(chats)} problems from {source}, max_new_tokens={args.max_new_tokens}, "
            f"sampling T={params.temperature} top_p={params.top_p}, "
            f"torch threads={torch.get_num_threads()}"
        )
        timings = {}
        tokens = {}
        for name, backend in (("one-at-a-time", single), (f"batched ({args.batch_size})", batched)):
            started = time.perf_counter()
            out = backend.generate(chats, 1, params)
            timings[name] = time.perf_counter() - started
            tokens[name] = sum(row[0].completion_tokens or 0 for row in out)
            print(
                f"{name:>16}: {timings[name]:7.2f} s  {len(chats) / timings[name]:7.2f} problems/s"
                f"  {tokens[name] / timings[name]:8.1f} new tokens/s  ({tokens[name]} tokens)"
            )

        greedy = SamplingParams(max_new_tokens=16, greedy=True)
        same = [r[0].text for r in batched.generate(chats[:16], 1, greedy)] == [
            r[0].text for r in single.generate(chats[:16], 1, greedy)
        ]
    names = list(timings)
    speedup = timings[names[0]] / timings[names[1]]
    print(
        f"speedup batched vs one-at-a-time: {speedup:.2f}x (target >= 3x); "
        f"greedy outputs identical across modes: {same}"
    )


if __name__ == "__main__":
    main()
