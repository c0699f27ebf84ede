"""The batch machinery every format shares: one Arrow batch of source rows in, one Arrow batch of
schema rows (plus quarantine markers) out.

Why batches and not rows: ``datasets.Dataset.map(batched=True)`` hands over Arrow tables, and the
expensive parts of normalization (decoding, hashing, JSON metadata, building the ``messages``
list) are far cheaper done column by column in tight loops than through one Python dict per row.
Formats only write the per-row *meaning* (:meth:`toolkit.formats.base.Format.convert`) through
:class:`Records`; everything else lives here. The two cross-source design rules (answer-format
instructions out of ``problem``, system prompts that name other markers rewritten) are applied
here too, once for every format (see :mod:`toolkit.formats.prompts`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets.features.features import decode_nested_example

from toolkit.answers import final_answer as default_final_answer
from toolkit.errors import DataError
from toolkit.formats.arrow_json import JSON_ENCODER, json_members
from toolkit.formats.prompts import SystemPromptPolicy, strip_template
from toolkit.schema import FEATURES
from toolkit.thinking import ThinkingSplit

if TYPE_CHECKING:
    from toolkit.formats.base import Format

# Columns the batched map emits next to the schema columns; a non-null ``_q_reason`` marks a row
# that goes to the quarantine instead of the result.
QUARANTINE_COLUMNS = ("_q_row", "_q_field", "_q_reason", "_q_raw")
# ``line``: the input line of a JSONL line that could not be parsed at all (row is then null).
QUARANTINE_FEATURES = datasets.Features(
    {
        "row": datasets.Value("int64"),
        "source": datasets.Value("string"),
        "field": datasets.Value("string"),
        "reason": datasets.Value("string"),
        "raw": datasets.Value("string"),
        "line": datasets.Value("int64"),
    }
)
MAP_FEATURES = datasets.Features(
    {
        **FEATURES,
        "_q_row": datasets.Value("int64"),
        "_q_field": datasets.Value("string"),
        "_q_reason": datasets.Value("string"),
        "_q_raw": datasets.Value("string"),
    }
)
MAP_SCHEMA: pa.Schema = MAP_FEATURES.arrow_schema
_MESSAGES_TYPE = MAP_SCHEMA.field("messages").type
_MESSAGE_STRUCT = _MESSAGES_TYPE.value_type


def decoding_features(features: datasets.Features | None) -> datasets.Features | None:
    """The source features that need decoding beyond Arrow's ``to_pylist`` — datasets' ``Json``
    columns, which store mixed-type values as JSON text — or ``None`` when there are none."""
    if not features:
        return None
    needed = {
        name: feature
        for name, feature in features.items()
        if features._column_requires_decoding.get(name)
    }
    return datasets.Features(needed) if needed else None


class Batch:
    """One Arrow batch of source rows, decoded to Python lazily and once per column."""

    __slots__ = ("_decoded", "features", "indices", "size", "table")

    def __init__(
        self,
        table: pa.Table,
        indices: Sequence[int],
        features: datasets.Features | None = None,
    ) -> None:
        self.table = table
        self.indices = indices
        self.size = table.num_rows
        self.features = features  # only the columns that need decoding (see decoding_features)
        self._decoded: dict[str, list[Any]] = {}

    def has(self, name: str) -> bool:
        return name in self.table.column_names

    def column(self, name: str) -> list[Any]:
        """The column as a Python list (all ``None`` when the column is absent)."""
        values = self._decoded.get(name)
        if values is None:
            if not self.has(name):
                values = [None] * self.size
            else:
                values = self.table.column(name).to_pylist()
                if self.features and name in self.features:
                    values = self.features.decode_column(values, name)
            self._decoded[name] = values
        return values

    def raw_row(self, position: int) -> str:
        """The full source row as JSON, for the quarantine (only ever called for bad rows)."""
        row = self.table.slice(position, 1).to_pylist()[0]
        if self.features:
            for name, feature in self.features.items():
                if name in row:
                    row[name] = decode_nested_example(feature, row[name])
        return json.dumps(row, ensure_ascii=False, default=str)


_NO_RECORD = (None,) * 8  # the schema part of a quarantined or skipped row


class Records:
    """The output of one batch, column by column; :meth:`to_table` finishes it.

    Formats call :meth:`add` for every record and :meth:`reject` for every bad row; ids, hashes,
    ``messages`` and the JSON metadata are computed afterwards in tight loops.
    """

    def __init__(
        self,
        batch: Batch,
        source: str,
        domain: str | None,
        strict: bool,
        default_domain: str = "general",
        *,
        strip_templates: bool = True,
        system_prompt: SystemPromptPolicy | None = None,
    ) -> None:
        self.batch = batch
        self.source = source
        self.domain_override = domain
        self.default_domain = default_domain
        self.strict = strict
        self.strip_templates = strip_templates
        self.system_prompt = system_prompt or SystemPromptPolicy("keep")
        # One tuple per output row (cheaper than 14 list appends), transposed in to_table:
        # problem, reasoning, answer, complete, final, gold, system, domain, position, extra,
        # q_row, q_field, q_reason, q_raw.
        self.rows: list[tuple[Any, ...]] = []

    def add(
        self,
        position: int,
        problem: str,
        answer: str,
        reasoning: str | None = None,
        reasoning_complete: bool = True,
        final_answer: str | None = None,
        gold_answer: str | None = None,
        system: str | None = None,
        domain: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """One schema record made from the source row at batch ``position``.

        An answer-format instruction around ``problem`` moves to ``metadata["prompt_template"]``
        and ``system`` goes through the system-prompt policy (see :mod:`toolkit.formats.prompts`).
        """
        if not answer and not reasoning:
            self.reject(position, "answer", "no reasoning and no answer")
            return
        if self.strip_templates:
            problem, template = strip_template(problem)
            if not problem:
                self.reject(position, "problem", "only an answer-format instruction, no problem")
                return
            if template is not None:
                extra = (
                    {**extra, "prompt_template": template}
                    if extra
                    else {"prompt_template": template}
                )
        if system is not None:
            new_system, changed = self.system_prompt.apply(system)
            if changed:
                extra = {**extra, "source_system": system} if extra else {"source_system": system}
                system = new_system
        self.rows.append(
            (
                problem,
                reasoning,
                answer,
                reasoning_complete,
                final_answer,
                gold_answer,
                system,
                self.domain_override or domain or self.default_domain,
                position,
                extra,
                None,
                None,
                None,
                None,
            )
        )

    def add_split(
        self,
        position: int,
        problem: str,
        split: ThinkingSplit,
        gold_answer: str | None = None,
        *,
        final_answer: Callable[[str], str | None] = default_final_answer,
        system: str | None = None,
        domain: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """:meth:`add` for a completion already split by :func:`toolkit.thinking.split_thinking`:
        its answer, reasoning and completeness, and ``final_answer(split.answer)``
        (:func:`toolkit.answers.final_answer` unless the format extracts answers differently)."""
        self.add(
            position,
            problem,
            split.answer,
            split.reasoning,
            split.reasoning_complete,
            final_answer(split.answer),
            gold_answer,
            system=system,
            domain=domain,
            extra=extra,
        )

    def skip(self, position: int, reason: str) -> None:
        """Count a candidate that an option deliberately leaves out (OpenR1's unverified
        generations with ``generations="verified"``): not an error, but not silent either —
        the summary reports it. Emitted as a marker row without ``_q_field``."""
        row = self.batch.indices[position]
        self.rows.append((*_NO_RECORD, position, None, row, None, reason, None))

    def reject(self, position: int, field: str, reason: str) -> None:
        """Send the source row at ``position`` to the quarantine (or raise, when strict)."""
        row = self.batch.indices[position]
        if self.strict:
            raise DataError(  # one line at the CLI's boundary, a ValueError for callers
                f"row {row}: field {field!r}: {reason} (source {self.source})",
                hint="without --strict, bad rows go to the quarantine and the run goes on",
            )
        raw = self.batch.raw_row(position)
        self.rows.append((*_NO_RECORD, position, None, row, field, reason, raw))

    def to_table(self, members: pa.Array | None) -> pa.Array:
        """The Arrow batch in :data:`MAP_SCHEMA` (schema columns + quarantine columns).

        ``members`` holds, per *source* row, the passthrough metadata as JSON object members
        with a leading separator (``', "key": value, …'``; see :func:`json_members`).

        Everything heavy stays in Arrow: the texts are encoded to UTF-8 once (by ``pa.array``),
        the hashes read those bytes straight from the Arrow buffers, and the assistant turn of
        ``messages`` is rendered by a vectorized string join.
        """
        size = len(self.rows)
        (
            self.problem,
            self.reasoning,
            self.answer,
            self.complete,
            self.final,
            self.gold,
            self.system,
            self.domain,
            self.position,
            self.extra,
            self.q_row,
            self.q_field,
            self.q_reason,
            self.q_raw,
        ) = [list(column) for column in zip(*self.rows, strict=True)] if self.rows else [[]] * 14
        problems = pa.array(self.problem, pa.string())
        reasonings = pa.array(self.reasoning, pa.string())
        answers = pa.array(self.answer, pa.string())
        systems = pa.array(self.system, pa.string())
        problem_offsets, problem_bytes = _utf8_slices(problems)
        reasoning_offsets, reasoning_bytes = _utf8_slices(reasonings)
        answer_offsets, answer_bytes = _utf8_slices(answers)

        ids: list[str | None] = [None] * size
        problem_ids: list[str | None] = [None] * size
        blake2b = hashlib.blake2b
        for i, (problem, reasoning) in enumerate(zip(self.problem, self.reasoning, strict=True)):
            if problem is None:  # quarantined or skipped
                continue
            # The bytes of schema.content_hash(problem) and content_hash(problem, reasoning,
            # answer), fed straight from the Arrow buffers (no second UTF-8 encoding).
            digest = blake2b(b"\x01", digest_size=8)
            digest.update(problem_bytes[problem_offsets[i] : problem_offsets[i + 1]])
            digest.update(b"\x1f")
            problem_ids[i] = digest.hexdigest()
            if reasoning is None:
                digest.update(b"\x00\x1f\x01")
            else:
                digest.update(b"\x01")
                digest.update(reasoning_bytes[reasoning_offsets[i] : reasoning_offsets[i + 1]])
                digest.update(b"\x1f\x01")
            digest.update(answer_bytes[answer_offsets[i] : answer_offsets[i + 1]])
            digest.update(b"\x1f")
            ids[i] = digest.hexdigest()

        extras: list[str] | None = None
        if any(self.extra):
            extras = [
                ""
                if not extra
                else "".join(
                    f", {encode_basestring(key)}: {JSON_ENCODER.encode(extra[key])}"
                    for key in sorted(extra)
                )
                for extra in self.extra
            ]

        # render_thinking, vectorized: no reasoning → answer; unfinished → "<think>\n" + reasoning.
        complete = pa.array(self.complete, pa.bool_())
        assistants = _join(["<think>\n", reasonings, "\n</think>\n\n", answers])
        if reasonings.null_count > problems.null_count:  # some records without reasoning
            assistants = pc.if_else(pc.is_null(reasonings), answers, assistants)
        if not pc.all(complete).as_py():  # some unfinished reasoning: no closing tag, no answer
            unfinished = _join(["<think>\n", reasonings])
            assistants = pc.if_else(complete, assistants, unfinished)
        messages = _messages(problems, assistants, systems)

        if members is None:
            body = pa.array([""] * size, pa.string())
        elif len(members) == size and self.position == list(range(size)):
            body = members  # one record per source row, in order: no take needed
        else:
            body = members.take(pa.array(self.position, pa.int64()))
        if extras is not None:
            body = _join([body, pa.array(extras, pa.string())])
        metadata = _join(["{", pc.utf8_slice_codeunits(body, 2), "}"])

        arrays = [
            pa.array(ids, pa.string()),
            pa.array(problem_ids, pa.string()),
            pc.if_else(problems.is_valid(), self.source, pa.scalar(None, pa.string())),
            problems,
            reasonings,
            answers,
            complete,
            pa.array(self.final, pa.string()),
            pa.array(self.gold, pa.string()),
            messages,
            pa.array(self.domain, pa.string()),
            metadata,
            pa.array(self.q_row, pa.int64()),
            pa.array(self.q_field, pa.string()),
            pa.array(self.q_reason, pa.string()),
            pa.array(self.q_raw, pa.string()),
        ]
        return pa.Table.from_arrays(arrays, schema=MAP_SCHEMA)


def _messages(problems: pa.Array, assistants: pa.Array, systems: pa.Array) -> pa.ListArray:
    """``[system?, user, assistant]`` per record (empty for quarantined rows), built with numpy
    index arithmetic and one Arrow ``take`` instead of a Python list per row."""
    size = len(problems)
    kept = problems.is_valid().to_numpy(zero_copy_only=False)
    has_system = systems.is_valid().to_numpy(zero_copy_only=False) & kept
    if has_system.any():
        has_system &= pc.not_equal(systems, "").fill_null(False).to_numpy(zero_copy_only=False)
    turns = kept.astype(np.int32) * 2 + has_system
    offsets = np.zeros(size + 1, dtype=np.int32)
    np.cumsum(turns, out=offsets[1:])
    rows = np.arange(size)
    user_at = offsets[:-1] + has_system
    take = np.empty(offsets[-1], dtype=np.int64)
    codes = np.empty(offsets[-1], dtype=np.int8)  # 0 system, 1 user, 2 assistant
    take[user_at[kept]] = rows[kept]
    codes[user_at[kept]] = 1
    take[user_at[kept] + 1] = rows[kept] + size
    codes[user_at[kept] + 1] = 2
    take[offsets[:-1][has_system]] = rows[has_system] + 2 * size
    codes[offsets[:-1][has_system]] = 0
    contents = pa.concat_arrays([problems, assistants, systems]).take(pa.array(take))
    roles = _ROLES.take(pa.array(codes))
    return pa.ListArray.from_arrays(
        pa.array(offsets),
        pa.StructArray.from_arrays([roles, contents], fields=list(_MESSAGE_STRUCT)),
    )


_ROLES = pa.array(["system", "user", "assistant"], pa.string())


def _join(parts: list[pa.Array | str]) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _utf8_slices(array: pa.Array) -> tuple[list[int], memoryview]:
    """The offsets and the UTF-8 data buffer of a (fresh, unsliced) string array."""
    _, offsets, data = array.buffers()
    offset_list = np.frombuffer(offsets, dtype=np.int32, count=len(array) + 1).tolist()
    return offset_list, memoryview(data if data is not None else b"")


class Converter:
    """The picklable batched ``map`` function: source Arrow batch in, schema Arrow batch out."""

    def __init__(
        self,
        fmt: Format,
        columns: Sequence[str],
        *,
        source: str,
        domain: str | None = None,
        strict: bool = False,
        features: datasets.Features | None = None,
        strip_templates: bool = True,
        system_prompt: str = "rewrite",
    ) -> None:
        self.fmt = fmt
        self.features = decoding_features(features)
        self.metadata_columns = fmt.metadata_columns(columns)
        self.source = source
        self.domain = domain
        self.strict = strict
        self.strip_templates = strip_templates
        self.system_prompt = SystemPromptPolicy(system_prompt)

    def __call__(self, table: pa.Table, indices: list[int]) -> pa.Table:
        batch = Batch(table, indices, self.features)
        out = Records(
            batch,
            self.source,
            self.domain,
            self.strict,
            self.fmt.domain,
            strip_templates=self.strip_templates,
            system_prompt=self.system_prompt,
        )
        self.fmt.prepare(table)
        self.fmt.convert(batch, out)
        return out.to_table(json_members(batch.table, self.metadata_columns))
