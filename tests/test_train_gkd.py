"""On-policy distillation (``strategy: gkd``) on two tiny models: the loss runs at the recipe's
temperature, and the labels keep the reasoning under R1's stripping/prefilling template.

Both fail with TRL's ``GKDTrainer`` as shipped (issue 13): its loss is computed at T = 1 whatever
the temperature, and its ChatML collator renders conversations with the stock template, which
drops the ``<think>`` block from assistant turns.
"""

from __future__ import annotations

import pytest

from tests.helpers.train import build_tiny_r1_model, one_torch_thread
from toolkit.training import train

_one_thread = pytest.fixture(autouse=True)(one_torch_thread)

REASONING = "Add the units: 2 + 2 = 4."
MESSAGES = [
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": f"<think>\n{REASONING}\n</think>\n\nThe answer is 4."},
]


@pytest.fixture(scope="module")
def r1_pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("r1")
    return build_tiny_r1_model(root / "student", seed=0), build_tiny_r1_model(
        root / "teacher", seed=1
    )


def _traces(path):
    import json

    rows = []
    for a, b in [(2, 2), (3, 4), (5, 1), (6, 2)]:
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": f"What is {a}+{b}?"},
                    {
                        "role": "assistant",
                        "content": f"<think>\n{a} + {b} = {a + b}.\n</think>\n\n{a + b}",
                    },
                ]
            }
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def gkd_recipe(student, teacher, data, out, **distill):
    return {
        "task": "distill",
        "base_model": str(student),
        "output_dir": str(out),
        "data": {"path": str(data), "format": "messages"},
        "params": {
            "learning_rate": 1e-3,
            "max_steps": 2,
            "per_device_train_batch_size": 2,
            "max_length": 256,
            "gradient_checkpointing": False,
            "report_to": "none",
            "logging_steps": 1,
            "warmup_steps": 0,
            "save_steps": 100,
        },
        "distill": {
            "teacher": str(teacher),
            "strategy": "gkd",
            "lmbda": 0.0,
            "beta": 0.5,
            "temperature": 2.0,
            "sampling_temperature": 0.7,
            **distill,
        },
    }


def test_collator_keeps_the_reasoning_under_a_stripping_template(r1_pair):
    from transformers import AutoTokenizer
    from trl.experimental.utils import DataCollatorForChatML

    from toolkit.training.data import analyze_template
    from toolkit.training.gkd import ReasoningChatCollator

    tokenizer = AutoTokenizer.from_pretrained(r1_pair[0])
    template = analyze_template(tokenizer)
    assert template.prefill == "<think>\n" and not template.keeps_reasoning
    batch = ReasoningChatCollator(tokenizer, template, 256)([{"messages": MESSAGES}])
    labels = [t for t in batch["labels"][0].tolist() if t != -100]
    trained = tokenizer.decode(labels)
    # The target continues after the prefilled "<think>\n": reasoning, answer, end of turn.
    assert trained == f"{REASONING}\n</think>\n\nThe answer is 4.<｜end▁of▁sentence｜>"
    prompt = tokenizer.decode([t for t in batch["prompts"][0].tolist()])
    assert prompt.endswith("<｜Assistant｜><think>\n")  # what the model sees at inference
    # TRL's own collator (the seed code) loses the reasoning: the labels start after </think>.
    trl_batch = DataCollatorForChatML(tokenizer=tokenizer, max_length=256)([{"messages": MESSAGES}])
    trl_labels = tokenizer.decode([t for t in trl_batch["labels"][0].tolist() if t != -100])
    assert REASONING not in trl_labels


def test_loss_runs_at_the_distillation_temperature(r1_pair, tmp_path):
    import torch
    import torch.nn.functional as F
    from trl.experimental import gkd

    from toolkit.training import load
    from toolkit.training.distill import load_teacher
    from toolkit.training.gkd import build_gkd_trainer
    from toolkit.training.sft import prepare

    student, teacher_dir = r1_pair
    data = _traces(tmp_path / "t.jsonl")
    recipe = load(gkd_recipe(student, teacher_dir, data, tmp_path / "out")).recipe
    prepared = prepare(recipe)
    teacher, _, _ = load_teacher(recipe)
    with torch.no_grad():  # a confident teacher: peaked distributions, where T matters
        teacher.get_output_embeddings().weight.mul_(30)
    trainer = build_gkd_trainer(recipe, prepared, teacher, [])
    assert trainer.loss_temperature == 2.0 and trainer.args.temperature == 0.7  # loss vs sampling
    second = [MESSAGES[0], {"role": "assistant", "content": "<think>\nFour.\n</think>\n\n4"}]
    batch = trainer.data_collator([{"messages": MESSAGES}, {"messages": second}])
    model = trainer.model.eval()
    with torch.no_grad():
        loss = trainer.compute_loss(model, batch)
        s = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        t = teacher(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        # TRL's loss, as shipped: T = 1 whatever the recipe says.
        shipped = gkd.GKDTrainer.compute_loss(trainer, model, batch)
    T, beta = 2.0, 0.5
    mask = batch["labels"][:, 1:] != -100
    p_s = F.softmax(s[:, :-1][mask] / T, -1)
    p_t = F.softmax(t[:, :-1][mask] / T, -1)
    mix = beta * p_t + (1 - beta) * p_s
    kl_t = (p_t * (p_t.log() - mix.log())).sum(-1)
    kl_s = (p_s * (p_s.log() - mix.log())).sum(-1)
    expected = (beta * kl_t + (1 - beta) * kl_s).mean() * T**2
    assert torch.allclose(loss, expected, rtol=1e-4), (loss, expected)
    assert not torch.allclose(shipped, expected, rtol=0.1), (shipped, expected)


def test_gkd_trains_a_tiny_r1_student_from_a_different_teacher(r1_pair, tmp_path):
    student, teacher = r1_pair
    data = _traces(tmp_path / "t.jsonl")
    result = train(gkd_recipe(student, teacher, data, tmp_path / "out"))
    summary = result.summary
    assert summary["strategy"] == "gkd" and summary["steps"] == 2
    first = summary["loss_curve"][0]["loss"]
    assert 0 < first < 50  # a real divergence between two different models, finite
    assert (result.output_dir / "model.safetensors").is_file()
