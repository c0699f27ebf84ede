"""What a training run leaves behind, and ``training_summary.json`` (read by the model-card code).

The output directory is a normal ``transformers`` model directory, loadable with
``AutoModelForCausalLM.from_pretrained(output_dir)`` (for ``peft.merge: false`` it holds the
adapter, which transformers loads on top of the base model when ``peft`` is installed):

* model weights (merged LoRA, full fine-tune, or the adapter alone);
* the tokenizer, with the chat template used for training and EOS = the end-of-turn token, so
  ``generate`` stops where training taught it to;
* ``generation_config.json`` with reasoning-friendly sampling defaults (temperature 0.6,
  top_p 0.95, sampling on, a long ``max_new_tokens``) and every stop token;
* ``recipe.yaml``: the resolved recipe (secrets redacted back to ``${HF_TOKEN}``);
* ``training_summary.json`` (keys below); checkpoints live in ``checkpoint-<step>/`` next to them.

``training_summary.json`` keys (all present; ``null`` when unknown):

``schema_version``        "1"
``task``                  "sft" or "distill"
``strategy``              ``null`` for SFT, "logits" or "gkd" for distillation
``base_model``            Hub id the base stands for (``_name_or_path`` of a local copy)
``base_model_path``       what was loaded (local path or Hub id)
``teacher_model``         teacher for distillation, else ``null``
``dataset``               {``source``, ``version``, ``revision``, ``split``, ``rows_loaded``,
                          ``rows_used``, ``rows_dropped``, ``drop_reasons``}
``peft``                  {``method``, ``r``, ``alpha``, ``dropout``, ``target_modules``, ``merged``}
``params``                {``learning_rate``, ``epochs``, ``max_steps``, ``batch_size``,
                          ``gradient_accumulation``, ``effective_batch_size``, ``max_length``,
                          ``packing``, ``packing_strategy``, ``padding_free``, ``seed``}
``steps``                 optimizer steps done in total (continues across ``--resume``)
``epochs_completed``      float
``tokens_seen``           tokens processed by the forward passes (prompt + completion, no padding
                          with padding-free batches), cumulative over the run
``target_tokens``         tokens inside the loss (assistant tokens incl. EOS) in one epoch
``loss_curve``            [{``step``, ``loss``, ``learning_rate``, ``epoch``}, …] as logged
``final_loss``            last logged training loss
``eval_loss``             last held-out loss (``data.eval_fraction`` > 0), else ``null``
``runtime_seconds``       wall-clock of ``trainer.train`` in this invocation
``started_at``/``finished_at``  ISO-8601 UTC
``resumed_from``          checkpoint directory the run resumed from, else ``null``
``chat_template``         {``mode``, ``keeps_reasoning``, ``prefill``, ``end_of_turn``}
``think_tokens_added``    tokens added to the vocabulary (``[]`` when none)
``generation_config``     the sampling defaults written next to the model
``hardware``              {``device``, ``num_devices``}
``versions``              {``toolkit``, ``torch``, ``transformers``, ``trl``, ``peft``}
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolkit.training.data import DataInfo, TemplateInfo
    from toolkit.training.recipe import Recipe

log = logging.getLogger(__name__)

SUMMARY_FILE = "training_summary.json"
RECIPE_FILE = "recipe.yaml"


def _callback_base() -> type:
    from transformers import TrainerCallback

    return TrainerCallback


def make_summary_callback() -> Any:
    """A ``TrainerCallback`` that records the loss curve and timing (created lazily: no torch)."""

    class SummaryCallback(_callback_base()):
        def __init__(self) -> None:
            self.loss_curve: list[dict[str, float]] = []
            self.started = time.perf_counter()
            self.started_at = _now()
            self.tokens_seen = 0

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if "loss" in logs:
                point = {"step": int(state.global_step), "loss": float(logs["loss"])}
                if "learning_rate" in logs:
                    point["learning_rate"] = float(logs["learning_rate"])
                if "epoch" in logs:
                    point["epoch"] = float(logs["epoch"])
                for key in ("kl", "ce"):
                    if key in logs:
                        point[key] = float(logs[key])
                self.loss_curve.append(point)
            if "num_tokens" in logs:
                self.tokens_seen = int(logs["num_tokens"])

    return SummaryCallback()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def loss_curve(log_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Training-loss points from ``trainer.state.log_history`` (restored on resume, so a resumed
    run's curve starts at step 1), one per step."""
    curve: dict[int, dict[str, Any]] = {}
    for entry in log_history:
        if "loss" not in entry or "step" not in entry:
            continue
        point = {"step": int(entry["step"]), "loss": float(entry["loss"])}
        for key in ("learning_rate", "epoch", "kl", "ce"):
            if key in entry:
                point[key] = float(entry[key])
        curve[point["step"]] = point
    return [curve[step] for step in sorted(curve)]


def generation_defaults(recipe: Recipe, model: Any, tokenizer: Any, end_of_turn: str) -> Any:
    """The ``GenerationConfig`` saved with the model: R1 sampling defaults and all stop tokens."""
    from transformers import GenerationConfig

    base = getattr(model, "generation_config", None)
    config = GenerationConfig(**base.to_diff_dict()) if base is not None else GenerationConfig()
    stop_ids: list[int] = []
    for token in (end_of_turn, tokenizer.eos_token):
        token_id = tokenizer.convert_tokens_to_ids(token) if token else None
        if isinstance(token_id, int) and token_id >= 0 and token_id not in stop_ids:
            stop_ids.append(token_id)
    existing = config.eos_token_id
    for token_id in [existing] if isinstance(existing, int) else list(existing or []):
        if token_id not in stop_ids:
            stop_ids.append(token_id)
    config.eos_token_id = stop_ids[0] if len(stop_ids) == 1 else stop_ids
    config.pad_token_id = (
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_ids[0]
    )
    if tokenizer.bos_token_id is not None:
        config.bos_token_id = tokenizer.bos_token_id
    gen = recipe.generation
    config.do_sample = gen.do_sample
    config.temperature = gen.temperature
    config.top_p = gen.top_p
    config.max_new_tokens = gen.max_new_tokens
    return config


def save_model(trainer: Any, recipe: Recipe, output_dir: Path) -> tuple[Any, bool]:
    """Save the weights through ``trainer.save_model``, which gathers FSDP/ZeRO-3 shards.

    Why not ``model.save_pretrained``: under FSDP or ZeRO-3 each process holds a shard and the
    unwrapped module's parameters are empty placeholders, so a direct save writes empty weights.
    ``trainer.save_model`` gathers the full state dict (FSDP ``FULL_STATE_DICT``, DeepSpeed's
    16-bit gather) and writes it on the main process only.

    LoRA adapters are merged unless ``peft.merge`` is false. On one process the merge happens in
    memory; sharded (or QLoRA, whose 4-bit weights cannot take the merge) runs save the gathered
    adapter first and the main process merges it into a freshly loaded base.
    """
    accelerator = trainer.accelerator
    unwrapped = accelerator.unwrap_model(trainer.model)
    is_peft = recipe.peft.method != "none" and hasattr(unwrapped, "merge_and_unload")
    if not (is_peft and recipe.peft.merge):
        trainer.save_model(str(output_dir))
        return unwrapped, False
    from accelerate.utils import DistributedType

    sharded = accelerator.num_processes > 1 or accelerator.distributed_type in (
        DistributedType.FSDP,
        DistributedType.DEEPSPEED,
    )
    if not sharded and recipe.peft.method == "lora":
        merged = unwrapped.merge_and_unload()
        if accelerator.is_main_process:
            merged.save_pretrained(output_dir, safe_serialization=True)
        return merged, True
    adapter_dir = output_dir / "adapter"
    trainer.save_model(str(adapter_dir))
    accelerator.wait_for_everyone()
    merged = unwrapped
    if accelerator.is_main_process:
        merged = _merge_saved_adapter(adapter_dir, trainer.processing_class, output_dir)
    accelerator.wait_for_everyone()
    return merged, True


def _merge_saved_adapter(adapter_dir: Path, tokenizer: Any, output_dir: Path) -> Any:
    """Base (bf16 on GPU, fp32 on CPU) + saved adapter → merged weights in ``output_dir``."""
    import torch
    from peft import PeftConfig, PeftModel
    from transformers import AutoModelForCausalLM

    base_name = PeftConfig.from_pretrained(adapter_dir).base_model_name_or_path
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    base = AutoModelForCausalLM.from_pretrained(base_name, dtype=dtype)
    if base.get_input_embeddings().weight.shape[0] != len(tokenizer):
        base.resize_token_embeddings(len(tokenizer), mean_resizing=False)  # added think tokens
    merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
    merged.save_pretrained(output_dir, safe_serialization=True)
    return merged


def write_outputs(
    *,
    trainer: Any,
    recipe: Recipe,
    tokenizer: Any,
    data_info: DataInfo,
    template: TemplateInfo,
    callback: Any,
    base_model_path: str,
    base_model_label: str,
    target_tokens: int,
    think_tokens_added: list[str],
    resumed_from: str | None,
    runtime_seconds: float,
) -> dict[str, Any]:
    """Write model, tokenizer, generation config, recipe and summary; return the summary."""
    import peft
    import torch
    import transformers
    import trl

    import toolkit
    from toolkit.training.data import template_info_dict

    output_dir = Path(recipe.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model, merged = save_model(trainer, recipe, output_dir)
    main = trainer.accelerator.is_main_process
    generation = generation_defaults(recipe, model, tokenizer, template.end_of_turn)
    if main:
        tokenizer.save_pretrained(output_dir)
        generation.save_pretrained(output_dir)
        (output_dir / RECIPE_FILE).write_text(recipe.to_yaml(), encoding="utf-8")

    state = trainer.state
    curve = loss_curve(state.log_history) or callback.loss_curve
    params = recipe.params
    world = max(1, int(getattr(trainer.args, "world_size", 1)))
    device = "cpu"
    if torch.cuda.is_available():
        device = f"cuda:{torch.cuda.get_device_name(0)}"
    summary = {
        "schema_version": "1",
        "task": recipe.task,
        "strategy": recipe.distill.strategy if recipe.task == "distill" else None,
        "base_model": base_model_label,
        "base_model_path": base_model_path,
        "teacher_model": recipe.distill.teacher if recipe.task == "distill" else None,
        "dataset": asdict(data_info),
        "peft": {
            "method": recipe.peft.method,
            "r": recipe.peft.r if recipe.peft.method != "none" else None,
            "alpha": recipe.peft.alpha if recipe.peft.method != "none" else None,
            "dropout": recipe.peft.dropout if recipe.peft.method != "none" else None,
            "target_modules": recipe.peft.target_modules if recipe.peft.method != "none" else None,
            "merged": merged,
        },
        "params": {
            "learning_rate": params.learning_rate,
            "epochs": params.num_train_epochs,
            "max_steps": params.max_steps,
            "batch_size": params.per_device_train_batch_size,
            "gradient_accumulation": params.gradient_accumulation_steps,
            "effective_batch_size": params.per_device_train_batch_size
            * params.gradient_accumulation_steps
            * world,
            "max_length": params.max_length,
            "packing": params.packing,
            "packing_strategy": params.packing_strategy if params.packing else None,
            "padding_free": bool(getattr(trainer, "padding_free", False)),
            "seed": params.seed,
        },
        "steps": int(state.global_step),
        "epochs_completed": float(state.epoch or 0.0),
        "tokens_seen": int(getattr(trainer, "_total_train_tokens", 0) or callback.tokens_seen),
        "target_tokens": int(target_tokens),
        "loss_curve": curve,
        "final_loss": curve[-1]["loss"] if curve else None,
        "eval_loss": next(
            (h["eval_loss"] for h in reversed(state.log_history) if "eval_loss" in h), None
        ),
        "runtime_seconds": round(runtime_seconds, 3),
        "started_at": callback.started_at,
        "finished_at": _now(),
        "resumed_from": resumed_from,
        "chat_template": template_info_dict(template),
        "think_tokens_added": think_tokens_added,
        "generation_config": {
            "temperature": generation.temperature,
            "top_p": generation.top_p,
            "do_sample": generation.do_sample,
            "max_new_tokens": generation.max_new_tokens,
            "eos_token_id": generation.eos_token_id,
        },
        "hardware": {"device": device, "num_devices": world},
        "versions": {
            "toolkit": toolkit.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "trl": trl.__version__,
            "peft": peft.__version__,
        },
    }
    if main:
        (output_dir / SUMMARY_FILE).write_text(
            json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        write_card(output_dir, recipe.hub.repo_id)
    trainer.accelerator.wait_for_everyone()
    return summary


def write_card(output_dir: Path, repo_id: str | None = None) -> None:
    """Our model card as ``README.md``, replacing the placeholder TRL writes with each checkpoint
    ("fine-tuned version of [None]"), which would otherwise be pushed as the card. It carries the
    training summary and recipe; ``toolkit card``/``toolkit publish`` add the evaluation later."""
    from toolkit.cards.model_card import write_training_card

    try:
        write_training_card(output_dir, repo_id=repo_id)
    except Exception as error:  # a card problem must not lose a finished training run
        log.warning("could not write the model card: %s", error)
        readme = output_dir / "README.md"
        if readme.is_file() and "fine-tuned version of" in readme.read_text(encoding="utf-8"):
            readme.unlink()
