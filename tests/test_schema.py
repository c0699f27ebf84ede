"""``toolkit.schema``: hashes, messages, records and dataset validation."""

from __future__ import annotations

import json

import datasets
import pytest

from toolkit.schema import (
    COLUMNS,
    FEATURES,
    TraceRecord,
    build_messages,
    content_hash,
    dumps_metadata,
    empty_columns,
    loads_metadata,
    records_to_dataset,
    validate_dataset,
)


def test_content_hash_is_stable_and_separates_parts():
    assert content_hash("a", "b") == content_hash("a", "b")
    assert len(content_hash("x")) == 16 and int(content_hash("x"), 16) >= 0
    assert content_hash("ab", "c") != content_hash("a", "bc")  # part boundaries matter
    assert content_hash(None) != content_hash("")  # no reasoning differs from empty reasoning
    assert content_hash("é") != content_hash("e")


def test_build_messages_with_and_without_system():
    assert build_messages("q", "r", "a") == [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "<think>\nr\n</think>\n\na"},
    ]
    assert build_messages("q", None, "a", system="sys")[0] == {"role": "system", "content": "sys"}
    assert build_messages("q", "r", "", reasoning_complete=False)[-1]["content"] == "<think>\nr"


def test_trace_record_defaults_and_round_trip():
    record = TraceRecord(problem="p", answer="a", reasoning="r", metadata={"b": 1, "a": "é"})
    assert record.id == content_hash("p", "r", "a")
    assert record.problem_id == content_hash("p")
    assert record.messages == build_messages("p", "r", "a")
    row = record.to_row()
    assert tuple(row) == COLUMNS
    assert row["metadata"] == '{"a": "é", "b": 1}'
    again = TraceRecord.from_row(row)
    assert again.to_row() == row


def test_records_to_dataset_is_schema_valid():
    dataset = records_to_dataset(
        [TraceRecord(problem="p", answer="a"), TraceRecord(problem="q", answer="b", reasoning="r")]
    )
    validate_dataset(dataset)
    assert dataset.features == FEATURES
    assert dataset["reasoning"] == [None, "r"]


def test_validate_dataset_names_the_bad_column():
    good = records_to_dataset([TraceRecord(problem="p", answer="a")])
    with pytest.raises(ValueError, match=r"missing column.*metadata"):
        validate_dataset(good.remove_columns(["metadata"]))
    wrong = good.cast_column("reasoning_complete", datasets.Value("string"))
    with pytest.raises(ValueError, match="reasoning_complete"):
        validate_dataset(wrong)


def test_metadata_json_helpers():
    assert loads_metadata(dumps_metadata({"z": [1], "a": None})) == {"z": [1], "a": None}
    assert loads_metadata(None) == {} and loads_metadata("") == {}
    assert loads_metadata({"k": 1}) == {"k": 1}
    assert json.loads(dumps_metadata({"when": object()}))["when"].startswith("<object")
    assert empty_columns() == {name: [] for name in COLUMNS}
