"""Final-answer extraction: the one implementation, for every answer kind.

Call :func:`extract` on the *answer part* of a completion (after
:func:`toolkit.thinking.split_thinking` removed the reasoning; an unclosed reasoning block has no
answer part, so it has no answer). The rules, tried in this order, and the first that finds
something wins:

1. ``\\boxed{…}`` / ``\\fbox{…}``: the last complete box; boxes just before it that are joined to
   it only by separators (``,``, ``and``, ``or``, ``\\quad``, ``$``, ``x_2 =``) are the other parts
   of a multi-part answer and are joined with ``", "``.
2. An answer line: the last ``Answer:``, ``**Answer:**``, ``ANSWER:``, ``Final answer:``,
   ``The (final) answer is``, ``Final:`` or ``####`` cue. What follows it (on the same line, or on
   the next line when the cue ends its line) is cut at the end of its sentence or at a clause
   (``because``, ``since``, ``, it …``), so "The answer is 18 because 9 eggs…" gives 18; a
   ``$…$`` span right after the cue gives its content; a sentence gives what follows its last
   " is " ("Final Answer: The volume of $V$ is 120." gives 120) and, for maths, a clause of prose
   its first number ("Jane started 3 hours ago" gives 3).
3. Kind-specific fallbacks (:data:`RULES` lists them per kind): for ``math`` a whole answer that
   is a short bare expression (``2x``), else whichever ends last of the last ``$…$`` / ``\\(…\\)``
   / ``\\[…\\]`` span and the last number or simple fraction (as math-verify ranks them); for
   ``gsm8k`` the last number; for ``choice`` a line holding only a letter, an answer that starts
   with ``C.``, a letter that ends the last line, or the last ``(C)``; for ``text`` the last line.

Numbers follow :mod:`toolkit.answers.numbers` (``1 000`` is 1000; ``AZYUK2A`` holds no number;
``2x`` is an expression, not 2). Option letters are upper case ``A``–``J``.

Bounded work (issue 15): every scan is linear (one pass for balanced braces; regexes without
nested unbounded quantifiers), extraction only reads the last :data:`MAX_SCAN_CHARS` characters of
the answer part (a model that loops until its token limit produces megabytes, and the final answer
is at the end), and a candidate longer than :data:`MAX_ANSWER_CHARS` is not taken as an answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from toolkit.answers.numbers import find_numbers, normalize_number, number_matches

#: Extraction reads only this many trailing characters of the answer part (16 KiB).
MAX_SCAN_CHARS = 16_384
#: A candidate answer longer than this is not a final answer (it is a paragraph).
MAX_ANSWER_CHARS = 1_000

KINDS: tuple[str, ...] = ("math", "gsm8k", "choice", "text")
#: Other names accepted for a kind.
KIND_ALIASES = {"number": "gsm8k", "letter": "choice", "mcq": "choice", "string": "text"}
CHOICE_LETTERS = "ABCDEFGHIJ"

#: The rules of each kind, in order (recorded in results.json and model cards).
RULES: dict[str, tuple[str, ...]] = {
    "math": ("boxed", "answer_line", "bare_expression", "math_span", "last_number"),
    "gsm8k": ("boxed", "answer_line", "last_number"),
    "choice": (
        "boxed",
        "answer_line",
        "letter_line",
        "letter_first",
        "letter_last",
        "letter_paren",
    ),
    "text": ("boxed", "answer_line", "last_line"),
}


@dataclass(frozen=True, slots=True)
class Extraction:
    """The answer found in a text: ``answer`` is ``None`` when no rule found one; ``rule`` names
    the rule that found it (one of :data:`RULES`)."""

    answer: str | None
    rule: str | None = None


def canonical_kind(kind: str) -> str:
    """The canonical name of an answer kind (``"number"`` → ``"gsm8k"``)."""
    kind = KIND_ALIASES.get(kind, kind)
    if kind not in KINDS:
        raise ValueError(f"unknown answer kind {kind!r}; use one of {', '.join(KINDS)}")
    return kind


def extract(text: str | None, kind: str = "math") -> Extraction:
    """The final answer of ``text`` (an answer part) for answer ``kind``."""
    kind = canonical_kind(kind)
    if not text or not text.strip():
        return Extraction(None)
    tail = text[-MAX_SCAN_CHARS:]
    boxes = boxed_answers(tail)
    if boxes:
        found = _from_box(", ".join(boxes), kind)
        if found is not None:
            return Extraction(found, "boxed")
    found = _from_answer_lines(tail, kind)
    if found is not None:
        return Extraction(found, "answer_line")
    rules = list(RULES[kind][2:])
    while rules:
        rule = rules.pop(0)
        if rule == "math_span":  # the rightmost of the last span and the last number wins
            rules.remove("last_number")
            found, rule = _last_span_or_number(tail)
        else:
            found = _FALLBACKS[rule](tail)
        if found is not None and len(found) <= MAX_ANSWER_CHARS:
            return Extraction(found, rule)
    return Extraction(None)


def final_answer(text: str | None) -> str | None:
    """The short final answer of a solution, for the ``final_answer`` column of the schema: the
    boxed answer(s), else an answer line. Only explicit answers: no fallback guesses."""
    if not text or not text.strip():
        return None
    tail = text[-MAX_SCAN_CHARS:]
    boxes = boxed_answers(tail)
    if boxes:
        return _bounded(", ".join(boxes))
    return _from_answer_lines(tail, "math")


# --------------------------------------------------------------------------------------------
# Boxes: one pass over the braces


_BOX_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BRACE = re.compile(r"[{}]")


def _boxes(text: str) -> list[tuple[int, int, int]]:
    """``(macro_start, content_start, content_end)`` of every complete box, by position.

    One pass over the brace characters with a stack: linear in the text, whatever the number of
    unclosed ``\\boxed{`` (the old per-box rescan was quadratic in them).
    """
    openers = {match.end() - 1: match.start() for match in _BOX_OPEN.finditer(text)}
    if not openers:
        return []
    stack: list[int] = []
    found: list[tuple[int, int, int]] = []
    for brace in _BRACE.finditer(text, min(openers)):
        if brace.group() == "{":
            stack.append(brace.start())
        elif stack:
            opened = stack.pop()
            start = openers.get(opened)
            if start is not None:
                found.append((start, opened + 1, brace.start()))
    found.sort()
    return found


def extract_boxed(text: str | None) -> str | None:
    """The content of the *last* complete ``\\boxed{…}`` (or ``\\fbox{…}``), braces balanced;
    ``None`` when there is none. The last box is the final answer by convention."""
    if not text:
        return None
    boxes = _boxes(text[-MAX_SCAN_CHARS:])
    return text[-MAX_SCAN_CHARS:][boxes[-1][1] : boxes[-1][2]].strip() if boxes else None


#: What may stand between the parts of a multi-part boxed answer.
_JOINER_TOKENS = re.compile(
    r"\\text\{[^{}\n]{0,24}\}|\\(?:quad|qquad|[,;:! ()\[\]])|\$|[\s,;.&]"
    r"|\b[A-Za-z](?:_\{?\w{1,4}\}?)?\s?="
)
_JOINER_WORDS = frozenset({"and", "or"})


def boxed_answers(text: str) -> list[str]:
    """The last box and the boxes chained to it (multi-part answers), in order; ``[]`` if none."""
    boxes = _boxes(text)
    if not boxes:
        return []
    chain = [boxes[-1]]
    for box in reversed(boxes[:-1]):
        gap = text[box[2] + 1 : chain[0][0]]
        if box[2] >= chain[0][0] or len(gap) > 80:
            break  # nested in the next box, or too far away to be a part of the same answer
        if not set(_JOINER_TOKENS.sub(" ", gap).split()) <= _JOINER_WORDS:
            break
        chain.insert(0, box)
    return [text[start:end].strip() for _, start, end in chain]


def _from_box(content: str, kind: str) -> str | None:
    content = content.strip()
    if not content or len(content) > MAX_ANSWER_CHARS:
        return None
    if kind == "choice":
        return choice_letter(content) or _letter_after_cue(_strip_text_macros(content))
    if kind == "gsm8k":
        numbers = find_numbers(content)
        return normalize_number(numbers[0]) if len(numbers) == 1 else content
    return content


# --------------------------------------------------------------------------------------------
# Answer lines

_CUE = re.compile(
    r"\b(?:final\s+)?answers?(?:\s*\*\*)?\s*(?:\bis\b|[:：=])|####|\bfinal\s*:",
    re.IGNORECASE,
)
#: Where the answer after a cue ends: a sentence end, a clause, a new line.
_CLAUSE_END = re.compile(
    r"\n|\.(?!\d)|[;!?]|,\s+(?=[a-z])|\s(?:because|since|as|so|which|when|where|given|but)\b"
    r"|\bI hope\b"
)


def _cue_remainders(text: str) -> Iterator[str]:
    """What follows each answer cue, last cue first (the next line when the cue ends a line)."""
    for match in reversed(list(_CUE.finditer(text))):
        rest = text[match.end() : match.end() + 2 * MAX_ANSWER_CHARS]
        line, _, after = rest.partition("\n")
        if not line.strip(" *:\t"):
            line = after.lstrip().partition("\n")[0]
        yield line.strip()


def _from_answer_lines(text: str, kind: str) -> str | None:
    for rest in _cue_remainders(text):
        if kind == "choice":
            found = _letter_after_cue(rest)
        elif kind == "gsm8k":
            numbers = find_numbers(_cut(rest))
            found = normalize_number(numbers[0]) if numbers else None
        else:
            found = _cue_answer(rest, kind)
        if found:
            return found
    return None


def _cut(rest: str) -> str:
    """The answer statement after a cue: up to the end of its sentence or clause."""
    rest = rest.strip().lstrip("*:= \t").strip()
    end = _CLAUSE_END.search(rest)
    return rest[: end.start()] if end else rest


def _cue_answer(rest: str, kind: str = "math") -> str | None:
    """A math or text answer after a cue: a math span that starts it, else its first clause
    (after its last " is ": "The volume of $V$ is 120" gives 120); in a clause of prose, its
    first number ("Jane started 3 hours ago" gives 3)."""
    rest = rest.strip().lstrip("*:= \t")
    spans = _math_spans(rest[:MAX_ANSWER_CHARS])
    if spans and spans[0][0] == 0:
        return _bounded(spans[0][2].strip())
    clause = _cut(rest)
    _, is_, after = clause.rpartition(" is ")
    if is_ and after.strip():
        clause = after
    spans = _math_spans(clause)
    if spans and spans[0][0] <= 40:
        return _bounded(spans[0][2].strip())
    clause = clause.strip().strip("*`\"'").rstrip(".").strip()
    if kind == "math" and len(_WORD.findall(_LATEX_COMMAND.sub(" ", clause))) >= 2:
        numbers = find_numbers(clause)
        if numbers:
            return normalize_number(numbers[0])
    return _bounded(clause)


def _bounded(answer: str | None) -> str | None:
    if not answer or len(answer) > MAX_ANSWER_CHARS:
        return None
    return answer


# --------------------------------------------------------------------------------------------
# Math spans: $…$, $$…$$, \(…\), \[…\], each delimiter type scanned once (linear)

_SPAN_OPENERS = {"$$": r"\$\$", "$": r"(?<!\\)\$", "\\(": r"\\\(", "\\[": r"\\\["}
_SPAN_OPEN = re.compile("|".join(_SPAN_OPENERS.values()))
_SPAN_CLOSE = {"$$": "$$", "$": "$", "\\(": "\\)", "\\[": "\\]"}


@lru_cache(maxsize=16)
def _openers_regex(active: frozenset[str]) -> re.Pattern[str] | None:
    parts = [pattern for opener, pattern in _SPAN_OPENERS.items() if opener in active]
    return re.compile("|".join(parts)) if parts else None


def _math_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, content)`` of the math spans of ``text``, in order. Inline ``$…$`` stays on
    one line (as in math-verify). A delimiter type with no closer left is dropped from the search,
    so every character is scanned a bounded number of times (linear)."""
    spans: list[tuple[int, int, str]] = []
    active = frozenset(_SPAN_OPENERS)
    pattern = _SPAN_OPEN
    pos = 0
    while True:
        match = pattern.search(text, pos)
        if match is None:
            return spans
        opener = match.group()
        closer = _SPAN_CLOSE[opener]
        close = text.find(closer, match.end())
        while opener == "$" and close > 0 and text[close - 1] == "\\":
            close = text.find(closer, close + 1)  # \$ is a dollar sign, not a delimiter
        if close < 0:
            active = active - {opener}
            pattern = _openers_regex(active)
            if pattern is None:
                return spans
            pos = match.end()
            continue
        content = text[match.end() : close]
        if opener == "$" and "\n" in content:
            pos = match.end()  # not a span; the closing $ may open the next one
            continue
        spans.append((match.start(), close + len(closer), content))
        pos = close + len(closer)


_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")
_WORD = re.compile(r"[A-Za-z]{3,}")
_MATHY = re.compile(r"[\d=+\-*/^()\\]")


def _bare_expression(text: str) -> str | None:
    """A whole answer that is a short expression (``2x``, ``n(n+1)/2``, ``x = 5``)."""
    answer = text.strip().rstrip(".").strip()
    if not answer or len(answer) > 60 or "\n" in answer or _SPAN_OPEN.search(answer):
        return None
    if _WORD.search(_LATEX_COMMAND.sub(" ", answer)) or not _MATHY.search(answer):
        return None
    return answer


def _last_number(text: str) -> str | None:
    numbers = find_numbers(text)
    return normalize_number(numbers[-1]) if numbers else None


def _last_span_or_number(text: str) -> tuple[str | None, str]:
    spans = [span for span in _math_spans(text) if span[2].strip()]
    numbers = number_matches(text)
    if numbers and (not spans or numbers[-1].end() > spans[-1][1]):
        return normalize_number(numbers[-1].group()), "last_number"
    return (spans[-1][2].strip(), "math_span") if spans else (None, "math_span")


# --------------------------------------------------------------------------------------------
# Option letters

_LETTER = f"[{CHOICE_LETTERS}]"
_GOLD_LETTER = re.compile(
    rf"\s*(?:\\boxed\{{)?\s*(?:\\text(?:bf)?\{{|\\mathrm\{{)?\s*\(?({_LETTER})\)?\s*\}}?\s*\}}?"
    r"\s*[.):]?\s*"
)
_GOLD_LETTER_PREFIX = re.compile(rf"\s*\(?({_LETTER})\)\s+\S")
_LETTER_AFTER_CUE = re.compile(
    rf"(?:[a-z]+\s+){{0,3}}[\s*(\"'`$]*(?:\\text(?:bf)?\{{|\\mathrm\{{)?\s*\(?({_LETTER})"
    r"(?![A-Za-z0-9])"
)
_LETTER_LINE = re.compile(rf"\s*\**\s*\(?({_LETTER})\)?\s*[.):]?\s*\**\s*")
_LETTER_LAST = re.compile(rf"(?<![\w'’-])({_LETTER})[.)]?\**\s*$")
_LETTER_FIRST = re.compile(rf"\s*\**\(?({_LETTER})[.):]\s")
_LETTER_PAREN = re.compile(rf"\(({_LETTER})\)")


def choice_letter(text: str | None) -> str | None:
    """The option letter a short text *is* (``"C"``, ``"(C)"``, ``"C) 42"``, ``\\boxed{C}``,
    ``\\text{(C)}``), else ``None``: the strict reading used for gold answers."""
    if not text:
        return None
    match = _GOLD_LETTER.fullmatch(text) or _GOLD_LETTER_PREFIX.match(text)
    return match.group(1) if match else None


def _strip_text_macros(text: str) -> str:
    return re.sub(r"\\(?:text|textbf|mathrm)\{([^{}]*)\}", r"\1", text)


def _letter_after_cue(rest: str) -> str | None:
    match = _LETTER_AFTER_CUE.match(rest.strip().lstrip("*:= \t"))
    return match.group(1) if match else None


def _last_line(text: str) -> str:
    stripped = text.rstrip()
    return stripped[stripped.rfind("\n") + 1 :]


def _letter_line(text: str) -> str | None:
    match = _LETTER_LINE.fullmatch(_last_line(text))
    return match.group(1) if match else None


def _letter_last(text: str) -> str | None:
    match = _LETTER_LAST.search(_last_line(text)[-200:])
    return match.group(1) if match else None


def _letter_first(text: str) -> str | None:
    match = _LETTER_FIRST.match(text.lstrip()[:20] + " ")
    return match.group(1) if match else None


def _letter_paren(text: str) -> str | None:
    found = _LETTER_PAREN.findall(text)
    return found[-1] if found else None


def lenient_letter(text: str | None) -> str | None:
    """The option letter of a gold answer written with its option text (``"C Cecile"``,
    ``"A Peter"``) or in prose: the strict reading, a leading letter, then the choice rules."""
    if not text:
        return None
    strict = choice_letter(text)
    if strict is not None:
        return strict
    leading = re.match(rf"\s*\(?({_LETTER})[\s.):]", text + " ")
    if leading:
        return leading.group(1)
    return extract(text, "choice").answer


# --------------------------------------------------------------------------------------------


def _text_answer(text: str) -> str | None:
    line = _last_line(text).strip().strip("*").strip()
    return line or None


_FALLBACKS = {
    "bare_expression": _bare_expression,
    "last_number": _last_number,
    "letter_line": _letter_line,
    "letter_last": _letter_last,
    "letter_first": _letter_first,
    "letter_paren": _letter_paren,
    "last_line": _text_answer,
}
