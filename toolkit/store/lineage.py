"""The lineage format: a JSON list of curation steps, stored with every dataset version.

Curation writes it (``toolkit.curate`` reports, and the ``OUT.lineage.json`` sidecars of the
CLI), the store keeps it as ``lineage.json`` in each version, and the dataset card renders it.
The format lives here, in the kernel, so that the store and the cards can read it without
importing the curation stage; a step is anything with ``to_dict()`` (a
:class:`toolkit.curate.CurationReport`) or a mapping with ``step``, ``rows_in``, ``rows_out``,
``removed_by_reason``, ``params`` and ``notes``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from toolkit.errors import DataError


def lineage_entries(lineage: Sequence[Any] | None) -> list[dict[str, Any]]:
    """Steps as plain dicts (the stored form), with ``removed`` filled in."""
    entries = []
    for entry in lineage or []:
        step = dict(entry.to_dict() if hasattr(entry, "to_dict") else entry)
        if "removed" not in step and "rows_in" in step and "rows_out" in step:
            step["removed"] = int(step["rows_in"]) - int(step["rows_out"])
        entries.append(step)
    return entries


def parse_lineage(text: str, where: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """A lineage file's content, checked: a JSON list of step objects (``where`` names it in
    the error)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DataError(f"not valid JSON ({exc.args[0]})", path=str(where)) from None
    if not isinstance(data, list) or not all(isinstance(entry, dict) for entry in data):
        raise DataError("a lineage file holds a JSON list of steps", path=str(where))
    return data


__all__ = ["lineage_entries", "parse_lineage"]
