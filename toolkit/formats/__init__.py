"""Source formats → the one trace schema: :func:`normalize`, :func:`detect_format`, the registry.

Every reasoning dataset marks its problem, thinking and answer differently. A *format* knows one
family of datasets (its columns and markers) and turns each source row into schema records
(:mod:`toolkit.schema`). :func:`normalize` loads the data (Hub id, local file, ``Dataset`` or
``DataFrame``), runs the format over Arrow batches with ``Dataset.map(batched=True, num_proc=...)``
and splits off the rows it could not parse into a *quarantine* dataset, with the row index, the
field and the reason, so that nothing is dropped silently.

Built-in formats (``toolkit normalize --help`` lists them too)::

    bespoke   Bespoke-Stratos-17k, OpenThoughts-114k: system + conversations[{from, value}]
    magpie    Magpie-Reasoning-V2 CoT-DeepSeek-R1: instruction + response with <think>
    numina    NuminaMath-CoT / -TIR / -1.5: problem + solution (+ answer)
    openr1    OpenR1-Math-220k: one record per generation (generations="all"|"verified")
    s1k       s1K / s1K-1.1: question + thinking trajectory + attempt (teacher="auto"|...)
    gsm8k     GSM8K: question + answer ending in "#### N"
    math500   MATH-500: problem + solution + answer + subject + level
    messages  any chat dataset: messages / conversations with role/content or from/value

How to add a format
-------------------
1. Create ``toolkit/formats/<name>.py`` with a :class:`Format` subclass decorated with
   :func:`register_format`. Set ``name`` and ``description``; ``required`` (columns that must
   exist — a tuple inside means "any one of these spellings"); optionally ``signature`` (columns
   that make auto-detection prefer this format) and ``priority`` (tie-break); ``consumed``
   (columns turned into schema fields, or merely repeating them — every *other* column is kept in
   ``metadata``); ``hub_ids`` (Hub ids that ``normalize(hub_id)`` maps to the format) with
   ``hub_defaults`` (their config/split where ``load_dataset`` needs one); the default
   ``domain``; and ``options`` (keyword options with their defaults, validated for you).
2. Implement ``convert(self, batch, out)``: read columns with ``batch.column(name)`` (a Python
   list per Arrow batch) and call ``out.add(i, problem, answer, reasoning, reasoning_complete,
   final_answer, gold_answer, system=..., domain=..., extra=...)`` per record (several per row
   are fine; ``out.add_split(i, problem, split, gold_answer, ...)`` takes a completion split by
   :func:`toolkit.thinking.split_thinking` as it is), ``out.reject(i, field, reason)`` for a row
   that cannot be parsed, or ``out.skip(i, reason)`` for a candidate an option leaves out on
   purpose. ``require_text`` /
   ``optional_text`` raise :class:`BadRow` with the field and reason for null or mistyped values.
   Split completions with :func:`toolkit.thinking.split_thinking`; never build ids, messages or
   metadata yourself: :class:`Records` does that for every format alike, column-wise.
3. Import the module at the bottom of this file, add a hand-written fixture under
   ``tests/fixtures/formats/`` and assert its exact split in ``tests/test_formats.py``.

A format defined outside the package works the same way: decorate it with
:func:`register_format` in your own code, or pass an instance (``normalize(QAFormat(), data)``).

Example::

    @register_format
    class QAFormat(Format):
        name = "qa"
        description = "question + reasoning + answer columns"
        required = ("question", "answer")
        consumed = ("question", "reasoning", "answer")

        def convert(self, batch, out):
            for i, (question, reasoning, answer) in enumerate(zip(
                batch.column("question"), batch.column("reasoning"), batch.column("answer")
            )):
                try:
                    problem = require_text(question, "question")
                except BadRow as bad:
                    out.reject(i, bad.field, bad.reason)
                    continue
                split = split_thinking(answer, reasoning=reasoning)
                out.add_split(i, problem, split)  # final_answer: the last \\boxed{} by default
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets

from toolkit.formats.arrow_json import JSON_ENCODER
from toolkit.formats.base import (
    MAP_FEATURES,
    QUARANTINE_COLUMNS,
    QUARANTINE_FEATURES,
    REGISTRY,
    BadRow,
    Batch,
    Converter,
    Format,
    FormatError,
    Records,
    get_format,
    hub_defaults,
    hub_id_formats,
    optional_text,
    register_format,
    require_text,
)
from toolkit.schema import COLUMNS, FEATURES

logger = logging.getLogger(__name__)


@dataclass
class NormalizeSummary:
    """What one :func:`normalize` run kept, quarantined (by reason) and deliberately skipped."""

    format: str
    source: str
    kept: int
    quarantined: int
    reasons: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        """``kept N, quarantined M: field: reason (count), …`` (the run's last log line)."""
        text = f"kept {self.kept}, quarantined {self.quarantined}"
        if self.reasons:
            text += ": " + ", ".join(
                f"{reason} ({count})" for reason, count in Counter(self.reasons).most_common()
            )
        if self.skipped:
            text += "; skipped " + ", ".join(
                f"{count} {reason}" for reason, count in Counter(self.skipped).most_common()
            )
        return text

    def __str__(self) -> str:
        return self.line()


class NormalizeResult(tuple):
    """``(dataset, quarantine)`` as returned with ``return_quarantine=True``, plus ``.summary``."""

    summary: NormalizeSummary

    def __new__(
        cls, dataset: datasets.Dataset, quarantine: datasets.Dataset, summary: NormalizeSummary
    ) -> NormalizeResult:
        result = super().__new__(cls, (dataset, quarantine))
        result.summary = summary
        return result

    @property
    def dataset(self) -> datasets.Dataset:
        return self[0]

    @property
    def quarantine(self) -> datasets.Dataset:
        return self[1]


def format_names() -> list[str]:
    return sorted(REGISTRY)


def detect_format(columns: Iterable[str] | datasets.Dataset) -> str:
    """The registered format that fits ``columns`` most specifically (``FormatError`` if none)."""
    names = list(columns.column_names if isinstance(columns, datasets.Dataset) else columns)
    scored = sorted(
        ((cls().fit_score(names), cls.priority, name) for name, cls in REGISTRY.items()),
        reverse=True,
    )
    best_score, _, best = scored[0]
    if best_score == 0:
        raise FormatError(
            f"no known format fits the columns {', '.join(names) or '(none)'}; "
            + "; ".join(f"{n} needs {_requirements(REGISTRY[n])}" for n in format_names())
        )
    return best


def fitting_formats(columns: Iterable[str]) -> list[str]:
    """Every registered format whose required columns are all in ``columns``."""
    names = list(columns)
    return [name for name, cls in REGISTRY.items() if not cls().missing_columns(names)]


def _requirements(cls: type[Format]) -> str:
    return ", ".join(r if isinstance(r, str) else "|".join(r) for r in cls.required)


def _resolve(name_or_format: str | Format, data: Any) -> tuple[str | Format, Any]:
    """(format name or instance, data) from the two leading arguments of :func:`normalize`."""
    if isinstance(name_or_format, Format):
        if data is None:
            raise FormatError("normalize(format_instance, data): data is required")
        return name_or_format, data
    known_ids = hub_id_formats()
    name = str(name_or_format)
    if name in REGISTRY or name == "auto":
        if data is None:
            raise FormatError(
                f"normalize({name!r}) needs data: a Hub dataset id, a local path, a Dataset "
                "or a DataFrame"
            )
        return name, data
    hub_format = known_ids.get(name.partition(":")[0].lower())
    if hub_format is not None:
        return hub_format, name if data is None else data
    raise FormatError(
        f"{name!r} is neither a format ({', '.join(format_names())}, auto) nor a known Hub "
        "dataset id; pass a format name and the data, e.g. normalize('auto', 'org/name')"
    )


def _source_name(data: Any, revision: str | None) -> str:
    """``"<name>@<revision>"``: the Hub id (with config), or the file/dataset name."""
    if isinstance(data, str) and not os.path.exists(data):
        return f"{data}@{revision}" if revision else data
    from toolkit.io import describe_source

    return describe_source(data, revision)


def normalize(
    name_or_format: str | Format,
    data: Any = None,
    *,
    split: str | None = None,
    revision: str | None = None,
    limit: int | None = None,
    strict: bool = False,
    num_proc: int | None = None,
    return_quarantine: bool = False,
    batch_size: int = 1000,
    source: str | None = None,
    domain: str | None = None,
    progress: bool | None = None,
    **options: Any,
) -> datasets.Dataset | NormalizeResult:
    """Normalize a reasoning dataset into the trace schema (:data:`toolkit.schema.FEATURES`).

    Args:
        name_or_format: a format name (see the module docstring), ``"auto"`` to detect it from
            the columns, a :class:`Format` instance, or — with ``data`` left out — a known Hub
            dataset id such as ``"open-r1/OpenR1-Math-220k"``.
        data: a Hub dataset id (``org/name`` or ``org/name:config``), a local file or directory
            (JSONL/JSON/Parquet/CSV/Arrow), a ``datasets.Dataset`` or a pandas ``DataFrame``.
        split, revision, limit: passed to :func:`toolkit.io.load_table`; ``revision`` also ends
            up in the ``source`` column (``"<name>@<revision>"``).
        strict: raise ``ValueError`` naming row, field and reason at the first bad row instead
            of quarantining it (runs in one process, so that "first" means first).
        num_proc: worker processes for ``Dataset.map``.
        return_quarantine: return a :class:`NormalizeResult` ``(dataset, quarantine)`` with
            ``.summary``, instead of the dataset alone. The quarantine has the columns
            ``row, source, field, reason, raw`` (``raw`` is the source row as JSON).
        batch_size: rows per Arrow batch handed to the format.
        source: override the ``source`` column.
        domain: override the ``domain`` of every record.
        progress: show the ``map`` progress bar (default: datasets' global setting).
        **options: format options (``generations="verified"`` for openr1, ``teacher=`` for s1k,
            ``column=`` for messages).

    Raises:
        FormatError: unknown format or option, or missing columns (the message names the
            missing columns and the formats that would fit the columns present).
        ValueError: with ``strict=True``, at the first bad row.
    """
    fmt_or_name, data = _resolve(name_or_format, data)
    from toolkit.io import load_table

    if isinstance(data, str) and ":" not in data and not os.path.exists(data):
        defaults = hub_defaults(data)  # e.g. GSM8K needs its "main" config, MATH-500 is test-only
        if "config" in defaults:
            data = f"{data}:{defaults['config']}"
        split = split or defaults.get("split")
    table = load_table(data, split=split, revision=revision, limit=limit)
    columns = list(table.column_names)
    if isinstance(fmt_or_name, Format):
        fmt = fmt_or_name
    else:
        name = detect_format(columns) if fmt_or_name == "auto" else fmt_or_name
        fmt = get_format(name)(**options)
    missing = fmt.missing_columns(columns)
    if missing:
        fits = [n for n in fitting_formats(columns) if n != fmt.name]
        raise FormatError(
            f"format {fmt.name!r} needs column(s) {', '.join(missing)} which the input lacks "
            f"(it has: {', '.join(columns) or 'none'}); formats that fit these columns: "
            f"{', '.join(fits) or 'none'}"
        )
    source_name = source or _source_name(data, revision)
    converter = Converter(
        fmt, columns, source=source_name, domain=domain, strict=strict, features=table.features
    )

    if len(table) == 0:
        mapped = datasets.Dataset.from_dict(
            {name: [] for name in MAP_FEATURES}, features=MAP_FEATURES
        )
    else:
        disabled = progress is False and datasets.is_progress_bar_enabled()
        if disabled:
            datasets.disable_progress_bars()
        try:
            mapped = table.with_format("arrow").map(
                converter,
                new_fingerprint=_map_fingerprint(table, fmt, converter, batch_size),
                batched=True,
                batch_size=batch_size,
                with_indices=True,
                num_proc=None if strict or (num_proc or 1) <= 1 else num_proc,
                remove_columns=columns,
                features=MAP_FEATURES,
                desc=f"normalize {fmt.name}",
            )
        finally:
            if disabled:
                datasets.enable_progress_bars()
        mapped = mapped.with_format(None)

    dataset, quarantine, skipped = _split_quarantine(mapped, source_name)
    reasons = Counter(
        f"{field_name}: {reason}"
        for field_name, reason in zip(quarantine["field"], quarantine["reason"], strict=True)
    )
    summary = NormalizeSummary(
        format=fmt.name,
        source=source_name,
        kept=len(dataset),
        quarantined=len(quarantine),
        reasons=dict(reasons),
        skipped=dict(skipped),
    )
    (logger.warning if summary.quarantined else logger.info)(
        "%s (%s, format %s)", summary.line(), source_name, fmt.name
    )
    if return_quarantine:
        return NormalizeResult(dataset, quarantine, summary)
    return dataset


@functools.cache
def _code_digest() -> str:
    """A digest of the code that shapes the output (formats, thinking, schema).

    ``datasets`` fingerprints a ``map`` function by pickling it, which records classes by name,
    not by code: after an upgrade of the toolkit a cached result of the old code would be
    reused. Mixing this digest into the fingerprint makes any code change a cache miss.
    """
    root = Path(__file__).resolve().parent
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(
        [*root.glob("*.py"), root.parent / "thinking.py", root.parent / "schema.py"]
    ):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _map_fingerprint(
    table: datasets.Dataset, fmt: Format, converter: Converter, batch_size: int
) -> str:
    parts = [
        table._fingerprint,
        _code_digest(),
        type(fmt).__module__,
        type(fmt).__qualname__,
        JSON_ENCODER.encode(fmt.settings),
        converter.source,
        str(converter.domain),
        str(converter.strict),
        str(batch_size),
    ]
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def _split_quarantine(
    mapped: datasets.Dataset, source: str
) -> tuple[datasets.Dataset, datasets.Dataset, Counter[str]]:
    """Split the map output on ``_q_reason``: cheap column drops when nothing was quarantined,
    a batched Arrow filter otherwise. Rows with a reason but no field are skip markers
    (:meth:`Records.skip`): counted, not quarantined."""
    skipped: Counter[str] = Counter()
    bad = len(mapped) - mapped.data.column("_q_reason").null_count
    if bad == 0:
        dataset = mapped.remove_columns(list(QUARANTINE_COLUMNS))
        quarantine = datasets.Dataset.from_dict(
            {name: [] for name in QUARANTINE_FEATURES}, features=QUARANTINE_FEATURES
        )
    else:
        dataset = (
            mapped.filter(
                _reason_is_null, batched=True, input_columns=["_q_reason"], batch_size=10_000
            )
            .remove_columns(list(QUARANTINE_COLUMNS))
            .flatten_indices()
        )
        flagged = mapped.filter(
            _reason_is_set, batched=True, input_columns=["_q_reason"], batch_size=10_000
        ).select_columns(list(QUARANTINE_COLUMNS))
        columns = {name: flagged[name] for name in QUARANTINE_COLUMNS}
        keep = [field_name is not None for field_name in columns["_q_field"]]
        skipped.update(r for r, k in zip(columns["_q_reason"], keep, strict=True) if not k)
        quarantine = datasets.Dataset.from_dict(
            {
                "row": [v for v, k in zip(columns["_q_row"], keep, strict=True) if k],
                "source": [source] * sum(keep),
                "field": [v for v, k in zip(columns["_q_field"], keep, strict=True) if k],
                "reason": [v for v, k in zip(columns["_q_reason"], keep, strict=True) if k],
                "raw": [v for v, k in zip(columns["_q_raw"], keep, strict=True) if k],
            },
            features=QUARANTINE_FEATURES,
        )
    if tuple(dataset.column_names) != COLUMNS:
        dataset = dataset.select_columns(list(COLUMNS))
    if dataset.features != FEATURES:
        dataset = dataset.cast(FEATURES)
    return dataset, quarantine, skipped


def _reason_is_null(reasons: list[str | None]) -> list[bool]:
    return [reason is None for reason in reasons]


def _reason_is_set(reasons: list[str | None]) -> list[bool]:
    return [reason is not None for reason in reasons]


# The built-in formats register themselves on import.
from toolkit.formats import (  # noqa: E402
    bespoke,
    gsm8k,
    magpie,
    math500,
    messages,
    numina,
    openr1,
    s1k,
)

__all__ = [
    "REGISTRY",
    "BadRow",
    "Batch",
    "Format",
    "FormatError",
    "NormalizeResult",
    "NormalizeSummary",
    "Records",
    "bespoke",
    "detect_format",
    "fitting_formats",
    "format_names",
    "get_format",
    "gsm8k",
    "magpie",
    "math500",
    "messages",
    "normalize",
    "numina",
    "openr1",
    "optional_text",
    "register_format",
    "require_text",
    "s1k",
]
