"""Supervised fine-tuning on reasoning traces with TRL's ``SFTTrainer`` (+ PEFT).

What this adds on top of a plain ``SFTTrainer(model, dataset)`` call, each fixing a seed-recipe bug:

* the data are tokenized by :mod:`toolkit.training.data`, so the loss covers exactly the assistant
  turns *including* their end-of-turn token (models learn to stop), the reasoning survives
  templates that strip or prefill ``<think>``, and system/user tokens are -100;
* the tokenizer's EOS becomes the template's end-of-turn token (``SFTConfig.eos_token``), and
  the saved generation config stops on it;
* packing defaults to best-fit-decreasing with padding-free batches (position ids restart at 0
  for every sequence, which transformers turns into a block-diagonal mask, so packed traces never
  attend to each other) — long-tailed trace lengths waste almost no compute on padding;
* LoRA / QLoRA / full fine-tuning from one ``peft`` section, merge on save, resume from the last
  checkpoint, TensorBoard or trackio logging when installed (never a cloud tracker by default).
"""

from __future__ import annotations

import importlib.util
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.training.recipe import RecipeError

if TYPE_CHECKING:
    from toolkit.training.data import DataInfo, TemplateInfo
    from toolkit.training.recipe import LoadedRecipe, Recipe

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    output_dir: Path
    summary: dict[str, Any]
    trainer: Any = field(repr=False, default=None)


def use_bf16(recipe: Recipe) -> bool:
    import torch

    if recipe.params.bf16 is not None:
        if recipe.params.bf16 and not (
            torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        ):
            log.warning("params.bf16 is true but no bf16-capable GPU is present: training in fp32")
            return False
        return recipe.params.bf16
    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def resolve_report_to(choice: str) -> list[str]:
    """``auto`` → trackio if installed, else TensorBoard if installed, else nothing (no cloud)."""
    if choice == "none":
        return []
    if choice == "auto":
        for name in ("trackio", "tensorboard"):
            if importlib.util.find_spec(name) is not None:
                return [name]
        return []
    if importlib.util.find_spec(choice) is None:
        raise RecipeError(f"params.report_to: {choice!r} is not installed (pip install {choice})")
    return [choice]


def check_hardware(recipe: Recipe) -> None:
    """Fail before loading anything when the recipe needs a GPU this machine lacks."""
    import torch

    needs_4bit = recipe.peft.method == "qlora" or (
        recipe.task == "distill" and recipe.distill.teacher_4bit
    )
    if needs_4bit and not torch.cuda.is_available():
        what = "peft.method: qlora" if recipe.peft.method == "qlora" else "distill.teacher_4bit"
        raise RecipeError(
            f"{what} loads weights in 4-bit with bitsandbytes, which needs a CUDA GPU; this machine "
            "has none. Use peft.method: lora (or distill.teacher_4bit: false) on CPU, or run it "
            "remotely: toolkit train RECIPE --remote hf-jobs --flavor a100-large"
        )
    if needs_4bit and importlib.util.find_spec("bitsandbytes") is None:
        raise RecipeError("4-bit loading needs bitsandbytes: pip install bitsandbytes")


def four_bit_config() -> Any:
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )


def load_model(path: str, recipe: Recipe, *, bf16: bool) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if bf16 else torch.float32}
    if recipe.params.attn_implementation:
        kwargs["attn_implementation"] = recipe.params.attn_implementation
    if recipe.peft.method == "qlora":
        kwargs["quantization_config"] = four_bit_config()
        kwargs["dtype"] = torch.bfloat16
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if recipe.peft.method == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=recipe.params.gradient_checkpointing
        )
    return model


def load_tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        # Padding never reaches the loss (labels are -100 there), so EOS is a safe pad.
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def peft_config(recipe: Recipe, new_token_ids: list[int]) -> Any:
    if recipe.peft.method == "none":
        return None
    from peft import LoraConfig

    section = recipe.peft
    kwargs: dict[str, Any] = {
        "r": section.r,
        "lora_alpha": section.alpha,
        "lora_dropout": section.dropout,
        "target_modules": section.target_modules,
        "task_type": "CAUSAL_LM",
        "bias": "none",
    }
    if section.modules_to_save:
        kwargs["modules_to_save"] = list(section.modules_to_save)
    if new_token_ids:
        # Under LoRA the embedding matrix is frozen, so the new <think> rows keep their init (the
        # mean of the literal text's token embeddings: already meaningful to the model). PEFT's
        # trainable_token_indices would train them, but its wrapper breaks TRL's fused LM head
        # (no `.bias` on the wrapped lm_head, TRL 1.16), so it is not used.
        log.info("LoRA with new think tokens: their embedding rows stay at their initialisation")
    return LoraConfig(**kwargs)


def sft_config(
    recipe: Recipe, *, bf16: bool, end_of_turn: str, tokenizer: Any, config_class: Any = None
) -> Any:
    """Map the recipe onto TRL's ``SFTConfig`` (or a subclass such as ``GKDConfig``)."""
    if config_class is None:
        from trl import SFTConfig as config_class

    params = recipe.params
    padding_free = params.padding_free or (params.packing and params.packing_strategy != "wrapped")
    kwargs: dict[str, Any] = {
        "output_dir": recipe.output_dir,
        "learning_rate": params.lr,
        "num_train_epochs": params.epochs,
        "max_steps": params.max_steps,
        "per_device_train_batch_size": params.batch_size,
        "gradient_accumulation_steps": params.gradient_accumulation,
        # Without packing, padding-free cannot enforce max_length: we truncate while tokenizing.
        "max_length": params.max_length if params.packing or not padding_free else None,
        "packing": params.packing,
        "packing_strategy": params.packing_strategy,
        "padding_free": padding_free,
        "lr_scheduler_type": params.scheduler,
        "warmup_steps": params.warmup_ratio,
        "weight_decay": params.weight_decay,
        "max_grad_norm": params.max_grad_norm,
        "optim": params.optim,
        # transformers 5 renamed gradient_checkpointing; TRL still reads the old name (mirrored).
        "gradient_checkpointing": params.gradient_checkpointing,
        "activation_checkpointing": params.gradient_checkpointing,
        "bf16": bf16,
        "fp16": False,
        "seed": params.seed,
        "logging_steps": params.logging_steps,
        "save_strategy": "steps",
        "save_steps": params.save_steps,
        "save_total_limit": params.save_total_limit,
        "report_to": resolve_report_to(params.report_to),
        "dataloader_num_workers": params.dataloader_num_workers,
        "dataset_num_proc": params.dataset_num_proc,
        "remove_unused_columns": True,
        "push_to_hub": False,
    }
    if recipe.data.eval_fraction > 0:
        kwargs["eval_strategy"] = "steps"
        kwargs["eval_steps"] = params.save_steps
    if end_of_turn in tokenizer.get_vocab():
        kwargs["eos_token"] = end_of_turn
    if params.gradient_checkpointing:
        kwargs["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
        kwargs["activation_checkpointing_kwargs"] = {"use_reentrant": False}
    return config_class(**kwargs)


@dataclass
class Prepared:
    """Everything a trainer needs, built the same way for SFT and distillation."""

    model: Any
    tokenizer: Any
    dataset: Any
    eval_dataset: Any
    data_info: DataInfo
    template: TemplateInfo
    model_path: str
    target_tokens: int
    think_tokens_added: list[str]
    bf16: bool


def prepare(recipe: Recipe) -> Prepared:
    """Load traces, tokenizer and model; tokenize with assistant-only masks."""
    from toolkit.training.data import add_think_tokens, load_traces, resolve_model, tokenize_dataset

    check_hardware(recipe)
    bf16 = use_bf16(recipe)
    if recipe.params.cpu_threads:
        import torch

        if not torch.cuda.is_available():
            torch.set_num_threads(recipe.params.cpu_threads)
    model_path = resolve_model(recipe.base_model)
    table, data_info = load_traces(recipe.data)
    tokenizer = load_tokenizer(model_path)
    model = load_model(model_path, recipe, bf16=bf16)
    added: list[str] = []
    if recipe.params.think_tokens:
        added = add_think_tokens(model, tokenizer, init=recipe.params.think_token_init)
    tokenized, template = tokenize_dataset(
        table, tokenizer, num_proc=recipe.params.dataset_num_proc
    )
    max_length = recipe.params.max_length

    def truncate(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "input_ids": row["input_ids"][:max_length],
            "assistant_masks": row["assistant_masks"][:max_length],
        }

    # BFD packing truncates overflow itself; everywhere else we truncate here, so every path
    # (padding-free without packing included) honours max_length.
    if not (recipe.params.packing and recipe.params.packing_strategy == "bfd_split"):
        tokenized = tokenized.map(truncate, desc="Truncating")
    tokenized = tokenized.filter(lambda row: any(row["assistant_masks"]), desc="Dropping empty")
    if len(tokenized) == 0:
        raise ValueError(
            f"no training tokens left: every assistant turn lies beyond params.max_length={max_length}"
        )
    target_tokens = sum(sum(m) for m in tokenized["assistant_masks"])
    tokenized = tokenized.remove_columns([c for c in tokenized.column_names if c == "num_tokens"])
    eval_dataset = None
    if recipe.data.eval_fraction > 0 and len(tokenized) >= 4:
        split = tokenized.train_test_split(
            test_size=recipe.data.eval_fraction, seed=recipe.params.seed
        )
        tokenized, eval_dataset = split["train"], split["test"]
    return Prepared(
        model=model,
        tokenizer=tokenizer,
        dataset=tokenized,
        eval_dataset=eval_dataset,
        data_info=data_info,
        template=template,
        model_path=model_path,
        target_tokens=target_tokens,
        think_tokens_added=added,
        bf16=bf16,
    )


def last_checkpoint(recipe: Recipe) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    output_dir = Path(recipe.output_dir)
    if not output_dir.is_dir():
        return None
    return get_last_checkpoint(str(output_dir))


def run_training(
    loaded: LoadedRecipe, prepared: Prepared, trainer: Any, *, checkpoint: str | None
) -> TrainResult:
    """Train (resuming when asked), then write every output; shared by SFT and distillation."""
    from toolkit.training.data import model_label
    from toolkit.training.outputs import make_summary_callback, previous_loss_curve, write_outputs

    recipe = loaded.recipe
    callback = make_summary_callback()
    trainer.add_callback(callback)
    earlier = previous_loss_curve(Path(recipe.output_dir)) if checkpoint else []
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=checkpoint)
    runtime = time.perf_counter() - started
    trainer.save_state()
    summary = write_outputs(
        trainer=trainer,
        recipe=recipe,
        tokenizer=prepared.tokenizer,
        data_info=prepared.data_info,
        template=prepared.template,
        callback=callback,
        base_model_path=prepared.model_path,
        base_model_label=model_label(prepared.model_path, recipe.base_model),
        target_tokens=prepared.target_tokens,
        think_tokens_added=prepared.think_tokens_added,
        resumed_from=checkpoint,
        runtime_seconds=runtime,
        earlier_loss_curve=earlier,
    )
    if recipe.hub.push:
        push_to_hub(recipe)
    log.info(
        "trained %d steps in %.1fs (final loss %s) → %s",
        summary["steps"],
        runtime,
        f"{summary['final_loss']:.4f}" if summary["final_loss"] is not None else "n/a",
        recipe.output_dir,
    )
    return TrainResult(output_dir=Path(recipe.output_dir), summary=summary, trainer=trainer)


def sft_trainer_kwargs(recipe: Recipe, prepared: Prepared, new_ids: list[int]) -> dict[str, Any]:
    """The ``SFTTrainer`` arguments every SFT-based run shares (plain SFT and the logit
    distillation subclass), so both train on the same config, data, tokenizer and adapter;
    ``new_ids`` are the added thinking tokens whose embeddings LoRA must train."""
    return {
        "model": prepared.model,
        "args": sft_config(
            recipe,
            bf16=prepared.bf16,
            end_of_turn=prepared.template.end_of_turn,
            tokenizer=prepared.tokenizer,
        ),
        "train_dataset": prepared.dataset,
        "eval_dataset": prepared.eval_dataset,
        "processing_class": prepared.tokenizer,
        "peft_config": peft_config(recipe, new_ids),
    }


def resume_checkpoint(recipe: Recipe) -> str | None:
    if not recipe.params.resume:
        return None
    checkpoint = last_checkpoint(recipe)
    if checkpoint is None:
        log.warning(
            "params.resume is set but %s has no checkpoint: starting fresh", recipe.output_dir
        )
    else:
        log.info("resuming from %s", checkpoint)
    return checkpoint


def push_to_hub(recipe: Recipe) -> None:
    """Upload the output directory (checkpoints excluded) to ``hub.repo_id``."""
    from huggingface_hub import HfApi

    api = HfApi(token=recipe.hub.token or None)
    api.create_repo(
        recipe.hub.repo_id, private=recipe.hub.private, exist_ok=True, repo_type="model"
    )
    api.upload_folder(
        repo_id=recipe.hub.repo_id,
        folder_path=recipe.output_dir,
        revision=recipe.hub.revision,
        ignore_patterns=["checkpoint-*", "checkpoint-*/**", "runs/**", "adapter/**"],
        commit_message=f"toolkit train: {recipe.name}",
    )


def run_sft(loaded: LoadedRecipe) -> TrainResult:
    """Fine-tune ``base_model`` on the recipe's traces; see the module docstring."""
    from trl import SFTTrainer

    recipe = loaded.recipe
    prepared = prepare(recipe)
    new_ids = [prepared.tokenizer.convert_tokens_to_ids(t) for t in prepared.think_tokens_added]
    trainer_kwargs = sft_trainer_kwargs(recipe, prepared, new_ids)
    checkpoint = resume_checkpoint(recipe)
    trainer = SFTTrainer(**trainer_kwargs)
    return run_training(loaded, prepared, trainer, checkpoint=checkpoint)
