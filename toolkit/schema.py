"""The one trace schema that every stage of the toolkit reads and writes.

Every source format is normalized into these columns; generation writes them; verification,
curation, training and evaluation read them. Fields:

``id``
    Stable content hash (16 hex chars) of ``problem``, ``reasoning`` and ``answer``. The same trace
    gets the same id whichever dataset it came from, so ids double as exact-duplicate keys.
``problem_id``
    Stable hash of ``problem`` alone: groups the N samples of one problem (pass rates, resume keys).
``source``
    Where the row came from: ``"<dataset name>@<revision>"`` (revision omitted when unknown), or
    ``"generate:<teacher model>"`` for generated traces.
``problem``
    The user-facing question, without any system prompt or template text.
``reasoning``
    The thinking text with every marker removed (no ``<think>``). ``None`` when the source has no
    separate reasoning (for example GSM8K or NuminaMath solutions, which are plain answers).
``answer``
    The final solution text shown to the user, with every marker removed. Empty when the reasoning
    never closed (see ``reasoning_complete``).
``reasoning_complete``
    ``False`` when the reasoning was opened but never closed (a generation cut off while thinking).
``final_answer``
    The extracted short answer (the last ``\\boxed{}`` content, GSM8K ``#### N``, an option letter),
    ``None`` when none can be extracted.
``gold_answer``
    The reference answer from the source, ``None`` when the source has none.
``messages``
    Chat form ready for SFT: ``[{"role": "system"?, ...}, {"role": "user", ...},
    {"role": "assistant", ...}]``; the assistant turn holds the reasoning in the canonical
    ``<think>\\n…\\n</think>\\n\\nanswer`` form (see :func:`toolkit.thinking.render_thinking`).
``domain``
    Coarse subject: ``math``, ``code``, ``science``, ``puzzle``, ``general``…
``metadata``
    A JSON object (stored as a JSON string, so that Arrow keeps one column type across sources)
    with the source-specific fields that have no column of their own: difficulty, task category,
    per-generation verdicts, teacher and sampling parameters, token usage… Nothing is thrown away.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from functools import cache
from typing import TYPE_CHECKING, Any

from toolkit.thinking import render_thinking

if TYPE_CHECKING:
    import datasets

SCHEMA_VERSION = "1.0"

COLUMNS: tuple[str, ...] = (
    "id",
    "problem_id",
    "source",
    "problem",
    "reasoning",
    "answer",
    "reasoning_complete",
    "final_answer",
    "gold_answer",
    "messages",
    "domain",
    "metadata",
)


@cache
def _features() -> tuple[Any, dict[str, Any]]:
    """The Arrow types of the schema. Built on first use: ``datasets`` takes about a second to
    import, and modules that only need :func:`content_hash` or :data:`COLUMNS` (the CLI, the
    chat Space) should not pay for it."""
    import datasets

    message = {"role": datasets.Value("string"), "content": datasets.Value("string")}
    string = datasets.Value("string")
    types = {name: string for name in COLUMNS}
    types.update(reasoning_complete=datasets.Value("bool"), messages=datasets.List(message))
    return datasets.Features(types), message


def __getattr__(name: str) -> Any:
    if name == "FEATURES":
        return _features()[0]
    if name == "MESSAGE_FEATURE":
        return _features()[1]
    raise AttributeError(f"module 'toolkit.schema' has no attribute {name!r}")


def content_hash(*parts: str | None) -> str:
    """A 16-hex-digit BLAKE2b hash of the parts (``None`` and ``""`` hash differently)."""
    digest = hashlib.blake2b(digest_size=8)
    for part in parts:
        digest.update(b"\x00" if part is None else b"\x01" + part.encode("utf-8"))
        digest.update(b"\x1f")
    return digest.hexdigest()


def build_messages(
    problem: str,
    reasoning: str | None,
    answer: str,
    *,
    reasoning_complete: bool = True,
    system: str | None = None,
) -> list[dict[str, str]]:
    """The SFT chat form of one trace, with the thinking rendered as ``<think>…</think>``."""
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": problem})
    messages.append(
        {
            "role": "assistant",
            "content": render_thinking(reasoning, answer, reasoning_complete=reasoning_complete),
        }
    )
    return messages


@dataclass(slots=True)
class TraceRecord:
    """One row of the schema (see the module docstring for what each field means)."""

    problem: str
    answer: str
    reasoning: str | None = None
    reasoning_complete: bool = True
    final_answer: str | None = None
    gold_answer: str | None = None
    source: str = ""
    domain: str = "math"
    metadata: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, str]] | None = None
    system: str | None = None
    id: str = ""
    problem_id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            self.id = content_hash(self.problem, self.reasoning, self.answer)
        if not self.problem_id:
            self.problem_id = content_hash(self.problem)
        if self.messages is None:
            self.messages = build_messages(
                self.problem,
                self.reasoning,
                self.answer,
                reasoning_complete=self.reasoning_complete,
                system=self.system,
            )

    def to_row(self) -> dict[str, Any]:
        """The Arrow row (``metadata`` JSON-encoded; ``system`` lives in ``messages``)."""
        row = {name: getattr(self, name) for name in COLUMNS}
        row["metadata"] = dumps_metadata(self.metadata)
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TraceRecord:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in row.items() if k in known}
        values["metadata"] = loads_metadata(row.get("metadata"))
        return cls(**values)

    def asdict(self) -> dict[str, Any]:
        return asdict(self)


def dumps_metadata(metadata: dict[str, Any] | None) -> str:
    """JSON-encode metadata deterministically (sorted keys, non-ASCII kept, odd types as str)."""
    return json.dumps(metadata or {}, sort_keys=True, ensure_ascii=False, default=str)


def loads_metadata(value: str | dict[str, Any] | None) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return value
    return json.loads(value)


def empty_columns() -> dict[str, list[Any]]:
    """A column-oriented batch with every schema column, for batched ``map`` functions."""
    return {name: [] for name in COLUMNS}


def validate_dataset(dataset: datasets.Dataset) -> None:
    """Raise ``ValueError`` naming the first column that does not match the schema."""
    features = _features()[0]
    missing = [name for name in COLUMNS if name not in dataset.column_names]
    if missing:
        raise ValueError(f"not a toolkit trace dataset: missing column(s) {', '.join(missing)}")
    for name in COLUMNS:
        if dataset.features[name] != features[name]:
            raise ValueError(
                f"column {name!r} has type {dataset.features[name]}, the schema wants {features[name]}"
            )


def records_to_dataset(records: list[TraceRecord]) -> datasets.Dataset:
    """Build a schema dataset from records (small in-memory sets; big ones go through ``map``)."""
    columns = empty_columns()
    for record in records:
        for name, value in record.to_row().items():
            columns[name].append(value)
    import datasets

    return datasets.Dataset.from_dict(columns, features=_features()[0])
