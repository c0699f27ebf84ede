"""Lineage files: the curation reports that travel with a data file and end up in its card.

``toolkit curate STEP IN -o OUT`` writes ``OUT.lineage.json`` (the input's lineage plus this
step), so a chain of CLI commands keeps the whole history without a database; ``toolkit push``
reads it back and puts it into the dataset card and ``lineage.json`` of the version. The
format itself (:func:`lineage_entries`, :func:`parse_lineage`) is the kernel's
(:mod:`toolkit.store.lineage`); this module is the sidecar files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolkit.store.lineage import lineage_entries, parse_lineage


def lineage_path(data_path: str | os.PathLike[str]) -> Path:
    """The sidecar that carries the curation lineage next to a data file."""
    return Path(f"{data_path}.lineage.json")


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
