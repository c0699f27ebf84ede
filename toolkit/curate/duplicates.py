"""Duplicate removal: exact (normalised text) and near duplicates (MinHash with LSH banding).

Exact duplicates are common when several sources are merged (the same problem and trace in two
datasets); near duplicates are traces that differ in a word or two. Both are removed keeping the
first occurrence, so the order of the input decides which copy survives.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from toolkit.curate.defaults import NEAR_DUP_THRESHOLD, NUM_PERM, TEXT_FIELDS
from toolkit.curate.report import CurationReport, apply_reasons, require_column
from toolkit.errors import UsageError
from toolkit.tables import column_values

if TYPE_CHECKING:
    import datasets

_WORD = re.compile(r"\w+", re.UNICODE)


def normalize_text(text: str | None) -> str:
    """Case-, whitespace- and punctuation-insensitive form used for duplicate keys and n-grams."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_WORD.findall(text))


def _dedup_texts(dataset: datasets.Dataset, fields: Sequence[str]) -> list[str]:
    for name in fields:
        require_column(dataset, name, "dedup")
    columns = [column_values(dataset, name) for name in fields]
    return ["\x1f".join(normalize_text(v) for v in values) for values in zip(*columns, strict=True)]


def dedup(
    dataset: datasets.Dataset,
    *,
    fields: Sequence[str] = TEXT_FIELDS,
    near: bool = False,
    threshold: float = NEAR_DUP_THRESHOLD,
    num_perm: int = NUM_PERM,
    shingle: int = 5,
    seed: int = 0,
    allow_empty: bool = False,
) -> tuple[datasets.Dataset, CurationReport]:
    """Remove duplicates, keeping the first occurrence.

    Exact: rows whose ``fields`` are equal after :func:`normalize_text` (a BLAKE2b key).
    ``near=True`` also removes rows whose word ``shingle``-gram Jaccard similarity to an earlier
    kept row is estimated ≥ ``threshold`` by MinHash (``num_perm`` permutations) with LSH banding;
    a candidate pair from LSH is confirmed on the full signatures before a row is dropped.
    ``fields=("problem",)`` keeps one trace per problem.
    """
    texts = _dedup_texts(dataset, fields)
    seen: set[bytes] = set()
    reasons: list[str | None] = []
    for text in texts:
        key = hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()
        if key in seen:
            reasons.append("exact_duplicate")
        else:
            seen.add(key)
            reasons.append(None)
    notes: list[str] = []
    if near:
        candidates = [i for i, r in enumerate(reasons) if r is None]
        index = MinHashLSH(threshold=threshold, num_perm=num_perm, seed=seed)
        for row in candidates:
            signature = index.signature(_shingles(texts[row], shingle))
            if index.query(signature):
                reasons[row] = "near_duplicate"
            else:
                index.insert(row, signature)
        notes.append(f"MinHash LSH: {index.bands} bands x {index.rows} rows")
    params = {
        "fields": list(fields),
        "near": near,
        "threshold": threshold if near else None,
        "num_perm": num_perm if near else None,
        "shingle": shingle if near else None,
    }
    return apply_reasons(dataset, "dedup", reasons, params, notes, allow_empty=allow_empty)


def _shingles(text: str, size: int) -> list[int]:
    words = text.split()
    if len(words) <= size:
        return [zlib.crc32(" ".join(words).encode("utf-8"))]
    return [
        zlib.crc32(" ".join(words[i : i + size]).encode("utf-8"))
        for i in range(len(words) - size + 1)
    ]


class MinHashLSH:
    """A small MinHash + LSH index in numpy.

    Shingles are CRC32 values (< 2^32); the permutations are ``(a * x + b) mod p`` with the prime
    ``p = 2^32 - 5`` and ``a, b < p``, so every product fits in uint64 without overflow. The
    band/row split minimises false positives plus false negatives around the threshold (the
    usual S-curve optimisation); candidates from a band collision are confirmed on the full
    signatures, so the Jaccard estimate, not a single band, decides.
    """

    PRIME = (1 << 32) - 5

    def __init__(
        self, threshold: float = NEAR_DUP_THRESHOLD, num_perm: int = NUM_PERM, seed: int = 0
    ) -> None:
        import numpy as np

        if not 0.0 < threshold <= 1.0:
            raise UsageError(f"threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self.num_perm = num_perm
        rng = np.random.default_rng(seed)
        self._a = rng.integers(1, self.PRIME, size=(num_perm, 1), dtype=np.uint64)
        self._b = rng.integers(0, self.PRIME, size=(num_perm, 1), dtype=np.uint64)
        self.bands, self.rows = _optimal_bands(threshold, num_perm)
        self._tables: list[dict[bytes, list[int]]] = [{} for _ in range(self.bands)]
        self._signatures: dict[int, Any] = {}

    def signature(self, shingles: Iterable[int]) -> Any:
        import numpy as np

        values = np.fromiter(shingles, dtype=np.uint64)[None, :]
        hashed = (self._a * values + self._b) % np.uint64(self.PRIME)
        return hashed.min(axis=1)

    def _band_keys(self, signature: Any) -> list[bytes]:
        return [
            signature[band * self.rows : (band + 1) * self.rows].tobytes()
            for band in range(self.bands)
        ]

    def query(self, signature: Any) -> list[int]:
        """Earlier keys whose estimated Jaccard similarity is ≥ the threshold."""
        candidates: set[int] = set()
        for table, key in zip(self._tables, self._band_keys(signature), strict=True):
            candidates.update(table.get(key, ()))
        return [
            key
            for key in sorted(candidates)
            if float((self._signatures[key] == signature).mean()) >= self.threshold
        ]

    def insert(self, key: int, signature: Any) -> None:
        self._signatures[key] = signature
        for table, band_key in zip(self._tables, self._band_keys(signature), strict=True):
            table.setdefault(band_key, []).append(key)


def _optimal_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """The (bands, rows) split of ``num_perm`` minimising FP + FN probability mass."""

    def integrate(f: Callable[[float], float], a: float, b: float, steps: int = 100) -> float:
        width = (b - a) / steps
        return sum(f(a + (i + 0.5) * width) for i in range(steps)) * width

    best, best_error = (1, num_perm), math.inf
    for bands in range(1, num_perm + 1):
        rows = num_perm // bands
        if rows == 0:
            break
        false_pos = integrate(lambda s, r=rows, b=bands: 1 - (1 - s**r) ** b, 0.0, threshold)
        false_neg = integrate(lambda s, r=rows, b=bands: (1 - s**r) ** b, threshold, 1.0)
        if false_pos + false_neg < best_error:
            best, best_error = (bands, rows), false_pos + false_neg
    return best


__all__ = ["MinHashLSH", "dedup", "normalize_text"]
