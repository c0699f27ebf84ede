"""The ``transformers`` backend: a local model generating in-process, for small teachers and
offline runs.

Requests that arrive together are batched: prompts are rendered with the tokenizer's chat
template, left-padded (decoder-only models continue from the right end of each row), and generated
in one ``model.generate`` call that stops each row at EOS. Generation runs in a worker thread, so
the engine's event loop keeps scheduling, writing results and updating progress meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from toolkit.teachers import TeacherError, TeacherRequest, TeacherResponse


class TransformersTeacher:
    """A teacher running a local ``transformers`` causal LM (a Hub id or a local directory)."""

    backend = "transformers"
    supports_native_n = True  # one prompt is repeated n times inside the batch

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        *,
        batch_size: int = 8,
        device: str = "cpu",
        dtype: str = "auto",
        batch_wait_s: float = 0.02,
    ) -> None:
        if base_url:
            raise ValueError("the transformers backend runs in-process; it takes no --base-url")
        if not model:
            raise ValueError("the transformers backend needs --model (a Hub id or a local dir)")
        self.model = str(model)
        self.batch_size = max(1, batch_size)
        self.device = device
        self.dtype = dtype
        self.batch_wait_s = batch_wait_s
        self._loaded: tuple[Any, Any] | None = None
        self._load_lock = threading.Lock()
        self._pending: list[tuple[TeacherRequest, asyncio.Future[list[TeacherResponse]]]] = []
        self._batcher: asyncio.Task[None] | None = None

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "model": self.model, "device": self.device}

    # -- model -------------------------------------------------------------------------------
    def _load(self) -> tuple[Any, Any]:
        with self._load_lock:
            if self._loaded is None:
                from transformers import AutoModelForCausalLM, AutoTokenizer

                tokenizer = AutoTokenizer.from_pretrained(self.model)
                tokenizer.padding_side = "left"
                if tokenizer.pad_token is None:
                    tokenizer.pad_token = tokenizer.eos_token
                model = AutoModelForCausalLM.from_pretrained(self.model, dtype=self.dtype)
                model.to(self.device)
                model.eval()
                self._loaded = (tokenizer, model)
            return self._loaded

    # -- batching ----------------------------------------------------------------------------
    async def complete(self, request: TeacherRequest) -> list[TeacherResponse]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[TeacherResponse]] = loop.create_future()
        self._pending.append((request, future))
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.create_task(self._run_batches())
        return await future

    async def _run_batches(self) -> None:
        while self._pending:
            # Give concurrent requests a moment to arrive, so they share one generate call.
            await asyncio.sleep(self.batch_wait_s)
            batch, rows = [], 0
            params = self._pending[0][0].params
            rest = []
            for request, future in self._pending:
                if future.cancelled():
                    continue
                if request.params == params and (not batch or rows + request.n <= self.batch_size):
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
                failure = TeacherError(f"local generation failed: {error!r}", retryable=False)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(failure)
                continue
            for (_, future), responses in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(responses)

    def _generate(self, requests: list[TeacherRequest]) -> list[list[TeacherResponse]]:
        import torch

        tokenizer, model = self._load()
        params = requests[0].params
        prompts = []
        for request in requests:
            text = tokenizer.apply_chat_template(
                request.messages, tokenize=False, add_generation_prompt=True
            )
            prompts.extend([text] * request.n)
        encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        encoded = encoded.to(model.device)
        started = time.perf_counter()
        if params.seed is not None:
            torch.manual_seed(params.seed)
        with torch.inference_mode():
            output = model.generate(
                **encoded,
                do_sample=params.temperature > 0,
                temperature=params.temperature if params.temperature > 0 else None,
                top_p=params.top_p if params.temperature > 0 else None,
                max_new_tokens=params.max_tokens,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
        latency = time.perf_counter() - started
        prompt_width = encoded["input_ids"].shape[1]
        prompt_lengths = encoded["attention_mask"].sum(dim=1).tolist()
        results: list[list[TeacherResponse]] = []
        row = 0
        for request in requests:
            responses = []
            for _ in range(request.n):
                generated = output[row, prompt_width:].tolist()
                finish = "length"
                if tokenizer.eos_token_id in generated:
                    generated = generated[: generated.index(tokenizer.eos_token_id)]
                    finish = "stop"
                elif tokenizer.pad_token_id in generated:  # padded after an early stop
                    generated = generated[: generated.index(tokenizer.pad_token_id)]
                    finish = "stop"
                responses.append(
                    TeacherResponse(
                        content=tokenizer.decode(generated, skip_special_tokens=True),
                        finish_reason=finish,
                        prompt_tokens=int(prompt_lengths[row]),
                        completion_tokens=len(generated),
                        latency_s=latency,
                        endpoint="local",
                    )
                )
                row += 1
            results.append(responses)
        return results

    async def aclose(self) -> None:
        if self._batcher is not None and not self._batcher.done():
            self._batcher.cancel()
        self._loaded = None
