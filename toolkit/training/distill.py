"""Logits distillation: match the teacher's token distributions on the same traces.

Seed use case: re-distilling an R1-distill model into a smaller one of the same family. SFT on
traces teaches the student the teacher's *sampled* tokens; logits distillation also transfers the
teacher's full next-token distribution (its "dark knowledge"), which helps small students.

Loss per assistant token (prompt tokens never count, padding-free packing respected)::

    loss = alpha · T² · KL(softmax(z_t / T) ‖ softmax(z_s / T)) + (1 − alpha) · CE(z_s, y)

* forward KL (teacher ‖ student), the classic Hinton formulation: mode-covering, so the student
  spreads mass over every continuation the teacher considers plausible;
* ``T`` softens both distributions; ``T²`` keeps the gradient scale independent of ``T``;
* ``logit_clip`` clamps both logit sets to ``[-c, c]`` before softening (guards against the
  huge-magnitude logits of some checkpoints that turn the softmax one-hot);
* the teacher runs in bf16 (or 4-bit: NF4 or HQQ) under ``no_grad``: it only supplies targets.

Both models must share the tokenizer: position-wise KL compares vocabulary entries by index.
``strategy: gkd`` hands the same recipe to TRL's on-policy ``GKDTrainer`` (``trl.experimental.gkd``)
through :mod:`toolkit.training.gkd`, which samples from the student and scores with the teacher
(generalised JSD with ``beta``, on-policy fraction ``lmbda``) at the same temperature ``T``.

The teacher can be loaded in 4-bit to fit next to the student: ``teacher_quantization: nf4``
(bitsandbytes, CUDA) or ``hqq`` (half-quadratic quantization: no calibration data, CPU or GPU;
the setup the re-distillation recipe reproduces). ``alpha: 1`` is the pure-KL objective.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from toolkit.training.recipe import RecipeError

if TYPE_CHECKING:
    from toolkit.training.recipe import LoadedRecipe, Recipe
    from toolkit.training.sft import TrainResult

log = logging.getLogger(__name__)


class VocabularyMismatchError(RecipeError):
    """Teacher and student do not share one tokenizer, so their logits cannot be compared."""


def check_vocabularies(
    student: Any,
    student_tokenizer: Any,
    teacher: Any,
    teacher_tokenizer: Any,
    *,
    teacher_name: str = "",
    added_tokens: tuple[str, ...] | list[str] = (),
) -> int:
    """Return the number of logit columns to compare, or raise naming both sizes and the fix.

    Models of one family may pad their embedding matrices differently (Qwen pads to a multiple of
    128); that is fine as long as the tokenizers are identical: only the first ``len(tokenizer)``
    columns are compared.
    """
    # Tokens the toolkit just added to the student (``params.think_tokens``) are added to the
    # teacher the same way afterwards; they do not count as a mismatch.
    student_vocab = {
        k: v for k, v in student_tokenizer.get_vocab().items() if k not in added_tokens
    }
    teacher_vocab = teacher_tokenizer.get_vocab()
    student_width = student.get_output_embeddings().weight.shape[0]
    teacher_width = teacher.get_output_embeddings().weight.shape[0]
    if student_vocab != teacher_vocab:
        differing = len(set(student_vocab.items()) ^ set(teacher_vocab.items()))
        raise VocabularyMismatchError(
            f"teacher {teacher_name or getattr(teacher_tokenizer, 'name_or_path', '')!r} has a vocabulary "
            f"of {len(teacher_vocab)} tokens ({teacher_width} logits) but the student "
            f"{getattr(student_tokenizer, 'name_or_path', '')!r} has {len(student_vocab)} tokens "
            f"({student_width} logits); {differing} token↔id entries differ. Logits distillation "
            "compares the two next-token distributions id by id, so both models must share one "
            "tokenizer. Fix: pick a teacher from the same family as the student (e.g. an R1-distill of the "
            "same base), or generate text traces with the teacher (`toolkit generate`) and train "
            "with `task: sft`, or use TRL's cross-tokenizer GOLD trainer (trl.experimental.gold, "
            "use_uld_loss=True)."
        )
    usable = len(student_tokenizer) - len(added_tokens)
    if usable > min(student_width, teacher_width):
        raise VocabularyMismatchError(
            f"the tokenizer has {usable} tokens but the teacher has {teacher_width} and the student "
            f"{student_width} logits: resize the embeddings of the smaller model"
        )
    return usable


def distillation_loss(
    student_logits: Any,
    teacher_logits: Any,
    labels: Any,
    *,
    temperature: float,
    alpha: float,
    logit_clip: float | None = None,
    num_items: Any = None,
) -> tuple[Any, Any, Any]:
    """``(loss, kl, ce)`` over positions whose next-token label is not -100.

    ``logits[:, i]`` predicts ``labels[:, i + 1]`` (the usual causal shift). With ``num_items``
    (tokens in the whole gradient-accumulation batch) sums are divided by it, like TRL's SFT loss,
    so accumulation does not change the scale.
    """
    import torch
    import torch.nn.functional as F

    shifted = labels[:, 1:]
    mask = shifted != -100
    student = student_logits[:, :-1][mask].float()
    teacher = teacher_logits[:, :-1][mask].float()
    if logit_clip is not None:
        student = student.clamp(-logit_clip, logit_clip)
        teacher = teacher.clamp(-logit_clip, logit_clip)
    targets = shifted[mask]
    count = torch.as_tensor(
        num_items if num_items is not None else mask.sum(), device=student.device
    )
    count = count.clamp(min=1)
    teacher_log_probs = F.log_softmax(teacher / temperature, dim=-1)
    student_log_probs = F.log_softmax(student / temperature, dim=-1)
    kl_per_token = (teacher_log_probs.exp() * (teacher_log_probs - student_log_probs)).sum(-1)
    kl = kl_per_token.sum() / count * temperature**2
    ce = F.cross_entropy(student, targets, reduction="sum") / count
    return alpha * kl + (1.0 - alpha) * ce, kl, ce


def _trainer_class() -> type:
    from trl import SFTTrainer

    class LogitsDistillationTrainer(SFTTrainer):
        """``SFTTrainer`` whose loss is :func:`distillation_loss` against a frozen teacher."""

        def __init__(
            self, *args: Any, teacher_model: Any, distill: Any, vocab_size: int, **kwargs: Any
        ):
            super().__init__(*args, **kwargs)
            self.distill = distill
            self.vocab_size = vocab_size
            teacher_model.eval()
            for parameter in teacher_model.parameters():
                parameter.requires_grad_(False)
            if not getattr(teacher_model, "is_quantized", False):
                # Quantized teachers (NF4, HQQ) are placed when quantized and cannot be moved.
                teacher_model = teacher_model.to(self.accelerator.device)
            self.teacher_model = teacher_model

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            import torch

            labels = inputs["labels"]
            forward = {k: v for k, v in inputs.items() if k != "labels"}
            forward["use_cache"] = False
            outputs = model(**forward)
            with torch.no_grad():
                teacher_logits = self.teacher_model(**forward).logits
            width = self.vocab_size
            loss, kl, ce = distillation_loss(
                outputs.logits[..., :width],
                teacher_logits[..., :width],
                labels,
                temperature=self.distill.temperature,
                alpha=self.distill.alpha,
                logit_clip=self.distill.logit_clip,
                num_items=num_items_in_batch,
            )
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * self.accelerator.num_processes
            mode = "train" if model.training else "eval"
            self._metrics[mode]["kl"].append(kl.detach().item())
            self._metrics[mode]["ce"].append(ce.detach().item())
            if mode == "train":
                if "attention_mask" in inputs:
                    tokens = int(inputs["attention_mask"].sum().item())
                else:
                    tokens = int(inputs["input_ids"].numel())
                self._total_train_tokens += tokens
                self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
            return (loss, outputs) if return_outputs else loss

    return LogitsDistillationTrainer


def load_teacher(recipe: Recipe) -> tuple[Any, Any, str]:
    import torch
    from transformers import AutoModelForCausalLM

    from toolkit.training.data import resolve_model
    from toolkit.training.sft import four_bit_config, hqq_quantize, load_tokenizer

    path = resolve_model(recipe.distill.teacher)
    dtype_name = recipe.distill.teacher_dtype
    kwargs: dict[str, Any] = {}
    quantization = recipe.distill.quantization
    if quantization == "nf4":
        kwargs["quantization_config"] = four_bit_config()
    elif quantization == "hqq":
        kwargs["dtype"] = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    elif dtype_name == "auto":
        kwargs["dtype"] = "auto"
    else:
        dtype = getattr(torch, dtype_name)
        if dtype is torch.bfloat16 and not torch.cuda.is_available():
            # Reduced precision only pays on accelerators; CPU bf16 matmuls are slow and lossy.
            dtype = torch.float32
        kwargs["dtype"] = dtype
    teacher = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if quantization == "hqq":
        teacher = hqq_quantize(teacher, recipe.distill.hqq_bits, recipe.distill.hqq_group_size)
    return teacher, load_tokenizer(path), path


def run_distill(loaded: LoadedRecipe) -> TrainResult:
    """Distil ``distill.teacher`` into ``base_model`` on the recipe's traces."""
    from toolkit.training.checkpoints import resume_checkpoint
    from toolkit.training.sft import prepare, run_training, sft_trainer_kwargs

    recipe = loaded.recipe
    prepared = prepare(recipe)
    teacher, teacher_tokenizer, teacher_path = load_teacher(recipe)
    check_vocabularies(
        prepared.model,
        prepared.tokenizer,
        teacher,
        teacher_tokenizer,
        teacher_name=recipe.distill.teacher,
        added_tokens=prepared.think_tokens_added,
    )
    if prepared.think_tokens_added:
        from toolkit.training.data import add_think_tokens

        add_think_tokens(teacher, teacher_tokenizer, init=recipe.params.think_token_init)
    vocab_size = check_vocabularies(
        prepared.model,
        prepared.tokenizer,
        teacher,
        teacher_tokenizer,
        teacher_name=recipe.distill.teacher,
    )
    new_ids = [prepared.tokenizer.convert_tokens_to_ids(t) for t in prepared.think_tokens_added]
    checkpoint = resume_checkpoint(recipe)
    if recipe.distill.strategy == "gkd":
        from toolkit.training.gkd import build_gkd_trainer

        trainer = build_gkd_trainer(recipe, prepared, teacher, new_ids)
    else:
        trainer = _trainer_class()(
            **sft_trainer_kwargs(recipe, prepared, new_ids),
            teacher_model=teacher,
            distill=recipe.distill,
            vocab_size=vocab_size,
        )
    log.info("teacher %s loaded (%s)", teacher_path, next(teacher.parameters()).dtype)
    return run_training(loaded, prepared, trainer, checkpoint=checkpoint)
