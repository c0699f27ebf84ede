"""The real SmolLM2-135M-Instruct learns the <think> format from a few LoRA steps on CPU."""

from __future__ import annotations

import json

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
