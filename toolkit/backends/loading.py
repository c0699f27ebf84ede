"""The one transformers loader: what generate, evaluate and chat each need from a local model.

:func:`load_model`

* resolves ``smollm2`` and other aliases, and models published to the local store
  (:func:`toolkit.models.resolve_model`);
* loads a LoRA adapter directory (``adapter_config.json`` without ``config.json``, as
  ``toolkit train`` saves) through PEFT on its base model;
* pads on the left (decoder-only models continue from the right end of each row);
* stops on *every* end-of-turn token the tokenizer knows (ChatML models often list only one of
  ``<|im_end|>`` / ``<|endoftext|>`` as EOS), not only EOS;
* keeps reasoning markers in decoded text even when they are special tokens.

:func:`prompt_is_prefilled` tells a chat template that opens ``<think>`` itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import UsageError
from toolkit.thinking import (
    SOLUTION_CLOSE,
    SOLUTION_OPEN,
    THINK_CLOSE,
    THINK_OPEN,
    THOUGHT_CLOSE,
    THOUGHT_OPEN,
)

#: End-of-turn tokens of common chat formats; any of them that the tokenizer has as a special
#: token stops generation.
END_OF_TURN_TOKENS = (
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<|end_of_text|>",
    "<｜end▁of▁sentence｜>",
    "<end_of_turn>",
    "<|end|>",
    "</s>",
)
#: Reasoning markers are kept in decoded text even when the tokenizer marks them special
#: (``toolkit train`` can add ``<think>`` as a special token; ``skip_special_tokens`` would
#: silently delete it).
THINKING_MARKERS = (THINK_OPEN, THINK_CLOSE, THOUGHT_OPEN, THOUGHT_CLOSE, SOLUTION_OPEN,
                    SOLUTION_CLOSE)  # fmt: skip


@dataclass
class LoadedModel:
    """A model and its tokenizer, ready to generate."""

    model: Any
    tokenizer: Any
    path: str
    device: str
    stop_token_ids: list[int]
    hidden_tokens: tuple[str, ...]


def load_model(
    model: str | os.PathLike[str],
    *,
    device: str | None = None,
    dtype: str | None = None,
    revision: str | None = None,
    num_threads: int | None = None,
) -> LoadedModel:
    """Load a causal LM (Hub id, local directory, alias, or LoRA adapter directory).

    ``dtype`` defaults to float32 on CPU (bf16 matmuls are emulated there and several times
    slower) and bfloat16 on GPU. ``num_threads`` sets torch's intra-op threads (process-wide).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from toolkit.models import resolve_model

    path = resolve_model(os.fspath(model))
    if num_threads:
        torch.set_num_threads(num_threads)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch_dtype = (
        getattr(torch, dtype)
        if dtype and dtype != "auto"
        else (torch.float32 if device == "cpu" else torch.bfloat16)
    )
    local = Path(path)
    if (local / "adapter_config.json").exists() and not (local / "config.json").exists():
        from peft import AutoPeftModelForCausalLM

        network = AutoPeftModelForCausalLM.from_pretrained(local, dtype=torch_dtype)
        try:
            tokenizer = AutoTokenizer.from_pretrained(local)
        except (OSError, ValueError):
            base = network.peft_config["default"].base_model_name_or_path
            tokenizer = AutoTokenizer.from_pretrained(base)
    else:
        tokenizer = AutoTokenizer.from_pretrained(path, revision=revision)
        network = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, revision=revision)
    if not tokenizer.chat_template:
        raise UsageError(
            f"{path}: the tokenizer has no chat template",
            hint="prompts are chats: set tokenizer.chat_template and save the tokenizer",
        )
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    network.to(device)
    network.eval()
    specials = set(tokenizer.all_special_tokens) | set(
        getattr(tokenizer, "added_tokens_encoder", {})
    )
    hidden = tuple(t for t in tokenizer.all_special_tokens if t not in THINKING_MARKERS)
    return LoadedModel(
        network, tokenizer, path, device, _stop_token_ids(network, tokenizer, specials), hidden
    )


def _stop_token_ids(model: Any, tokenizer: Any, specials: set[str]) -> list[int]:
    ids: set[int] = set()
    configured = model.generation_config.eos_token_id
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(configured)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    vocab = tokenizer.get_vocab()
    for token in END_OF_TURN_TOKENS:
        if token in vocab and token in specials:
            ids.add(vocab[token])
    ids.discard(None)  # type: ignore[arg-type]
    return sorted(ids)


def prompt_is_prefilled(prompt: str) -> bool:
    """Whether a rendered prompt opens the thinking itself (R1-distill templates do)."""
    return prompt.rstrip().endswith((THINK_OPEN, THOUGHT_OPEN))


__all__ = [
    "END_OF_TURN_TOKENS",
    "THINKING_MARKERS",
    "LoadedModel",
    "load_model",
    "prompt_is_prefilled",
]
