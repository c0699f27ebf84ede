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
    """Fail before loading anything when the recipe needs a GPU or package this machine lacks."""
    from toolkit.training.checks import check_packages

    findings = check_packages(recipe)
    if findings:
        raise findings[0].error()


def four_bit_config() -> Any:
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )


def hqq_quantize(model: Any, bits: int, group_size: int) -> Any:
    """Quantize a loaded model's linear layers in place with HQQ (half-quadratic quantization).

    HQQ needs no calibration data and takes seconds, which is why the re-distillation setup
    quantizes its 7B teacher with it. Done with hqq's own ``AutoHQQHFModel`` because
    transformers 5.24 refuses ``HqqConfig`` at load time ("QuantizationMethod.HQQ is not
    available yet", measured); the algorithm and the layers (``HQQLinear``) are the same. Works on
    CPU too (the tests use it), on the GPU when there is one.
    """
    import torch
    from hqq.core.quantize import BaseQuantizeConfig
    from hqq.models.hf.base import AutoHQQHFModel

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    AutoHQQHFModel.quantize_model(
        model,
        quant_config=BaseQuantizeConfig(nbits=bits, group_size=group_size),
        compute_dtype=dtype,
        device=device,
    )
    model.is_quantized = True  # placed by the quantizer: never moved again
    return model


def load_model(path: str, recipe: Recipe, *, bf16: bool) -> Any:
    """The student: dtype, attention, 4-bit for QLoRA and RoPE scaling as the recipe asks."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from toolkit.training.checks import rope_parameters

    kwargs: dict[str, Any] = dict(recipe.params.extra.get("model_init_kwargs") or {})
    kwargs["dtype"] = torch.bfloat16 if bf16 else torch.float32
    if recipe.params.attn_implementation:
        kwargs["attn_implementation"] = recipe.params.attn_implementation
    if recipe.peft.method == "qlora":
        kwargs["quantization_config"] = four_bit_config()
        kwargs["dtype"] = torch.bfloat16
    config = AutoConfig.from_pretrained(path)
    scaled = rope_parameters(recipe, config)
    if scaled is not None:
        config.rope_parameters = scaled
        config.max_position_embeddings = recipe.params.max_length
        kwargs["config"] = config
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
    """The recipe's ``params`` as TRL's ``SFTConfig`` (or a subclass such as ``GKDConfig``).

    Field names are TRL's own, so this is a pass-through plus what the toolkit decides itself:
    the output directory, bf16 and the tracker resolved for this machine, EOS = the template's
    end-of-turn token, and ``assistant_only_loss`` left to the toolkit's masks (TRL's needs
    ``{% generation %}`` markers that stock templates lack; see :mod:`toolkit.training.data`).
    """
    if config_class is None:
        from trl import SFTConfig as config_class

    params = recipe.params
    padding_free = params.padding_free or (params.packing and params.packing_strategy != "wrapped")
    own = {"resume", "overwrite", "think_tokens", "think_token_init", "attn_implementation",
           "rope_scaling", "cpu_threads", "assistant_only_loss", "report_to", "bf16"}  # fmt: skip
    kwargs = {k: v for k, v in params.to_dict().items() if k not in own}
    kwargs.pop("model_init_kwargs", None)  # used when loading the model ourselves
    kwargs.update(
        {
            "output_dir": recipe.output_dir,
            # Without packing, padding-free cannot enforce max_length: we truncate while tokenizing.
            "max_length": params.max_length if params.packing or not padding_free else None,
            "padding_free": padding_free,
            "assistant_only_loss": False,
            "bf16": bf16,
            "report_to": resolve_report_to(params.report_to),
            "push_to_hub": False,
            "remove_unused_columns": kwargs.get("remove_unused_columns", True),
        }
    )
    kwargs.setdefault("save_strategy", "steps")
    kwargs.setdefault("fp16", False)
    if params.gradient_checkpointing:
        # transformers 5 renamed it; TRL still reads the old name (both set, mirrored).
        kwargs["activation_checkpointing"] = True
        kwargs.setdefault("gradient_checkpointing_kwargs", {"use_reentrant": False})
        kwargs.setdefault("activation_checkpointing_kwargs", {"use_reentrant": False})
    if recipe.data.eval_fraction > 0 and "eval_strategy" not in params.extra:
        kwargs["eval_strategy"] = "steps"
        kwargs["eval_steps"] = params.save_steps
    if end_of_turn in tokenizer.get_vocab() and not params.extra.get("eos_token"):
        kwargs["eos_token"] = end_of_turn
    return config_class(**kwargs)


def cpu_threads(recipe: Recipe) -> int:
    """Torch threads for a CPU run: the recipe's, else the cores idle right now
    (:func:`toolkit.models.cpu_threads`, the rule model loading uses too).

    Measured on a 2-core box: loaded by other work, one thread beat two 3.8x (the threads
    spin-wait for a busy core); idle, two threads trained the quickstart's 4 steps in 48-51 s
    against 63-69 s with one.
    """
    if recipe.params.cpu_threads:
        return recipe.params.cpu_threads
    from toolkit.models import cpu_threads as idle_cores

    return idle_cores()


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
    import torch

    from toolkit.training.data import add_think_tokens, load_traces, resolve_model, tokenize_dataset

    check_hardware(recipe)
    bf16 = use_bf16(recipe)
    if not torch.cuda.is_available():
        torch.set_num_threads(cpu_threads(recipe))
    model_path = resolve_model(recipe.base_model)
    table, data_info = load_traces(recipe.data)
    tokenizer = load_tokenizer(model_path)
    model = load_model(model_path, recipe, bf16=bf16)
    added: list[str] = []
    if recipe.params.think_tokens:
        added = add_think_tokens(model, tokenizer, init=recipe.params.think_token_init)
    tokenized, template = tokenize_dataset(
        table,
        tokenizer,
        num_proc=recipe.params.dataset_num_proc,
        all_tokens=not recipe.params.assistant_only_loss,
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
        from toolkit.errors import DataError

        raise DataError(
            f"no training tokens left: every assistant turn lies beyond params.max_length={max_length}",
            path=recipe.data.path,
            hint="raise params.max_length or drop the longest traces",
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


def run_training(
    loaded: LoadedRecipe, prepared: Prepared, trainer: Any, *, checkpoint: str | None
) -> TrainResult:
    """Train (resuming when asked), then write every output; shared by SFT and distillation.

    The loss curve comes from ``trainer.state.log_history``, which a resumed trainer restores from
    the checkpoint: so the summary holds every step since the first run, even when that run was
    killed before it could write a summary (issue 15).
    """
    from toolkit.training.data import model_label
    from toolkit.training.outputs import make_summary_callback, write_outputs

    recipe = loaded.recipe
    callback = make_summary_callback()
    trainer.add_callback(callback)
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
    )
    if recipe.hub.push and trainer.accelerator.is_main_process:
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

    from toolkit.training.checkpoints import resume_checkpoint

    recipe = loaded.recipe
    prepared = prepare(recipe)
    new_ids = [prepared.tokenizer.convert_tokens_to_ids(t) for t in prepared.think_tokens_added]
    trainer_kwargs = sft_trainer_kwargs(recipe, prepared, new_ids)
    checkpoint = resume_checkpoint(recipe)
    trainer = SFTTrainer(**trainer_kwargs)
    return run_training(loaded, prepared, trainer, checkpoint=checkpoint)
