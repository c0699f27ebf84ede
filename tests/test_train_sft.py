"""SFT on a tiny random Qwen2/Llama model on CPU: loss, labels with EOS, packing, LoRA, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.train import TRACES_FIXTURE, one_torch_thread
from toolkit.training import train

_one_thread = pytest.fixture(autouse=True)(one_torch_thread)


@pytest.fixture(scope="module")
def tiny_qwen_dir(tmp_path_factory):
    from toolkit.models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen") / "tiny-qwen2", arch="qwen2")


def recipe(model_dir, output_dir, **params):
    base = {
        "lr": 3e-3,
        "max_steps": 6,
        "batch_size": 2,
        "max_length": 128,
        "gradient_checkpointing": False,
        "report_to": "none",
        "logging_steps": 1,
        "warmup_ratio": 0.0,
        "scheduler": "constant",
        "save_steps": 100,
    }
    base.update(params)
    return {
        "task": "sft",
        "base_model": str(model_dir),
        "output_dir": str(output_dir),
        "data": {"path": str(TRACES_FIXTURE)},
        "params": base,
    }


def test_full_sft_loss_decreases_and_outputs_are_complete(tiny_qwen_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    result = train(recipe(tiny_qwen_dir, tmp_path / "out", max_steps=8, max_length=512))
    summary = result.summary
    losses = [point["loss"] for point in summary["loss_curve"]]
    assert len(losses) == 8
    assert losses[-1] < losses[0] - 0.3, losses
    # The labels the trainer saw: prompt tokens -100, every sequence's EOS inside the loss.
    tokenizer = AutoTokenizer.from_pretrained(result.output_dir)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    row = max(result.trainer.train_dataset, key=lambda r: len(r["seq_lengths"]))
    labels, ids, lengths = row["labels"], row["input_ids"], row["seq_lengths"]
    assert len(lengths) > 1  # BFD packed several traces into the row
    start = 0
    for length in lengths:
        seq_ids, seq_labels = ids[start : start + length], labels[start : start + length]
        assert seq_labels[0] == -100  # the prompt
        last = max(i for i, label in enumerate(seq_labels) if label != -100)
        assert seq_ids[last] == im_end and seq_labels[last] == im_end
        start += length
    # Output directory: loadable model, tokenizer with EOS = end of turn, reasoning defaults.
    out = result.output_dir
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.eos_token_id == im_end
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.chat_template
    generation = GenerationConfig.from_pretrained(out)
    assert (generation.temperature, generation.top_p, generation.do_sample) == (0.6, 0.95, True)
    assert im_end in (
        [generation.eos_token_id]
        if isinstance(generation.eos_token_id, int)
        else generation.eos_token_id
    )
    assert (out / "recipe.yaml").is_file()
    written = json.loads((out / "training_summary.json").read_text())
    assert written["steps"] == 8 and written["dataset"]["rows_used"] == 32
    assert written["tokens_seen"] > written["target_tokens"] > 0
    assert written["params"]["padding_free"] is True
    assert written["chat_template"]["end_of_turn"] == "<|im_end|>"
    for key in ("base_model", "loss_curve", "runtime_seconds", "versions", "generation_config"):
        assert key in written


def test_packing_keeps_sequences_apart(tiny_qwen_dir):
    """Padding-free packed rows restart position ids per sequence, and attention never crosses:
    the packed forward gives the same logits as running each trace alone."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from toolkit.training.data import analyze_template, tokenize_conversation

    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen_dir)
    info = analyze_template(tokenizer)
    rows = [json.loads(line) for line in TRACES_FIXTURE.read_text().splitlines()[:3]]
    sequences = [tokenize_conversation(r["messages"], tokenizer, info)["input_ids"] for r in rows]
    collator = DataCollatorForLanguageModeling(
        pad_token_id=tokenizer.pad_token_id, padding_free=True
    )
    batch = collator([{"input_ids": ids} for ids in sequences])
    assert "attention_mask" not in batch
    expected_positions = torch.cat([torch.arange(len(s)) for s in sequences])
    assert torch.equal(batch["position_ids"][0], expected_positions)
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen_dir, attn_implementation="sdpa").eval()
    # use_cache=False as in training: transformers only derives the block-diagonal mask from the
    # position ids when no KV cache is in play.
    with torch.no_grad():
        packed = model(
            input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False
        ).logits[0]
        alone = torch.cat([model(input_ids=torch.tensor([s])).logits[0] for s in sequences])
    assert torch.allclose(packed, alone, atol=1e-4)
    # Without the position reset the second trace would see the first: the logits differ.
    with torch.no_grad():
        leaked = model(input_ids=batch["input_ids"], use_cache=False).logits[0]
    assert not torch.allclose(leaked[len(sequences[0]) :], alone[len(sequences[0]) :], atol=1e-3)


def test_lora_merge_gives_same_logits_as_adapter(tiny_model_dir, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    lora = {"method": "lora", "r": 8, "alpha": 16, "dropout": 0.0}
    adapter_run = recipe(tiny_model_dir, tmp_path / "adapter", max_steps=3, lr=5e-2)
    adapter_run["peft"] = {**lora, "merge": False}
    merged_run = recipe(tiny_model_dir, tmp_path / "merged", max_steps=3, lr=5e-2)
    merged_run["peft"] = {**lora, "merge": True}
    adapter_result = train(adapter_run)
    merged_result = train(merged_run)
    assert (adapter_result.output_dir / "adapter_config.json").is_file()
    assert not (merged_result.output_dir / "adapter_config.json").exists()
    assert merged_result.summary["peft"]["merged"] is True

    inputs = torch.tensor([[5, 17, 42, 99, 7, 3, 250, 11]])
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        base_logits = base(input_ids=inputs).logits
        with_adapter = PeftModel.from_pretrained(base, adapter_result.output_dir).eval()
        adapter_logits = with_adapter(input_ids=inputs).logits
        merged = AutoModelForCausalLM.from_pretrained(merged_result.output_dir).eval()
        merged_logits = merged(input_ids=inputs).logits
    assert not torch.allclose(
        adapter_logits, base_logits, atol=1e-3
    )  # the adapter learned something
    assert torch.allclose(merged_logits, adapter_logits, atol=1e-4)


def test_resume_continues_the_step_count(tiny_model_dir, tmp_path):
    out = tmp_path / "resume"
    first = train(recipe(tiny_model_dir, out, max_steps=3, save_steps=3))
    assert first.summary["steps"] == 3 and (out / "checkpoint-3").is_dir()
    second = train(recipe(tiny_model_dir, out, max_steps=5, save_steps=5, resume=True))
    summary = second.summary
    assert summary["resumed_from"].endswith("checkpoint-3")
    assert summary["steps"] == 5
    assert [p["step"] for p in summary["loss_curve"]] == [1, 2, 3, 4, 5]


def test_cli_trains_tiny_recipe_end_to_end(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from toolkit.cli import app

    recipe_path = Path(__file__).resolve().parent.parent / "recipes" / "tiny-cpu.yaml"
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        app,
        [
            "train",
            str(recipe_path),
            "--base_model",
            str(tiny_model_dir),
            "--output_dir",
            str(out),
            "--params.max_steps",
            "2",
            "--params.max_length",
            "96",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    # stdout is one JSON document (the trainer's own metric lines go to stderr).
    summary = json.loads(result.stdout)
    assert summary["output_dir"] == str(out) and summary["steps"] == 2
    assert (out / "model.safetensors").is_file() and (out / "training_summary.json").is_file()


def test_think_special_tokens_are_added_and_trained(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = recipe(tiny_model_dir, tmp_path / "think", max_steps=2, max_length=512)
    run["params"].update({"think_tokens": True, "think_token_init": "mean"})
    result = train(run)
    assert result.summary["think_tokens_added"] == ["<think>", "</think>"]
    tokenizer = AutoTokenizer.from_pretrained(result.output_dir)
    model = AutoModelForCausalLM.from_pretrained(result.output_dir)
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    close_id = tokenizer.convert_tokens_to_ids("</think>")
    assert close_id >= 0 and tokenizer.decode([close_id]) == "</think>"
    # The single </think> token is a training target.
    assert any(close_id in row["labels"] for row in result.trainer.train_dataset)


def test_eval_fraction_holds_out_rows_and_reports_eval_loss(tiny_model_dir, tmp_path):
    run = recipe(tiny_model_dir, tmp_path / "eval", max_steps=2, save_steps=2, max_length=512)
    run["data"]["eval_fraction"] = 0.25
    result = train(run)
    held_out = sum(len(row["seq_lengths"]) for row in result.trainer.eval_dataset)  # packed too
    assert held_out == 8
    assert result.summary["eval_loss"] is not None and result.summary["eval_loss"] > 0


def test_assistant_only_loss_false_trains_every_token(tiny_model_dir, tmp_path):
    """``params.assistant_only_loss: false`` was silently ignored (same loss tokens either way);
    setups that train on the whole conversation (Phi-3 on Magpie) need it honoured."""
    masked = train(recipe(tiny_model_dir, tmp_path / "masked", max_steps=1, max_length=512))
    everything = train(
        recipe(
            tiny_model_dir,
            tmp_path / "all",
            max_steps=1,
            max_length=512,
            assistant_only_loss=False,
        )
    )
    assert everything.summary["target_tokens"] > masked.summary["target_tokens"]
    for row in everything.trainer.train_dataset:
        assert all(label != -100 for label in row["labels"])  # system and user tokens too
    assert any(-100 in row["labels"] for row in masked.trainer.train_dataset)


def test_output_readme_is_our_model_card(tiny_model_dir, tmp_path):
    result = train(recipe(tiny_model_dir, tmp_path / "card", max_steps=1, save_steps=1))
    readme = (result.output_dir / "README.md").read_text()
    assert "fine-tuned version of" not in readme  # TRL's placeholder card is gone
    assert "## Training" in readme and "Not evaluated yet" in readme
    assert "base_model:" in readme and "recipe.yaml" in readme


def test_merge_of_a_saved_adapter_matches_the_adapter(tiny_model_dir, tmp_path):
    """The merge path of sharded (FSDP/ZeRO-3) and QLoRA runs: the gathered adapter is saved,
    then merged on the main process into a freshly loaded base."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from toolkit.training.outputs import _merge_saved_adapter

    run = recipe(tiny_model_dir, tmp_path / "adapter", max_steps=2, lr=5e-2)
    run["peft"] = {"method": "lora", "r": 8, "alpha": 16, "dropout": 0.0, "merge": False}
    adapter = train(run).output_dir
    tokenizer = AutoTokenizer.from_pretrained(adapter)
    merged = _merge_saved_adapter(adapter, tokenizer, tmp_path / "merged").eval()
    inputs = torch.tensor([[5, 17, 42, 99, 7, 3, 250, 11]])
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        expected = PeftModel.from_pretrained(base, adapter).eval()(input_ids=inputs).logits
        reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "merged").eval()
        assert torch.allclose(merged(input_ids=inputs).logits, expected, atol=1e-4)
        assert torch.allclose(reloaded(input_ids=inputs).logits, expected, atol=1e-4)
