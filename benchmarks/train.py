"""SFT throughput: the toolkit against TRL's own packing, on the same model and data.

The peer is what a user would otherwise run: TRL's ``SFTTrainer`` on the ``messages`` dataset
with ``packing=True, padding_free=True`` (BFD packing, position ids restarting per sequence).
The toolkit runs the same TRL trainer, fed its own tokenization (assistant-only masks with the
end-of-turn token) and config. So **the packing gain is TRL's**: the toolkit's contribution is
correctness (what is in the loss), and its throughput should match the peer (ratio ≈ 1), not beat
it. TRL without packing (its default) is printed for context only.

Setup: a tiny Qwen2-style model, the same initial weights, one epoch over traces whose lengths are
lognormal (long-tailed like R1 traces), on this machine, in one process. Each round runs every
setup once, in an order that rotates between rounds (load that comes and goes hits all alike);
the headline is the toolkit / peer ratio of useful tokens per second *per round*, min and median
over ``--rounds`` (≥ 3), with the load average beside each round. "Useful" tokens are the real
trace tokens; padding counts as processed but not useful.

torch threads: ``--threads`` (default: the toolkit's CPU policy, one per two cores). The
``toolkit @ N threads`` row compares a second thread count in the same rounds (the training
notes of issue 16 measured 1 thread beating 2 on a loaded 2-core box).

Run: ``python benchmarks/train.py`` (a few minutes on 2 cores); ``--quick`` for a small run
(48 traces, no second thread count: what ``benchmarks/run_all.py --quick`` runs).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from common import Figure, print_figures

WORDS = [
    "we",
    "add",
    "the",
    "numbers",
    "then",
    "check",
    "each",
    "step",
    "carefully",
    "so",
    "the",
    "total",
    "is",
    "right",
    "and",
    "simplify",
]


def make_traces(count: int, seed: int, median_words: float, sigma: float) -> list[dict]:
    """Chat rows whose reasoning length is lognormal (long tail)."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        words = min(2000, max(4, int(rng.lognormvariate(math.log(median_words), sigma))))
        reasoning = " ".join(rng.choice(WORDS) for _ in range(words))
        answer = f"<think>\n{reasoning}\n</think>\n\nThe answer is \\boxed{{{2 * i + 1}}}."
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": f"Problem {i}: what is {i} + {i + 1}?"},
                    {"role": "assistant", "content": answer},
                ]
            }
        )
    return rows


class CountingCollator:
    """Wraps a collator and counts processed (incl. padding) and useful (real) tokens."""

    def __init__(self, inner):
        self.inner = inner
        self.processed = 0
        self.useful = 0

    def __call__(self, examples):
        batch = self.inner(examples)
        self.processed += int(batch["input_ids"].numel())
        if "attention_mask" in batch:
            self.useful += int(batch["attention_mask"].sum())
        else:  # padding-free: one flattened row of real tokens
            self.useful += sum(len(e["input_ids"]) for e in examples)
        return batch


COMMON = {
    "num_train_epochs": 1,
    "learning_rate": 1e-3,
    "gradient_checkpointing": False,
    "bf16": False,
    "report_to": [],
    "save_strategy": "no",
    "logging_steps": 1000,
    "seed": 0,
    "per_device_train_batch_size": 1,
}


def build_trainer(setup: str, model_dir: Path, table, tokenized, args, workdir: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    out = str(workdir / setup.replace(" ", "-"))
    if setup.startswith("toolkit"):
        from toolkit.training.recipe import load_recipe
        from toolkit.training.sft import sft_config

        recipe = load_recipe(
            {
                "base_model": str(model_dir),
                "data": "unused",
                "output_dir": out,
                "params": {
                    "learning_rate": 1e-3,
                    "max_length": args.max_length,
                    "packing": True,
                    "packing_strategy": "bfd",
                    "per_device_train_batch_size": 1,
                    "gradient_checkpointing": False,
                    "report_to": "none",
                    "save_strategy": "no",
                    "logging_steps": 1000,
                    "seed": 0,
                },
            }
        ).recipe
        config = sft_config(recipe, bf16=False, end_of_turn="<|im_end|>", tokenizer=tokenizer)
        dataset = tokenized
    else:
        packed = setup == "TRL packing"
        config = SFTConfig(
            output_dir=out,
            max_length=args.max_length,
            packing=packed,
            padding_free=packed,
            **{**COMMON, "per_device_train_batch_size": 1 if packed else args.batch_size},
        )
        dataset = table
    trainer = SFTTrainer(
        model=model, args=config, train_dataset=dataset, processing_class=tokenizer
    )
    trainer.data_collator = CountingCollator(trainer.data_collator)
    return trainer


def run(setup: str, threads: int, model_dir, table, tokenized, args, workdir) -> dict:
    import torch

    torch.set_num_threads(threads)
    trainer = build_trainer(setup, model_dir, table, tokenized, args, workdir)
    started, cpu_started = time.perf_counter(), time.process_time()
    trainer.train()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    counter = trainer.data_collator
    return {
        "setup": setup,
        "threads": threads,
        "steps": trainer.state.global_step,
        "seconds": seconds,
        "processed": counter.processed,
        "useful": counter.useful,
        "waste": 1 - counter.useful / max(counter.processed, 1),
        "useful_per_s": counter.useful / seconds,
        "useful_per_cpu_s": counter.useful / max(cpu, 1e-9),
        "load": os.getloadavg()[0],
    }


def measure(
    quick: bool = False,
    traces: int | None = None,
    median_words: float = 60,
    sigma: float = 0.9,
    max_length: int = 1024,
    batch_size: int = 8,
    rounds: int = 3,
    threads: int | None = None,
    compare_threads: int | None = None,
    json_out: bool = False,
) -> list[Figure]:
    """Interleaved rounds of every setup; prints the per-setup table and returns the headline:
    toolkit / TRL(packing=True, padding_free=True) useful tokens/s (target >= 0.9)."""
    import datasets
    from transformers import AutoTokenizer

    from toolkit.models import build_tiny_model
    from toolkit.training.data import tokenize_dataset
    from toolkit.training.recipe import load_recipe
    from toolkit.training.sft import cpu_threads

    args = argparse.Namespace(max_length=max_length, batch_size=batch_size)
    traces = traces if traces is not None else (48 if quick else 128)
    compare_threads = compare_threads if compare_threads is not None else (0 if quick else 2)
    rounds = max(3, rounds)
    threads = threads or cpu_threads(load_recipe({"base_model": "m", "data": "d"}).recipe)
    datasets.disable_progress_bars()
    setups = [("TRL packing", threads), ("toolkit", threads), ("TRL default (no packing)", threads)]
    if compare_threads and compare_threads != threads:
        setups.append((f"toolkit @ {compare_threads} threads", compare_threads))
    results: list[dict[str, dict]] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        model_dir = build_tiny_model(workdir / "model", arch="qwen2", hidden_size=128, num_layers=4)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        table = datasets.Dataset.from_list(make_traces(traces, 0, median_words, sigma))
        tokenized, _ = tokenize_dataset(table, tokenizer)
        tokenized = tokenized.remove_columns(["num_tokens"])
        lengths = sorted(len(ids) for ids in tokenized["input_ids"])
        for index in range(rounds):
            order = setups[index % len(setups) :] + setups[: index % len(setups)]
            results.append(
                {s: run(s, n, model_dir, table, tokenized, args, workdir) for s, n in order}
            )

    print(
        f"traces: {len(lengths)}, tokens per trace: median {lengths[len(lengths) // 2]}, "
        f"p90 {lengths[int(len(lengths) * 0.9)]}, max {lengths[-1]}; max_length {max_length}, "
        f"torch threads {threads}, {os.cpu_count()} cores, {rounds} interleaved rounds"
    )
    print(f"{'setup':<30}{'threads':>8}{'steps':>6}{'waste':>8}{'useful tok/s (median)':>23}")
    for setup, n in setups:
        runs = [r[setup] for r in results]
        median = statistics.median(r["useful_per_s"] for r in runs)
        print(f"{setup:<30}{n:>8}{runs[0]['steps']:>6}{runs[0]['waste']:>8.1%}{median:>23.0f}")
    ratios = [r["toolkit"]["useful_per_s"] / r["TRL packing"]["useful_per_s"] for r in results]
    loads = [statistics.mean(x["load"] for x in r.values()) for r in results]
    print(
        "per round toolkit / TRL packing: "
        + ", ".join(f"{q:.2f} (load {lo:.1f})" for q, lo in zip(ratios, loads, strict=True))
    )
    print(
        f"headline: toolkit / TRL(packing=True, padding_free=True) useful tokens/s = min "
        f"{min(ratios):.2f}, median {statistics.median(ratios):.2f} (target ≥ 0.9: the packing "
        "gain is TRL's; the toolkit adds correct masks, not speed)"
    )
    per_cpu = [
        r["toolkit"]["useful_per_cpu_s"] / r["TRL packing"]["useful_per_cpu_s"] for r in results
    ]
    print(
        f"per CPU-second of this process (steadier under load): min {min(per_cpu):.2f}, "
        f"median {statistics.median(per_cpu):.2f}"
    )
    unpacked = [
        r["TRL packing"]["useful_per_s"] / r["TRL default (no packing)"]["useful_per_s"]
        for r in results
    ]
    print(
        f"context: TRL packing / TRL default (no packing) median {statistics.median(unpacked):.2f}"
    )
    notes = [
        f"{len(lengths)} lognormal traces (median {lengths[len(lengths) // 2]} tokens, max "
        f"{lengths[-1]}), tiny Qwen2, batch 1 packed, torch threads {threads}; per CPU-second "
        f"ratio median {statistics.median(per_cpu):.2f}",
        f"the packing gain is TRL's own: TRL packing / TRL default (no packing, batch "
        f"{batch_size}) median {statistics.median(unpacked):.2f}x; the toolkit adds "
        "assistant-only masks with the end-of-turn token, not speed",
    ]
    compare = next((s for s, _ in setups if s.startswith("toolkit @")), None)
    if compare:
        thread_ratios = [r["toolkit"]["useful_per_s"] / r[compare]["useful_per_s"] for r in results]
        print(
            f"threads: toolkit @ {threads} / {compare.split('@ ')[1]} median "
            f"{statistics.median(thread_ratios):.2f} (min {min(thread_ratios):.2f})"
        )
        notes.append(
            f"toolkit @ {threads} / {compare.split('@ ')[1]} median "
            f"{statistics.median(thread_ratios):.2f}"
        )
    if json_out:
        print(json.dumps({"rounds": results, "ratios": ratios, "loads": loads}))
    return [
        Figure(
            "SFT useful tokens/s",
            "tok/s",
            [r["toolkit"]["useful_per_s"] for r in results],
            [r["TRL packing"]["useful_per_s"] for r in results],
            "TRL SFTTrainer packing=True, padding_free=True",
            target=0.9,
            notes=notes,
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--traces", type=int, default=None, help="128 (--quick: 48)")
    parser.add_argument("--median-words", type=float, default=60)
    parser.add_argument("--sigma", type=float, default=0.9)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=8, help="TRL unpacked batch size")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="default: the toolkit's policy")
    parser.add_argument(
        "--compare-threads", type=int, default=None, help="2 (--quick: 0); 0: skip that row"
    )
    parser.add_argument("--quick", action="store_true", help="48 traces, no thread comparison")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    figures = measure(
        args.quick,
        args.traces,
        args.median_words,
        args.sigma,
        args.max_length,
        args.batch_size,
        args.rounds,
        args.threads,
        args.compare_threads,
        args.json,
    )
    print_figures(figures)


if __name__ == "__main__":
    main()
