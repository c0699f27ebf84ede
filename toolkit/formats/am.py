"""a-m-team/AM-DeepSeek-R1-Distilled-1.4M: one ``messages`` column whose turns carry ``info``.

Card layout: ``messages`` = ``[{role: "user", content, info: {source, reference_answer,
test_case}}, {role: "assistant", content: "<think>…</think>\\n<answer>\\n…\\n</answer>", info:
{source, think_content, answer_content, …}}]``. The ``<answer>…</answer>`` tags are stripped
from ``answer`` (and so from the SFT target, which renders ``<think>…</think>`` + the bare
answer); the user turn's ``info.reference_answer`` becomes a short ``gold_answer``. The two
``info`` objects go to ``metadata["info"]`` without ``think_content``/``answer_content``, which
repeat the content. Rows without ``info`` are not AM rows (the content check that keeps a plain
chat table from being detected as this format).
"""

from __future__ import annotations

import re
from typing import Any

from toolkit.formats.base import (
    BadRow,
    Batch,
    Format,
    Records,
    guess_domain,
    optional_text,
    register_format,
)
from toolkit.formats.mapped import short_gold
from toolkit.formats.messages import parse_conversation
from toolkit.thinking import split_thinking

_ANSWER_TAGS = re.compile(r"^\s*<answer>\s*(?P<body>.*?)\s*(?:</answer>\s*)?$", re.DOTALL)
_REPEATS = ("think_content", "answer_content")


def strip_answer_tags(text: str) -> str:
    """``<answer>X</answer>`` → ``X`` (an unclosed tag, as in truncated rows, too)."""
    if "<answer>" not in text:
        return text
    match = _ANSWER_TAGS.match(text)
    return match.group("body") if match else text.replace("<answer>", "").replace("</answer>", "")


def _info(turn: Any) -> dict[str, Any]:
    info = turn.get("info") if isinstance(turn, dict) else None
    return info if isinstance(info, dict) else {}


@register_format
class AmFormat(Format):
    name = "am"
    description = "AM-DeepSeek-R1-Distilled (messages with info; <answer> tags; reference_answer)"
    required = ("messages",)
    consumed = ("messages",)
    # The card loads it with a config (its example: ``am_0.9M_sample_1k``); no default is
    # assumed here: pass ``a-m-team/AM-DeepSeek-R1-Distilled-1.4M:CONFIG``.
    hub_ids = ("a-m-team/AM-DeepSeek-R1-Distilled-1.4M",)
    expects_reasoning = True
    domain = "general"

    def convert(self, batch: Batch, out: Records) -> None:
        for i, turns in enumerate(batch.column("messages")):
            try:
                if not isinstance(turns, list) or not turns or not _info(turns[0]):
                    raise BadRow("messages", "no info on the turns (not an AM-DeepSeek row)")
                _, problem, text, reasoning, further = parse_conversation(turns, "messages")
                user = _info(turns[0])
                assistant = next(
                    (
                        _info(t)
                        for t in turns[1:]
                        if isinstance(t, dict) and t.get("role") == "assistant"
                    ),
                    {},
                )
                reference = optional_text(user.get("reference_answer"), "info.reference_answer")
            except BadRow as bad:
                out.reject(i, bad.field, bad.reason)
                continue
            split = split_thinking(text, reasoning=reasoning)
            answer = strip_answer_tags(split.answer)
            info = {
                "user": {k: v for k, v in user.items() if v is not None},
                "assistant": {
                    k: v for k, v in assistant.items() if v is not None and k not in _REPEATS
                },
            }
            extra: dict[str, Any] = {"info": info}
            if further:
                extra["further_turns"] = further
            out.add(
                i,
                problem,
                answer,
                split.reasoning,
                split.reasoning_complete,
                self.final(answer),
                short_gold(reference),
                domain=guess_domain(problem, answer, self.domain),
                extra=extra,
            )

    @staticmethod
    def final(answer: str) -> str | None:
        from toolkit.answers import final_answer

        return final_answer(answer)
