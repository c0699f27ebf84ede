"""Auto-detection that never guesses: every format is scored on the columns *and* on a sample of
converted rows, and anything short of one clear winner is refused with the candidates listed.

Why content checks: column names alone are ambiguous. GSM8K's ``question``/``answer`` also fit
LIMO and AIME tables; any chat table fits ``messages``. Before this module, ``auto`` picked by
column overlap and then alphabetical order, and quarantined every row of the wrong guess (LIMO as
``gsm8k``: "no '#### N'"), or silently trained on the wrong column (R1-Distill-SFT v1 as
``messages``, whose ``messages`` are *not* the R1 traces).

The procedure (:func:`detect`):

1. Candidates are the registered formats whose required columns are present (``fit`` = the
   column score of :meth:`Format.fit_score`).
2. Each candidate converts the same sample of rows (up to :data:`SAMPLE_ROWS`, spread over the
   table). It passes when at least half of the sampled rows convert (no ``####``, no assistant
   turn… fail here) and, for formats whose sources always carry thinking, when some record has
   reasoning (no markers where expected).
3. Columns that hold reasoning traces are found from the sample (``<think>``-style markers, or a
   reasoning-like name with long text). A candidate that would leave such a column out of the
   SFT target fails, unless it names the option that reads it (s1K's other teacher).
4. Generic formats (``messages``) compete only when no dataset-specific format passes. The winner
   must have the highest column score alone; a tie is refused, never broken by name.

The score printed for a candidate is ``fit × (sampled rows converted / sampled rows)``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from toolkit.formats.base import REGISTRY, AmbiguousFormatError, Format, FormatError

if TYPE_CHECKING:
    import datasets

SAMPLE_ROWS = 32
#: A candidate passes its content check when at least this share of sampled rows converts.
MIN_PASS_RATE = 0.5
_MARKERS = ("</think>", "<think>", "<|begin_of_thought|>", "<|end_of_thought|>")
_TRACE_NAME = re.compile(r"reason|think|thought|trajector|generation|reannotated", re.IGNORECASE)
_SYSTEM_NAME = re.compile(r"(^|_)system($|_)", re.IGNORECASE)
_LONG_TEXT = 200  # characters: a reasoning-named column with text this long is a trace
CHOOSE_HINT = (
    "choose the format: `toolkit normalize FORMAT DATA` (or --format FORMAT; Python: "
    "normalize('FORMAT', data)), or map the columns yourself: `toolkit normalize columns DATA "
    "--problem COL --answer COL [--reasoning COL] [--gold COL]`; `toolkit normalize --inspect "
    "DATA` shows what each column holds"
)


@dataclass
class Candidate:
    """One format scored against the data."""

    name: str
    fit: int
    rows: int = 0
    converted: int = 0
    with_reasoning: int = 0
    problems: list[str] = field(default_factory=list)
    alternatives: dict[str, str] = field(default_factory=dict)
    generic: bool = False

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def score(self) -> float:
        return round(self.fit * (self.converted / self.rows if self.rows else 1.0), 2)

    def line(self) -> str:
        """``numina (score 4.0, 32/32 rows)`` or with the reason it fails."""
        text = f"{self.name} (score {self.score:g}"
        if self.rows:
            text += f", {self.converted}/{self.rows} sampled rows convert"
        text += ")"
        if self.problems:
            text += ": " + "; ".join(self.problems)
        return text


@dataclass
class Detection:
    """The chosen format and everything that led to it (``toolkit normalize --inspect``)."""

    format: str
    candidates: list[Candidate]
    trace_columns: list[str]
    read_columns: list[str]
    metadata_columns: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        for candidate in self.candidates:
            if candidate.name == self.format:
                return candidate.score
        return 0.0


def _has_markers(value: Any, depth: int = 0) -> bool:
    """Thinking markers anywhere in a value, except in system turns (the Sky-T1 system prompt
    *names* the markers; it is an instruction, not a trace)."""
    if isinstance(value, str):
        return "<" in value and any(marker in value for marker in _MARKERS)
    if depth > 3:
        return False
    if isinstance(value, list):
        return any(_has_markers(item, depth + 1) for item in value)
    if isinstance(value, dict):
        if (value.get("role") or value.get("from")) == "system":
            return False
        return any(_has_markers(item, depth + 1) for item in value.values())
    return False


def _text_length(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(len(item) for item in value if isinstance(item, str))
    return 0


def trace_columns(sample: dict[str, list[Any]]) -> list[str]:
    """Columns of a sample (column → values) that hold reasoning traces: any value with thinking
    markers, or a reasoning-like name (``reasoning``, ``*_thinking_trajectory``,
    ``generations``…) with long text. Short values under such names (Nemotron's
    ``reasoning: "on"``, ``finish_reasons``) are flags, not traces."""
    found = []
    for name, values in sample.items():
        present = [v for v in values if v is not None]
        if not present or _SYSTEM_NAME.search(name):
            continue
        if any(_has_markers(v) for v in present):
            found.append(name)
        elif _TRACE_NAME.search(name):
            lengths = [_text_length(v) for v in present]
            if sum(lengths) / len(lengths) >= _LONG_TEXT:
                found.append(name)
    return found


def _sample(table: datasets.Dataset, rows: int = SAMPLE_ROWS) -> tuple[Any, list[int]]:
    """Up to ``rows`` rows spread over the table (first rows are often unrepresentative), as an
    Arrow table, with their row indices."""
    size = len(table)
    if size <= rows:
        indices = list(range(size))
    else:
        step = size / rows
        indices = sorted({int(k * step) for k in range(rows)})
    return table.select(indices).with_format("arrow")[:], indices


def _check(
    fmt: Format, sample: Any, indices: list[int], features: Any, candidate: Candidate
) -> None:
    """Convert the sample with ``fmt`` and record how it went on ``candidate``."""
    from toolkit.formats.records import Batch, Records, decoding_features

    batch = Batch(sample, indices, decoding_features(features))
    out = Records(batch, "detect", None, False, fmt.domain)
    try:
        fmt.prepare(sample)
        fmt.convert(batch, out)
    except Exception as error:  # a format meeting foreign data must not crash detection
        candidate.problems.append(f"cannot read these rows ({type(error).__name__}: {error})")
        return
    kept, skipped, failed = set(), set(), Counter()
    for row in out.rows:
        problem, reasoning, position, q_field, q_reason = row[0], row[1], row[8], row[11], row[12]
        if problem is not None:
            kept.add(position)
            candidate.with_reasoning += reasoning is not None
        elif q_field is None:
            skipped.add(position)
        else:
            failed[f"{q_field}: {q_reason}"] += 1
    candidate.rows = sample.num_rows
    candidate.converted = len(kept | skipped)
    if candidate.converted < MIN_PASS_RATE * candidate.rows or not candidate.converted:
        reason, count = failed.most_common(1)[0] if failed else ("no records", candidate.rows)
        candidate.problems.append(f"{reason} ({count} of {candidate.rows} sampled rows)")
    elif type(fmt).expects_reasoning and kept and not candidate.with_reasoning:
        candidate.problems.append(
            f"no thinking in any of {len(kept)} sampled rows, though {fmt.name} sources always "
            "carry it"
        )


def score_formats(
    table: datasets.Dataset, formats: Sequence[type[Format]] | None = None
) -> tuple[list[Candidate], list[str]]:
    """Every fitting format scored on ``table`` (best first), and the trace columns found."""
    columns = list(table.column_names)
    sample, indices = _sample(table)
    traces = trace_columns({name: sample.column(name).to_pylist() for name in columns})
    candidates = []
    for cls in formats if formats is not None else REGISTRY.values():
        if cls.explicit_only:
            continue
        fmt = cls()
        fit = fmt.fit_score(columns)
        if fit == 0:
            continue
        candidate = Candidate(cls.name, fit, generic=cls.generic)
        _check(fmt, sample, indices, table.features, candidate)
        candidate.alternatives = fmt.alternative_traces(columns)
        ignored = [
            name
            for name in traces
            if name not in fmt.read_columns(columns) and name not in candidate.alternatives
        ]
        if ignored:
            candidate.problems.append(
                f"ignores the reasoning trace in column(s) {', '.join(ignored)}"
            )
        candidates.append(candidate)
    candidates.sort(key=lambda c: (c.passed, not c.generic, c.fit, c.score), reverse=True)
    return candidates, traces


def detect(table: datasets.Dataset, source: str = "the input") -> Detection:
    """The format of ``table``, or :class:`AmbiguousFormatError` / :class:`FormatError` listing
    the candidates and how to choose (see the module docstring for the rules)."""
    columns = list(table.column_names)
    candidates, traces = score_formats(table)
    if not candidates:
        raise no_fit_error(columns)
    passed = [c for c in candidates if c.passed]
    specific = [c for c in passed if not c.generic]
    pool = specific or passed
    listing = "; ".join(c.line() for c in candidates)
    if not pool:
        raise AmbiguousFormatError(
            f"no format fits {source}: {listing}", hint=CHOOSE_HINT, candidates=candidates
        )
    best = pool[0]
    tied = [c.name for c in pool if c.fit == best.fit]
    if len(tied) > 1:
        raise AmbiguousFormatError(
            f"cannot tell the format of {source}: {', '.join(tied)} fit equally well "
            f"(candidates: {listing})",
            hint=CHOOSE_HINT,
            candidates=candidates,
        )
    return describe(REGISTRY[best.name](), columns, candidates, traces)


def describe(
    fmt: Format, columns: Sequence[str], candidates: list[Candidate], traces: list[str]
) -> Detection:
    """What ``fmt`` will do with ``columns``: read, keep in metadata, or leave a trace unused."""
    read = sorted(fmt.read_columns(columns))
    notes = []
    alternatives = fmt.alternative_traces(columns)
    for name in traces:
        if name in alternatives:
            notes.append(f"column {name} also holds reasoning; {alternatives[name]} reads it")
        elif name not in read:
            readers = [c.name for c in candidates if c.passed and c.name != fmt.name]
            hint = f"; format {' or '.join(readers)} reads it" if readers else ""
            notes.append(
                f"{fmt.name} leaves the reasoning trace in column {name} out of the SFT target "
                f"(it is kept in metadata){hint}"
            )
    return Detection(
        format=fmt.name,
        candidates=candidates,
        trace_columns=traces,
        read_columns=read,
        metadata_columns=fmt.metadata_columns(list(columns)),
        notes=notes,
    )


def explain(fmt: Format, table: datasets.Dataset) -> Detection:
    """:class:`Detection` for a format the user chose: its columns, and any trace it leaves
    out (reported, since the user may not know the column is there)."""
    sample, _ = _sample(table)
    columns = list(table.column_names)
    traces = trace_columns({name: sample.column(name).to_pylist() for name in columns})
    unread = [name for name in traces if name not in fmt.read_columns(columns)]
    candidates = score_formats(table)[0] if unread else []
    if not any(c.name == fmt.name for c in candidates):
        candidates.append(Candidate(fmt.name, fmt.fit_score(columns)))
    return describe(fmt, columns, candidates, traces)


def requirements(cls: type[Format]) -> str:
    return ", ".join(r if isinstance(r, str) else "|".join(r) for r in cls.required) or "options"


def no_fit_error(columns: Sequence[str]) -> FormatError:
    return FormatError(
        f"no known format fits the columns {', '.join(columns) or '(none)'}; "
        + "; ".join(
            f"{name} needs {requirements(REGISTRY[name])}"
            for name in sorted(REGISTRY)
            if not REGISTRY[name].explicit_only
        ),
        hint=CHOOSE_HINT,
    )


def detect_columns(columns: Sequence[str]) -> str:
    """Column-only detection (no data to check): the unique best column fit among specific
    formats, else among generic ones; a tie is refused."""
    scored = [
        (cls().fit_score(columns), cls.generic, name)
        for name, cls in REGISTRY.items()
        if not cls.explicit_only
    ]
    scored = [s for s in scored if s[0] > 0]
    if not scored:
        raise no_fit_error(columns)
    pool = [s for s in scored if not s[1]] or scored
    best = max(s[0] for s in pool)
    tied = sorted(name for fit, _, name in pool if fit == best)
    if len(tied) > 1:
        raise AmbiguousFormatError(
            f"the columns {', '.join(columns)} fit {', '.join(tied)} equally well",
            hint=CHOOSE_HINT,
        )
    return tied[0]
