"""Loader and writer errors as one clear line (issues 14 item 11 and 15 item 7): file, line,
reason — never a traceback from inside ``datasets``/Arrow; bad JSONL lines quarantined by
``normalize`` with their line number; ``-o out.txt`` refused instead of creating a directory.
Each case failed on the loader before this change (a ``StopIteration``,
``DatasetGenerationError``, ``RecursionError`` or a byte position without a line)."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from toolkit.errors import DataError, UsageError
from toolkit.io import collecting_bad_lines, line_problem, load_table, write_table

GOOD = {"question": "Tom has 3 apples and buys 4. How many?", "answer": "3 + 4 = 7\n#### 7"}


@pytest.fixture(autouse=True)
def _quiet_progress():
    datasets.disable_progress_bars()
    yield
    datasets.enable_progress_bars()


def _jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _deep(levels: int) -> dict:
    value: object = 1
    for _ in range(levels):
        value = {"k": value}
    return {**GOOD, "meta": value}


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    with pytest.raises(DataError) as error:
        load_table(path)
    assert str(error.value) == f"{path}: empty file (0 bytes)"


def test_zero_row_parquet(tmp_path):
    path = tmp_path / "zero.parquet"
    pq.write_table(pa.table({"question": pa.array([], pa.string())}), path)
    with pytest.raises(DataError, match=r"zero\.parquet: the Parquet file has 0 rows"):
        load_table(path)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_utf16_and_utf32_files(tmp_path, encoding):
    path = tmp_path / "wide.jsonl"
    path.write_text(json.dumps(GOOD) + "\n", encoding=encoding)
    with pytest.raises(DataError) as error:
        load_table(path)
    assert f"the file is {encoding.upper()} text; the toolkit reads UTF-8" in str(error.value)
    assert error.value.hint.startswith(f"convert it: iconv -f {encoding.upper()} -t UTF-8")


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        (json.dumps([1, 2]), "an array where one JSON object per line is expected"),
        ('{"question": "q\\ud800x", "answer": "#### 1"}', "lone surrogate '\\ud800'"),
        (json.dumps(_deep(500)), "nested 501 levels deep (Arrow accepts at most 62)"),
        ('{"question": "q5", "answer": ', "malformed JSON: Expecting value (column 30)"),
    ],
    ids=["json-array-line", "lone-surrogate", "500-deep", "malformed"],
)
def test_a_bad_line_in_the_middle_names_file_and_line(tmp_path, bad_line, reason):
    lines = [json.dumps(GOOD)] * 5 + [bad_line] + [json.dumps(GOOD)] * 4
    path = _jsonl(tmp_path / "rows.jsonl", lines)
    with pytest.raises(DataError) as error:
        load_table(path)
    assert str(error.value).startswith(f"{path}, line 6: ")
    assert reason in str(error.value)
    assert error.value.row == 6 and error.value.path == str(path)
    assert "\n" not in str(error.value)
    # a batch job collects the line and loads the rest
    with collecting_bad_lines() as bad:
        table = load_table(path)
    assert len(table) == 9 and [b.line for b in bad] == [6]


def test_line_problem_reasons():
    assert line_problem(b'{"a": 1}') is None
    assert line_problem(b"[1, 2]") == "an array where one JSON object per line is expected"
    assert line_problem(b'"text"') == "a string where one JSON object per line is expected"
    assert line_problem(b"3") == "a number where one JSON object per line is expected"
    assert line_problem(b"\xff\xfe{}") == "not valid UTF-8 (byte 0)"
    assert line_problem(json.dumps(_deep(60)).encode()) is None  # within Arrow's limit


def test_every_line_bad_is_one_error(tmp_path):
    path = _jsonl(tmp_path / "bad.jsonl", ["[1]", "[2]"])
    with collecting_bad_lines(), pytest.raises(DataError, match="none of the lines can be read"):
        load_table(path)


def test_normalize_quarantines_malformed_lines_with_their_line_number(tmp_path):
    from toolkit.formats import normalize

    lines = [json.dumps({**GOOD, "question": f"q{i}"}) for i in range(9)]
    lines.insert(4, '{"question": "broken", "answer": ')
    path = _jsonl(tmp_path / "gsm.jsonl", lines)
    result = normalize("gsm8k", str(path), return_quarantine=True)
    assert len(result.dataset) == 9
    bad = result.quarantine.to_list()
    assert [(b["row"], b["line"], b["field"]) for b in bad] == [(None, 5, "line")]
    assert bad[0]["reason"].startswith("malformed JSON")
    assert bad[0]["raw"] == '{"question": "broken", "answer": \n'
    assert result.summary.line().startswith("kept 9, quarantined 1: line: malformed JSON")
    with pytest.raises(DataError, match=r"gsm\.jsonl, line 5: malformed JSON"):
        normalize("gsm8k", str(path), strict=True)


def test_unknown_output_suffix_is_refused_without_creating_a_directory(tmp_path):
    table = datasets.Dataset.from_dict({"a": [1]})
    target = tmp_path / "out.txt"
    with pytest.raises(UsageError, match=r"out\.txt: unknown output type '\.txt'") as error:
        write_table(table, target)
    assert ".parquet, .jsonl, .json, .csv" in error.value.hint
    assert not target.exists()
    assert write_table(table, tmp_path / "arrow_dir").is_dir()  # no suffix: an Arrow directory
    assert write_table(table, tmp_path / "ok.jsonl").read_text().strip() == '{"a":1}'
