"""``columns``: any table, by naming its columns — no code, no guessing.

    toolkit normalize columns DATA --problem instruction --reasoning thinking --answer output --gold ref
    toolkit.normalize("columns", data, problem="instruction", reasoning="thinking",
                      answer="output", gold="ref")

``problem`` and ``answer`` are required. Without ``reasoning`` the thinking is split out of the
answer column (``<think>…</think>``, a prefilled ``</think>``, Sky-T1 markers, or none). ``gold``
is kept as given when short, shortened to its final answer when it is a worked solution (the
column also stays in ``metadata``).
``system`` and ``domain_column`` name optional columns for the system prompt and the domain
(``domain=`` is normalize's own override of every record's domain). Every other column goes to
``metadata``. Never chosen by ``auto``: only the user knows what the columns mean.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from toolkit.formats.base import FormatError, register_format
from toolkit.formats.mapped import ROLES, MappedFormat


@register_format
class ColumnsFormat(MappedFormat):
    name = "columns"
    description = "any table by column mapping (--problem COL --answer COL [--reasoning] [--gold])"
    options: ClassVar[dict[str, Any]] = {
        **{role: None for role in ROLES if role != "domain"},
        "domain_column": None,
    }
    domain = "general"
    explicit_only = True
    generic = True
    gold_is_solution = True  # shortened when it is a worked solution, so also kept in metadata

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        for option, value in self.settings.items():
            if value is not None and (not isinstance(value, str) or not value):
                raise FormatError(f"columns: {option} must be a column name, not {value!r}")
        missing = [role for role in ("problem", "answer") if not self.settings[role]]
        if missing:
            raise FormatError(
                f"format 'columns' needs {' and '.join(missing)}= column names",
                hint="e.g. toolkit normalize columns DATA --problem instruction --answer output "
                "[--reasoning thinking] [--gold ref]",
            )

    def mapping(self) -> dict[str, str]:
        options = {**self.settings, "domain": self.settings["domain_column"]}
        return {role: options[role] for role in ROLES if options[role]}

    @property
    def required(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self.mapping().values())

    def missing_columns(self, columns: Iterable[str]) -> list[str]:
        present = set(columns)
        return [
            f"{column} (--{role})"
            for role, column in self.mapping().items()
            if column not in present
        ]
