"""Logits distillation: the loss itself, teacher == student, vocab mismatch, TRL GKD."""

from __future__ import annotations

import pytest

from tests.helpers.train import TRACES_FIXTURE, one_torch_thread
from toolkit.training import train
from toolkit.training.distill import VocabularyMismatchError, distillation_loss

_one_thread = pytest.fixture(autouse=True)(one_torch_thread)


def distill_recipe(student, teacher, output_dir, **distill):
    return {
        "task": "distill",
        "base_model": str(student),
        "output_dir": str(output_dir),
        "data": {"path": str(TRACES_FIXTURE), "limit": 8},
        "params": {
            "lr": 1e-3,
            "max_steps": 2,
            "batch_size": 2,
            "max_length": 512,
            "gradient_checkpointing": False,
            "report_to": "none",
            "logging_steps": 1,
            "warmup_ratio": 0.0,
            "save_steps": 100,
        },
        "distill": {"teacher": str(teacher), "alpha": 1.0, "temperature": 2.0, **distill},
    }


def test_loss_matches_hand_computation_on_assistant_tokens_only():
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    student, teacher = torch.randn(1, 5, 7), torch.randn(1, 5, 7) * 3
    labels = torch.tensor([[-100, -100, 3, 4, -100]])  # positions 1 and 2 predict labels 3 and 4
    T = 2.0
    loss, kl, ce = distillation_loss(student, teacher, labels, temperature=T, alpha=0.25)
    rows = [1, 2]
    t = F.log_softmax(teacher[0, rows] / T, -1)
    s = F.log_softmax(student[0, rows] / T, -1)
    expected_kl = (t.exp() * (t - s)).sum(-1).mean() * T**2
    expected_ce = F.cross_entropy(student[0, rows], torch.tensor([3, 4]))
    assert torch.allclose(kl, expected_kl) and torch.allclose(ce, expected_ce)
    assert torch.allclose(loss, 0.25 * expected_kl + 0.75 * expected_ce)
    # Clipping bounds the logits before softening.
    _, clipped_kl, _ = distillation_loss(
        student, teacher * 100, labels, temperature=T, alpha=1.0, logit_clip=5.0
    )
    t_c = F.log_softmax((teacher[0, rows] * 100).clamp(-5, 5) / T, -1)
    s_c = F.log_softmax(student[0, rows].clamp(-5, 5) / T, -1)
    assert torch.allclose(clipped_kl, (t_c.exp() * (t_c - s_c)).sum(-1).mean() * T**2)


def test_teacher_equal_to_student_gives_zero_kl(tiny_model_dir, tmp_path):
    result = train(distill_recipe(tiny_model_dir, tiny_model_dir, tmp_path / "kd"))
    curve = result.summary["loss_curve"]
    # Step 1 is computed before any update: the two models are identical.
    assert curve[0]["kl"] == pytest.approx(0.0, abs=1e-6)
    assert curve[0]["loss"] == pytest.approx(0.0, abs=1e-6)
    assert result.summary["task"] == "distill" and result.summary["strategy"] == "logits"
    assert result.summary["teacher_model"] == str(tiny_model_dir)
    assert (result.output_dir / "model.safetensors").is_file()


def test_kl_is_positive_against_a_different_teacher(tiny_model_dir, tmp_path):
    from toolkit.models import build_tiny_model

    other = build_tiny_model(tmp_path / "other", seed=1)  # same tokenizer, other weights
    result = train(
        distill_recipe(tiny_model_dir, other, tmp_path / "kd", alpha=0.5, logit_clip=30.0)
    )
    first = result.summary["loss_curve"][0]
    assert first["kl"] > 1e-4
    assert first["loss"] == pytest.approx(0.5 * first["kl"] + 0.5 * first["ce"], rel=1e-4)


def test_mismatched_vocab_errors_with_both_sizes_and_the_fix(tiny_model_dir, tmp_path):
    from toolkit.models import build_tiny_model

    other = build_tiny_model(tmp_path / "small-vocab", vocab_size=400)
    with pytest.raises(VocabularyMismatchError) as error:
        train(distill_recipe(tiny_model_dir, other, tmp_path / "kd"))
    from transformers import AutoTokenizer

    student_size = len(AutoTokenizer.from_pretrained(tiny_model_dir).get_vocab())
    teacher_size = len(AutoTokenizer.from_pretrained(other).get_vocab())
    assert student_size != teacher_size
    message = str(error.value)
    assert f"{teacher_size} tokens" in message and f"has {student_size} tokens" in message
    assert "same family" in message and "task: sft" in message


def test_gkd_strategy_runs_trl_gkd_trainer(tiny_model_dir, tmp_path):
    result = train(
        distill_recipe(
            tiny_model_dir, tiny_model_dir, tmp_path / "gkd", strategy="gkd", lmbda=0.0, beta=0.5
        )
    )
    assert result.summary["strategy"] == "gkd" and result.summary["steps"] == 2
    assert type(result.trainer).__name__ == "GKDTrainer"
    assert result.summary["loss_curve"][0]["loss"] == pytest.approx(0.0, abs=1e-5)


def test_think_tokens_are_added_to_teacher_and_student_alike(tiny_model_dir, tmp_path):
    run = distill_recipe(tiny_model_dir, tiny_model_dir, tmp_path / "kd-think")
    run["params"]["think_tokens"] = True
    result = train(run)
    assert result.summary["think_tokens_added"] == ["<think>", "</think>"]
    # Same weights, same new rows (same init): the distributions still match exactly.
    assert result.summary["loss_curve"][0]["kl"] == pytest.approx(0.0, abs=1e-6)


def test_hqq_quantized_teacher_and_pure_kl(tiny_model_dir, tmp_path):
    """The re-distillation setup: an HQQ 4-bit teacher and the pure-KL objective (alpha 1)."""
    pytest.importorskip("hqq", reason="hqq is in the gpu extra")
    from toolkit.models import build_tiny_model

    teacher = build_tiny_model(tmp_path / "teacher", seed=1)
    result = train(
        distill_recipe(
            tiny_model_dir,
            teacher,
            tmp_path / "kd",
            teacher_quantization="hqq",
            hqq_bits=4,
            hqq_group_size=64,
            logit_clip=30.0,
        )
    )
    first = result.summary["loss_curve"][0]
    assert first["kl"] > 1e-4 and first["loss"] == pytest.approx(first["kl"], rel=1e-5)
    layer = result.trainer.teacher_model.model.layers[0].self_attn.q_proj
    assert type(layer).__name__ == "HQQLinear"  # the teacher really runs quantized
