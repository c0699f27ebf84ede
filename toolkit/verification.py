"""Grade answers against gold answers with math-verify, with a per-item timeout that really holds.

Three answer types:

``math``
    math-verify end to end: the prediction is searched for ``\\boxed{}`` first, then for LaTeX
    (``$…$``, ``\\[…\\]``) and plain expressions; the gold is parsed the same way (bare gold
    answers are wrapped in ``\\boxed{}`` first, since MATH-style golds carry no delimiters).
``gsm8k``
    numbers: ``#### N`` first, then ``\\boxed{N}``, "the answer is N", then the last number in the
    text; compared exactly as decimals (``1,000`` = ``1000.0``).
``choice``
    option letters A–J for GPQA/MMLU-style data: ``\\boxed{C}``, ``\\text{(C)}``, "Answer: C",
    "the answer is (C)", a standalone ``(C)``, or a bare letter.
``auto``
    a letter gold → ``choice``; a ``#### N`` gold → ``gsm8k``; everything else → ``math``.

A gold answer that does not parse is reported as ``verify_error="gold_unparseable"`` with
``correct=None``. It is never scored as correct: open-r1 once rewarded every completion whose gold
failed to parse, which silently taught models to answer anything on exactly the hardest rows.

Why our own process pool: math-verify's timeouts are ``signal.alarm`` based. They only work in the
main thread, and a signal handler cannot interrupt a long computation inside C (``9^{9^{9^9}}``
sends sympy into a big-integer power that no Python signal stops). :func:`verify_many` therefore
runs items in worker processes, each item under a soft ``SIGALRM`` deadline inside the worker and a
hard deadline in the parent, which kills and replaces a worker that overruns and reports the item
as ``verify_error="timeout"``. Identical (prediction, gold, type) triples are graded once, and each
worker caches parsed golds, so a dataset with N samples per problem parses each gold once.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import re
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import datasets

log = logging.getLogger(__name__)

AnswerType = Literal["auto", "math", "gsm8k", "choice"]
ANSWER_TYPES: tuple[str, ...] = ("auto", "math", "gsm8k", "choice")
CHOICE_LETTERS = "ABCDEFGHIJ"

#: ``verify_error`` values.
GOLD_MISSING = "gold_missing"
GOLD_UNPARSEABLE = "gold_unparseable"
NO_ANSWER = "no_answer"
TIMEOUT = "timeout"
WORKER_CRASHED = "worker_crashed"
GRADER_ERROR = "grader_error"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The grade of one prediction.

    ``correct`` is ``None`` when the item could not be graded (missing or unparseable gold,
    timeout, crash); ``error`` says why, or why a ``False`` verdict is False without a comparison
    (``"no_answer"``). ``extracted`` is the answer found in the prediction, as text.
    """

    correct: bool | None
    error: str | None = None
    extracted: str | None = None


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
    """The extraction config used for both gold and prediction (``\\boxed{}`` first)."""
    return _math_verify()[2]


def wrap_gold(gold: str) -> str:
    """MATH-style golds are bare LaTeX (``\\frac{1}{2}``); math-verify only extracts LaTeX inside
    delimiters, so wrap them in ``\\boxed{}`` unless they already carry ``$`` or ``\\boxed``."""
    gold = gold.strip()
    if "\\boxed" in gold or _MATH_DELIMITER.search(gold):
        return gold
    return f"\\boxed{{{gold}}}"


#: An unescaped ``$`` or ``\(``/``\[`` (``\$36`` is a dollar amount, not a delimiter).
_MATH_DELIMITER = re.compile(r"(?<!\\)\$|\\\(|\\\[")


@lru_cache(maxsize=8192)
def _parse_gold_math(gold_text: str) -> tuple[Any, ...] | None:
    """Parsed gold (cached: the N samples of a problem share it), ``None`` when unparseable."""
    parse, _, config, sympy_types = _math_verify()
    parsed = parse(gold_text, extraction_config=config, parsing_timeout=None)
    if not any(isinstance(item, sympy_types) for item in parsed):
        return None
    return tuple(parsed)


@lru_cache(maxsize=4096)
def _parse_prediction_math(prediction: str) -> tuple[Any, ...]:
    parse, _, config, _ = _math_verify()
    return tuple(parse(prediction, extraction_config=config, parsing_timeout=None))


def _extracted_text(parsed: Sequence[Any]) -> str | None:
    """math-verify returns ``[sympy_object, source_text]``: report the source text."""
    for item in reversed(parsed):
        if isinstance(item, str):
            return item
    return str(parsed[-1]) if parsed else None


_GSM8K_MARK = re.compile(r"####\s*([^\n]*)")


def _grade_math(prediction: str, gold: str) -> Verdict:
    _, mv_verify, _, _ = _math_verify()
    gold_parsed = _parse_gold_math(wrap_gold(gold))
    if gold_parsed is None:
        return Verdict(None, GOLD_UNPARSEABLE, None)
    if "\\boxed" not in prediction and "####" in prediction:
        # GSM8K-style completions in a math set: ``#### N`` is the model's final answer.
        marks = _GSM8K_MARK.findall(prediction)
        if marks and marks[-1].strip():
            prediction = f"\\boxed{{{marks[-1].strip()}}}"
    pred_parsed = _parse_prediction_math(prediction)
    if not pred_parsed:
        return Verdict(False, NO_ANSWER, None)
    key = (gold, pred_parsed)
    try:
        correct = _COMPARISONS.get(key)
    except TypeError:  # an unhashable parse result: compare without the cache
        key, correct = None, None
    if correct is None:
        correct = bool(mv_verify(list(gold_parsed), list(pred_parsed), timeout_seconds=None))
        if key is not None and len(_COMPARISONS) < 65536:
            _COMPARISONS[key] = correct
    return Verdict(correct, None, _extracted_text(pred_parsed))


#: verify() is a pure function of the two parse results: N samples of one problem that extract
#: the same answer are compared once per worker.
_COMPARISONS: dict[tuple[str, tuple[Any, ...]], bool] = {}


# --------------------------------------------------------------------------------------------
# GSM8K numbers

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_ANSWER_IS = re.compile(r"answer\s*(?:is|:)\s*\**\s*\$?\s*(-?[\d,]*\.?\d+)", re.IGNORECASE)


def _to_decimal(text: str) -> Decimal | None:
    cleaned = text.strip().replace(",", "").replace("$", "").replace("\\%", "").rstrip(".%")
    cleaned = re.sub(r"\\text\{[^}]*\}|\\!|\\,|\s+", "", cleaned)
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def _gsm8k_candidate(prediction: str) -> str | None:
    from toolkit.thinking import extract_boxed

    marks = [m.strip() for m in _GSM8K_MARK.findall(prediction) if m.strip()]
    if marks:
        return marks[-1]
    boxed = extract_boxed(prediction)
    if boxed is not None and boxed.strip():
        return boxed.strip()
    answer_is = _ANSWER_IS.findall(prediction)
    if answer_is:
        return answer_is[-1]
    numbers = _NUMBER.findall(prediction)
    return numbers[-1] if numbers else None


def _grade_gsm8k(prediction: str, gold: str) -> Verdict:
    gold_text = gold.rsplit("####", 1)[-1] if "####" in gold else gold
    gold_value = _to_decimal(gold_text)
    if gold_value is None:
        return Verdict(None, GOLD_UNPARSEABLE, None)
    candidate = _gsm8k_candidate(prediction)
    if candidate is None:
        return Verdict(False, NO_ANSWER, None)
    value = _to_decimal(candidate)
    if value is None:
        numbers = _NUMBER.findall(candidate)
        value = _to_decimal(numbers[-1]) if len(numbers) == 1 else None
    if value is None:
        # A non-numeric boxed answer (``\frac{7}{2}``): let math-verify decide.
        verdict = _grade_math(f"\\boxed{{{candidate}}}", str(gold_value))
        return Verdict(verdict.correct, verdict.error, candidate)
    return Verdict(value == gold_value, None, candidate)


# --------------------------------------------------------------------------------------------
# Multiple choice letters

_LETTER = f"[{CHOICE_LETTERS}]"
_GOLD_LETTER = re.compile(
    rf"^\s*(?:\\boxed\{{)?\s*(?:\\text(?:bf)?\{{)?\s*\(?({_LETTER})\)?\s*\}}?\s*\}}?\s*[.):]?\s*$"
)
_GOLD_LETTER_PREFIX = re.compile(rf"^\s*\(?({_LETTER})\)\s+\S")
_CHOICE_PATTERNS = (
    re.compile(rf"answer\s*(?:is|:)?\s*[:\s]*\**\s*\(?\s*({_LETTER})\s*\)?(?![A-Za-z])", re.I),
    re.compile(rf"\(({_LETTER})\)"),
    re.compile(rf"^\s*\**\s*({_LETTER})\s*[.):]?\s*\**\s*$", re.M),
)


def choice_letter(text: str) -> str | None:
    """The option letter of a gold answer (``"C"``, ``"(C)"``, ``"C) 42"``, ``\\boxed{C}``)."""
    match = _GOLD_LETTER.match(text) or _GOLD_LETTER_PREFIX.match(text)
    return match.group(1).upper() if match else None


def _choice_candidate(prediction: str) -> str | None:
    from toolkit.thinking import extract_boxed

    boxed = extract_boxed(prediction)
    if boxed is not None:
        letter = choice_letter(boxed)
        if letter is not None:
            return letter
    for pattern in _CHOICE_PATTERNS:
        found = pattern.findall(prediction)
        if found:
            return found[-1].upper()
    return None


def _grade_choice(prediction: str, gold: str) -> Verdict:
    gold_letter = choice_letter(gold)
    if gold_letter is None:
        return Verdict(None, GOLD_UNPARSEABLE, None)
    letter = _choice_candidate(prediction)
    if letter is None:
        return Verdict(False, NO_ANSWER, None)
    return Verdict(letter == gold_letter, None, letter)


# --------------------------------------------------------------------------------------------
# Single items


def resolve_answer_type(gold: str, answer_type: str = "auto") -> str:
    """The concrete type for one item (``auto`` looks at the gold answer)."""
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


def _grade_unbounded(prediction: str | None, gold: str | None, answer_type: str) -> Verdict:
    if gold is None or not str(gold).strip():
        return Verdict(None, GOLD_MISSING, None)
    gold = str(gold)
    kind = resolve_answer_type(gold, answer_type)
    if prediction is None or not str(prediction).strip():
        # Still check the gold, so that a bad gold is reported as such whatever the prediction.
        if kind == "math" and _parse_gold_math(wrap_gold(gold)) is None:
            return Verdict(None, GOLD_UNPARSEABLE, None)
        return Verdict(False, NO_ANSWER, None)
    prediction = str(prediction)
    if kind == "choice":
        return _grade_choice(prediction, gold)
    if kind == "gsm8k":
        return _grade_gsm8k(prediction, gold)
    return _grade_math(prediction, gold)


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
    gold: str | None,
    *,
    answer_type: str = "auto",
    timeout_s: float = 5.0,
) -> Verdict:
    """Grade one prediction in this process.

    The timeout is a soft ``SIGALRM`` deadline: it works in the main thread and stops Python-level
    loops, but not a computation stuck inside C. Use :func:`verify_many` (worker processes, killed
    on overrun) for untrusted batches.
    """
    _math_verify()  # the one-off import (~1 s, more on a busy machine) is not the item's time
    try:
        with _soft_deadline(timeout_s):
            return _grade_unbounded(prediction, gold, answer_type)
    except _ItemTimeout:
        return Verdict(None, TIMEOUT, None)
    except RecursionError:
        return Verdict(None, GRADER_ERROR, None)


# --------------------------------------------------------------------------------------------
# Worker processes

Item = tuple[int, str | None, str | None, str]


def _worker_main(conn: multiprocessing.connection.Connection, timeout_s: float) -> None:
    """Grade chunks of items, one result message per item (the parent times each item from the
    previous message, so it can tell exactly which item overran)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and kills us
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    _math_verify()
    _enlarge_parse_caches()
    while True:
        try:
            chunk = conn.recv()
        except (EOFError, OSError):
            return
        if chunk is None:
            return
        for index, prediction, gold, answer_type in chunk:
            try:
                verdict = grade(prediction, gold, answer_type=answer_type, timeout_s=timeout_s)
            except Exception as exc:  # a grader bug must not take the batch down
                verdict = Verdict(None, f"{GRADER_ERROR}: {type(exc).__name__}", None)
            conn.send((index, verdict.correct, verdict.error, verdict.extracted))


def _enlarge_parse_caches(maxsize: int = 8192) -> None:
    """math-verify memoises LaTeX/expression parsing in ``lru_cache(maxsize=20)``: far too small
    for a dataset whose N samples per problem extract the same few answers. Both functions are
    pure functions of the answer string, so a larger cache changes no verdict. Done in our
    worker processes only, leaving math-verify's behaviour in the caller's process untouched."""
    import importlib

    parser = importlib.import_module("math_verify.parser")
    for name in ("parse_latex_cached", "parse_expr_cached"):
        cached = getattr(parser, name, None)
        wrapped = getattr(cached, "__wrapped__", None)
        if wrapped is not None and cached.cache_info().maxsize < maxsize:
            setattr(parser, name, lru_cache(maxsize=maxsize)(wrapped))


def _context() -> multiprocessing.context.BaseContext:
    """fork on Linux: a worker (and a replacement after a kill) starts in milliseconds with
    math-verify already imported, and without re-running the caller's ``__main__`` (which spawn
    and forkserver do, breaking unguarded scripts). Elsewhere spawn."""
    if sys.platform.startswith("linux"):
        _math_verify()  # import once in the parent, so that every fork inherits it
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


class _Worker:
    def __init__(self, ctx: multiprocessing.context.BaseContext, timeout_s: float) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_worker_main, args=(child, timeout_s), daemon=True)
        self.process.start()
        child.close()
        self.inflight: deque[Item] = deque()
        self.item_started = time.monotonic()

    def send(self, chunk: list[Item]) -> None:
        self.inflight.extend(chunk)
        self.item_started = time.monotonic()
        self.conn.send(chunk)

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.send(None)
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.kill()
        else:
            self.conn.close()


def _normalize_types(answer_types: str | Sequence[str], count: int) -> list[str]:
    if isinstance(answer_types, str):
        types = [answer_types] * count
    else:
        types = [str(t) for t in answer_types]
        if len(types) != count:
            raise ValueError(f"answer_types has {len(types)} entries for {count} predictions")
    for row, kind in enumerate(types):
        if kind not in ANSWER_TYPES:
            raise ValueError(
                f"row {row}: answer_type {kind!r} is not one of {', '.join(ANSWER_TYPES)}"
            )
    return types


def verify_many(
    predictions: Sequence[str | None],
    golds: Sequence[str | None],
    answer_types: str | Sequence[str] = "auto",
    *,
    num_proc: int | None = None,
    timeout_s: float = 5.0,
    hard_timeout_s: float | None = None,
    chunk_size: int = 32,
    progress: bool = False,
    desc: str = "verify",
) -> list[Verdict]:
    """Grade many predictions in worker processes; verdicts come back in input order.

    Args:
        num_proc: worker processes (default: the CPU count, fewer for small batches). ``0`` grades
            in this process with only the soft timeout (for debugging).
        timeout_s: soft per-item deadline inside the worker.
        hard_timeout_s: the parent kills a worker whose item has run this long (default
            ``timeout_s + 1``), reports ``"timeout"`` for it and restarts the rest elsewhere.
        chunk_size: items sent to a worker per message (fewer round trips, still balanced).
    """
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions but {len(golds)} gold answers")
    types = _normalize_types(answer_types, len(predictions))
    hard_timeout = hard_timeout_s if hard_timeout_s is not None else timeout_s + 1.0

    # Grade each distinct (prediction, gold, type) once.
    slots: dict[tuple[Any, Any, str], int] = {}
    row_slot: list[int] = []
    unique: list[Item] = []
    for prediction, gold, kind in zip(predictions, golds, types, strict=True):
        key = (prediction, gold, kind)
        slot = slots.get(key)
        if slot is None:
            slot = slots[key] = len(unique)
            unique.append((slot, prediction, gold, kind))
        row_slot.append(slot)

    results: list[Verdict | None] = [None] * len(unique)
    if num_proc == 0:
        for slot, prediction, gold, kind in unique:
            results[slot] = grade(prediction, gold, answer_type=kind, timeout_s=timeout_s)
    elif unique:
        workers = num_proc or os.cpu_count() or 1
        workers = max(1, min(workers, math.ceil(len(unique) / 8)))
        _run_pool(unique, results, workers, timeout_s, hard_timeout, chunk_size, progress, desc)

    verdicts = [results[slot] for slot in row_slot]
    assert all(v is not None for v in verdicts)
    return verdicts  # type: ignore[return-value]


def _run_pool(
    items: list[Item],
    results: list[Verdict | None],
    num_workers: int,
    timeout_s: float,
    hard_timeout: float,
    chunk_size: int,
    progress: bool,
    desc: str,
) -> None:
    from tqdm.auto import tqdm

    ctx = _context()
    # Items sharing a gold go out together, so each gold (and the answers to it) is parsed by one
    # worker instead of by every worker: the caches, not only the cores, make the pool fast.
    pending: deque[Item] = deque(sorted(items, key=lambda item: (str(item[2]), item[3])))
    workers = [_Worker(ctx, timeout_s) for _ in range(num_workers)]
    remaining = len(items)
    killed = 0
    bar = tqdm(total=len(items), desc=desc, unit="answer", disable=not progress, leave=False)
    try:
        while remaining:
            for worker in workers:
                if not worker.inflight and pending:
                    # Smaller chunks near the end keep both workers busy until the last item.
                    size = max(1, min(chunk_size, len(pending) // (2 * len(workers)) or 1))
                    worker.send([pending.popleft() for _ in range(min(size, len(pending)))])
            busy = [w for w in workers if w.inflight]
            now = time.monotonic()
            wait_for = min(max(w.item_started + hard_timeout - now, 0.0) for w in busy)
            ready = multiprocessing.connection.wait([w.conn for w in busy], timeout=wait_for)
            for worker in busy:
                died = False
                if worker.conn in ready:
                    try:
                        while worker.inflight and worker.conn.poll():
                            index, correct, error, extracted = worker.conn.recv()
                            worker.inflight.popleft()
                            results[index] = Verdict(correct, error, extracted)
                            remaining -= 1
                            bar.update(1)
                            worker.item_started = time.monotonic()
                    except (EOFError, OSError):
                        died = True
                overran = worker.inflight and (
                    time.monotonic() - worker.item_started > hard_timeout
                )
                if died or overran:
                    # The first in-flight item is the one that overran (or crashed the worker).
                    index = worker.inflight.popleft()[0]
                    results[index] = Verdict(
                        None, TIMEOUT if overran and not died else WORKER_CRASHED
                    )
                    remaining -= 1
                    bar.update(1)
                    killed += 1
                    pending.extendleft(reversed(worker.inflight))
                    worker.inflight.clear()
                    worker.kill()
                    workers[workers.index(worker)] = _Worker(ctx, timeout_s)
    finally:
        bar.close()
        for worker in workers:
            if worker.inflight:
                worker.kill()
            else:
                worker.close()
    if killed:
        log.info("verify: %d worker(s) killed and replaced after a hard timeout or crash", killed)


# --------------------------------------------------------------------------------------------
# Datasets


def _prediction_texts(dataset: datasets.Dataset, prediction_field: str) -> list[str | None]:
    from toolkit.curate import column_values

    if prediction_field not in ("auto", "final_answer"):
        if prediction_field not in dataset.column_names:
            raise ValueError(
                f"prediction field {prediction_field!r} is not a column of the dataset"
            )
        return [None if v is None else str(v) for v in column_values(dataset, prediction_field)]
    finals = (
        column_values(dataset, "final_answer") if "final_answer" in dataset.column_names else None
    )
    answers = column_values(dataset, "answer") if "answer" in dataset.column_names else None
    if finals is None and answers is None:
        raise ValueError("the dataset has neither a 'final_answer' nor an 'answer' column")
    texts: list[str | None] = []
    for row in range(len(dataset)):
        final = finals[row] if finals is not None else None
        if final is not None and str(final).strip():
            # The extracted short answer: box it so every grader reads it as the final answer.
            texts.append(f"\\boxed{{{str(final).strip()}}}")
        elif prediction_field == "auto" and answers is not None:
            texts.append(answers[row])
        else:
            texts.append(None)
    return texts


def _row_answer_types(dataset: datasets.Dataset, answer_type: str) -> list[str]:
    """Per-row types: an explicit type wins; ``auto`` honours ``metadata["answer_type"]``."""
    if answer_type != "auto" or "metadata" not in dataset.column_names:
        return [answer_type] * len(dataset)
    from toolkit.curate import column_values
    from toolkit.schema import loads_metadata

    types = []
    for row, raw in enumerate(column_values(dataset, "metadata")):
        try:
            meta = loads_metadata(raw)
        except ValueError as exc:
            raise ValueError(f"row {row}: field 'metadata' is not valid JSON ({exc})") from None
        kind = meta.get("answer_type") if isinstance(meta, dict) else None
        types.append(kind if kind in ANSWER_TYPES else "auto")
    return types


def verify(
    dataset: datasets.Dataset,
    *,
    num_proc: int | None = None,
    timeout_s: float = 5.0,
    answer_type: str = "auto",
    prediction_field: str = "auto",
    gold_field: str = "gold_answer",
    progress: bool = True,
) -> datasets.Dataset:
    """Add ``correct`` (bool, ``None`` when ungradable) and ``verify_error`` columns.

    The prediction is ``final_answer`` when present (boxed, so it is read as the final answer),
    else the full ``answer`` text (``prediction_field="auto"``); any other column can be named.
    Existing ``correct``/``verify_error`` columns are replaced.
    """
    import datasets

    from toolkit.curate import add_column, column_values

    if gold_field not in dataset.column_names:
        raise ValueError(f"gold field {gold_field!r} is not a column of the dataset")
    if answer_type not in ANSWER_TYPES:
        raise ValueError(
            f"answer_type must be one of {', '.join(ANSWER_TYPES)}, not {answer_type!r}"
        )
    predictions = _prediction_texts(dataset, prediction_field)
    golds = [None if g is None else str(g) for g in column_values(dataset, gold_field)]
    types = _row_answer_types(dataset, answer_type)
    started = time.perf_counter()
    verdicts = verify_many(
        predictions, golds, types, num_proc=num_proc, timeout_s=timeout_s, progress=progress
    )
    elapsed = time.perf_counter() - started
    summary = summarize(verdicts)
    log.info(
        "verified %d rows in %.1fs: %d correct, %d incorrect, %d ungradable %s",
        len(verdicts),
        elapsed,
        summary["correct"],
        summary["incorrect"],
        summary["ungradable"],
        summary["errors"] or "",
    )
    dataset = add_column(dataset, "correct", [v.correct for v in verdicts], datasets.Value("bool"))
    return add_column(
        dataset, "verify_error", [v.error for v in verdicts], datasets.Value("string")
    )


def summarize(verdicts: Sequence[Verdict]) -> dict[str, Any]:
    """Counts of correct / incorrect / ungradable verdicts and of each error."""
    errors: dict[str, int] = {}
    for verdict in verdicts:
        if verdict.error:
            errors[verdict.error] = errors.get(verdict.error, 0) + 1
    return {
        "total": len(verdicts),
        "correct": sum(1 for v in verdicts if v.correct is True),
        "incorrect": sum(1 for v in verdicts if v.correct is False),
        "ungradable": sum(1 for v in verdicts if v.correct is None),
        "errors": errors,
    }
