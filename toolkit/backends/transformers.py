"""A local ``transformers`` model, loaded once (by :mod:`toolkit.backends.loading`, the one
loader) and used by generate, evaluate and chat alike.

Requests that arrive together are batched: the engine sends several concurrently, and they
share one ``model.generate`` call in a worker thread (the event loop keeps scheduling and
writing results meanwhile). Requests that differ only in their seed still share a batch; the
batch is seeded with the first request's seed (documented: sampling with a seed is reproducible
for the same batch composition).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from toolkit.backends.base import ChatRequest, Completion, Delta, Messages, SamplingParams
from toolkit.backends.loading import LoadedModel, load_model, prompt_is_prefilled
from toolkit.errors import BackendError, UsageError

log = logging.getLogger(__name__)


class TransformersModel:
    """A ``transformers`` causal LM in this process (a Hub id, a local directory, an alias)."""

    backend = "transformers"
    supports_native_n = True  # one prompt is repeated n times inside the batch

    def __init__(
        self,
        model: str | os.PathLike[str],
        base_url: str | None = None,
        *,
        batch_size: int = 8,
        device: str | None = None,
        dtype: str | None = None,
        revision: str | None = None,
        num_threads: int | None = None,
        batch_wait_s: float = 0.02,
        timeout: float | None = None,
    ) -> None:
        if base_url:
            raise UsageError(
                "the transformers backend runs in-process; it takes no --base-url",
                hint="use --backend openai for a served model",
            )
        if not model:
            raise UsageError("the transformers backend needs a model (a Hub id or a local dir)")
        if batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {batch_size}")
        self.model = os.fspath(model)
        self.batch_size = batch_size
        self.device = device
        self.dtype = dtype
        self.revision = revision
        if num_threads is None and (device or "cpu").startswith("cpu"):
            from toolkit.models import cpu_threads

            num_threads = cpu_threads()  # threads beyond the idle cores only spin-wait
        self.num_threads = num_threads
        self._set_threads()  # here (the caller's thread) and in each generation thread
        self.batch_wait_s = batch_wait_s
        self.timeout = timeout
        self._loaded: LoadedModel | None = None
        self._revision: tuple[str, str] | None = None
        self._load_lock = threading.Lock()
        self._pending: list[tuple[ChatRequest, asyncio.Future[list[Completion]]]] = []
        self._batcher: asyncio.Task[None] | None = None

    def _set_threads(self) -> None:
        """torch's intra-op thread count is per OS thread: set it where the work runs."""
        if self.num_threads:
            import torch

            if torch.get_num_threads() != self.num_threads:
                torch.set_num_threads(self.num_threads)

    # -- loading -----------------------------------------------------------------------------
    def load(self) -> LoadedModel:
        """Load the weights once (thread-safe); later calls return the loaded model."""
        with self._load_lock:
            if self._loaded is None:
                self._loaded = load_model(
                    self.model,
                    device=self.device,
                    dtype=self.dtype,
                    revision=self.revision,
                    num_threads=self.num_threads,
                )
            return self._loaded

    async def check(self) -> None:
        try:
            await asyncio.to_thread(self.load)
        except UsageError:
            raise
        except Exception as error:
            raise BackendError(
                f"cannot load the model {self.model!r}: {type(error).__name__}: "
                f"{_first_line(error)}",
                fatal=True,
                hint="check the model id or directory (it needs a tokenizer with a chat "
                "template); offline, use a local directory",
            ) from error

    # -- prompts -----------------------------------------------------------------------------
    def render(self, messages: Messages) -> str:
        """The chat template applied; a template without a system role gets the system prompt
        in the first user turn instead of an error."""
        from jinja2 import TemplateError

        tokenizer = self.load().tokenizer
        try:
            return tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        except TemplateError:
            if not messages or messages[0]["role"] != "system" or len(messages) < 2:
                raise
            system, first, *rest = messages
            merged = {**first, "content": f"{system['content']}\n\n{first['content']}"}
            return tokenizer.apply_chat_template(
                [merged, *rest], tokenize=False, add_generation_prompt=True
            )

    def prefills_thinking(self, messages: Messages) -> bool:
        return prompt_is_prefilled(self.render(messages))

    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        return len(self.load().tokenizer(text, add_special_tokens=False)["input_ids"])

    def describe(self) -> dict[str, Any]:
        """Backend, model, and which weights (a revision that needs no loading: the Hub commit
        of a cached snapshot, a clean git commit, or a hash of the weight files); device, dtype
        and chat-template hash once the model is loaded."""
        described: dict[str, Any] = {"backend": self.backend, "model": self.model}
        if self._revision is None:
            from toolkit.models import model_revision, resolve_model

            path = resolve_model(self.model)
            self._revision = (
                path,
                self.revision or model_revision(path) or "",
            )
        path, revision = self._revision
        from toolkit.models import model_id

        described.update(
            id=model_id(path),
            path=str(Path(path).resolve()) if Path(path).exists() else None,
            revision=revision or None,
        )
        loaded = self._loaded
        if loaded is None:
            return described
        if not revision:
            described["revision"] = getattr(loaded.model.config, "_commit_hash", None)
        described.update(
            device=loaded.device,
            dtype=str(loaded.model.dtype).replace("torch.", ""),
            batch_size=self.batch_size,
            chat_template_sha256=hashlib.sha256(
                str(loaded.tokenizer.chat_template).encode()
            ).hexdigest()[:16],
        )
        return described

    def generation_config(self, params: SamplingParams) -> Any:
        """A complete generation config: nothing is inherited from the checkpoint's
        ``generation_config.json`` (which may set top-k or a repetition penalty and silently
        change the protocol)."""
        from transformers import GenerationConfig

        loaded = self.load()
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
            eos_token_id=loaded.stop_token_ids,
            pad_token_id=loaded.tokenizer.pad_token_id,
            repetition_penalty=1.0,
            num_beams=1,
            **sampling,
        )

    def decode(self, tokens: list[int]) -> str:
        """Text of generated tokens: special tokens removed, except reasoning markers."""
        loaded = self.load()
        text = loaded.tokenizer.decode(tokens, skip_special_tokens=False)
        for token in loaded.hidden_tokens:
            if token in text:
                text = text.replace(token, "")
        return text

    # -- batched completion ------------------------------------------------------------------
    async def complete(self, request: ChatRequest) -> list[Completion]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Completion]] = loop.create_future()
        self._pending.append((request, future))
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.create_task(self._run_batches())
        return await future

    async def _run_batches(self) -> None:
        while self._pending:
            # Give concurrent requests a moment to arrive, so they share one generate call;
            # no wait when a full batch is already queued (the engine refills while the
            # previous batch runs, so waiting would only add latency per batch).
            if sum(request.n for request, _ in self._pending) < self.batch_size:
                await asyncio.sleep(self.batch_wait_s)
            batch: list[tuple[ChatRequest, asyncio.Future[list[Completion]]]] = []
            rest = []
            rows = 0
            first = self._pending[0][0].params.with_seed(None)
            for request, future in self._pending:
                if future.cancelled():
                    continue
                same = request.params.with_seed(None) == first
                if same and (not batch or rows + request.n <= self.batch_size):
                    batch.append((request, future))
                    rows += request.n
                else:
                    rest.append((request, future))
            self._pending = rest
            if not batch:
                continue
            try:
                results = await asyncio.to_thread(self._generate, [r for r, _ in batch])
            except Exception as error:  # surfaced to every waiting request
                failure = BackendError(
                    f"local generation failed: {type(error).__name__}: {_first_line(error)}"
                )
                for _, future in batch:
                    if not future.done():
                        future.set_exception(failure)
                continue
            for (_, future), completions in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(completions)

    def _generate(self, requests: list[ChatRequest]) -> list[list[Completion]]:
        import torch

        loaded = self.load()
        self._set_threads()
        tokenizer, network = loaded.tokenizer, loaded.model
        params = requests[0].params
        prompts = []
        for request in requests:
            prompts.extend([self.render(request.messages)] * request.n)
        encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        encoded = encoded.to(network.device)
        if params.seed is not None:
            torch.manual_seed(params.seed)
        started = time.perf_counter()
        with torch.inference_mode():
            output = network.generate(**encoded, generation_config=self.generation_config(params))
        latency = time.perf_counter() - started
        width = encoded["input_ids"].shape[1]
        prompt_lengths = encoded["attention_mask"].sum(dim=1).tolist()
        stops = set(loaded.stop_token_ids)
        results: list[list[Completion]] = []
        row = 0
        for request in requests:
            completions = []
            for _ in range(request.n):
                generated = output[row, width:].tolist()
                end = next((k for k, token in enumerate(generated) if token in stops), None)
                tokens = generated if end is None else generated[:end]
                completions.append(
                    Completion(
                        content=self.decode(tokens),
                        finish_reason="length" if end is None else "stop",
                        prompt_tokens=int(prompt_lengths[row]),
                        completion_tokens=len(tokens),
                        latency_s=latency,
                        endpoint="local",
                    )
                )
                row += 1
            results.append(completions)
        return results

    # -- streaming ---------------------------------------------------------------------------
    async def stream(self, messages: Messages, params: SamplingParams) -> AsyncIterator[Delta]:
        """Tokens as they are generated (a generation thread feeds a streamer). Closing this
        generator — the user pressed Stop — ends the generation at the next token."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        loaded = await asyncio.to_thread(self.load)
        tokenizer, network = loaded.tokenizer, loaded.model
        prompt = await asyncio.to_thread(self.render, messages)
        inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(network.device)
        streamer = TextIteratorStreamer(
            tokenizer, skip_prompt=True, skip_special_tokens=False, timeout=self.timeout
        )
        stop = threading.Event()

        class _StopWhenAsked(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), stop.is_set(), dtype=torch.bool)

        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                self._set_threads()
                if params.seed is not None:
                    torch.manual_seed(params.seed)
                with torch.inference_mode():
                    outcome["output"] = network.generate(
                        **inputs,
                        streamer=streamer,
                        generation_config=self.generation_config(params),
                        stopping_criteria=StoppingCriteriaList([_StopWhenAsked()]),
                    )
            except BaseException as error:  # reported in the consumer
                outcome["error"] = error
                streamer.end()

        thread = threading.Thread(target=run, name="toolkit-stream", daemon=True)
        thread.start()
        pieces = iter(streamer)
        try:
            while True:
                text = await asyncio.to_thread(next, pieces, None)
                if text is None:
                    break
                for token in loaded.hidden_tokens:
                    text = text.replace(token, "")
                if text:
                    yield Delta(content=text)
        finally:
            stop.set()
            await asyncio.to_thread(thread.join, 30)
        if "error" in outcome:
            error = outcome["error"]
            raise BackendError(
                f"local generation failed: {type(error).__name__}: {_first_line(error)}"
            ) from error
        generated = outcome["output"][0, inputs["input_ids"].shape[1] :].tolist()
        stopped = bool(generated) and generated[-1] in set(loaded.stop_token_ids)
        yield Delta(finish_reason="stop" if stopped else "length")

    async def aclose(self) -> None:
        if self._batcher is not None and not self._batcher.done():
            self._batcher.cancel()


def _first_line(value: object, limit: int = 200) -> str:
    from toolkit.redact import redact

    text = redact(value).strip()
    text = text.splitlines()[0] if text else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["LoadedModel", "TransformersModel", "load_model", "prompt_is_prefilled"]
