"""Shared pieces of the training tests (``tests/test_train_*.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

#: Hand-written chat traces (with ``<think>`` blocks) the tiny-model training tests train on.
TRACES_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "train" / "traces.jsonl"


def one_torch_thread() -> Iterator[None]:
    """Run a test with torch on one thread, restoring the previous count afterwards.

    Tiny models are dominated by threading overhead, and on a 2-core box shared with other work
    more threads only add contention: one thread is faster and steadier. Wrap it per module with
    ``_one_thread = pytest.fixture(autouse=True)(one_torch_thread)``.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


#: DeepSeek-R1-Distill's special tokens (the real template writes them as text).
R1_SPECIALS = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>"]


def trl_chat_template(name: str) -> str:
    """A real Hub chat template from TRL's copies (``trl/chat_templates/<name>.jinja``)."""
    import trl

    return (Path(trl.__file__).parent / "chat_templates" / f"{name}.jinja").read_text()


def build_tiny_r1_model(path: Path, *, seed: int = 0) -> Path:
    """A tiny random model whose tokenizer has R1-distill's special tokens and its real chat
    template (strips ``<think>`` from assistant turns, prefills ``<think>\\n``): the shape of
    every R1-distill student and teacher, small enough to train in seconds. Same tokenizer for
    every ``seed``, so two of them can distil into each other."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from toolkit.models import build_tiny_model

    build_tiny_model(path, seed=seed)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.add_special_tokens(
        {"additional_special_tokens": R1_SPECIALS}, replace_extra_special_tokens=False
    )
    tokenizer.bos_token, tokenizer.eos_token = R1_SPECIALS[0], R1_SPECIALS[1]
    tokenizer.chat_template = trl_chat_template("deepseek_r1_distill")
    model = AutoModelForCausalLM.from_pretrained(path)
    torch.manual_seed(seed)
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    model.config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
