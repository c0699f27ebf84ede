"""On-policy distillation (``distill.strategy: gkd``) with TRL's ``GKDTrainer``, made right for R1.

TRL's trainer as shipped breaks two things a reasoning recipe relies on (issue 13):

* **the loss temperature.** ``GKDConfig.temperature`` only sets the *sampling* temperature of the
  student's on-policy completions; ``compute_loss`` calls ``generalized_jsd_loss`` at its default
  ``T = 1``. Here ``distill.temperature`` softens both distributions in the loss (scaled by T², as
  in the logits path, so the gradient size does not move with T) and
  ``distill.sampling_temperature`` is the sampling temperature.
* **the reasoning in the labels.** TRL's ``DataCollatorForChatML`` renders each conversation with
  the stock chat template; R1-distill (and Qwen3) templates strip the ``<think>`` block from
  assistant turns, so the labels started mid-answer (``' is \\boxed{2}.<｜end▁of▁sentence｜>'``).
  :class:`ReasoningChatCollator` builds the batch from the same masked tokens as SFT
  (:func:`toolkit.training.data.tokenize_conversation`): the prompt the model sees at inference
  (prefill included), then the whole reasoning and answer up to the end-of-turn token.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolkit.training.data import TemplateInfo
    from toolkit.training.recipe import Recipe

log = logging.getLogger(__name__)


class ReasoningChatCollator:
    """``messages`` rows → ``input_ids``/``attention_mask``/``labels`` (right-padded) and the
    inference prompts ``prompts``/``prompt_attention_mask`` (left-padded) that ``GKDTrainer``
    samples on-policy completions from."""

    def __init__(
        self, tokenizer: Any, template: TemplateInfo, max_length: int, *, all_tokens: bool = False
    ) -> None:
        self.tokenizer = tokenizer
        self.template = template
        self.max_length = max_length
        self.all_tokens = all_tokens

    def encode(self, messages: list[dict[str, str]]) -> tuple[list[int], list[int], list[int]]:
        """``(input_ids, labels, prompt_ids)`` of one conversation."""
        from toolkit.training.data import tokenize_conversation

        encoded = tokenize_conversation(
            messages, self.tokenizer, self.template, all_tokens=self.all_tokens
        )
        ids = encoded["input_ids"][: self.max_length]
        masks = encoded["assistant_masks"][: self.max_length]
        labels = [token if mask else -100 for token, mask in zip(ids, masks, strict=True)]
        prompt = self.tokenizer.apply_chat_template(
            messages[:-1], tokenize=False, add_generation_prompt=True
        )
        prompt_ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        return ids, labels, prompt_ids[: self.max_length]

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        pad = self.tokenizer.pad_token_id
        rows = [self.encode(example["messages"]) for example in examples]
        width = max(len(ids) for ids, _, _ in rows)
        prompt_width = max(len(prompt) for _, _, prompt in rows)
        batch: dict[str, list[list[int]]] = {
            "input_ids": [],
            "attention_mask": [],
            "labels": [],
            "prompts": [],
            "prompt_attention_mask": [],
        }
        for ids, labels, prompt in rows:
            fill = width - len(ids)
            batch["input_ids"].append(ids + [pad] * fill)
            batch["attention_mask"].append([1] * len(ids) + [0] * fill)
            batch["labels"].append(labels + [-100] * fill)
            left = prompt_width - len(prompt)
            batch["prompts"].append([pad] * left + prompt)
            batch["prompt_attention_mask"].append([0] * left + [1] * len(prompt))
        return {key: torch.tensor(value) for key, value in batch.items()}


def gkd_loss(
    student_logits: Any,
    teacher_logits: Any,
    labels: Any,
    *,
    beta: float,
    temperature: float,
    num_items: Any = None,
) -> Any:
    """TRL's generalized JSD at ``temperature``, times T² (the logits path's scale).

    ``logits[:, i]`` predicts ``labels[:, i + 1]``; positions labelled -100 never count.
    """
    from trl.experimental.gkd import GKDTrainer

    loss = GKDTrainer.generalized_jsd_loss(
        student_logits=student_logits[:, :-1, :],
        teacher_logits=teacher_logits[:, :-1, :],
        labels=labels[:, 1:],
        beta=beta,
        temperature=temperature,
        num_items_in_batch=num_items,
    )
    return loss * temperature**2


def _trainer_class() -> type:
    from trl.experimental import gkd

    class GKDTrainer(gkd.GKDTrainer):
        """TRL's ``GKDTrainer`` whose loss runs at the distillation temperature (module doc)."""

        loss_temperature: float = 1.0

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            import torch

            student = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
            self.teacher_model.eval()
            with torch.no_grad():
                teacher = self.teacher_model(
                    input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
                )
            width = min(student.logits.shape[-1], teacher.logits.shape[-1])
            loss = gkd_loss(
                student.logits[..., :width],
                teacher.logits[..., :width],
                inputs["labels"],
                beta=self.beta,
                temperature=self.loss_temperature,
                num_items=num_items_in_batch,
            )
            return (loss, student) if return_outputs else loss

    return GKDTrainer


def build_gkd_trainer(recipe: Recipe, prepared: Any, teacher: Any, new_ids: list[int]) -> Any:
    """TRL's ``GKDTrainer`` with the fixes above, fed the recipe's ``messages`` traces."""
    from trl.experimental.gkd import GKDConfig

    from toolkit.training.data import load_traces
    from toolkit.training.sft import peft_config, sft_config

    distill, tokenizer = recipe.distill, prepared.tokenizer
    args = sft_config(
        recipe,
        bf16=prepared.bf16,
        end_of_turn=prepared.template.end_of_turn,
        tokenizer=tokenizer,
        config_class=GKDConfig,
    )
    args.lmbda, args.beta, args.seq_kd = distill.lmbda, distill.beta, distill.seq_kd
    args.temperature = distill.sampling_temperature
    args.max_new_tokens = distill.max_new_tokens
    args.packing = False
    args.padding_free = False
    args.dataset_kwargs = {"skip_prepare_dataset": True}
    # On-policy samples stop at the end-of-turn token, as the trained model will.
    stops = [tokenizer.convert_tokens_to_ids(prepared.template.end_of_turn), tokenizer.eos_token_id]
    prepared.model.generation_config.eos_token_id = list(dict.fromkeys(s for s in stops if s >= 0))
    table, _ = load_traces(recipe.data)
    collator = ReasoningChatCollator(
        tokenizer,
        prepared.template,
        recipe.params.max_length,
        all_tokens=not recipe.params.assistant_only_loss,
    )
    trainer = _trainer_class()(
        model=prepared.model,
        teacher_model=teacher,
        args=args,
        data_collator=collator,
        train_dataset=table,
        processing_class=tokenizer,
        peft_config=peft_config(recipe, new_ids),
    )
    trainer.loss_temperature = distill.temperature
    return trainer
