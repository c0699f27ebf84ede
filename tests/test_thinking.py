"""``toolkit.thinking``: every marker style split exactly and rendered back.

(Boxed-answer and final-answer extraction moved to ``toolkit.answers``: ``tests/test_answers.py``.)
"""

from __future__ import annotations

import pytest

from toolkit.thinking import (
    ThinkingSplit,
    render_thinking,
    split_thinking,
    strip_thinking,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # <think>…</think> with an answer
        (
            "<think>\nstep 1\nstep 2\n</think>\n\nThe answer is 4.",
            ThinkingSplit("step 1\nstep 2", "The answer is 4.", True, "think"),
        ),
        # text before the opening tag is kept with the answer, not lost
        ("Sure.<think>hmm</think>Done", ThinkingSplit("hmm", "Sure.\n\nDone", True, "think")),
        # opening tag prefilled by the chat template: only the closing tag is in the completion
        (
            "I reason here.\n</think>\n\nFinal: 7",
            ThinkingSplit("I reason here.", "Final: 7", True, "think_prefilled"),
        ),
        # unclosed reasoning: reported, answer empty
        ("<think>\nstill going", ThinkingSplit("still going", "", False, "think")),
        # empty reasoning block (Qwen3 non-thinking mode)
        ("<think>\n\n</think>\n\nHi!", ThinkingSplit("", "Hi!", True, "think")),
        # empty answer after a closed block
        ("<think>done</think>", ThinkingSplit("done", "", True, "think")),
        # only the first closing tag closes the reasoning
        ("<think>a</think>b</think>c", ThinkingSplit("a", "b</think>c", True, "think")),
        # Sky-T1 / Bespoke markers
        (
            "<|begin_of_thought|>\n\nthink\n\n<|end_of_thought|>\n\n<|begin_of_solution|>\n\nsol\n\n"
            "<|end_of_solution|>",
            ThinkingSplit("think", "sol", True, "thought_solution"),
        ),
        # Sky-T1 with the opening marker prefilled
        (
            "prefilled thought<|end_of_thought|><|begin_of_solution|>S<|end_of_solution|>",
            ThinkingSplit("prefilled thought", "S", True, "thought_solution"),
        ),
        # Sky-T1 unclosed
        (
            "<|begin_of_thought|>never ends",
            ThinkingSplit("never ends", "", False, "thought_solution"),
        ),
        # Sky-T1 solution only
        (
            "<|begin_of_solution|>just the solution<|end_of_solution|>",
            ThinkingSplit(None, "just the solution", True, "thought_solution"),
        ),
        # an absolute value bar does not trigger the Sky-T1 path
        ("<think>|x| = 3</think>x = ±3", ThinkingSplit("|x| = 3", "x = ±3", True, "think")),
        # no markers at all
        ("  plain answer  ", ThinkingSplit(None, "plain answer", True, "none")),
        ("", ThinkingSplit(None, "", True, "none")),
        (None, ThinkingSplit(None, "", True, "none")),
        # non-ASCII throughout
        (
            "<think>3 × 4 ≥ 10 ✓</think>\n\nRéponse : douze",
            ThinkingSplit("3 × 4 ≥ 10 ✓", "Réponse : douze", True, "think"),
        ),
    ],
)
def test_split_thinking_styles(text, expected):
    assert split_thinking(text) == expected


def test_split_thinking_prefilled_without_any_marker_is_unfinished_reasoning():
    assert split_thinking("thinking...", prefilled=True) == ThinkingSplit(
        "thinking...", "", False, "think_prefilled"
    )
    assert split_thinking("a</think>b", prefilled=True) == ThinkingSplit(
        "a", "b", True, "think_prefilled"
    )


def test_split_thinking_separate_reasoning_field():
    assert split_thinking("Paris.", reasoning="  The capital.  ") == ThinkingSplit(
        "The capital.", "Paris.", True, "field"
    )
    # stray markup in the content is removed from the answer
    assert split_thinking("<think>dup</think>\n\nParis.", reasoning="r").answer == "Paris."
    # a reasoning field without content: reasoning that never reached an answer
    assert split_thinking("", reasoning="r") == ThinkingSplit("r", "", False, "field")
    # a blank reasoning field is ignored
    assert split_thinking("<think>a</think>b", reasoning="  ").style == "think"


def test_marker_search_with_many_angle_brackets():
    """Texts dense with ``<`` (code, inequalities) take the fallback search path."""
    body = "if a < b and c < d: " * 40
    text = f"<think>{body}</think>answer"
    assert split_thinking(text) == ThinkingSplit(body.strip(), "answer", True, "think")
    assert split_thinking(body + "</think>ok").answer == "ok"


@pytest.mark.parametrize(
    ("reasoning", "answer", "complete"),
    [("r1\nr2", "ans", True), ("", "ans", True), ("unfinished", "", False), (None, "plain", True)],
)
def test_render_then_split_round_trips(reasoning, answer, complete):
    rendered = render_thinking(reasoning, answer, reasoning_complete=complete)
    split = split_thinking(rendered)
    assert (split.reasoning, split.answer, split.reasoning_complete) == (
        reasoning,
        answer,
        complete,
    )


def test_render_thinking_canonical_form():
    assert render_thinking("r", "a") == "<think>\nr\n</think>\n\na"
    assert render_thinking("r", "ignored", reasoning_complete=False) == "<think>\nr"
    assert render_thinking(None, "a") == "a"


def test_strip_thinking():
    assert strip_thinking("<think>x</think>\n\nhello") == "hello"
    assert strip_thinking("hello") == "hello"
