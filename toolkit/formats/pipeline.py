""":func:`normalize`: load → choose the format → batched conversion → split off the quarantine.

Kept apart from the package ``__init__`` (which documents the formats and re-exports the API) so
that each file stays readable; named ``pipeline`` so that no module shadows the public
``toolkit.formats.normalize`` function.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets

from toolkit.formats.arrow_json import JSON_ENCODER
from toolkit.formats.base import REGISTRY, Format, FormatError, get_format, hub_defaults
from toolkit.formats.detect import Detection, detect, explain
from toolkit.formats.records import (
    MAP_FEATURES,
    QUARANTINE_COLUMNS,
    QUARANTINE_FEATURES,
    Converter,
)
from toolkit.schema import COLUMNS, FEATURES

logger = logging.getLogger("toolkit.formats")

#: Rows below which a process pool costs more than it saves. Measured with
#: ``python benchmarks/normalize.py --crossover --num-proc 2`` on Magpie-shaped rows, on the
#: project's 2-core machine shared with other jobs (load average 5-7): num_proc=1 vs 2 took
#: 0.88 s vs 2.59 s at 2k rows (starting the pool costs ~1.7 s), 1.9 vs 2.9 s at 10k, 8.3 vs
#: 12.2 s at 50k, 22.0 vs 21.2 s at 100k (break-even) and 42.7 vs 33.9 s at 200k.
POOL_MIN_ROWS = 100_000
MAX_WORKERS = 8


def default_num_proc(rows: int, cores: int | None = None) -> int:
    """Worker processes for ``rows`` rows: none below :data:`POOL_MIN_ROWS` (the pool's start-up
    costs more than it saves), else one per core (the main process only merges), at most
    :data:`MAX_WORKERS`."""
    if cores is None:
        affinity = getattr(os, "sched_getaffinity", None)
        cores = len(affinity(0)) if affinity else os.cpu_count() or 1
    if rows < POOL_MIN_ROWS or cores < 2:
        return 1
    return min(cores, MAX_WORKERS)


@dataclass
class NormalizeSummary:
    """What one :func:`normalize` run kept, quarantined (by reason) and deliberately skipped,
    plus ``notes``: what the user should know about the format choice (a reasoning trace left
    in metadata, a system prompt rewritten)."""

    format: str
    source: str
    kept: int
    quarantined: int
    reasons: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    detection: Detection | None = None

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


def resolve(name_or_format: str | Format, data: Any) -> tuple[str | Format, Any]:
    """(format name or instance, data) from the two leading arguments of :func:`normalize`."""
    from toolkit.formats.base import hub_id_formats

    if isinstance(name_or_format, Format):
        if data is None:
            raise FormatError("normalize(format_instance, data): data is required")
        return name_or_format, data
    name = str(name_or_format)
    if name in REGISTRY or name == "auto":
        if data is None:
            raise FormatError(
                f"normalize({name!r}) needs data: a Hub dataset id, a local path, a Dataset "
                "or a DataFrame"
            )
        return name, data
    known_ids = hub_id_formats()
    hub_format = known_ids.get(name.lower()) or known_ids.get(name.partition(":")[0].lower())
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


def load(
    data: Any, split: str | None, revision: str | None, limit: int | None
) -> tuple[datasets.Dataset, Any, list[Any]]:
    """The table (Hub defaults applied), the data as resolved, and the unreadable JSONL lines."""
    import toolkit.io

    if isinstance(data, str) and ":" not in data and not os.path.exists(data):
        defaults = hub_defaults(data)  # e.g. GSM8K needs its "main" config, MATH-500 is test-only
        if "config" in defaults:
            data = f"{data}:{defaults['config']}"
        split = split or defaults.get("split")
    with toolkit.io.collecting_bad_lines() as bad_lines:
        table = toolkit.io.load_table(data, split=split, revision=revision, limit=limit)
    return table, data, bad_lines


def choose(
    fmt_or_name: str | Format, table: datasets.Dataset, source: str, options: dict[str, Any]
) -> tuple[Format, Detection]:
    """The format instance to run and what detection (or the user's choice) says about it."""
    columns = list(table.column_names)
    if isinstance(fmt_or_name, Format):
        fmt = fmt_or_name
    elif fmt_or_name == "auto":
        detection = detect(table, source)
        fmt = get_format(detection.format)(**options)
        logger.info("detected format %s (score %g) for %s", fmt.name, detection.score, source)
    else:
        fmt = get_format(fmt_or_name)(**options)
    missing = fmt.missing_columns(columns)
    if missing:
        from toolkit.formats.detect import CHOOSE_HINT

        fits = [n for n in fitting_formats(columns) if n != fmt.name]
        raise FormatError(
            f"format {fmt.name!r} needs column(s) {', '.join(missing)} which the input lacks "
            f"(it has: {', '.join(columns) or 'none'}); formats that fit these columns: "
            f"{', '.join(fits) or 'none'}",
            hint=CHOOSE_HINT,
        )
    if fmt_or_name == "auto":
        return fmt, detection
    return fmt, explain(fmt, table) if len(table) else Detection(fmt.name, [], [], [], [])


def fitting_formats(columns: Any) -> list[str]:
    """Every registered format whose required columns are all in ``columns``."""
    names = list(columns)
    return [
        name
        for name, cls in REGISTRY.items()
        if not cls.explicit_only and not cls().missing_columns(names)
    ]


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
    system_prompt: str = "rewrite",
    strip_templates: bool = True,
    **options: Any,
) -> datasets.Dataset | NormalizeResult:
    """Normalize a reasoning dataset into the trace schema (:data:`toolkit.schema.FEATURES`).

    Args:
        name_or_format: a format name (see :mod:`toolkit.formats`), ``"auto"`` to detect it
            (refused, with the candidates listed, when no format is a clear winner), a
            :class:`Format` instance, or — with ``data`` left out — a known Hub dataset id such
            as ``"open-r1/OpenR1-Math-220k"``.
        data: a Hub dataset id (``org/name`` or ``org/name:config``), a local file or directory
            (JSONL/JSON/Parquet/CSV/Arrow), a ``datasets.Dataset`` or a pandas ``DataFrame``.
        split, revision, limit: passed to :func:`toolkit.io.load_table`; ``revision`` also ends
            up in the ``source`` column (``"<name>@<revision>"``).
        strict: raise ``ValueError`` naming row, field and reason at the first bad row instead
            of quarantining it (runs in one process, so that "first" means first).
        num_proc: worker processes for ``Dataset.map``; default :func:`default_num_proc` (no
            pool below the size where one pays).
        return_quarantine: return a :class:`NormalizeResult` ``(dataset, quarantine)`` with
            ``.summary``, instead of the dataset alone. The quarantine has the columns
            ``row, source, field, reason, raw, line`` (``raw`` is the source row as JSON;
            ``line`` the input line of a JSONL line that could not be parsed at all).
        batch_size: rows per Arrow batch handed to the format.
        source: override the ``source`` column.
        domain: override the ``domain`` of every record.
        progress: show the ``map`` progress bar (default: datasets' global setting).
        system_prompt: ``"rewrite"`` (default), ``"drop"`` or ``"keep"`` system prompts that ask
            for markers the SFT target does not use (see :mod:`toolkit.formats.prompts`).
        strip_templates: move answer-format instructions ("Return your final response within
            \\boxed{}.") out of ``problem`` into ``metadata["prompt_template"]`` (default).
        **options: format options (``generations="verified"`` for openr1, ``teacher=`` for s1k,
            ``problem=``/``answer=``/… for ``columns``).

    Raises:
        FormatError: unknown format or option, or missing columns (the message names the
            missing columns and the formats that would fit the columns present).
        AmbiguousFormatError: ``"auto"`` found no clear winner (a usage error: choose one).
        toolkit.errors.DataError: a file that cannot be read (named, with the line).
        ValueError: with ``strict=True``, at the first bad row.
    """
    fmt_or_name, data = resolve(name_or_format, data)
    table, data, bad_lines = load(data, split, revision, limit)
    if strict and bad_lines:
        from toolkit.errors import DataError

        first = bad_lines[0]
        raise DataError(first.reason, path=first.path, row=first.line)
    source_name = source or _source_name(data, revision)
    fmt, detection = choose(fmt_or_name, table, source_name, options)
    for note in detection.notes:
        logger.warning("%s (%s)", note, source_name)
    converter = Converter(
        fmt,
        list(table.column_names),
        source=source_name,
        domain=domain,
        strict=strict,
        features=table.features,
        strip_templates=strip_templates,
        system_prompt=system_prompt,
    )
    mapped = _map(table, fmt, converter, batch_size, strict, num_proc, progress)
    dataset, quarantine, skipped = _split_quarantine(mapped, source_name, bad_lines)
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
        notes=list(detection.notes),
        detection=detection,
    )
    (logger.warning if summary.quarantined else logger.info)(
        "%s (%s, format %s)", summary.line(), source_name, fmt.name
    )
    if return_quarantine:
        return NormalizeResult(dataset, quarantine, summary)
    return dataset


def _map(
    table: datasets.Dataset,
    fmt: Format,
    converter: Converter,
    batch_size: int,
    strict: bool,
    num_proc: int | None,
    progress: bool | None,
) -> datasets.Dataset:
    if len(table) == 0:
        return datasets.Dataset.from_dict(
            {name: [] for name in MAP_FEATURES}, features=MAP_FEATURES
        )
    workers = default_num_proc(len(table)) if num_proc is None else num_proc
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
            num_proc=None if strict or workers <= 1 else workers,
            remove_columns=list(table.column_names),
            features=MAP_FEATURES,
            desc=f"normalize {fmt.name}",
        )
    finally:
        if disabled:
            datasets.enable_progress_bars()
    return mapped.with_format(None)


@functools.cache
def _code_digest() -> str:
    """A digest of the code that shapes the output (formats, thinking, schema, answers).

    ``datasets`` fingerprints a ``map`` function by pickling it, which records classes by name,
    not by code: after an upgrade of the toolkit a cached result of the old code would be
    reused. Mixing this digest into the fingerprint makes any code change a cache miss.
    """
    root = Path(__file__).resolve().parent
    kernel = root.parent
    paths = [*root.glob("*.py"), kernel / "thinking.py", kernel / "schema.py"]
    paths += sorted((kernel / "answers").glob("*.py"))
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(paths):
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
        str(converter.strip_templates),
        converter.system_prompt.policy,
        str(batch_size),
    ]
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def _split_quarantine(
    mapped: datasets.Dataset, source: str, bad_lines: list[Any] = ()
) -> tuple[datasets.Dataset, datasets.Dataset, Counter[str]]:
    """Split the map output on ``_q_reason``: cheap column drops when nothing was quarantined,
    a batched Arrow filter otherwise. Rows with a reason but no field are skip markers
    (:meth:`Records.skip`): counted, not quarantined. Unreadable input lines come first."""
    skipped: Counter[str] = Counter()
    columns: dict[str, list[Any]] = {name: [] for name in QUARANTINE_FEATURES}
    for bad in bad_lines:
        columns["row"].append(None)
        columns["source"].append(source)
        columns["field"].append("line")
        columns["reason"].append(bad.reason)
        columns["raw"].append(bad.raw)
        columns["line"].append(bad.line)
    bad = len(mapped) - mapped.data.column("_q_reason").null_count
    if bad == 0:
        dataset = mapped.remove_columns(list(QUARANTINE_COLUMNS))
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
        q = {name: flagged[name] for name in QUARANTINE_COLUMNS}
        for row, field_name, reason, raw in zip(
            q["_q_row"], q["_q_field"], q["_q_reason"], q["_q_raw"], strict=True
        ):
            if field_name is None:  # a skip marker
                skipped[reason] += 1
                continue
            for name, value in zip(
                ("row", "source", "field", "reason", "raw", "line"),
                (row, source, field_name, reason, raw, None),
                strict=True,
            ):
                columns[name].append(value)
    quarantine = datasets.Dataset.from_dict(columns, features=QUARANTINE_FEATURES)
    if tuple(dataset.column_names) != COLUMNS:
        dataset = dataset.select_columns(list(COLUMNS))
    if dataset.features != FEATURES:
        dataset = dataset.cast(FEATURES)
    return dataset, quarantine, skipped


def _reason_is_null(reasons: list[str | None]) -> list[bool]:
    return [reason is None for reason in reasons]


def _reason_is_set(reasons: list[str | None]) -> list[bool]:
    return [reason is not None for reason in reasons]
