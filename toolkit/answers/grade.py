"""Grade one answer against its gold answer; every verdict carries a reason.

A completion is graded in two steps, the same for ``toolkit verify``, curation and ``toolkit
eval``: :func:`toolkit.answers.extract` finds the final answer in the answer part, then the kind's
comparison decides:

``math``
    math-verify on both sides (the extracted answer is read as ``\\boxed{answer}``; a bare gold
    such as ``\\frac{1}{2}`` is boxed too). A gold that math-verify reads *only as a string* (no
    expression, e.g. ``x = \\frac{1}{2}, x = \\frac{-1 \\pm \\sqrt{13}}{4}``) is compared with the
    answer as a normalized string (:func:`normalize_text`), so an identical answer is correct and
    anything else is wrong; a gold that is malformed (unbalanced braces) or empty is
    ``gold_unparseable``.
``gsm8k``
    numbers: equal when ``|answer - gold| <= NUMERIC_REL_TOL * max(1, |gold|)`` (1e-6, i.e.
    exact for GSM8K's integers and money); a non-numeric answer (``\\frac{7}{2}``) goes to
    math-verify against the gold number.
``choice``
    the option letters, exactly (``C`` is not ``c``).
``text``
    normalized strings, exactly.

Reasons (:attr:`Verdict.reason`): ``correct``, ``wrong``, ``no_answer`` (nothing extracted),
``gold_missing``, ``gold_unparseable``, ``gold_wrong_type`` (a list such as ``["4"]``, a dict, a
bool: flagged, never graded as its string form), ``timeout``, ``worker_crashed``,
``grader_error``. Only ``correct`` and ``wrong`` are grades; a gold that cannot be read is never
scored correct (open-r1 once rewarded every completion whose gold failed to parse, which silently
taught models to answer anything on exactly the hardest rows).
"""

from __future__ import annotations

import contextlib
import re
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from toolkit.answers.extract import (
    KIND_ALIASES,
    KINDS,
    choice_letter,
    extract,
    lenient_letter,
)
from toolkit.answers.numbers import normalize_number, parse_number

CORRECT = "correct"
WRONG = "wrong"
NO_ANSWER = "no_answer"
GOLD_MISSING = "gold_missing"
GOLD_UNPARSEABLE = "gold_unparseable"
GOLD_WRONG_TYPE = "gold_wrong_type"
TIMEOUT = "timeout"
WORKER_CRASHED = "worker_crashed"
GRADER_ERROR = "grader_error"
REASONS = (
    CORRECT,
    WRONG,
    NO_ANSWER,
    GOLD_MISSING,
    GOLD_UNPARSEABLE,
    GOLD_WRONG_TYPE,
    TIMEOUT,
    WORKER_CRASHED,
    GRADER_ERROR,
)

ANSWER_TYPES: tuple[str, ...] = ("auto", *KINDS)
#: Relative tolerance of numeric (``gsm8k``) comparisons.
NUMERIC_REL_TOL = Decimal("1e-6")


@dataclass(frozen=True, slots=True)
class Verdict:
    """The grade of one prediction.

    ``correct`` is ``None`` when the item could not be graded (missing, malformed or wrong-typed
    gold, timeout, crash); ``error`` says why, or why a ``False`` verdict is False without a
    comparison (``"no_answer"``). ``extracted`` is the answer found in the prediction.
    """

    correct: bool | None
    error: str | None = None
    extracted: str | None = None

    @property
    def reason(self) -> str:
        """One of :data:`REASONS`: what details.parquet and curation reports show."""
        if self.error:
            return self.error.split(":", 1)[0]
        return CORRECT if self.correct else WRONG


class _ItemTimeout(BaseException):
    """Raised by the soft deadline. A ``BaseException`` so that the many ``except Exception``
    blocks inside math-verify and sympy cannot swallow it."""


# --------------------------------------------------------------------------------------------
# math-verify (imported lazily: sympy + antlr cost ~1 s, and ``import toolkit`` must stay fast)


@lru_cache(maxsize=1)
def _math_verify() -> tuple[Any, Any, list[Any], tuple[type, ...]]:
    """``(parse, verify, extraction_config, sympy_types)``, with math-verify's own signal timeouts
    switched off (we bound every item ourselves) and its "timeout disabled" warning silenced."""
    import importlib

    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
    from sympy import Basic, MatrixBase

    for module in ("math_verify.parser", "math_verify.grader"):
        importlib.import_module(module).TIMEOUT_WARNING_SHOWN = True
    config = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
    return parse, verify, config, (Basic, MatrixBase)


def math_extraction_config() -> list[Any]:
    """The math-verify extraction config used for both gold and prediction (boxed first)."""
    return _math_verify()[2]


#: An unescaped ``$`` or ``\(``/``\[`` (``\$36`` is a dollar amount, not a delimiter).
_MATH_DELIMITER = re.compile(r"(?<!\\)\$|\\\(|\\\[")


def wrap_gold(gold: str) -> str:
    """MATH-style golds are bare LaTeX (``\\frac{1}{2}``); math-verify only extracts LaTeX inside
    delimiters, so wrap them in ``\\boxed{}`` unless they already carry ``$`` or ``\\boxed``."""
    gold = gold.strip()
    if "\\boxed" in gold or _MATH_DELIMITER.search(gold):
        return gold
    return f"\\boxed{{{gold}}}"


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


@lru_cache(maxsize=8192)
def _parse_gold_math(gold_text: str) -> tuple[Any, ...] | None:
    """Parsed gold (cached: the N samples of a problem share it). ``None`` when unusable (nothing
    parsed, or malformed LaTeX); a tuple of strings only when math-verify reads it as text."""
    parse, _, config, _ = _math_verify()
    if not _balanced(gold_text):
        return None
    parsed = parse(gold_text, extraction_config=config, parsing_timeout=None)
    return tuple(parsed) if parsed else None


@lru_cache(maxsize=4096)
def _parse_prediction_math(prediction: str) -> tuple[Any, ...]:
    parse, _, config, _ = _math_verify()
    return tuple(parse(prediction, extraction_config=config, parsing_timeout=None))


#: verify() is a pure function of the two parse results: N samples of one problem that extract
#: the same answer are compared once per worker.
_COMPARISONS: dict[tuple[str, tuple[Any, ...]], bool] = {}

_TEXT_MACRO = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}")
_TEXT_NOISE = re.compile(r"\\(?:left|right|[!,;: ])|\\[()\[\]]|\$|\s+")


def normalize_text(text: str) -> str:
    """The form two answers are compared in when neither is an expression: ``\\text{}`` and
    ``\\mathrm{}`` unwrapped, delimiters, ``\\left``/``\\right``, spacing commands and whitespace
    removed, ``\\dfrac``/``\\tfrac`` as ``\\frac``, a trailing period dropped, case folded."""
    text = _TEXT_MACRO.sub(r"\1", text)
    text = _TEXT_NOISE.sub("", text).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return text.rstrip(".").strip("*\"'`").casefold()


def _grade_math(candidate: str, gold: str) -> Verdict:
    _, mv_verify, _, sympy_types = _math_verify()
    gold_parsed = _parse_gold_math(wrap_gold(gold))
    if gold_parsed is None:
        return Verdict(None, GOLD_UNPARSEABLE, None)
    if not any(isinstance(item, sympy_types) for item in gold_parsed):
        # math-verify reads the gold only as text: compare texts, never "correct" by accident.
        return Verdict(normalize_text(candidate) == normalize_text(gold), None, candidate)
    pred_parsed = _parse_prediction_math(f"\\boxed{{{candidate}}}")
    if not pred_parsed:
        return Verdict(False, None, candidate)
    key = (gold, pred_parsed)
    try:
        correct = _COMPARISONS.get(key)
    except TypeError:  # an unhashable parse result: compare without the cache
        key, correct = None, None
    if correct is None:
        correct = bool(mv_verify(list(gold_parsed), list(pred_parsed), timeout_seconds=None))
        if key is not None and len(_COMPARISONS) < 65536:
            _COMPARISONS[key] = correct
    return Verdict(correct, None, candidate)


def _gold_number(gold: str) -> Decimal | None:
    return parse_number(gold.rsplit("####", 1)[-1] if "####" in gold else gold)


def _numbers_equal(value: Decimal, gold: Decimal) -> bool:
    return abs(value - gold) <= NUMERIC_REL_TOL * max(Decimal(1), abs(gold))


def _grade_number(candidate: str, gold_value: Decimal) -> Verdict:
    value = parse_number(candidate)
    if value is None:
        # A non-numeric answer (``\frac{7}{2}``): let math-verify decide.
        verdict = _grade_math(candidate, normalize_number(str(gold_value)))
        return Verdict(verdict.correct, verdict.error, candidate)
    return Verdict(_numbers_equal(value, gold_value), None, candidate)


# --------------------------------------------------------------------------------------------
# Single items


def gold_type_error(gold: Any) -> str | None:
    """``"gold_wrong_type"`` for a gold that is not text or a number (a list like ``["4"]``, a
    dict, a bool): its string form is not an answer, so it is flagged instead of graded."""
    if gold is None or isinstance(gold, str):
        return None
    if isinstance(gold, bool) or not isinstance(gold, int | float | Decimal):
        return GOLD_WRONG_TYPE
    return None


def resolve_answer_type(gold: str, answer_type: str = "auto") -> str:
    """The concrete kind for one item (``auto`` looks at the gold answer: an option letter →
    ``choice``, a ``#### N`` gold → ``gsm8k``, anything else → ``math``)."""
    answer_type = KIND_ALIASES.get(answer_type, answer_type)
    if answer_type not in ANSWER_TYPES:
        raise ValueError(
            f"answer_type must be one of {', '.join(ANSWER_TYPES)}, not {answer_type!r}"
        )
    if answer_type != "auto":
        return answer_type
    if choice_letter(gold) is not None:
        return "choice"
    if "####" in gold:
        return "gsm8k"
    return "math"


def _grade_unbounded(prediction: Any, gold: Any, answer_type: str) -> Verdict:
    if gold_type_error(gold):
        return Verdict(None, GOLD_WRONG_TYPE, None)
    if gold is None or not str(gold).strip():
        return Verdict(None, GOLD_MISSING, None)
    gold = str(gold)
    kind = resolve_answer_type(gold, answer_type)
    gold_value = None
    if kind == "gsm8k":
        gold_value = _gold_number(gold)
        if gold_value is None:
            return Verdict(None, GOLD_UNPARSEABLE, None)
    elif kind == "choice":
        gold_letter = lenient_letter(gold)
        if gold_letter is None:
            return Verdict(None, GOLD_UNPARSEABLE, None)
    candidate = extract(None if prediction is None else str(prediction), kind).answer
    if candidate is None:
        # Still check a math gold, so that a bad gold is reported as such whatever the prediction.
        if kind == "math" and _parse_gold_math(wrap_gold(gold)) is None:
            return Verdict(None, GOLD_UNPARSEABLE, None)
        return Verdict(False, NO_ANSWER, None)
    if kind == "choice":
        return Verdict(candidate == gold_letter, None, candidate)
    if kind == "gsm8k":
        assert gold_value is not None
        return _grade_number(candidate, gold_value)
    if kind == "text":
        return Verdict(normalize_text(candidate) == normalize_text(gold), None, candidate)
    return _grade_math(candidate, gold)


@contextlib.contextmanager
def _soft_deadline(seconds: float) -> Iterator[None]:
    """Raise :class:`_ItemTimeout` after ``seconds`` (main thread only; a no-op elsewhere).

    Restores any timer that was already armed (pytest-timeout's, for instance) afterwards.
    """
    if seconds is None or seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _on_alarm(signum: int, frame: Any) -> None:
        raise _ItemTimeout

    previous_handler = signal.signal(signal.SIGALRM, _on_alarm)
    previous_delay, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay > 0:
            remaining = previous_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(remaining, 0.001))


def grade(
    prediction: str | None,
    gold: Any,
    *,
    answer_type: str = "auto",
    timeout_s: float = 5.0,
) -> Verdict:
    """Extract the final answer of ``prediction`` (an answer part) and grade it, in this process.

    The timeout is a soft ``SIGALRM`` deadline: it works in the main thread and stops Python-level
    loops, but not a computation stuck inside C. Use :func:`toolkit.answers.verify_many` (worker
    processes, killed on overrun) for untrusted batches.
    """
    _math_verify()  # the one-off import (~1 s, more on a busy machine) is not the item's time
    try:
        with _soft_deadline(timeout_s):
            return _grade_unbounded(prediction, gold, answer_type)
    except _ItemTimeout:
        return Verdict(None, TIMEOUT, None)
    except RecursionError:
        return Verdict(None, GRADER_ERROR, None)


def summarize(verdicts: Sequence[Verdict]) -> dict[str, Any]:
    """Counts of correct / incorrect / ungradable verdicts, of each error and of each reason."""
    errors: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for verdict in verdicts:
        if verdict.error:
            errors[verdict.error] = errors.get(verdict.error, 0) + 1
        reasons[verdict.reason] = reasons.get(verdict.reason, 0) + 1
    return {
        "total": len(verdicts),
        "correct": sum(1 for v in verdicts if v.correct is True),
        "incorrect": sum(1 for v in verdicts if v.correct is False),
        "ungradable": sum(1 for v in verdicts if v.correct is None),
        "errors": errors,
        "reasons": dict(sorted(reasons.items())),
    }
