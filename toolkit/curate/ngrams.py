"""The word n-gram scanner behind decontamination: benchmark indexes and a vectorised scan.

Kept apart from the decontamination *step* (:mod:`toolkit.curate.contamination`) because it
is the part that must be fast: 200k training rows against five benchmarks in seconds, where the
plain approach (a Python set of n-gram strings per row, as open-r1's
``scripts/decontaminate.py`` does) runs several times slower. ``benchmarks/decontaminate.py``
measures both on the same rows.

Words are :func:`toolkit.curate.duplicates.normalize_text` words (NFKC, lower case, ``\\w+``
runs), so punctuation, case and spacing changes do not hide a copy. Two kinds of text have fewer
words than they look, and are indexed as shorter word sequences (:attr:`NgramIndex.short`):

* a problem shorter than one n-gram is indexed whole ("Simplify $(-k + 4) + (-2 + 3k)$." holds
  five words, so an 8-gram can never match it);
* a span of ``ngram`` whitespace-separated tokens that holds fewer than ``ngram`` words (a
  formula: ``B = 90^\\circ$, we have $\\sin A =`` is eight tokens but seven words) is indexed by
  the words it holds.

Together these make the scanner flag every row that open-r1's whitespace n-grams flag (a row
holding such a span verbatim holds its words contiguously), while keeping its robustness to
reformatting; ``tests/test_curate.py`` checks that on real MATH-500 problems.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolkit.curate.duplicates import normalize_text

#: A problem shorter than one n-gram is indexed whole only from this many words on: a one-word
#: "problem" would flag every row that uses the word.
MIN_SHORT_WORDS = 2
#: A formula-heavy span is indexed by its words only from this many on: fewer would be generic
#: (``x y``). No 8-token span of GSM8K, MATH-500 or AIME 2024 holds fewer than 4 words, so the
#: floor costs no recall against open-r1's approach on them.
MIN_SPAN_WORDS = 4
_HAS_WORD = re.compile(r"\w", re.UNICODE)


@dataclass
class NgramIndex:
    """Word n-grams of one benchmark's problems (normalised as in :func:`normalize_text`).

    ``short`` holds word sequences shorter than ``ngram``: whole problems of at least
    :data:`MIN_SHORT_WORDS` words, and the words of formula-heavy spans (see the module
    docstring); a row flags when it contains one of them word for word.
    """

    name: str
    ngram: int
    grams: set[str]
    problems: int
    short: set[str] = field(default_factory=set)


def build_ngram_index(name: str, problems: Iterable[str], ngram: int = 8) -> NgramIndex:
    grams: set[str] = set()
    short: set[str] = set()
    count = 0
    for problem in problems:
        count += 1
        words = normalize_text(problem).split()
        if len(words) >= ngram:
            grams.update(" ".join(words[i : i + ngram]) for i in range(len(words) - ngram + 1))
        elif len(words) >= MIN_SHORT_WORDS:
            short.add(" ".join(words))
        short.update(_sparse_spans(problem, ngram))
    return NgramIndex(name, ngram, grams, count, short)


def _sparse_spans(problem: str, ngram: int) -> Iterable[str]:
    """The words of each span of ``ngram`` whitespace tokens that holds fewer than ``ngram``
    (and at least :data:`MIN_SPAN_WORDS`) words."""
    tokens = (problem or "").split()
    if all(_HAS_WORD.search(token) for token in tokens):
        return  # every token holds a word: every span of ngram tokens holds >= ngram words
    per_token = [normalize_text(token).split() for token in tokens]
    for start in range(len(per_token) - ngram + 1):
        span = [word for token in per_token[start : start + ngram] for word in token]
        if MIN_SPAN_WORDS <= len(span) < ngram:
            yield " ".join(span)


_TOKEN_OR_ROW_BREAK = re.compile(r"\w+|\x00", re.UNICODE)
#: ASCII fast path of ``\w+`` tokenisation: every ASCII non-word character except the NUL row
#: break becomes a space, then ``str.split`` (several times faster than ``re.findall``).
_ASCII_NON_WORD = str.maketrans(
    {c: " " for c in map(chr, range(1, 128)) if not (c.isalnum() or c == "_")}
)
_HASH_BASE = 1_000_003
_CHUNK_ROWS = 20_000
_BREAK_ID = 1 << 63
_PREFILTER_BITS = 24


def _tokens_with_breaks(texts: Sequence[str | None], ascii_only: bool) -> list[str]:
    """Normalised words of all texts, rows separated by a ``"\x00"`` token (same tokens as
    :func:`normalize_text` row by row). ``ascii_only`` texts take the fast path
    (``translate`` + ``split``, several times faster than the NFKC + regex path, and
    ``str.translate`` itself is slow on non-ASCII strings)."""
    joined = " \x00 ".join(t or "" for t in texts)
    if ascii_only:
        return joined.lower().translate(_ASCII_NON_WORD).split()
    return _TOKEN_OR_ROW_BREAK.findall(unicodedata.normalize("NFKC", joined).lower())


def _row_groups(texts: Sequence[str | None]) -> list[tuple[list[int] | None, bool]]:
    """The rows of a chunk split into ASCII and other rows (``None``: all rows, in order), so
    that a few accented rows do not send 20,000 ASCII rows down the slow path."""
    ascii_rows = [i for i, text in enumerate(texts) if (text or "").isascii()]
    if len(ascii_rows) == len(texts):
        return [(None, True)]
    ascii_set = set(ascii_rows)
    others = [i for i in range(len(texts)) if i not in ascii_set]
    return [(ascii_rows, True), (others, False)] if ascii_rows else [(None, False)]


@dataclass
class _ScanState:
    texts: Sequence[str | None]
    indexes: Sequence[NgramIndex]
    #: Window lengths to scan: the n-gram size and the length of every short sequence.
    lengths: tuple[int, ...]
    #: Per short length: which word ids start / end a sequence of that length (a cheap filter
    #: that keeps the short lengths from costing a full hash lookup per window).
    edges: dict[int, tuple[Any, Any]]
    lookup: dict[str, int]
    owners: dict[int, list[int]]
    all_hashes: Any
    bitmap: Any


#: Set just before forking scan workers, which inherit it (nothing is pickled).
_FORK_STATE: _ScanState | None = None


def _index_entries(index: NgramIndex, ngram: int) -> Iterable[str]:
    """The strings of ``index`` a scan with window ``ngram`` can match."""
    yield from (gram for gram in index.grams if gram.count(" ") == ngram - 1)
    yield from (whole for whole in index.short if whole.count(" ") < ngram - 1)


def contamination_flags(
    texts: Sequence[str | None],
    indexes: Sequence[NgramIndex],
    ngram: int = 8,
    *,
    num_proc: int | None = 1,
) -> dict[str, list[bool]]:
    """For each index, whether each text shares at least one word n-gram with it (or contains
    one of its problems shorter than an n-gram, whole).

    Vectorised, in chunks of rows: a chunk is tokenised in one pass (rows joined by a NUL break
    token), words are mapped to ids of the benchmark vocabulary (0 for any other word and for the
    break, so a window holding one can never match), every window gets a 64-bit polynomial hash
    in numpy (extended one word at a time, so the short-problem lengths cost one vector pass
    each), a bitmap of the benchmarks' hashes discards almost every window, the rest are looked
    up by binary search, and every hit is confirmed against the exact strings. Same result as
    comparing strings window by window, an order of magnitude faster. ``num_proc > 1`` scans
    chunks in forked processes (Linux; ``None``: the CPU count from 100k rows on). One process
    is the default: the scan already runs at tens of thousands of rows/s and forking pays off
    only on idle multi-core machines.
    """
    import numpy as np

    global _FORK_STATE
    flags = {index.name: [False] * len(texts) for index in indexes}
    if not texts or not indexes:
        return flags
    vocabulary: dict[str, int] = {}
    # Word ids per entry, grouped by length so that each group is hashed as one numpy matrix.
    by_length: dict[int, tuple[list[list[int]], list[int]]] = {}
    for position, index in enumerate(indexes):
        for entry in _index_entries(index, ngram):
            ids = [vocabulary.setdefault(word, len(vocabulary) + 1) for word in entry.split(" ")]
            rows_of, owners_of = by_length.setdefault(len(ids), ([], []))
            rows_of.append(ids)
            owners_of.append(position)
    owners: dict[int, list[int]] = {}
    short_edges: dict[int, Any] = {}
    for length, (id_rows, positions) in by_length.items():
        matrix = np.array(id_rows, dtype=np.uint64)
        for value, position in zip(_hash_rows(matrix).tolist(), positions, strict=True):
            owners.setdefault(value, []).append(position)
        if length < ngram:
            short_edges[length] = matrix
    if not owners:
        return flags
    all_hashes = np.array(sorted(owners), dtype=np.uint64)
    bitmap = np.zeros(1 << _PREFILTER_BITS, dtype=bool)
    bitmap[all_hashes & np.uint64((1 << _PREFILTER_BITS) - 1)] = True
    edges = {}
    for length, matrix in short_edges.items():
        starts_ok = np.zeros(len(vocabulary) + 1, dtype=bool)
        ends_ok = np.zeros(len(vocabulary) + 1, dtype=bool)
        starts_ok[matrix[:, 0]] = True
        ends_ok[matrix[:, -1]] = True
        edges[length] = (starts_ok, ends_ok)
    state = _ScanState(
        texts,
        indexes,
        tuple(sorted({ngram, *short_edges})),
        edges,
        {**vocabulary, "\x00": _BREAK_ID},
        owners,
        all_hashes,
        bitmap,
    )
    firsts = list(range(0, len(texts), _CHUNK_ROWS))
    if num_proc is None:
        num_proc = (os.cpu_count() or 1) if len(texts) >= 5 * _CHUNK_ROWS else 1
    num_proc = min(num_proc, len(firsts))
    if num_proc > 1 and sys.platform.startswith("linux"):
        import multiprocessing

        _FORK_STATE = state
        try:
            with multiprocessing.get_context("fork").Pool(num_proc) as pool:
                results = pool.map(_scan_forked_chunk, firsts, chunksize=1)
        finally:
            _FORK_STATE = None
    else:
        results = [_scan_chunk(state, first) for first in firsts]
    for hits in results:
        for position, row in hits:
            flags[indexes[position].name][row] = True
    return flags


def _scan_forked_chunk(first: int) -> list[tuple[int, int]]:
    assert _FORK_STATE is not None
    return _scan_chunk(_FORK_STATE, first)


def _scan_chunk(state: _ScanState, first: int) -> list[tuple[int, int]]:
    """(benchmark position, row) pairs with a confirmed match, for one chunk of rows."""
    chunk = state.texts[first : first + _CHUNK_ROWS]
    hits: set[tuple[int, int]] = set()
    for rows, ascii_only in _row_groups(chunk):
        texts = chunk if rows is None else [chunk[i] for i in rows]
        tokens = _tokens_with_breaks(texts, ascii_only)
        for position, local in _scan_tokens(state, tokens):
            hits.add((position, first + (local if rows is None else rows[local])))
    return sorted(hits)


def _scan_tokens(state: _ScanState, tokens: list[str]) -> set[tuple[int, int]]:
    """(benchmark position, row within ``tokens``) pairs with a confirmed match."""
    import numpy as np

    size = len(tokens)
    if size < state.lengths[0]:
        return set()
    ids = np.fromiter(
        map(state.lookup.get, tokens, itertools.repeat(0)), dtype=np.uint64, count=size
    )
    breaks = ids == np.uint64(_BREAK_ID)
    rows = np.cumsum(breaks)
    ids[breaks] = 0
    zeros = np.concatenate([[0], np.cumsum(ids == 0)])
    base = np.uint64(_HASH_BASE)
    mask = np.uint64((1 << _PREFILTER_BITS) - 1)
    hits: set[tuple[int, int]] = set()
    hashes = np.zeros(size, dtype=np.uint64)
    for length in range(1, state.lengths[-1] + 1):
        windows = size - length + 1
        if windows <= 0:
            break
        # hashes[s] is now the hash of ids[s : s + length] (uint64 arithmetic wraps mod 2^64).
        hashes = hashes[:windows] * base + ids[length - 1 : length - 1 + windows]
        if length not in state.lengths:
            continue
        usable = (zeros[length : length + windows] - zeros[:windows]) == 0
        if length in state.edges:
            starts_ok, ends_ok = state.edges[length]
            usable &= starts_ok[ids[:windows]] & ends_ok[ids[length - 1 : length - 1 + windows]]
        starts = np.nonzero(usable)[0]
        if not len(starts):
            continue
        window_hashes = hashes[starts]
        candidates = np.nonzero(state.bitmap[window_hashes & mask])[0]
        found = np.searchsorted(state.all_hashes, window_hashes[candidates])
        found = found.clip(max=len(state.all_hashes) - 1)
        exact = candidates[state.all_hashes[found] == window_hashes[candidates]]
        window_rows = rows[starts[exact]].tolist()
        for window, start, row in zip(
            exact.tolist(), starts[exact].tolist(), window_rows, strict=True
        ):
            # A contaminated row matches in many windows: confirm each (benchmark, row) once.
            pending = [p for p in state.owners[int(window_hashes[window])] if (p, row) not in hits]
            if not pending:
                continue
            gram = " ".join(tokens[start : start + length])
            for position in pending:
                index = state.indexes[position]
                if gram in index.grams or gram in index.short:
                    hits.add((position, row))
    return hits


def _hash_rows(matrix: Any) -> Any:
    """The polynomial hash of each row of word ids (the same hash the scan computes for its
    windows: uint64 arithmetic wrapping mod 2^64)."""
    import numpy as np

    hashes = np.zeros(len(matrix), dtype=np.uint64)
    base = np.uint64(_HASH_BASE)
    for column in range(matrix.shape[1]):
        hashes = hashes * base + matrix[:, column]
    return hashes


__all__ = [
    "MIN_SHORT_WORDS",
    "MIN_SPAN_WORDS",
    "NgramIndex",
    "build_ngram_index",
    "contamination_flags",
]
