"""The real SmolLM2-135M-Instruct learns the <think> format from a few LoRA steps on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.train import one_torch_thread
from toolkit.training import train

pytestmark = pytest.mark.integration


_one_thread = pytest.fixture(autouse=True)(one_torch_thread)


def _think_traces(path):
    rows = []
    for a, b in [(3, 4), (5, 2), (6, 1), (2, 7), (8, 1), (4, 4)]:
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": f"What is {a} + {b}?"},
                    {
                        "role": "assistant",
                        "content": f"<think>\n{a} + {b} = {a + b}.\n</think>\n\n{a + b}",
                    },
                ]
            }
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows * 4))
    return path


def test_smollm2_lora_learns_to_open_a_think_block(smollm2_dir, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    data = _think_traces(tmp_path / "think.jsonl")
    result = train(
        {
            "task": "sft",
            "base_model": str(smollm2_dir),
            "output_dir": str(tmp_path / "smollm2-think"),
            "data": {"path": str(data)},
            "params": {
                "lr": 3e-3,
                "max_steps": 8,
                "batch_size": 1,
                "max_length": 128,
                "gradient_checkpointing": False,
                "report_to": "none",
                "logging_steps": 1,
                "warmup_ratio": 0.0,
                "scheduler": "constant",
                "save_steps": 100,
            },
            "peft": {"method": "lora", "r": 16, "alpha": 32, "dropout": 0.0, "merge": True},
        }
    )
    curve = [p["loss"] for p in result.summary["loss_curve"]]
    assert curve[-1] < curve[0]

    tokenizer = AutoTokenizer.from_pretrained(result.output_dir)
    model = AutoModelForCausalLM.from_pretrained(result.output_dir).eval()
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is 3 + 5?"}], tokenize=False, add_generation_prompt=True
    )
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    completion = tokenizer.decode(output[0, inputs["input_ids"].shape[1] :])
    assert completion.lstrip().startswith("<think>"), completion


#: Held-out GSM8K *test* questions (the first of the test split); the tiny recipe's traces are
#: template-made word problems, none of these.
GSM8K_TEST = [
    "Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes "
    "muffins for her friends every day with four. She sells the remainder at the farmers' market "
    "daily for $2 per fresh duck egg. How much in dollars does she make every day at the farmers' "
    "market?",
    "A robe takes 2 bolts of blue fiber and half that much white fiber. How many bolts in total "
    "does it take?",
    "Josh decides to try flipping a house. He buys a house for $80,000 and then puts in $50,000 "
    "in repairs. This increased the value of the house by 150%. How much profit did he make?",
    "James decides to run 3 sprints 3 times a week. He runs 60 meters each sprint. How many total "
    "meters does he run a week?",
    "Kylar went to the store to buy glasses for his apartment. One glass costs $5, but every "
    "second glass costs only 60% of the price. Kylar wants to buy 16 glasses. How much does he "
    "need to pay for them?",
    "Toulouse has twice as many sheep as Charleston. Charleston has 4 times as many sheep as "
    "Seattle. How many sheep do Toulouse, Charleston, and Seattle have together if Seattle has "
    "20 sheep?",
]


def test_tiny_cpu_recipe_teaches_the_think_format(smollm2_dir, tmp_path):
    """issue 13: after ``recipes/tiny-cpu.yaml`` as shipped (0 of 6 before), most greedy answers
    to held-out GSM8K questions open and close ``<think>`` and stop at the end-of-turn token.
    About 1.5 CPU-minutes: 12 LoRA steps of 256 tokens, then 6 greedy answers of ≤ 128 tokens."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    recipe = Path(__file__).resolve().parent.parent / "recipes" / "tiny-cpu.yaml"
    result = train(recipe, output_dir=str(tmp_path / "tiny-cpu"))
    tokenizer = AutoTokenizer.from_pretrained(result.output_dir)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(result.output_dir).eval()
    prompts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
        )
        for question in GSM8K_TEST
    ]
    inputs = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=128, do_sample=False)
    end_of_turn = tokenizer.convert_tokens_to_ids("<|im_end|>")
    good = []
    for row in output[:, inputs["input_ids"].shape[1] :].tolist():
        stopped = end_of_turn in row
        text = tokenizer.decode(row[: row.index(end_of_turn)] if stopped else row)
        good.append(text.lstrip().startswith("<think>") and "</think>" in text and stopped)
    assert sum(good) >= 4, good
