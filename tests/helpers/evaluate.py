"""A scripted model: known completions per problem, so scores are known exactly."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

from toolkit.backends import ChatRequest, Completion, Delta, Messages, SamplingParams


class ScriptedBackend:
    """A :class:`toolkit.backends.Model` answering each problem from
    ``script(prompt, sample) -> Completion`` (no model involved).

    Used where a test needs exact, chosen verdicts through the whole :func:`toolkit.evaluate`
    path (results.json, details.parquet, cards); real generation is tested with real models.
    The k-th request for a prompt is its sample k (the engine asks a prompt's samples in order).
    """

    backend = "scripted"
    model = "scripted-model"
    supports_native_n = True

    def __init__(self, script: Callable[[str, int], Completion], prefilled: bool = False) -> None:
        self.script = script
        self.prefilled = prefilled
        self.calls: list[tuple[str, int, dict[str, Any]]] = []
        self._asked: Counter[str] = Counter()

    async def complete(self, request: ChatRequest) -> list[Completion]:
        prompt = request.messages[-1]["content"]
        self.calls.append((prompt, request.n, request.params.as_dict()))
        first = self._asked[prompt]
        self._asked[prompt] += request.n
        return [self.script(prompt, first + j) for j in range(request.n)]

    async def stream(self, messages: Messages, params: SamplingParams) -> AsyncIterator[Delta]:
        completion = self.script(messages[-1]["content"], 0)
        yield Delta(content=completion.content, reasoning=completion.reasoning or "")
        yield Delta(finish_reason=completion.finish_reason)

    async def check(self) -> None:
        return None

    def prefills_thinking(self, messages: Messages) -> bool:
        return self.prefilled

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def describe(self) -> dict[str, Any]:
        return {"id": self.model, "path": None, "revision": "scripted-1", "backend": self.backend}

    async def aclose(self) -> None:
        return None


def gold_script(
    golds: dict[str, str], correct_samples: set[int]
) -> Callable[[str, int], Completion]:
    """Think, then box the gold for the samples in ``correct_samples`` and a wrong answer for the
    others (``"999"``, or letter ``"A"``/``"B"`` for choice golds)."""

    def script(prompt: str, sample: int) -> Completion:
        for problem, gold in golds.items():
            if problem in prompt:
                wrong = ("B" if gold == "A" else "A") if gold in "ABCD" else "999"
                answer = gold if sample in correct_samples else wrong
                text = f"<think>\nLet me think about it, sample {sample}.\n</think>\n\n"
                text += f"Answer: {answer}" if gold in "ABCD" else f"\\boxed{{{answer}}}"
                return Completion(text, finish_reason="stop", completion_tokens=20)
        raise AssertionError(f"unknown prompt {prompt[:80]!r}")

    return script
