"""The one transformers loader (``toolkit.backends.transformers``): batched generation with left
padding, end-of-turn stops, an explicit protocol, prefill detection and weight identity."""

from __future__ import annotations

import asyncio

import pytest

from toolkit.backends import ChatRequest, SamplingParams, make_model
from toolkit.backends.transformers import TransformersModel
from toolkit.errors import UsageError
from toolkit.models import model_revision

CHATS = [
    [{"role": "user", "content": "What is 2 + 2?"}],
    [{"role": "user", "content": "Natalia sold clips to 48 of her friends in April. How many?"}],
    [{"role": "user", "content": "Reason step by step: 12 times 7, then add 3 and divide by 1."}],
]


def generate(model, chats, n, params):
    """``n`` completions per chat, requested together (so they share batches)."""

    async def run():
        return await asyncio.gather(
            *(model.complete(ChatRequest(chat, n=n, params=params)) for chat in chats)
        )

    return asyncio.run(run())


@pytest.fixture(scope="module")
def tiny_model(tiny_model_dir):
    return TransformersModel(tiny_model_dir, batch_size=3)


def test_batched_greedy_equals_one_at_a_time(tiny_model_dir, tiny_model):
    """Left padding is right: each row of a padded batch decodes exactly as it would alone."""
    params = SamplingParams(temperature=0.0, max_new_tokens=12)
    batched = generate(tiny_model, CHATS, 1, params)
    single = generate(TransformersModel(tiny_model_dir, batch_size=1), CHATS, 1, params)
    assert tiny_model.load().tokenizer.padding_side == "left"
    assert [c[0].content for c in batched] == [c[0].content for c in single]
    assert all(c[0].finish_reason == "length" and c[0].completion_tokens == 12 for c in batched)


def test_generation_stops_at_end_of_turn_token(tiny_model_dir):
    """Make the third greedy token an end-of-turn token: generation must stop right there, drop
    it from the text and report finish_reason="stop"."""
    model = TransformersModel(tiny_model_dir, batch_size=2)
    loaded = model.load()
    params = SamplingParams(temperature=0.0, max_new_tokens=8)
    encoded = loaded.tokenizer(model.render(CHATS[0]), return_tensors="pt")
    output = loaded.model.generate(**encoded, generation_config=model.generation_config(params))
    new = output[0, encoded["input_ids"].shape[1] :].tolist()
    stop_token = new[2]
    first = new.index(stop_token)
    loaded.stop_token_ids = [stop_token]
    [[completion]] = generate(model, CHATS[:1], 1, params)
    assert completion.finish_reason == "stop"
    assert completion.completion_tokens == first
    assert completion.content == model.decode(new[:first])


def test_n_samples_per_prompt_and_protocol_not_inherited(tiny_model):
    params = SamplingParams(max_new_tokens=4, seed=3)
    out = generate(tiny_model, CHATS[:1], 3, params)
    assert [len(row) for row in out] == [3]
    config = tiny_model.generation_config(params)
    assert (config.do_sample, config.temperature, config.top_p, config.top_k) == (
        True,
        0.6,
        0.95,
        0,
    )
    assert config.repetition_penalty == 1.0
    # Same seed, same samples: the run is reproducible.
    again = generate(tiny_model, CHATS[:1], 3, params)
    assert [[c.content for c in row] for row in out] == [[c.content for c in row] for row in again]


def test_prefill_detection(tiny_model):
    assert tiny_model.prefills_thinking(CHATS[0]) is False
    tokenizer = tiny_model.load().tokenizer
    template = tokenizer.chat_template
    try:
        tokenizer.chat_template = template.replace(
            "<|im_start|>assistant\n'", "<|im_start|>assistant\n<think>\n'"
        )
        assert tokenizer.chat_template != template
        assert tiny_model.prefills_thinking(CHATS[0]) is True
    finally:
        tokenizer.chat_template = template


def test_model_revision_hashes_weights(tiny_model_dir, tmp_path):
    revision = model_revision(tiny_model_dir)
    assert revision and revision.startswith("sha256:") and len(revision) == 7 + 64
    assert model_revision(tiny_model_dir) == revision
    assert model_revision(tmp_path / "missing") is None
    snapshot = tmp_path / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    assert model_revision(snapshot) == "a" * 40


def test_sampling_params_validation():
    with pytest.raises(ValueError, match="max_new_tokens"):
        SamplingParams(max_new_tokens=0)
    assert SamplingParams(temperature=0.0).greedy
    with pytest.raises(UsageError, match="unknown backend"):
        make_model("vllm-magic", "m")


def test_lora_adapter_directory_loads_on_its_base(tiny_model_dir, tmp_path):
    """Only chat used to load LoRA adapters; now every stage does, through the one loader."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    adapter = get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    adapter_dir = tmp_path / "adapter"
    adapter.save_pretrained(adapter_dir)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(adapter_dir)
    model = TransformersModel(adapter_dir)
    [[completion]] = generate(model, CHATS[:1], 1, SamplingParams(0.0, max_new_tokens=3))
    assert completion.completion_tokens <= 3
    assert type(model.load().model).__name__.startswith("Peft")
