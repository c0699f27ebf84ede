"""Lineage files: the curation reports that travel with a data file and end up in its card.

``toolkit curate STEP IN -o OUT`` writes ``OUT.lineage.json`` (the input's lineage plus this
step), so a chain of CLI commands keeps the whole history without a database; ``toolkit push``
reads it back and puts it into the dataset card and ``lineage.json`` of the version.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolkit.curate.report import CurationReport
from toolkit.errors import DataError


def lineage_path(data_path: str | os.PathLike[str]) -> Path:
    """The sidecar that carries the curation lineage next to a data file."""
    return Path(f"{data_path}.lineage.json")


def lineage_entries(lineage: Sequence[Any] | None) -> list[dict[str, Any]]:
    """Reports or their dicts, as plain dicts (the form stored in files)."""
    return [e.to_dict() if isinstance(e, CurationReport) else dict(e) for e in lineage or []]


def parse_lineage(text: str, path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """A lineage file's content, checked: a JSON list of step objects."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DataError(f"not valid JSON ({exc.args[0]})", path=str(path)) from None
    if not isinstance(data, list) or not all(isinstance(entry, dict) for entry in data):
        raise DataError("a lineage file holds a JSON list of steps", path=str(path))
    return data


def read_lineage(data_path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The lineage recorded next to ``data_path`` (empty when there is none)."""
    path = lineage_path(data_path)
    if not path.exists():
        return []
    return parse_lineage(path.read_text(encoding="utf-8"), path)


def write_lineage(data_path: str | os.PathLike[str], lineage: Sequence[Any]) -> Path:
    path = lineage_path(data_path)
    text = json.dumps(lineage_entries(lineage), indent=2, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


__all__ = ["lineage_entries", "lineage_path", "parse_lineage", "read_lineage", "write_lineage"]
