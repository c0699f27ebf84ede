"""``toolkit normalize --inspect DATA``: what normalization *would* do, before converting 1M rows.

Shows the detected (or chosen) format with its score and the other candidates, the columns it
reads and the ones kept in ``metadata``, the columns that hold reasoning traces, and a few rows
split into problem / reasoning / answer / final / gold. When auto-detection refuses, the
candidate list is the inspection (a usage error: the user chooses).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from toolkit.formats.base import AmbiguousFormatError
from toolkit.formats.detect import Candidate, Detection

PREVIEW_CHARS = 240
SHOWN = ("problem", "reasoning", "answer", "final_answer", "gold_answer", "domain")


@dataclass
class Inspection:
    """The result of :func:`inspect`; :meth:`render` gives the CLI text."""

    source: str
    rows: int
    columns: list[str]
    format: str | None
    detection: Detection | None
    candidates: list[Candidate]
    samples: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    error: AmbiguousFormatError | None = None
    bad_lines: list[Any] = field(default_factory=list)

    def render(self) -> str:
        lines = [
            f"source: {self.source} ({self.rows:,} rows)",
            f"columns: {', '.join(self.columns)}",
        ]
        if self.bad_lines:
            first = self.bad_lines[0]
            lines.append(
                f"unreadable lines (quarantined by normalize): {len(self.bad_lines)}, first: "
                f"line {first.line}: {first.reason}"
            )
        if self.detection is not None:
            lines.append(f"format: {self.format} (score {self.detection.score:g})")
        else:
            lines.append("format: none chosen (auto-detection found no clear winner)")
        for candidate in self.candidates:
            mark = "*" if candidate.name == self.format else "-"
            lines.append(f"  {mark} {candidate.line()}")
        if self.detection is not None:
            lines.append(f"reads: {', '.join(self.detection.read_columns) or '(none)'}")
            kept = self.detection.metadata_columns
            lines.append(f"kept in metadata: {', '.join(kept) or '(none)'}")
            if self.detection.trace_columns:
                lines.append(f"reasoning traces in: {', '.join(self.detection.trace_columns)}")
            lines.extend(f"note: {note}" for note in self.detection.notes)
        if self.error is not None:
            lines.append(f"error: {self.error.message}")
            if self.error.hint:
                lines.append(f"hint: {self.error.hint}")
        for k, sample in enumerate(self.samples):
            lines.append(f"--- record {k} (of the first {len(self.samples)} converted)")
            for name in SHOWN:
                lines.append(f"{name + ':':14}{_preview(sample.get(name))}")
        for bad in self.quarantined:
            lines.append(f"--- row {bad['row']} quarantined: {bad['field']}: {bad['reason']}")
        return "\n".join(lines)


def _preview(value: Any) -> str:
    if value is None:
        return "(none)"
    text = str(value)
    flat = " ".join(text.split())
    if len(flat) <= PREVIEW_CHARS:
        return flat
    return f"{flat[:PREVIEW_CHARS]}… ({len(text):,} chars)"


def inspect(
    data: Any,
    format: str = "auto",
    *,
    rows: int = 3,
    split: str | None = None,
    revision: str | None = None,
    limit: int | None = None,
    **options: Any,
) -> Inspection:
    """Inspect ``data`` as :func:`toolkit.formats.normalize` would read it (see the module
    docstring); never raises for an ambiguous format — the candidates are the answer."""
    from toolkit.formats.detect import score_formats
    from toolkit.formats.pipeline import _source_name, choose, load, normalize, resolve

    quiet = logging.getLogger("toolkit.formats")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # "detected …" and the preview's "kept 3" are noise here
    try:
        fmt_or_name, data = resolve(format, data)
        table, data, bad_lines = load(data, split, revision, limit)
        source = _source_name(data, revision)
        inspection = Inspection(source, len(table), list(table.column_names), None, None, [])
        inspection.bad_lines = bad_lines
        try:
            fmt, detection = choose(fmt_or_name, table, source, options)
        except AmbiguousFormatError as error:
            inspection.error = error
            inspection.candidates = error.candidates or score_formats(table)[0]
            return inspection
        inspection.format, inspection.detection = fmt.name, detection
        inspection.candidates = detection.candidates
        head = table.select(range(min(rows, len(table))))
        result = normalize(fmt, head, return_quarantine=True, source=source, progress=False)
    finally:
        quiet.setLevel(level)
    inspection.samples = result.dataset.to_list()
    inspection.quarantined = result.quarantine.to_list()
    return inspection
