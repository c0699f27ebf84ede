"""Final answers: the one place that extracts a final answer from a completion and grades it.

``normalize`` (the ``final_answer`` column), ``verify`` and ``curate`` (the ``correct`` column) and
``evaluate`` (pass@1) all go through this package, so a trace kept as correct at curation is
scored the same way at evaluation:

* :mod:`toolkit.answers.extract`: :func:`extract` (answer part → :class:`Extraction`, per kind:
  ``math``, ``gsm8k`` numbers, ``choice`` letters, free ``text``), :func:`final_answer`; the
  rules, their order and their bounds are documented there.
* :mod:`toolkit.answers.grade`: :func:`grade` (extract + compare, one item) and the
  :class:`Verdict` with its reason (``correct``, ``wrong``, ``no_answer``, ``gold_unparseable``,
  ``gold_wrong_type``, ``timeout``, …).
* :mod:`toolkit.answers.pool`: :func:`verify_many`, the kill-safe worker pool with caches.

:data:`GRADER_VERSION` changes whenever a rule changes a verdict; ``toolkit eval`` records it with
the rules (:func:`describe`) in results.json and the model card shows it, so a published number
can be reproduced. Where these rules deliberately differ from math-verify, lighteval, hendrycks
MATH, open-r1 and Qwen2.5-Math, ``tests/fixtures/answers/DIFFERENCES.md`` says which and why.
"""

from __future__ import annotations

from typing import Any

from toolkit.answers.extract import (
    KINDS,
    MAX_ANSWER_CHARS,
    MAX_SCAN_CHARS,
    RULES,
    Extraction,
    canonical_kind,
    choice_letter,
    extract,
    extract_boxed,
    final_answer,
)
from toolkit.answers.grade import (
    ANSWER_TYPES,
    CORRECT,
    GOLD_MISSING,
    GOLD_UNPARSEABLE,
    GOLD_WRONG_TYPE,
    GRADER_ERROR,
    NO_ANSWER,
    NUMERIC_REL_TOL,
    REASONS,
    TIMEOUT,
    WORKER_CRASHED,
    WRONG,
    Verdict,
    grade,
    math_extraction_config,
    normalize_text,
    resolve_answer_type,
    summarize,
    wrap_gold,
)
from toolkit.answers.numbers import normalize_number, parse_number
from toolkit.answers.pool import verify_many

#: Bumped whenever a rule change can change a verdict (recorded in results.json and cards).
GRADER_VERSION = "2"

#: One line per kind: what results.json and the model card say about extraction.
RULE_SUMMARIES: dict[str, str] = {
    "math": "after the reasoning: last \\boxed{} (multi-part boxes joined), else the last "
    "'Answer:'/'final answer is' line, else a bare short expression, else whichever ends last "
    "of the last $...$ span and the last number; graded by math-verify",
    "gsm8k": "after the reasoning: last \\boxed{} number, else the first number after the last "
    "'Answer:'/'answer is'/'####' cue, else the last number (1,000 / 1 000 = 1000; '2x' and "
    "'AZYUK2A' are not numbers); equal within a relative 1e-6",
    "choice": "after the reasoning: \\boxed{X}, else the letter after the last 'Answer:'/'answer "
    "is' cue, else a line holding only a letter, 'X.' at the start, a letter ending the last "
    "line, the last (X); exact upper-case letter",
    "text": "after the reasoning: last \\boxed{}, else the last 'Answer:' line, else the last "
    "line; normalized string equality",
}


def describe() -> dict[str, Any]:
    """The grader's identity and rules, as results.json records them."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        math_verify_version = version("math-verify")
    except PackageNotFoundError:  # pragma: no cover - a core dependency
        math_verify_version = None
    return {
        "name": "toolkit.answers",
        "version": GRADER_VERSION,
        "math_verify": math_verify_version,
        "answer_part": "after the reasoning (toolkit.thinking.split_thinking); unclosed "
        "reasoning = no answer",
        "rules": dict(RULE_SUMMARIES),
        "numeric_rel_tol": str(NUMERIC_REL_TOL),
        "max_scan_chars": MAX_SCAN_CHARS,
        "max_answer_chars": MAX_ANSWER_CHARS,
    }


def short_description() -> str:
    """``toolkit.answers v2 (math-verify 0.9.0)``: the grader in one phrase, for cards."""
    info = describe()
    engine = f" (math-verify {info['math_verify']})" if info["math_verify"] else ""
    return f"{info['name']} v{info['version']}{engine}"


__all__ = [
    "ANSWER_TYPES",
    "CORRECT",
    "GOLD_MISSING",
    "GOLD_UNPARSEABLE",
    "GOLD_WRONG_TYPE",
    "GRADER_ERROR",
    "GRADER_VERSION",
    "KINDS",
    "MAX_ANSWER_CHARS",
    "MAX_SCAN_CHARS",
    "NO_ANSWER",
    "NUMERIC_REL_TOL",
    "REASONS",
    "RULES",
    "RULE_SUMMARIES",
    "TIMEOUT",
    "WORKER_CRASHED",
    "WRONG",
    "Extraction",
    "Verdict",
    "canonical_kind",
    "choice_letter",
    "describe",
    "extract",
    "extract_boxed",
    "final_answer",
    "grade",
    "math_extraction_config",
    "normalize_number",
    "normalize_text",
    "parse_number",
    "resolve_answer_type",
    "short_description",
    "summarize",
    "verify_many",
    "wrap_gold",
]
