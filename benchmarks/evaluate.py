"""Evaluation sampling on a local model: the toolkit's path (the durable engine feeding the one
transformers loader, batch 16) next to what a user would write instead — a left-padded batched
``model.generate`` loop, and a ``transformers`` text-generation pipeline with batching.

Same tiny model (:func:`toolkit.models.build_tiny_model`, a random Llama-style model with a real
BPE tokenizer and ChatML template), same GSM8K prompts (the vendored rows in
``tests/fixtures/benchmarks``), same token limit, greedy, interleaved rounds. The random model
rarely emits an end-of-turn token, so every side generates the full ``--max-new-tokens``: equal
work. The toolkit also writes every sample to its resumable state (the price of surviving a
crash), so parity with the bare loop is the target, not a win. Greedy outputs must be identical
to the user's loop (left padding must not change any row).

    python benchmarks/evaluate.py [--quick] [--problems 48] [--max-new-tokens 48] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

from common import REPO, Figure, print_figures

BATCH = 16


def load_prompts(count: int) -> list[list[dict]]:
    from toolkit.evaluation.tasks import get_benchmark

    path = REPO / "tests" / "fixtures" / "benchmarks" / "gsm8k_test.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    task = get_benchmark("gsm8k")
    problems = [rows[i % len(rows)]["question"] for i in range(count)]
    return [[{"role": "user", "content": task.build_prompt(p)}] for p in problems]


def toolkit_side(model_dir: Path, chats: list, max_new: int) -> tuple[float, list[str]]:
    from toolkit.backends.transformers import TransformersModel
    from toolkit.evaluation.sampling import EvalConfig, sample

    model = TransformersModel(model_dir, batch_size=BATCH, num_threads=_threads())
    model.load()  # outside the timer, as the peers load theirs before timing
    config = EvalConfig(greedy=True, max_new_tokens=max_new, progress=False, check=False)
    with tempfile.TemporaryDirectory() as state:
        started = time.perf_counter()
        completions, _ = sample(model, chats, config, identity={}, state_dir=Path(state))
        elapsed = time.perf_counter() - started
    return len(chats) / elapsed, [row[0].content for row in completions]


def user_loop(model_dir: Path, chats: list, max_new: int) -> tuple[float, list[str]]:
    """What a user writes: left padding, batches of 16, one generate call per batch."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    prompts = [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True)
               for c in chats]  # fmt: skip
    texts = []
    started = time.perf_counter()
    for start in range(0, len(prompts), BATCH):
        batch = tokenizer(prompts[start : start + BATCH], return_tensors="pt", padding=True,
                          add_special_tokens=False)  # fmt: skip
        with torch.inference_mode():
            out = model.generate(**batch, max_new_tokens=max_new, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)  # fmt: skip
        for row in out[:, batch["input_ids"].shape[1] :]:
            texts.append(tokenizer.decode(row, skip_special_tokens=True))
    return len(chats) / (time.perf_counter() - started), texts


def pipeline_side(model_dir: Path, chats: list, max_new: int) -> float:
    from transformers import AutoTokenizer, pipeline

    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    generator = pipeline("text-generation", model=str(model_dir), tokenizer=tokenizer,
                         batch_size=BATCH)  # fmt: skip
    started = time.perf_counter()
    generator(chats, max_new_tokens=max_new, do_sample=False, return_full_text=False)
    return len(chats) / (time.perf_counter() - started)


def _threads() -> int:
    from toolkit.models import cpu_threads

    return cpu_threads()


def measure(quick: bool = False, problems: int = 48, max_new: int = 48, rounds: int = 3):
    import torch

    from toolkit.models import build_tiny_model

    if quick:
        problems, max_new = 32, 24
    chats = load_prompts(problems)
    torch.set_num_threads(_threads())
    toolkit, user, pipe, same = [], [], [], True
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_model(Path(tmp) / "tiny")
        toolkit_side(model_dir, chats[:4], 4)  # warm-up
        user_loop(model_dir, chats[:4], 4)
        for _ in range(rounds):
            rate, ours = toolkit_side(model_dir, chats, max_new)
            toolkit.append(rate)
            rate, theirs = user_loop(model_dir, chats, max_new)
            user.append(rate)
            pipe.append(pipeline_side(model_dir, chats, max_new))
            same = same and [t.strip() for t in ours] == [t.strip() for t in theirs]
    best = max((user, "left-padded model.generate, batch 16"), (pipe, "pipeline, batch 16"),
               key=lambda pair: sorted(pair[0])[len(pair[0]) // 2])  # fmt: skip
    figure = Figure(
        f"eval sampling, problems/s ({problems} problems x {max_new} tokens, greedy)",
        "problems/s", toolkit, best[0], best[1], target=0.9,
        notes=[
            f"user loop {sorted(user)[len(user) // 2]:.2f}, pipeline "
            f"{sorted(pipe)[len(pipe) // 2]:.2f} problems/s (medians)",
            f"greedy outputs identical to the user's loop: {same}",
            f"torch threads: {torch.get_num_threads()}",
        ],
    )  # fmt: skip
    return [figure]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--problems", type=int, default=48)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    print_figures(measure(args.quick, args.problems, args.max_new_tokens, args.rounds))


if __name__ == "__main__":
    main()
