"""The design choices of issue 12, as a user training on the output needs them, and the
``columns`` mapping: template prefixes out of ``problem``, system prompts that name other
markers, GSM8K's marked final answer, short golds, final answers through
:func:`toolkit.answers.final_answer`."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from toolkit.errors import UsageError
from toolkit.formats import FormatError, normalize
from toolkit.formats.mapped import short_gold
from toolkit.formats.prompts import SystemPromptPolicy, strip_template
from toolkit.schema import content_hash

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "formats"
SKY_T1_MARKERS = ("<|begin_of_thought|>", "<|end_of_thought|>", "<|begin_of_solution|>")


@pytest.fixture(autouse=True)
def _quiet_progress():
    datasets.disable_progress_bars()
    yield
    datasets.enable_progress_bars()


def test_template_prefix_leaves_problem_and_problem_id_matches_other_sources():
    bespoke = normalize("bespoke", str(FIXTURES / "bespoke.jsonl"))[0]
    assert bespoke["problem"] == "What is 5 - 3?"
    assert bespoke["problem_id"] == content_hash("What is 5 - 3?")
    metadata = json.loads(bespoke["metadata"])
    assert metadata["prompt_template"] == "Return your final response within \\boxed{}."
    kept = normalize("bespoke", str(FIXTURES / "bespoke.jsonl"), strip_templates=False)[0]
    assert kept["problem"] == "Return your final response within \\boxed{}. What is 5 - 3?"
    # the same problem from OpenThoughts' metadata config and from open-r1's math subset
    meta = normalize("openthoughts_metadata", str(FIXTURES / "openthoughts_metadata.jsonl"))[0]
    math = normalize("bespoke", str(FIXTURES / "openthoughts_math.jsonl"))[0]
    assert meta["problem_id"] == math["problem_id"]


def test_a_problem_that_is_only_the_instruction_is_quarantined():
    table = datasets.Dataset.from_dict(
        {
            "instruction": ["Return your final response within \\boxed{}.", "1+1?"],
            "response": ["<think>\nx\n</think>\n\n\\boxed{2}"] * 2,
        }
    )
    result = normalize("magpie", table, return_quarantine=True)
    assert result.dataset["problem"] == ["1+1?"]
    assert result.summary.reasons == {"problem: only an answer-format instruction, no problem": 1}


def test_only_answer_format_instructions_are_stripped():
    assert strip_template(
        "Solve x. Please reason step by step, and put your final answer within \\boxed{}."
    ) == (
        "Solve x.",
        "Please reason step by step, and put your final answer within \\boxed{}.",
    )
    code = "Generate an executable Python function generated from the given prompt. Print 1."
    assert strip_template(code) == (code, None)  # code prompts define what a correct answer is


@pytest.mark.parametrize("policy", ["rewrite", "drop", "keep"])
def test_system_prompt_that_names_other_markers(policy):
    row = normalize("bespoke", str(FIXTURES / "openthoughts_math.jsonl"), system_prompt=policy)[0]
    original = json.loads((FIXTURES / "openthoughts_math.jsonl").read_text())["system"]
    metadata = json.loads(row["metadata"])
    first = row["messages"][0]
    assistant = row["messages"][-1]["content"]
    assert assistant.startswith("<think>\n") and "<|" not in assistant
    if policy == "keep":
        assert first == {"role": "system", "content": original}
        assert "source_system" not in metadata
        return
    assert metadata["source_system"] == original
    if policy == "drop":
        assert first["role"] == "user"
    else:
        assert first["role"] == "system"
        assert not any(marker in first["content"] for marker in SKY_T1_MARKERS)
        assert "format: <think> {thought with steps" in first["content"]
        assert first["content"].startswith("Your role as an assistant involves thoroughly")


def test_system_prompt_policy_is_validated_and_cached():
    with pytest.raises(UsageError, match="system_prompt must be one of rewrite, drop, keep"):
        SystemPromptPolicy("rename")
    policy = SystemPromptPolicy("rewrite")
    assert policy.apply("You are terse.") == ("You are terse.", False)
    assert (
        policy.apply("Use <|begin_of_thought|> x <|end_of_thought|>")[0] == "Use <think> x </think>"
    )


def test_gsm8k_answer_keeps_its_final_answer_marked():
    path = str(FIXTURES / "gsm8k_real.jsonl")
    boxed = normalize("gsm8k", path)[0]
    assert boxed["answer"].endswith("farmer’s market.\n\n\\boxed{18}")
    assert boxed["messages"][-1]["content"].endswith("\\boxed{18}")
    assert (boxed["final_answer"], boxed["gold_answer"]) == ("18", "18")
    hashed = normalize("gsm8k", path, final_marker="hash")[0]
    assert hashed["answer"].endswith("farmer’s market.\n\n#### 18")
    with pytest.raises(FormatError, match="final_marker must be 'boxed' or 'hash'"):
        normalize("gsm8k", path, final_marker="none")


def test_golds_are_short_answers():
    assert short_gold("128") == "128"
    assert short_gold("First, $x = 2$. Then $y = 3$.\nSo the answer is $\\boxed{5}$.") == "5"
    assert short_gold("A long worked solution\nwith several lines and no marked answer.") is None
    table = datasets.Dataset.from_dict(
        {
            "question": ["q1", "q2"],
            "solution": [
                "Let $a=1$.\nThen $b = 2a = 2$, so the answer is $\\boxed{2}$.",
                "A proof in several lines.\nIt ends without a single short answer to grade.",
            ],
            "cot_type": ["math", "math"],
            "thinking_trajectories": [["thinking"], ["thinking"]],
            "attempt": ["\\boxed{2}", "done"],
        }
    )
    rows = normalize("s1k", table)
    assert rows["gold_answer"] == ["2", None]
    assert json.loads(rows[1]["metadata"])["solution"].startswith("A proof")  # kept whole


def test_final_answers_come_from_toolkit_answers():
    """Records use :func:`toolkit.answers.final_answer` (not only the last \\boxed{}), so a
    "The final answer is X" statement counts for every format."""
    table = datasets.Dataset.from_dict(
        {
            "instruction": ["q"],
            "response": ["<think>\nhmm\n</think>\n\nThe final answer is 7"],
        }
    )
    assert normalize("magpie", table)[0]["final_answer"] == "7"


def test_columns_mapping_with_and_without_a_reasoning_column(tmp_path):
    rows = [
        {
            "instruction": "2+2?",
            "thinking": "two and two",
            "output": "\\boxed{4}",
            "ref": "4",
            "tag": "a",
        },
        {
            "instruction": "3+3?",
            "thinking": None,
            "output": "<think>\nthree twice\n</think>\n\n6",
            "ref": "The sum is $\\boxed{6}$.",
            "tag": "b",
        },
    ]
    path = tmp_path / "custom.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    mapped = normalize(
        "columns",
        str(path),
        problem="instruction",
        reasoning="thinking",
        answer="output",
        gold="ref",
    )
    got = [
        (r["problem"], r["reasoning"], r["answer"], r["final_answer"], r["gold_answer"])
        for r in mapped
    ]
    assert got == [
        ("2+2?", "two and two", "\\boxed{4}", "4", "4"),
        ("3+3?", "three twice", "6", None, "6"),  # thinking split from the answer column
    ]
    assert json.loads(mapped[0]["metadata"]) == {"ref": "4", "tag": "a"}
    no_reasoning = normalize("columns", str(path), problem="instruction", answer="output")
    assert no_reasoning["reasoning"] == [None, "three twice"]


def test_columns_mapping_errors_name_the_option():
    table = datasets.Dataset.from_dict({"q": ["x"], "a": ["y"]})
    with pytest.raises(FormatError, match="needs problem and answer= column names"):
        normalize("columns", table)
    with pytest.raises(FormatError, match=r"needs column\(s\) question \(--problem\)"):
        normalize("columns", table, problem="question", answer="a")
    with pytest.raises(FormatError, match="unknown option"):
        normalize("columns", table, problem="q", answer="a", thinking="t")
    assert (
        normalize("columns", table, problem="q", answer="a", domain_column="q")[0]["domain"] == "x"
    )
