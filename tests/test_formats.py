"""``toolkit.normalize`` on the hand-written fixtures of every source format.

Each fixture row's exact reasoning/answer split is asserted, including the awkward cases (missing
opening ``<think>``, unclosed thinking, several ``\\boxed{}``, non-ASCII, empty answer, extra
columns) and the bad rows that must land in the quarantine with their row, field and reason.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import datasets
import pandas as pd
import pyarrow as pa
import pytest

from toolkit.formats import (
    FormatError,
    NormalizeResult,
    detect_format,
    fitting_formats,
    format_names,
    normalize,
)
from toolkit.formats.arrow_json import JSON_ENCODER, json_objects
from toolkit.io import load_table
from toolkit.schema import FEATURES, TraceRecord, build_messages, content_hash, validate_dataset

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "formats"

# (problem, reasoning, answer, reasoning_complete, final_answer, gold_answer, domain) per record.
EXPECTED: dict[str, list[tuple]] = {
    "magpie": [
        (
            "What is 2 + 2?",
            "I add 2 and 2 to get 4.",
            "The sum is \\boxed{4}.",
            True,
            "4",
            None,
            "math",
        ),
        # missing opening <think> (prefilled by the chat template)
        (
            "Three cats: how many legs?",
            "Let me count the legs: 3 cats have 12 legs.",
            "There are **12** legs.",
            True,
            None,
            None,
            "puzzle",
        ),
        # unclosed thinking: reported, never glued into the answer
        (
            "Sum the series 1 + 1/2 + 1/4 + ...",
            "The series 1 + 1/2 + 1/4 ... I need to keep summing",
            "",
            False,
            None,
            None,
            "math",
        ),
        # several boxed: the last one is the final answer
        (
            "Which is right, 3 or 1/2?",
            "First guess \\boxed{3}? No.",
            "We tried \\boxed{3} first, but the answer is \\boxed{\\frac{1}{2}}.",
            True,
            "\\frac{1}{2}",
            None,
            "math",
        ),
        (
            "Combien font 3 × 4 ? Réponds en français.",
            "3 × 4 = 12, et 12 ≥ 10 ✓",
            "La réponse est \\boxed{12} — douze.",
            True,
            "12",
            None,
            "math",
        ),
        # empty answer after a closed reasoning block
        (
            "Think, then say nothing.",
            "Done thinking, nothing to add.",
            "",
            True,
            None,
            None,
            "general",
        ),
        ("No markers at all?", None, "Just an answer: \\boxed{5}", True, "5", None, "code"),
    ],
    "numina": [
        (
            "Compute $1+2+3$.",
            None,
            "Adding, $1+2+3=6$. So the answer is $\\boxed{6}$.",
            True,
            "6",
            "6",
            "math",
        ),
        (
            "Find the positive root of $x^2=2$.",
            None,
            "First $\\boxed{2}$ is wrong; the correct value is $\\boxed{\\sqrt{2}}$.",
            True,
            "\\sqrt{2}",
            "\\sqrt{2}",
            "math",
        ),
        (
            "Soit $x ∈ ℝ$ tel que $2x = 10$. Trouver $x$.",
            None,
            "On divise par 2 : $x = \\boxed{5}$.",
            True,
            "5",
            "5",
            "math",
        ),
        (
            "How many legs does a spider have?",
            None,
            "A spider has eight legs.",
            True,
            None,
            None,
            "math",
        ),
    ],
    "numina15": [
        ("Compute $2 \\cdot 3$.", None, "$2 \\cdot 3 = \\boxed{6}$", True, "6", "6", "math"),
        (
            "Prove that $\\sqrt{2}$ is irrational.",
            None,
            "Suppose $\\sqrt{2}=p/q$ in lowest terms; then $p^2=2q^2$, a contradiction.",
            True,
            None,
            None,
            "math",
        ),
    ],
    "openr1": [
        (
            "Find $x$ if $x+1=3$.",
            "Subtract 1 from both sides.",
            "So $x=\\boxed{2}$.",
            True,
            "2",
            "2",
            "math",
        ),
        ("Find $x$ if $x+1=3$.", "Maybe x = 3?", "$x=\\boxed{3}$.", True, "3", "2", "math"),
        ("Find $x$ if $x+1=3$.", "This goes on and on", "", False, None, "2", "math"),
        (
            "Quel nombre vaut environ 3,14159 ?",
            "Prefilled reasoning without the opening tag.",
            "La réponse est $\\boxed{π}$.",
            True,
            "π",
            "\\pi",
            "math",
        ),
        ("What is $0+1$?", "Zero plus one.", "It is $\\boxed{1}$.", True, "1", "1", "math"),
    ],
    "s1k": [
        (
            "What is $7 \\times 6$?",
            "Seven sixes: 6, 12, 18, 24, 30, 36, 42.",
            "The product is $\\boxed{42}$.",
            True,
            "42",
            "42",
            "math",
        ),
        (
            "Capital of France (5 letters)",
            "Five letters, capital of France: Paris.",
            "Paris fits.\n\nFinal Answer: The final answer is PARIS",
            True,
            "PARIS",
            "PARIS",
            "puzzle",
        ),
        (
            "Why is the sky blue? Give the number of key effects.",
            "Part one: Rayleigh scattering.\n\nPart two: the eye’s sensitivity.",
            "Two effects: scattering and perception. $\\boxed{2}$",
            True,
            "2",
            "2",
            "science",
        ),
        # an empty attempt: the reasoning never reached an answer
        (
            "A row with an empty attempt.",
            "I was thinking about 7 when the budget ran out",
            "",
            False,
            None,
            "7",
            "math",
        ),
    ],
    "s1k11": [
        (
            "What is $3^2$?",
            "Okay, 3^2 = 3 × 3 = 9.",
            "**Answer:** $\\boxed{9}$",
            True,
            "9",
            "9",
            "math",
        ),
        (
            "What is $\\sqrt{16}$?",
            "sqrt(16) = 4 since 4·4 = 16.",
            "The square root is $\\boxed{4}$.",
            True,
            "4",
            "4",
            "math",
        ),
    ],
    # the final answer stays marked in the answer (\\boxed{N}, issue 12)
    "gsm8k": [
        (
            "Tom has 3 apples and buys 4 more. How many apples does he have?",
            None,
            "Tom has 3 + 4 = <<3+4=7>>7 apples.\n\n\\boxed{7}",
            True,
            "7",
            "7",
            "math",
        ),
        (
            "A shop sells 250 pens a day for 5 days. How many pens?",
            None,
            "It sells 250 * 5 = <<250*5=1250>>1,250 pens.\n\n\\boxed{1250}",
            True,
            "1250",
            "1250",
            "math",
        ),
        (
            "Über 2 Brücken gehen je 5 Kühe. Wie viele Kühe?",
            None,
            "2 × 5 = <<2*5=10>>10 Kühe.\n\n\\boxed{10}",
            True,
            "10",
            "10",
            "math",
        ),
        (
            "The temperature is 2 degrees and drops by 5. What is it now?",
            None,
            "2 - 5 = <<2-5=-3>>-3\n\n\\boxed{-3}",
            True,
            "-3",
            "-3",
            "math",
        ),
    ],
    "math500": [
        (
            "Solve $4x = 3$.",
            None,
            "Dividing by 4, $x=\\boxed{\\frac{3}{4}}$.",
            True,
            "\\frac{3}{4}",
            "\\frac{3}{4}",
            "math",
        ),
        (
            "Which option is largest? (A) 1 (B) 2 (C) 3",
            None,
            "Option (C) is 3, the largest: $\\boxed{\\text{(C)}}$.",
            True,
            "\\text{(C)}",
            "\\text{(C)}",
            "math",
        ),
    ],
    "bespoke": [
        # the answer-format instruction moves to metadata["prompt_template"] (issue 12)
        (
            "What is 5 - 3?",
            "Five minus three is two.",
            "The result is \\boxed{2}.",
            True,
            "2",
            None,
            "math",
        ),
        (
            "Generate an executable Python function that prints hi.",
            "Use print.",
            "```python\ndef f():\n    print('hi')\n```",
            True,
            None,
            None,
            "code",
        ),
        (
            "Solve the knights and knaves puzzle.",
            "Still thinking about the puzzle",
            "",
            False,
            None,
            None,
            "general",
        ),
        ("Was ist 2³?", "2³ = 8", "**8** ✓", True, None, None, "general"),
    ],
    "messages": [
        ("1 + 0?", "Adding zero.", "It is \\boxed{1}.", True, "1", None, "math"),
        # a separate reasoning_content field on the assistant turn
        (
            "What is the capital of France?",
            "France's capital city is Paris.",
            "The capital is Paris.",
            True,
            None,
            None,
            "general",
        ),
        ("Name a prime.", "2 is prime.", "2", True, None, None, "general"),
        (
            "Reason with a prefilled tag.",
            "the prompt opened the tag already",
            "Done: ✓",
            True,
            None,
            None,
            "general",
        ),
    ],
}
# (row, field, reason) of every quarantined row.
QUARANTINED: dict[str, list[tuple[int, str, str]]] = {
    "magpie": [
        (6, "instruction", "null"),
        (7, "response", "expected a string, got int"),
        (8, "response", "empty"),
    ],
    "numina": [(3, "solution", "null")],
    "numina15": [(2, "problem", "empty")],
    "openr1": [(2, "generations", "empty list"), (3, "generations[0]", "null")],
    "s1k": [(3, "thinking_trajectories", "empty list")],
    "s1k11": [],
    "gsm8k": [(2, "answer", "no '#### N' final answer")],
    "math500": [(2, "problem", "null")],
    "bespoke": [(3, "conversations", "no assistant turn after the first user turn")],
    "messages": [(3, "messages", "no user turn"), (4, "messages[0]", "unknown role 'narrator'")],
}
FORMAT_OF = {"numina15": "numina", "s1k11": "s1k"}
FIELDS = (
    "problem",
    "reasoning",
    "answer",
    "reasoning_complete",
    "final_answer",
    "gold_answer",
    "domain",
)


def fixture(name: str) -> str:
    return str(FIXTURES / f"{name}.jsonl")


@pytest.fixture(autouse=True)
def _quiet_progress():
    datasets.disable_progress_bars()
    yield
    datasets.enable_progress_bars()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_exact_split_and_quarantine(name):
    fmt = FORMAT_OF.get(name, name)
    result = normalize(fmt, fixture(name), return_quarantine=True)
    assert isinstance(result, NormalizeResult)
    dataset, quarantine = result
    validate_dataset(dataset)
    assert dataset.features == FEATURES
    got = [tuple(row[f] for f in FIELDS) for row in dataset.to_list()]
    assert got == EXPECTED[name]
    assert [(r["row"], r["field"], r["reason"]) for r in quarantine.to_list()] == QUARANTINED[name]
    assert set(quarantine["source"]) <= {f"{name}.jsonl"}
    summary = result.summary
    assert (summary.kept, summary.quarantined) == (len(EXPECTED[name]), len(QUARANTINED[name]))
    assert summary.line().startswith(f"kept {summary.kept}, quarantined {summary.quarantined}")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_ids_messages_and_source_agree_with_trace_record(name):
    dataset = normalize(FORMAT_OF.get(name, name), fixture(name), revision="abc123")
    for row in dataset.to_list():
        record = TraceRecord(
            problem=row["problem"],
            reasoning=row["reasoning"],
            answer=row["answer"],
            reasoning_complete=row["reasoning_complete"],
        )
        assert (
            row["id"] == record.id == content_hash(row["problem"], row["reasoning"], row["answer"])
        )
        assert row["problem_id"] == content_hash(row["problem"])
        system = row["messages"][0]["content"] if row["messages"][0]["role"] == "system" else None
        assert row["messages"] == build_messages(
            row["problem"],
            row["reasoning"],
            row["answer"],
            reasoning_complete=row["reasoning_complete"],
            system=system,
        )
        assert row["source"] == f"{name}.jsonl@abc123"
        assert isinstance(json.loads(row["metadata"]), dict)


def test_quarantine_keeps_the_raw_source_row():
    _, quarantine = normalize("magpie", fixture("magpie"), return_quarantine=True)
    raw = json.loads(quarantine.to_list()[1]["raw"])
    assert raw["instruction"] == "Valid question?"
    assert raw["response"] == 42  # the mixed-type (datasets Json) column decoded, not re-encoded
    assert raw["uuid"] == "m-0007"


def test_magpie_metadata_keeps_every_extra_column():
    first = normalize("magpie", fixture("magpie"))[0]
    metadata = json.loads(first["metadata"])
    assert metadata == {
        "uuid": "m-0000",
        "gen_input_configs": {
            "temperature": 1.0,
            "top_p": 1.0,
            "input_generator": "fixture-generator",
        },
        "difficulty": "very easy",
        "task_category": "Math",
        "other_task_category": ["Reasoning"],
        "language": "EN",
        "my_extra_column": "extra 0",
    }
    assert list(metadata) == sorted(metadata)  # deterministic key order


def test_math500_and_numina_metadata():
    row = normalize("math500", fixture("math500"))[0]
    assert json.loads(row["metadata"]) == {
        "subject": "Algebra",
        "level": 1,
        "unique_id": "test/algebra/1.json",
    }
    proof = normalize("numina", fixture("numina15"))[1]
    assert json.loads(proof["metadata"])["question_type"] == "proof"
    assert "messages" not in json.loads(normalize("numina", fixture("numina"))[0]["metadata"])


def test_openr1_per_generation_metadata_and_verified_option():
    everything = normalize("openr1", fixture("openr1"))
    verdicts = [json.loads(m) for m in everything["metadata"]]
    assert [(v["generation_index"], v.get("correctness_math_verify")) for v in verdicts] == [
        (0, True),
        (1, False),
        (2, False),
        (0, False),
        (1, True),
    ]
    assert verdicts[2]["finish_reason"] == "length"
    assert verdicts[2]["is_reasoning_complete"] is False
    assert verdicts[3]["correctness_llama"] is True
    assert "generations" not in verdicts[0] and verdicts[0]["uuid"] == "o-1"

    result = normalize("openr1", fixture("openr1"), generations="verified", return_quarantine=True)
    dataset, quarantine = result
    assert dataset["reasoning"] == [
        "Subtract 1 from both sides.",
        "Prefilled reasoning without the opening tag.",
        "Zero plus one.",
    ]
    # the unverified null generation of row 3 is skipped before it could be quarantined
    assert quarantine["row"] == [2]
    assert result.summary.skipped == {"unverified generation (generations='verified')": 3}
    assert result.summary.line() == (
        "kept 3, quarantined 1: generations: empty list (1); "
        "skipped 3 unverified generation (generations='verified')"
    )


def test_s1k_teacher_option_and_metadata():
    gemini = normalize("s1k", fixture("s1k11"), teacher="gemini")
    assert gemini["reasoning"] == ["Three squared is nine.", "Sixteen is four squared."]
    assert gemini["answer"] == ["The final answer is $9$.", "$\\boxed{4}$"]
    assert gemini["final_answer"] == ["9", "4"]
    metadata = json.loads(gemini[0]["metadata"])
    assert metadata["deepseek_attempt"] == "**Answer:** $\\boxed{9}$"  # the other teacher is kept
    assert "gemini_attempt" not in metadata and "question" not in metadata
    with pytest.raises(FormatError, match="teacher"):
        normalize("s1k", fixture("s1k"), teacher="claude")
    with pytest.raises(FormatError, match="deepseek_thinking_trajectory"):
        normalize("s1k", fixture("s1k"), teacher="deepseek")


def test_messages_keeps_system_and_further_turns():
    dataset = normalize("messages", fixture("messages"))
    assert dataset[0]["messages"][0] == {"role": "system", "content": "You are terse."}
    assert json.loads(dataset[2]["metadata"]) == {
        "dataset": "fixture",
        "further_turns": [
            {"role": "user", "content": "Another?"},
            {"role": "assistant", "content": "3"},
        ],
    }
    bespoke = normalize("bespoke", fixture("bespoke"))
    assert bespoke[0]["messages"][0]["role"] == "system"
    assert bespoke[0]["messages"][0]["content"].startswith("Your role as an assistant")
    # the ShareGPT from/value turns of Bespoke read as a generic chat dataset give the same split
    as_chat = normalize("messages", fixture("bespoke"), column="conversations")
    assert as_chat["reasoning"] == bespoke["reasoning"] and as_chat["answer"] == bespoke["answer"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("magpie", "magpie"),
        ("numina", "numina"),
        ("numina15", "numina"),
        ("openr1", "openr1"),
        ("s1k", "s1k"),
        ("s1k11", "s1k"),
        ("gsm8k", "gsm8k"),
        ("math500", "math500"),
        ("bespoke", "bespoke"),
        ("messages", "messages"),
    ],
)
def test_detect_format_and_auto(name, expected):
    assert detect_format(load_table(fixture(name))) == expected
    assert len(normalize("auto", fixture(name))) == len(EXPECTED[name])


def test_detect_format_without_a_fit_names_the_requirements():
    with pytest.raises(FormatError, match="no known format fits the columns foo, bar") as error:
        detect_format(["foo", "bar"])
    assert "magpie needs instruction, response" in str(error.value)


def test_missing_column_names_it_and_the_formats_that_fit():
    with pytest.raises(FormatError) as error:
        normalize("magpie", fixture("gsm8k"))
    message = str(error.value)
    assert "needs column(s) instruction, response" in message
    assert "formats that fit these columns: gsm8k" in message
    assert set(fitting_formats(["problem", "solution", "answer", "subject", "level"])) == {
        "math500",
        "numina",
    }


def test_strict_raises_at_the_first_bad_row():
    with pytest.raises(ValueError, match=r"row 6: field 'instruction': null"):
        normalize("magpie", fixture("magpie"), strict=True)
    # strict on clean data is just a normal run
    assert len(normalize("s1k", fixture("s1k11"), strict=True)) == 2


def test_unknown_format_option_and_hub_id():
    with pytest.raises(FormatError, match=r"known formats|neither a format"):
        normalize("nope", fixture("gsm8k"))
    with pytest.raises(FormatError, match="unknown option"):
        normalize("gsm8k", fixture("gsm8k"), generations="all")
    with pytest.raises(FormatError, match="generations must be"):
        normalize("openr1", fixture("openr1"), generations="some")
    with pytest.raises(FormatError, match="needs data"):
        normalize("magpie")
    with pytest.raises(FormatError, match="nor a known Hub dataset id"):
        normalize("someone/unknown-dataset")


@pytest.mark.parametrize(
    ("hub_id", "fmt", "name"),
    [
        ("openai/gsm8k", "gsm8k", "gsm8k"),
        ("HuggingFaceH4/MATH-500", "math500", "math500"),
        ("open-r1/OpenR1-Math-220k", "openr1", "openr1"),
        ("bespokelabs/Bespoke-Stratos-17k", "bespoke", "bespoke"),
        ("open-thoughts/OpenThoughts-114k", "bespoke", "bespoke"),
        ("HuggingFaceH4/Bespoke-Stratos-17k", "bespoke", "bespoke"),
        ("Magpie-Align/Magpie-Reasoning-V2-250K-CoT-Deepseek-R1-Llama-70B", "magpie", "magpie"),
        ("AI-MO/NuminaMath-CoT", "numina", "numina"),
        ("AI-MO/NuminaMath-1.5", "numina", "numina15"),
        ("AI-MO/NuminaMath-TIR", "numina", "numina"),
        ("simplescaling/s1K", "s1k", "s1k"),
        ("simplescaling/s1K-1.1", "s1k", "s1k11"),
    ],
)
def test_known_hub_ids_load_through_load_table(monkeypatch, hub_id, fmt, name):
    """A known Hub id alone picks its format and is loaded at the given revision (the Hub
    itself is replaced by the fixture: tests never touch the network)."""
    import toolkit.io

    calls = []
    real_load_table = toolkit.io.load_table

    def fake_load_table(source, *, split=None, revision=None, limit=None):
        calls.append((source, split, revision, limit))
        return real_load_table(fixture(name), limit=limit)

    monkeypatch.setattr(toolkit.io, "load_table", fake_load_table)
    result = normalize(hub_id, revision="r1", return_quarantine=True)
    # GSM8K needs its "main" config and MATH-500 has only a test split: the defaults fill them
    loaded = {"openai/gsm8k": "openai/gsm8k:main"}.get(hub_id, hub_id)
    split = {"HuggingFaceH4/MATH-500": "test"}.get(hub_id)
    assert calls == [(loaded, split, "r1", None)]
    assert result.summary.format == fmt
    assert set(result.dataset["source"]) == {f"{loaded}@r1"}
    normalize(hub_id, split="validation", limit=2)
    assert calls[-1] == (loaded, "validation", None, 2)


def test_inputs_dataset_dataframe_parquet_csv_and_arrow_dir(tmp_path):
    expected = normalize("gsm8k", fixture("gsm8k"))
    rows = [json.loads(line) for line in Path(fixture("gsm8k")).read_text().splitlines()]
    frame = pd.DataFrame(rows)
    frame.to_parquet(tmp_path / "g.parquet")
    frame.to_csv(tmp_path / "g.csv", index=False)
    datasets.Dataset.from_pandas(frame).save_to_disk(str(tmp_path / "arrow"))
    for data in (
        datasets.Dataset.from_pandas(frame),
        frame,
        str(tmp_path / "g.parquet"),
        tmp_path / "g.csv",
        str(tmp_path / "arrow"),
    ):
        got = normalize("gsm8k", data)
        assert got["id"] == expected["id"], type(data)
        assert got["final_answer"] == expected["final_answer"]


def test_limit_and_global_row_indices_across_batches():
    limited = normalize("magpie", fixture("magpie"), limit=3)
    assert len(limited) == 3
    _, quarantine = normalize("magpie", fixture("magpie"), batch_size=4, return_quarantine=True)
    assert quarantine["row"] == [6, 7, 8]


def test_empty_input_gives_an_empty_schema_dataset():
    empty = datasets.Dataset.from_dict(
        {"question": [], "answer": []},
        features=datasets.Features(
            {"question": datasets.Value("string"), "answer": datasets.Value("string")}
        ),
    )
    dataset, quarantine = normalize("gsm8k", empty, return_quarantine=True)
    assert len(dataset) == 0 and len(quarantine) == 0
    assert dataset.features == FEATURES


def _synthetic_magpie(rows: int, seed: int = 7) -> datasets.Dataset:
    rng = random.Random(seed)
    instructions, responses = [], []
    for i in range(rows):
        thinking = " ".join(rng.choice(["a", "b", "≤", "x<y", "|x|"]) for _ in range(30))
        style = i % 5
        if style == 0:
            response = f"<think>\n{thinking}\n</think>\n\nSo \\boxed{{{i}}}."
        elif style == 1:
            response = f"{thinking}\n</think>\nAnswer {i}"
        elif style == 2:
            response = f"<think>{thinking}"
        elif style == 3:
            response = f"plain {i}"
        else:
            response = "   "  # quarantined
        instructions.append(None if i % 17 == 0 else f"question {i}")
        responses.append(response)
    return datasets.Dataset.from_dict(
        {
            "instruction": instructions,
            "response": responses,
            "difficulty": [rng.choice(["easy", "hard", None]) for _ in range(rows)],
            "gen_input_configs": [{"temperature": 0.5 * (i % 3), "seed": i} for i in range(rows)],
        }
    )


def test_num_proc_gives_the_same_result_as_one_process():
    data = _synthetic_magpie(240)
    one = normalize("magpie", data, batch_size=25, return_quarantine=True)
    two = normalize("magpie", data, batch_size=25, num_proc=2, return_quarantine=True)
    assert one.dataset.to_list() == two.dataset.to_list()
    assert one.quarantine.to_list() == two.quarantine.to_list()
    assert one.summary.reasons == two.summary.reasons
    assert one.summary.kept + one.summary.quarantined == 240


def test_batched_path_matches_a_per_row_reference():
    """The Arrow-batched conversion equals TraceRecord built row by row with split_thinking."""
    from toolkit.answers import extract_boxed
    from toolkit.thinking import split_thinking

    data = _synthetic_magpie(120)
    dataset = normalize("magpie", data, batch_size=16, source="s")
    expected = []
    for row in data:
        if row["instruction"] is None or not row["response"].strip():
            continue
        split = split_thinking(row["response"])
        metadata = {
            k: v for k, v in row.items() if k not in ("instruction", "response") and v is not None
        }
        expected.append(
            TraceRecord(
                problem=row["instruction"],
                reasoning=split.reasoning,
                answer=split.answer,
                reasoning_complete=split.reasoning_complete,
                final_answer=extract_boxed(split.answer),
                source="s",
                domain="general",
                metadata=metadata,
            ).to_row()
        )
    assert dataset.to_list() == expected


def test_arrow_json_matches_json_dumps_on_random_nested_values():
    rng = random.Random(3)

    def value(depth: int = 0):
        kind = rng.randrange(6 if depth < 2 else 4)
        if kind == 0:
            return None
        if kind == 1:
            return rng.choice(
                ["plain", 'q"uote', "back\\slash", "tab\tnew\nline", "ctrl\x01", "é ✓"]
            )
        if kind == 2:
            return rng.randint(-5, 10**12)
        if kind == 3:
            return rng.choice([True, False])
        if kind == 4:
            return [rng.choice(["a", None, "b\n"]) for _ in range(rng.randrange(3))]
        return {"k": rng.choice(["x", None]), "n": rng.randint(0, 3)}

    columns = {
        "s": [value() if rng.random() < 0.5 else rng.choice(["u", "v\n"]) for _ in range(60)],
        "i": [rng.choice([None, 1, -2]) for _ in range(60)],
        "b": [rng.choice([None, True, False]) for _ in range(60)],
        "l": [rng.choice([None, [], ["x", None, 'y"']]) for _ in range(60)],
        "d": [rng.choice([None, {"b": 1, "a": "z", "c": None}]) for _ in range(60)],
        "f": [rng.choice([None, 0.5, 1.0, 1e-7]) for _ in range(60)],
    }
    columns["s"] = [v if isinstance(v, str) or v is None else str(v) for v in columns["s"]]
    table = pa.table(columns).slice(5, 50)  # slices exercise offset handling
    got = json_objects({name: table.column(name) for name in table.column_names}, 50).to_pylist()
    for i, text in enumerate(got):
        row = {name: columns[name][5 + i] for name in columns}
        assert text == JSON_ENCODER.encode({k: v for k, v in row.items() if v is not None})


def test_every_format_is_registered():
    assert format_names() == [
        "am",
        "bespoke",
        "columns",
        "dolphin",
        "generalthought",
        "gsm8k",
        "limo",
        "magpie",
        "math500",
        "messages",
        "nemotron",
        "numina",
        "openmath",
        "openr1",
        "openthoughts_metadata",
        "r1distill",
        "s1k",
        "s1k_r1",
    ]


def test_batches_where_every_row_is_bad_and_all_null_columns():
    data = datasets.Dataset.from_dict(
        {"question": [None, "q", None], "answer": ["#### 1", "no marker", None]}
    )
    result = normalize("gsm8k", data, batch_size=2, return_quarantine=True)
    assert len(result.dataset) == 0 and result.dataset.features == FEATURES
    assert result.summary.line() == (
        "kept 0, quarantined 3: question: null (2), answer: no '#### N' final answer (1)"
    )
    untyped = datasets.Dataset.from_dict({"question": [None, None], "answer": [None, None]})
    assert normalize("gsm8k", untyped, return_quarantine=True).summary.quarantined == 2


def test_mixed_type_extra_column_keeps_its_json_values(tmp_path):
    """datasets stores a mixed-type column as JSON text (its ``Json`` feature); the metadata
    must carry the values, not JSON-in-a-string."""
    rows = [
        {"question": "q1", "answer": "a\n#### 1", "difficulty": 3},
        {"question": "q2", "answer": "b\n#### 2", "difficulty": "hard"},
        {"question": "q3", "answer": "c\n#### 3", "difficulty": {"level": [1, 2]}},
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    dataset = normalize("gsm8k", str(path))
    assert [json.loads(m)["difficulty"] for m in dataset["metadata"]] == [
        3,
        "hard",
        {"level": [1, 2]},
    ]


def test_a_custom_format_instance_as_in_the_package_docstring():
    from toolkit.formats import BadRow, Format, require_text
    from toolkit.thinking import split_thinking

    class QAFormat(Format):
        name = "qa"
        description = "question + reasoning + answer columns"
        required = ("question", "answer")
        consumed = ("question", "reasoning", "answer")

        def convert(self, batch, out):
            for i, (question, reasoning, answer) in enumerate(
                zip(
                    batch.column("question"),
                    batch.column("reasoning"),
                    batch.column("answer"),
                    strict=True,
                )
            ):
                try:
                    problem = require_text(question, "question")
                except BadRow as bad:
                    out.reject(i, bad.field, bad.reason)
                    continue
                split = split_thinking(answer, reasoning=reasoning)
                out.add_split(i, problem, split)

    data = pd.DataFrame(
        {
            "question": ["1+1?", None],
            "reasoning": ["one and one", "x"],
            "answer": ["\\boxed{2}", "y"],
            "tag": ["t1", "t2"],
        }
    )
    result = normalize(QAFormat(), data, return_quarantine=True)
    row = result.dataset[0]
    assert (row["reasoning"], row["answer"], row["final_answer"]) == (
        "one and one",
        "\\boxed{2}",
        "2",
    )
    assert row["domain"] == "math" and json.loads(row["metadata"]) == {"tag": "t1"}
    assert result.summary.line() == "kept 1, quarantined 1: question: null (1)"
    assert "qa" not in format_names()
