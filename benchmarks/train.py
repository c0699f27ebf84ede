"""Padding waste and useful tokens/s: the toolkit's SFT versus the naive seed setup.

Both runs train the same tiny Qwen2-style model, from the same initial weights, for one epoch over
the same traces on this machine, in one process, one after the other:

* **naive** (seed-002): padded batches, no packing — ``SFTTrainer(packing=False)`` with batches of
  ``--batch-size`` traces padded to the longest one in the batch (dynamic padding: the generous
  version of the baseline; padding every batch to ``max_length`` would be far worse);
* **toolkit**: the toolkit's tokenization and config (:func:`toolkit.training.sft.sft_config`),
  best-fit-decreasing packing into rows of ``--max-length`` tokens with padding-free batches.

Trace lengths follow a long-tailed lognormal distribution (most traces short, a few very long),
like real R1 reasoning traces. "Processed" tokens are every position the model runs on
(padding included); "useful" tokens are the real trace tokens. Padding waste = 1 − useful /
processed. Each setup runs ``--repeats`` times, alternating, and keeps its fastest run; the
throughput is also given per CPU-second of this process (with one torch thread, that figure does
not move with other load on a shared machine). Run: ``python benchmarks/train.py`` (a minute or
two on 2 idle CPU cores).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import tempfile
import time
from pathlib import Path

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
    "we",
    "simplify",
]


def make_traces(
    count: int, seed: int, median_words: float, sigma: float, max_words: int
) -> list[dict]:
    """Schema-style rows whose reasoning length is lognormal (long tail)."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        words = min(max_words, max(4, int(rng.lognormvariate(math.log(median_words), sigma))))
        reasoning = " ".join(rng.choice(WORDS) for _ in range(words))
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": f"Problem {i}: what is {i} + {i + 1}?"},
                    {
                        "role": "assistant",
                        "content": f"<think>\n{reasoning}\n</think>\n\nThe answer is \\boxed{{{2 * i + 1}}}.",
                    },
                ]
            }
        )
    return rows


class CountingCollator:
    """Wraps a collator and counts processed (incl. padding) and useful (real) tokens."""

    def __init__(self, inner, pad_token_id: int):
        self.inner = inner
        self.pad_token_id = pad_token_id
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


def run(setup: str, model_dir: Path, dataset, args, workdir: Path) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from toolkit.training.recipe import load_recipe
    from toolkit.training.sft import sft_config

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    common = {
        "output_dir": str(workdir / setup),
        "num_train_epochs": 1,
        "learning_rate": 1e-3,
        "gradient_checkpointing": False,
        "activation_checkpointing": False,
        "bf16": False,
        "report_to": [],
        "save_strategy": "no",
        "logging_steps": 1000,
        "seed": 0,
        "max_length": args.max_length,
    }
    if setup == "naive":
        config = SFTConfig(
            **common, packing=False, padding_free=False, per_device_train_batch_size=args.batch_size
        )
    else:
        recipe = load_recipe(
            {
                "base_model": str(model_dir),
                "data": "unused",
                "output_dir": str(workdir / setup),
                "params": {
                    "lr": 1e-3,
                    "max_length": args.max_length,
                    "packing": True,
                    "packing_strategy": "bfd",
                    "batch_size": 1,
                    "gradient_checkpointing": False,
                    "report_to": "none",
                },
            }
        ).recipe
        config = sft_config(recipe, bf16=False, end_of_turn="<|im_end|>", tokenizer=tokenizer)
        config.save_strategy = "no"
        config.logging_steps = 1000
    trainer = SFTTrainer(
        model=model, args=config, train_dataset=dataset, processing_class=tokenizer
    )
    counter = CountingCollator(trainer.data_collator, tokenizer.pad_token_id)
    trainer.data_collator = counter
    started, cpu_started = time.perf_counter(), time.process_time()
    trainer.train()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "setup": setup,
        "steps": trainer.state.global_step,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "processed_tokens": counter.processed,
        "useful_tokens": counter.useful,
        "padding_waste": 1 - counter.useful / counter.processed,
        "useful_tokens_per_s": counter.useful / seconds,
        "useful_tokens_per_cpu_s": counter.useful / cpu_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--traces", type=int, default=128)
    parser.add_argument("--median-words", type=float, default=60)
    parser.add_argument("--sigma", type=float, default=0.9)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: steady on a busy CPU)"
    )
    parser.add_argument("--repeats", type=int, default=2, help="runs per setup (fastest kept)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()

    import datasets
    import torch

    from toolkit.models import build_tiny_model
    from toolkit.training.data import tokenize_dataset

    torch.set_num_threads(args.threads)
    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        model_dir = build_tiny_model(workdir / "model", arch="qwen2", hidden_size=128, num_layers=4)
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        rows = make_traces(args.traces, 0, args.median_words, args.sigma, max_words=2000)
        table = datasets.Dataset.from_list(rows)
        tokenized, _ = tokenize_dataset(table, tokenizer)
        tokenized = tokenized.map(
            lambda r: {
                "input_ids": r["input_ids"][: args.max_length],
                "assistant_masks": r["assistant_masks"][: args.max_length],
            }
        ).remove_columns(["num_tokens"])
        lengths = sorted(len(ids) for ids in tokenized["input_ids"])
        # Alternate the setups and keep each one's fastest repeat: on a shared machine, load that
        # comes and goes then hits both sides alike.
        best: dict[str, dict] = {}
        for _ in range(args.repeats):
            for setup in ("naive", "toolkit"):
                result = run(setup, model_dir, tokenized, args, workdir)
                if setup not in best or result["seconds"] < best[setup]["seconds"]:
                    best[setup] = result
        results = [best["naive"], best["toolkit"]]

    naive, toolkit = results
    print(
        f"traces: {len(lengths)}, tokens per trace: median {lengths[len(lengths) // 2]}, "
        f"p90 {lengths[int(len(lengths) * 0.9)]}, max {lengths[-1]} (lognormal, sigma {args.sigma}); "
        f"max_length {args.max_length}, threads {args.threads}"
    )
    print(
        f"{'setup':<38}{'steps':>6}{'processed':>11}{'useful':>9}{'padding waste':>15}"
        f"{'useful tok/s':>14}{'tok/CPU-s':>11}{'time s':>8}"
    )
    labels = {
        "naive": f"naive (padded batches of {args.batch_size})",
        "toolkit": "toolkit (BFD packing, padding-free)",
    }
    for r in results:
        print(
            f"{labels[r['setup']]:<38}{r['steps']:>6}{r['processed_tokens']:>11}{r['useful_tokens']:>9}"
            f"{r['padding_waste']:>15.1%}{r['useful_tokens_per_s']:>14.0f}"
            f"{r['useful_tokens_per_cpu_s']:>11.0f}{r['seconds']:>8.1f}"
        )
    speedup = toolkit["useful_tokens_per_s"] / naive["useful_tokens_per_s"]
    cpu_speedup = toolkit["useful_tokens_per_cpu_s"] / naive["useful_tokens_per_cpu_s"]
    print(
        f"summary: padding waste {naive['padding_waste']:.1%} → {toolkit['padding_waste']:.1%} "
        f"(target ≤ 2%), useful tokens/s ×{speedup:.2f} wall-clock, ×{cpu_speedup:.2f} per CPU-second "
        "(target ≥ 1.5×)"
    )
    if args.json:
        print(
            json.dumps(
                {"naive": naive, "toolkit": toolkit, "speedup": speedup, "cpu_speedup": cpu_speedup}
            )
        )


if __name__ == "__main__":
    main()
