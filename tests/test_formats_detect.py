"""Auto-detection never guesses: content checks, refusals with the candidates, traces that a
format would leave out, ties that are reported instead of broken by name, and ``inspect``."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from toolkit.errors import UsageError
from toolkit.formats import (
    REGISTRY,
    AmbiguousFormatError,
    Format,
    FormatError,
    detect,
    detect_format,
    inspect,
    normalize,
    register_format,
)
from toolkit.formats.detect import trace_columns
from toolkit.thinking import split_thinking

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "formats"
THINK = "<think>\n" + "Let me work through this carefully. " * 10 + "\n</think>\n\nSo \\boxed{4}."


@pytest.fixture(autouse=True)
def _quiet_progress():
    datasets.disable_progress_bars()
    yield
    datasets.enable_progress_bars()


def test_columns_that_fit_but_content_that_does_not_is_refused():
    """question + answer without '####' (LIMO without its solution column) fits gsm8k by name;
    the old auto quarantined every row, now it refuses and says why."""
    table = datasets.Dataset.from_dict(
        {"question": [f"q{i}" for i in range(40)], "answer": [str(i) for i in range(40)]}
    )
    with pytest.raises(AmbiguousFormatError) as error:
        normalize("auto", table)
    message = str(error.value)
    assert message.startswith("no format fits dataset: gsm8k (score 0, 0/32 sampled rows")
    assert "answer: no '#### N' final answer (32 of 32 sampled rows)" in message
    assert isinstance(error.value, UsageError) and error.value.exit_code == 2
    assert "toolkit normalize columns DATA --problem COL --answer COL" in error.value.hint


def test_a_trace_in_a_column_no_format_reads_is_refused_not_dropped():
    table = datasets.Dataset.from_dict(
        {
            "problem": ["What is 2+2?"] * 3,
            "solution": ["2+2 = \\boxed{4}"] * 3,
            "r1_output": [THINK] * 3,
        }
    )
    assert trace_columns(table.to_dict()) == ["r1_output"]
    with pytest.raises(
        AmbiguousFormatError,
        match=r"numina .*ignores the reasoning trace in "
        r"column\(s\) r1_output",
    ):
        normalize("auto", table)
    # named explicitly, the format runs and the unused trace is reported
    result = normalize("numina", table, return_quarantine=True)
    assert result.summary.notes == [
        "numina leaves the reasoning trace in column r1_output out of the SFT target (it is "
        "kept in metadata)"
    ]
    assert json.loads(result.dataset[0]["metadata"])["r1_output"] == THINK
    # and the column mapping reads it
    mapped = normalize("columns", table, problem="problem", answer="r1_output", gold="solution")
    assert mapped[0]["reasoning"].startswith("Let me work") and mapped[0]["gold_answer"] == "4"


def test_formats_that_expect_thinking_refuse_tables_without_it():
    """Alpaca-style instruction/response rows are not Magpie-Reasoning rows."""
    table = datasets.Dataset.from_dict(
        {"instruction": ["Say hi", "Say bye"], "response": ["Hi!", "Bye!"]}
    )
    with pytest.raises(AmbiguousFormatError, match="no thinking in any of 2 sampled rows"):
        detect(table)
    assert len(normalize("magpie", table)) == 2  # still allowed when named


def test_a_tie_is_refused_instead_of_alphabetical_order():
    @register_format
    class TwinFormat(Format):  # fits a GSM8K table exactly as well as gsm8k does
        name = "aaa_twin"
        required = ("question", "answer")
        consumed = ("question", "answer")

        def convert(self, batch, out):
            for i, (q, a) in enumerate(
                zip(batch.column("question"), batch.column("answer"), strict=True)
            ):
                out.add_split(i, q, split_thinking(a))

    try:
        with pytest.raises(AmbiguousFormatError, match="aaa_twin, gsm8k fit equally well"):
            normalize("auto", str(FIXTURES / "gsm8k.jsonl"))
        with pytest.raises(AmbiguousFormatError, match="fit aaa_twin, gsm8k equally well"):
            detect_format(["question", "answer"])
    finally:
        del REGISTRY["aaa_twin"]
    assert detect_format(["question", "answer"]) == "gsm8k"


def test_generic_messages_only_when_no_specific_format_passes():
    chat = datasets.Dataset.from_dict(
        {"messages": [[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": THINK}]]}
    )
    detection = detect(chat)
    assert detection.format == "messages"
    am = next(c for c in detection.candidates if c.name == "am")
    assert not am.passed and "not an AM-DeepSeek row" in am.problems[0]


def test_nothing_fits_lists_the_requirements():
    table = datasets.Dataset.from_dict({"foo": [1], "bar": [2]})
    with pytest.raises(FormatError, match="no known format fits the columns foo, bar") as error:
        normalize("auto", table)
    assert "limo needs question, solution, answer" in str(error.value)
    assert "columns needs" not in str(error.value)  # the mapping is never auto-detected


def test_inspect_shows_format_columns_and_split_rows():
    report = inspect(str(FIXTURES / "openthoughts_math.jsonl"))
    assert report.format == "bespoke" and report.error is None
    text = report.render()
    assert "format: bespoke (score 3)" in text
    assert "numina (score 5, 1/1 sampled rows convert): ignores the reasoning trace" in text
    assert "reads: conversations, messages, system" in text
    assert "kept in metadata: source, problem, solution, generated_token_count, correct" in text
    assert "problem:      What is the remainder when $2^{10}$ is divided by 7?" in text
    assert "gold_answer:  2" in text
    ambiguous = inspect(str(FIXTURES / "aime24.jsonl"))
    assert ambiguous.format is None and isinstance(ambiguous.error, AmbiguousFormatError)
    assert [c.name for c in ambiguous.candidates][:2] == ["limo", "numina"]
    assert "auto-detection found no clear winner" in ambiguous.render()


def test_inspect_with_a_named_format_and_three_rows():
    report = inspect(str(FIXTURES / "magpie.jsonl"), "magpie", rows=3)
    assert [s["problem"] for s in report.samples] == [
        "What is 2 + 2?",
        "Three cats: how many legs?",
        "Sum the series 1 + 1/2 + 1/4 + ...",
    ]
    assert report.render().count("--- record") == 3


def test_inspect_reports_unreadable_lines(tmp_path):
    lines = (FIXTURES / "gsm8k_real.jsonl").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "g.jsonl"
    path.write_text("\n".join([lines[0], "[1, 2]", lines[0]]) + "\n", encoding="utf-8")
    text = inspect(str(path)).render()
    assert "format: gsm8k" in text
    assert (
        "unreadable lines (quarantined by normalize): 1, first: line 2: an array where one JSON "
        "object per line is expected" in text
    )
