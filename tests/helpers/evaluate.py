"""A scripted evaluation backend: known completions per problem, so scores are known exactly."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from toolkit.evaluate.backends import Completion, Messages, SamplingParams


class ScriptedBackend:
    """Answers each problem from ``script(prompt, sample) -> Completion`` (no model involved).

    Used where a test needs exact, chosen verdicts through the whole :func:`toolkit.evaluate`
    path (results.json, details.parquet, cards); real generation is tested with real models.
    """

    name = "scripted"
    model_id = "scripted-model"

    def __init__(self, script: Callable[[str, int], Completion], prefilled: bool = False) -> None:
        self.script = script
        self.prefilled = prefilled
        self.calls: list[tuple[int, int, dict[str, Any]]] = []

    def generate(
        self,
        chats: Sequence[Messages],
        n: int,
        params: SamplingParams,
        progress: Callable[[int], None] | None = None,
    ) -> list[list[Completion]]:
        self.calls.append((len(chats), n, params.to_dict()))
        out = [[self.script(chat[-1]["content"], j) for j in range(n)] for chat in chats]
        if progress:
            progress(len(chats) * n)
        return out

    def prefills_thinking(self, chat: Messages) -> bool:
        return self.prefilled

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def describe(self) -> dict[str, Any]:
        return {"id": self.model_id, "path": None, "revision": "scripted-1", "backend": self.name}


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
                return Completion(text=text, finish_reason="stop", completion_tokens=20)
        raise AssertionError(f"unknown prompt {prompt[:80]!r}")

    return script
