"""Generation backends for evaluation: local transformers, OpenAI-compatible servers, Ollama.

Every backend answers the same question — "give me ``n`` completions for each of these chats,
with these sampling parameters" — and reports, per completion, the text, any reasoning delivered
in a separate field, and *why generation stopped* (``"stop"`` at an end-of-sequence token,
``"length"`` at ``max_new_tokens``). The evaluator needs the finish reason: a completion cut off
at the token limit is reported as truncated, never silently scored as a wrong answer that the
model "chose".

* :class:`TransformersBackend` — batched generation on the local machine: prompts are sorted by
  length and left-padded (decoder-only models continue from the last position, so padding must be
  on the left), ``n`` samples per prompt are separate rows of the batch, and generation stops per
  row on any end-of-turn token of the model.
* :class:`OpenAIBackend` — any OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp, Ollama's
  ``/v1``), one request per sample with its own seed, requests run concurrently.
* :class:`OllamaBackend` — the native Ollama API (``message.thinking`` holds separated
  reasoning for thinking models).

Heavy imports (torch, transformers, openai, ollama) happen inside the backends.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

Messages = list[dict[str, str]]

#: End-of-turn tokens of common chat formats; any of them present in a tokenizer's vocabulary
#: stops generation (ChatML models often list only one of ``<|im_end|>`` / ``<|endoftext|>``).
END_OF_TURN_TOKENS = (
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<|end_of_text|>",
    "<｜end▁of▁sentence｜>",
    "<end_of_turn>",
    "</s>",
)


@dataclass(frozen=True)
class SamplingParams:
    """The decoding protocol, written verbatim into results.json.

    The defaults are DeepSeek-R1's recommended evaluation settings (temperature 0.6, top-p 0.95,
    no top-k). Greedy decoding is available on request, but reasoning models tend to loop under
    greedy decoding and then never stop, which is why it is not the default.
    """

    temperature: float = 0.6
    top_p: float = 0.95
    max_new_tokens: int = 32768
    greedy: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if not self.greedy and self.temperature <= 0:
            raise ValueError("temperature must be > 0 for sampling; use greedy=True instead")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.greedy:
            data.update(temperature=0.0, top_p=1.0)
        data["top_k"] = None
        return data


@dataclass
class Completion:
    """One sampled completion and how it ended."""

    text: str
    finish_reason: str  # "stop" | "length"
    completion_tokens: int | None = None
    reasoning: str | None = None  # reasoning from a separate field (API / Ollama)


class Backend(Protocol):
    """What the runner needs from a backend."""

    name: str
    model_id: str

    def generate(
        self,
        chats: Sequence[Messages],
        n: int,
        params: SamplingParams,
        progress: Callable[[int], None] | None = None,
    ) -> list[list[Completion]]:
        """``n`` completions for each chat, in order; ``progress(k)`` after ``k`` more finish."""
        ...

    def prefills_thinking(self, chat: Messages) -> bool:
        """Whether the rendered prompt already opens a ``<think>`` block (R1-distill templates)."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def describe(self) -> dict[str, Any]:
        """Model id, path and revision for results.json."""
        ...


# --------------------------------------------------------------------------------------------
# Local transformers
# --------------------------------------------------------------------------------------------


class TransformersBackend:
    """Batched local generation with left padding and per-row stop on end-of-turn tokens."""

    name = "transformers"

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        batch_size: int = 16,
        device: str | None = None,
        dtype: str | None = None,
        revision: str | None = None,
        num_threads: int | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if num_threads:
            # Process-wide. On a CPU shared with other jobs, fewer intra-op threads avoid OpenMP
            # spin-wait stalls (one thread measured 7x faster than two on a loaded 2-core box).
            torch.set_num_threads(num_threads)
        self.model_path = os.fspath(model)
        self.model_id = _model_id(self.model_path)
        self.batch_size = batch_size
        self.revision = revision
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        # float32 on CPU: bf16 matmuls are emulated and several times slower there.
        torch_dtype = (
            getattr(torch, dtype)
            if dtype
            else (torch.float32 if self.device == "cpu" else torch.bfloat16)
        )
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path, revision=revision)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if self.tokenizer.chat_template is None:
            raise ValueError(
                f"{self.model_path}: the tokenizer has no chat template; evaluation prompts are "
                "chats, so the model needs one (set tokenizer.chat_template and save it)"
            )
        self.model = AutoModelForCausalLM.from_pretrained(
            self.model_path, dtype=torch_dtype, revision=revision
        ).to(self.device)
        self.model.eval()
        self.eos_token_ids = self._end_token_ids()

    def _end_token_ids(self) -> list[int]:
        ids: set[int] = set()
        configured = self.model.generation_config.eos_token_id
        if isinstance(configured, int):
            ids.add(configured)
        elif configured:
            ids.update(configured)
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        vocab = self.tokenizer.get_vocab()
        special = set(self.tokenizer.all_special_tokens) | set(
            getattr(self.tokenizer, "added_tokens_encoder", {})
        )
        for token in END_OF_TURN_TOKENS:
            if token in vocab and token in special:
                ids.add(vocab[token])
        ids.discard(None)  # type: ignore[arg-type]
        return sorted(ids)

    def render(self, chat: Messages) -> str:
        return self.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)

    def prefills_thinking(self, chat: Messages) -> bool:
        tail = self.render(chat).rstrip()
        return tail.endswith("<think>") or tail.endswith("<|begin_of_thought|>")

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.model_id,
            "path": str(Path(self.model_path).resolve())
            if Path(self.model_path).exists()
            else None,
            "revision": self.revision
            or model_revision(self.model_path)
            # Loaded from the Hub: transformers records the resolved commit.
            or getattr(self.model.config, "_commit_hash", None),
            "backend": self.name,
            "device": self.device,
            "dtype": str(self.model.dtype).replace("torch.", ""),
            "batch_size": self.batch_size,
            "chat_template_sha256": hashlib.sha256(
                str(self.tokenizer.chat_template).encode()
            ).hexdigest()[:16],
        }

    def generation_config(self, params: SamplingParams) -> Any:
        """A complete generation config: nothing is inherited from the checkpoint's
        ``generation_config.json`` (which may set top-k or a repetition penalty and silently change
        the protocol)."""
        from transformers import GenerationConfig

        sampling = (
            {"do_sample": False}
            if params.greedy
            else {
                "do_sample": True,
                "temperature": params.temperature,
                "top_p": params.top_p,
                "top_k": 0,  # explicit: unset, transformers would apply its default top-k of 50
            }
        )
        return GenerationConfig(
            max_new_tokens=params.max_new_tokens,
            eos_token_id=self.eos_token_ids,
            pad_token_id=self.tokenizer.pad_token_id,
            repetition_penalty=1.0,
            num_beams=1,
            **sampling,
        )

    def generate(
        self,
        chats: Sequence[Messages],
        n: int,
        params: SamplingParams,
        progress: Callable[[int], None] | None = None,
    ) -> list[list[Completion]]:
        import torch

        prompts = [self.render(chat) for chat in chats]
        jobs = [(i, j) for i in range(len(prompts)) for j in range(n)]
        lengths = {
            i: len(self.tokenizer(p, add_special_tokens=False)["input_ids"])
            for i, p in enumerate(prompts)
        }
        # Longest first: similar lengths share a batch (less padding), and an out-of-memory error
        # shows up in the first batch rather than after an hour.
        jobs.sort(key=lambda job: (-lengths[job[0]], job))
        results: list[list[Completion | None]] = [[None] * n for _ in prompts]
        config = self.generation_config(params)
        torch.manual_seed(params.seed)
        for start in range(0, len(jobs), self.batch_size):
            batch = jobs[start : start + self.batch_size]
            completions = self._generate_batch([prompts[i] for i, _ in batch], config)
            for (i, j), completion in zip(batch, completions, strict=True):
                results[i][j] = completion
            if progress:
                progress(len(batch))
        return [[c for c in row if c is not None] for row in results]

    def _generate_batch(self, prompts: list[str], config: Any) -> list[Completion]:
        import torch

        encoded = self.tokenizer(
            prompts, return_tensors="pt", padding=True, add_special_tokens=False
        ).to(self.device)
        with torch.inference_mode():
            output = self.model.generate(**encoded, generation_config=config)
        new_tokens = output[:, encoded["input_ids"].shape[1] :].tolist()
        stops = set(self.eos_token_ids)
        completions = []
        for row in new_tokens:
            end = next((k for k, token in enumerate(row) if token in stops), None)
            tokens = row if end is None else row[:end]
            completions.append(
                Completion(
                    text=self.tokenizer.decode(tokens, skip_special_tokens=False),
                    finish_reason="length" if end is None else "stop",
                    completion_tokens=len(tokens),
                )
            )
        return completions


# --------------------------------------------------------------------------------------------
# Servers: OpenAI-compatible and Ollama
# --------------------------------------------------------------------------------------------


class _ServerBackend:
    """A server model through the generation issue's teacher backends (:mod:`toolkit.teachers`):
    one request per sample with its own seed, ``concurrency`` requests in flight, retryable
    failures (429, 5xx, timeouts) retried with backoff, fatal ones (401/404) raised at once."""

    name = "server"

    def __init__(
        self,
        model: str,
        *,
        concurrency: int = 16,
        max_retries: int = 3,
        tokenizer: str | os.PathLike[str] | None = None,
        prefilled_thinking: bool = False,
        **teacher_options: Any,
    ) -> None:
        from toolkit.teachers import make_teacher

        self.model_id = model
        self.concurrency = max(1, concurrency)
        self.max_retries = max(0, max_retries)
        self._prefilled = prefilled_thinking
        self.teacher = make_teacher(self.name, model=model, **teacher_options)
        self._tokenizer = None
        self.tokenizer_name = os.fspath(tokenizer) if tokenizer else None
        if tokenizer:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(os.fspath(tokenizer))

    def prefills_thinking(self, chat: Messages) -> bool:
        return self._prefilled

    def count_tokens(self, text: str) -> int:
        """Exact with ``tokenizer=``; otherwise words and punctuation marks (an approximation
        recorded as such in results.json)."""
        if not text:
            return 0
        if self._tokenizer is not None:
            return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])
        return len(re.findall(r"\w+|[^\w\s]", text))

    @property
    def token_count_method(self) -> str:
        return f"tokenizer:{self.tokenizer_name}" if self._tokenizer else "approx-words"

    def describe(self) -> dict[str, Any]:
        described = self.teacher.describe()
        return {
            "id": self.model_id,
            "path": None,
            "revision": None,
            "backend": self.name,
            "base_url": described.get("base_url") or described.get("host"),
            "token_count_method": self.token_count_method,
            # The protocol sets temperature, top-p, the token limit and the seed; anything else
            # (e.g. Ollama's default top_k=40) is the server's default and is recorded as such.
            "other_sampling_options": "server defaults",
        }

    async def _one(self, chat: Messages, params: SamplingParams, seed: int) -> Completion:
        import asyncio

        from toolkit.teachers import SamplingParams as TeacherParams
        from toolkit.teachers import TeacherError, TeacherRequest

        request = TeacherRequest(
            messages=list(chat),
            n=1,
            params=TeacherParams(
                temperature=0.0 if params.greedy else params.temperature,
                top_p=1.0 if params.greedy else params.top_p,
                max_tokens=params.max_new_tokens,
                seed=seed,
            ),
        )
        for attempt in range(self.max_retries + 1):
            try:
                response = (await self.teacher.complete(request))[0]
                break
            except TeacherError as error:
                if error.fatal or not error.retryable or attempt == self.max_retries:
                    raise RuntimeError(
                        f"{self.name} backend: request for model {self.model_id!r} failed after "
                        f"{attempt + 1} attempt(s): {error}"
                    ) from error
                await asyncio.sleep(error.retry_after or min(2.0**attempt, 10.0))
        return Completion(
            text=response.content,
            finish_reason="length" if response.finish_reason == "length" else "stop",
            completion_tokens=response.completion_tokens,
            reasoning=response.reasoning,
        )

    def generate(
        self,
        chats: Sequence[Messages],
        n: int,
        params: SamplingParams,
        progress: Callable[[int], None] | None = None,
    ) -> list[list[Completion]]:
        import asyncio

        async def run_all() -> list[list[Completion]]:
            limit = asyncio.Semaphore(self.concurrency)

            async def job(i: int, j: int) -> Completion:
                async with limit:
                    # A distinct seed per sample: n requests with one seed would be n copies.
                    completion = await self._one(chats[i], params, params.seed + j)
                if progress:
                    progress(1)
                return completion

            try:
                flat = await asyncio.gather(
                    *(job(i, j) for i in range(len(chats)) for j in range(n))
                )
            finally:
                await self.teacher.aclose()
            return [list(flat[i * n : (i + 1) * n]) for i in range(len(chats))]

        return asyncio.run(run_all())


class OpenAIBackend(_ServerBackend):
    """Any OpenAI-compatible chat completions server (vLLM, SGLang, TGI, llama.cpp, …), through
    :class:`toolkit.teachers.openai_compat.OpenAICompatTeacher` (``base_url``, ``api_key_env``,
    ``transport`` options). Reasoning in ``reasoning_content``/``reasoning`` is kept apart."""

    name = "openai"


class OllamaBackend(_ServerBackend):
    """The native Ollama API through :class:`toolkit.teachers.ollama_chat.OllamaTeacher`
    (``host`` option); ``message.thinking`` holds a thinking model's reasoning."""

    name = "ollama"


BACKENDS = {"transformers": TransformersBackend, "openai": OpenAIBackend, "ollama": OllamaBackend}


def make_backend(name: str, model: str | os.PathLike[str], **options: Any) -> Backend:
    """Build a backend by name; unknown options for that backend are an error, not ignored."""
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; use one of {', '.join(BACKENDS)}") from None
    return cls(model, **{k: v for k, v in options.items() if v is not None})  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Model identity
# --------------------------------------------------------------------------------------------


def _model_id(path: str) -> str:
    """A readable model id: the ``_name_or_path`` a local checkpoint records, else the path."""
    local = Path(path)
    if local.is_dir():
        import json

        config = local / "config.json"
        if config.exists():
            name = json.loads(config.read_text()).get("_name_or_path")
            if name and not Path(name).is_absolute() and name.count("/") == 1:
                return f"{local.name} (from {name})" if local.name != name.split("/")[-1] else name
        return local.name
    return path


def model_revision(path: str | os.PathLike[str]) -> str | None:
    """What identifies these exact weights: the Hub commit of a cache snapshot, the git commit of
    a checkout, or else a SHA-256 over the weight files (``sha256:…``)."""
    local = Path(path)
    if not local.exists():
        return None
    resolved = local.resolve()
    if resolved.parent.name == "snapshots" and re.fullmatch(r"[0-9a-f]{40}", resolved.name):
        return resolved.name
    try:
        inside = subprocess.run(
            ["git", "-C", str(resolved), "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        lines = inside.stdout.split()
        if inside.returncode == 0 and len(lines) == 2 and Path(lines[0]) == resolved:
            dirty = subprocess.run(
                ["git", "-C", str(resolved), "status", "--porcelain"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout.strip()
            if not dirty:
                return f"git:{lines[1]}"
    except (OSError, subprocess.SubprocessError):
        pass
    return weights_sha256(resolved)


def weights_sha256(model_dir: Path) -> str | None:
    """SHA-256 over the weight files of a checkpoint, in name order (names included)."""
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
