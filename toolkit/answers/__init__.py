"""Final answers: the one place that extracts a final answer from a completion and grades it.

(Being consolidated: extraction rules move here from ``toolkit.thinking``, ``toolkit.verify`` and
``toolkit.evaluation.tasks``.)
"""

from __future__ import annotations


def final_answer(text: str | None) -> str | None:
    """The short final answer of a solution text (the answer part, after the reasoning)."""
    from toolkit.thinking import extract_final_answer

    return extract_final_answer(text)


__all__ = ["final_answer"]
