"""``toolkit normalize FORMAT INPUT -o OUTPUT``: outputs, quarantine file, summary, errors."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.schema import FEATURES, validate_dataset

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "formats"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def test_normalize_to_parquet_with_quarantine_and_summary(runner, tmp_path):
    output, quarantine = tmp_path / "out.parquet", tmp_path / "bad.jsonl"
    result = runner.invoke(
        app,
        [
            "normalize",
            "magpie",
            str(FIXTURES / "magpie.jsonl"),
            "-o",
            str(output),
            "--quarantine",
            str(quarantine),
        ],
    )
    assert result.exit_code == 0, result.output
    text = _one_line(result.output)
    assert (
        "kept 7, quarantined 3: instruction: null (1), response: expected a string, got int (1), "
        "response: empty (1)" in text
    )
    written = datasets.Dataset.from_parquet(str(output))
    validate_dataset(written.cast(FEATURES))
    assert len(written) == 7
    bad = [json.loads(line) for line in quarantine.read_text().splitlines()]
    assert [(b["row"], b["field"], b["reason"]) for b in bad] == [
        (6, "instruction", "null"),
        (7, "response", "expected a string, got int"),
        (8, "response", "empty"),
    ]


def test_normalize_auto_to_jsonl_with_limit_and_options(runner, tmp_path):
    output = tmp_path / "out.jsonl"
    result = runner.invoke(
        app,
        [
            "normalize",
            "auto",
            str(FIXTURES / "openr1.jsonl"),
            "-o",
            str(output),
            "--limit",
            "2",
            "--generations",
            "verified",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [row["final_answer"] for row in rows] == ["2", "π"]
    assert "skipped 2 unverified generation" in _one_line(result.output)


def test_strict_fails_with_one_line_naming_row_and_field(runner, tmp_path):
    result = runner.invoke(
        app,
        [
            "normalize",
            "gsm8k",
            str(FIXTURES / "gsm8k.jsonl"),
            "-o",
            str(tmp_path / "o.parquet"),
            "--strict",
        ],
    )
    assert result.exit_code == 1
    assert "error: row 2: field 'answer': no '#### N' final answer" in _one_line(result.output)
    assert "Traceback" not in result.output
    assert not (tmp_path / "o.parquet").exists()


def test_missing_columns_fail_with_the_fitting_formats(runner, tmp_path):
    result = runner.invoke(
        app,
        ["normalize", "math500", str(FIXTURES / "gsm8k.jsonl"), "-o", str(tmp_path / "o.parquet")],
    )
    assert result.exit_code == 1
    text = _one_line(result.output)
    assert "needs column(s) problem, solution, subject, level which the input lacks" in text
    assert "formats that fit these columns: gsm8k" in text


def test_unknown_format_and_missing_file_fail_cleanly(runner, tmp_path):
    result = runner.invoke(
        app, ["normalize", "nope", str(FIXTURES / "gsm8k.jsonl"), "-o", str(tmp_path / "o.jsonl")]
    )
    assert result.exit_code == 1 and "neither a format" in _one_line(result.output)
    result = runner.invoke(
        app, ["normalize", "gsm8k", str(tmp_path / "absent.jsonl"), "-o", str(tmp_path / "o.jsonl")]
    )
    assert result.exit_code == 1 and "error:" in result.output


def test_arrow_directory_output(runner, tmp_path):
    result = runner.invoke(
        app, ["normalize", "s1k", str(FIXTURES / "s1k11.jsonl"), "-o", str(tmp_path / "arrow")]
    )
    assert result.exit_code == 0, result.output
    loaded = datasets.load_from_disk(str(tmp_path / "arrow"))
    assert loaded.features == FEATURES and len(loaded) == 2


def test_known_hub_id_without_input(runner, tmp_path, monkeypatch):
    """``toolkit normalize open-r1/OpenR1-Math-220k -o out``: the id picks the format (the Hub
    is replaced by the fixture; tests stay offline)."""
    import toolkit.io

    real_load_table = toolkit.io.load_table
    seen = []

    def fake_load_table(source, *, split=None, revision=None, limit=None):
        seen.append((source, revision))
        return real_load_table(FIXTURES / "openr1.jsonl", limit=limit)

    monkeypatch.setattr(toolkit.io, "load_table", fake_load_table)
    output = tmp_path / "out.jsonl"
    result = runner.invoke(
        app,
        ["normalize", "open-r1/OpenR1-Math-220k", "-o", str(output), "--revision", "v1"],
    )
    assert result.exit_code == 0, result.output
    assert seen == [("open-r1/OpenR1-Math-220k", "v1")]
    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 5 and {row["source"] for row in rows} == {"open-r1/OpenR1-Math-220k@v1"}


def test_inspect_prints_format_columns_and_rows(runner):
    result = runner.invoke(app, ["normalize", "--inspect", str(FIXTURES / "r1distill_v0.jsonl")])
    assert result.exit_code == 0, result.output
    assert "format: r1distill (score 7)" in result.output
    assert (
        "numina (score 4, 1/1 sampled rows convert): ignores the reasoning trace in column(s)"
        " reannotated_assistant_content" in _one_line(result.output)
    )
    assert "reads: problem, reannotated_assistant_content, solution" in result.output
    assert "reasoning:    We need 1+2+...+10 = 10·11/2 = 55." in result.output
    assert "gold_answer:  55" in result.output


def test_auto_refuses_an_ambiguous_table_with_exit_code_2(runner, tmp_path):
    output = tmp_path / "o.parquet"
    result = runner.invoke(
        app, ["normalize", "auto", str(FIXTURES / "aime24.jsonl"), "-o", str(output)]
    )
    assert result.exit_code == 2
    text = _one_line(result.output)
    assert "error: cannot tell the format of aime24.jsonl: limo, numina fit equally well" in text
    assert "hint: choose the format: `toolkit normalize FORMAT DATA` (or --format FORMAT" in text
    assert "Traceback" not in result.output and not output.exists()
    # choosing works, with the data as the first argument and --format
    chosen = runner.invoke(
        app, ["normalize", str(FIXTURES / "aime24.jsonl"), "--format", "numina", "-o", str(output)]
    )
    assert chosen.exit_code == 0, chosen.output
    assert "kept 1, quarantined 0" in _one_line(chosen.output)


def test_columns_mapping_from_the_cli(runner, tmp_path):
    data = tmp_path / "mine.jsonl"
    data.write_text(
        json.dumps(
            {"instruction": "2+2?", "thinking": "two and two", "output": "\\boxed{4}", "ref": "4"}
        )
        + "\n",
        encoding="utf-8",
    )
    output = tmp_path / "out.jsonl"
    result = runner.invoke(
        app,
        [
            "normalize",
            "columns",
            str(data),
            "--problem",
            "instruction",
            "--reasoning",
            "thinking",
            "--answer",
            "output",
            "--gold",
            "ref",
            "-o",
            str(output),
        ],
    )
    assert result.exit_code == 0, result.output
    row = json.loads(output.read_text(encoding="utf-8"))
    assert (row["problem"], row["reasoning"], row["answer"], row["gold_answer"]) == (
        "2+2?",
        "two and two",
        "\\boxed{4}",
        "4",
    )


def test_a_trace_left_out_by_the_named_format_is_reported(runner, tmp_path):
    result = runner.invoke(
        app,
        [
            "normalize",
            "numina",
            str(FIXTURES / "r1distill_v0.jsonl"),
            "-o",
            str(tmp_path / "o.jsonl"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        "note: numina leaves the reasoning trace in column reannotated_assistant_content out "
        "of the SFT target (it is kept in metadata); format r1distill reads it"
        in _one_line(result.output)
    )


def test_unknown_output_suffix_fails_before_any_work(runner, tmp_path):
    target = tmp_path / "out.txt"
    result = runner.invoke(
        app, ["normalize", "gsm8k", str(FIXTURES / "gsm8k.jsonl"), "-o", str(target)]
    )
    assert result.exit_code == 2
    assert "unknown output type '.txt'" in _one_line(result.output)
    assert not target.exists()


def test_malformed_jsonl_line_is_quarantined_with_its_line_number(runner, tmp_path):
    lines = (FIXTURES / "gsm8k.jsonl").read_text(encoding="utf-8").splitlines()
    lines.insert(2, '{"question": "cut off", "answer": ')
    data = tmp_path / "g.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = tmp_path / "bad.jsonl"
    result = runner.invoke(
        app,
        [
            "normalize",
            "gsm8k",
            str(data),
            "-o",
            str(tmp_path / "o.parquet"),
            "--quarantine",
            str(bad),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "kept 4, quarantined 2: line: malformed JSON" in _one_line(result.output)
    rows = [json.loads(line) for line in bad.read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["field"]) for r in rows] == [(3, "line"), (None, "answer")]


def test_empty_input_file_is_one_line(runner, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    result = runner.invoke(app, ["normalize", "auto", str(empty), "-o", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 1
    assert f"error: {empty}: empty file (0 bytes)" in _one_line(result.output)
    assert "Traceback" not in result.output
