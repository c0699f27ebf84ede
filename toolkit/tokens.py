"""Token counts: a fast tokenizer-free estimate, or a real tokenizer when exact budgets matter.

A kernel module because two layers count the same way: curation's length filter removes rows by
token count, and the dataset card reports reasoning-length percentiles; both must agree on what
a "token" is for the card to describe the filter that was applied.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import Any

_ESTIMATE_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def estimate_tokens(text: str | None) -> int:
    """A fast tokenizer-free estimate: one token per word and one per punctuation mark.

    For English prose and LaTeX this lands within ~15 % of BPE tokenizers of R1-distill models
    (words of 1 token, ``\\frac{1}{2}`` ≈ 7), and costs nothing to load; pass a tokenizer to
    :func:`toolkit.curate.length_filter` for exact budgets.
    """
    return len(_ESTIMATE_TOKEN.findall(text)) if text else 0


def token_counter(
    tokenizer: str | os.PathLike[str] | Any | None,
) -> Callable[[list[str]], list[int]]:
    """A batch token counter: a tokenizer (name, path or object) or :func:`estimate_tokens`."""
    if tokenizer is None:
        return lambda texts: [estimate_tokens(t) for t in texts]
    if isinstance(tokenizer, str | os.PathLike):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer))

    def count(texts: list[str]) -> list[int]:
        encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]

    return count


def count_tokens(
    texts: Sequence[str], tokenizer: str | os.PathLike[str] | Any | None = None
) -> list[int]:
    counter = token_counter(tokenizer)
    counts: list[int] = []
    for start in range(0, len(texts), 1000):
        counts.extend(counter(list(texts[start : start + 1000])))
    return counts


def tokenizer_name(tokenizer: Any) -> str:
    """How token counts were made, for reports and cards."""
    if tokenizer is None:
        return "estimate (words + punctuation)"
    if isinstance(tokenizer, str | os.PathLike):
        return str(tokenizer)
    return str(getattr(tokenizer, "name_or_path", type(tokenizer).__name__))


__all__ = ["count_tokens", "estimate_tokens", "token_counter", "tokenizer_name"]
