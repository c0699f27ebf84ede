"""Every public R1-trace dataset of issue 12, on a fixture built from its real layout (and real
text where a copy was reachable offline): ``auto`` picks the right format (or refuses with the
candidates), and the split into problem / reasoning / answer / final / gold is exact.

Each fixture has a ``NAME.provenance.json`` sidecar: the dataset id, the revision, where the
columns and the row text were read, and for every row whether its text is verbatim, trimmed or
composed in the verified layout. The provenance test keeps that honest.
"""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from toolkit.formats import AmbiguousFormatError, detect_format, normalize
from toolkit.io import load_table
from toolkit.schema import FEATURES, validate_dataset

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "formats"
FIELDS = ("problem", "reasoning", "answer", "reasoning_complete", "final_answer", "gold_answer")

AM_REASONING_START = "Okay, let's see. The user wants to find the integral of e^{-x} + e^{-2x} dx."
AM_ANSWER = (
    "The integral of \\(e^{-x} + e^{-2x}\\) with respect to \\(x\\) is:\n\n\\[\n\\int "
    "\\left(e^{-x} + e^{-2x}\\right) dx = -e^{-x} - \\frac{1}{2}e^{-2x} + C\n\\]\n\nwhere "
    "\\(C\\) is the constant of integration."
)

# fixture → (format auto picks, [(problem, reasoning, answer, complete, final, gold) …],
#            [(row, field, reason) quarantined …]). A reasoning/answer ending in "…" is compared by
# prefix (long verbatim texts).
CASES: dict[str, tuple[str, list[tuple], list[tuple]]] = {
    "r1distill_v0": (
        "r1distill",
        [
            (
                "Compute $1+2+\\cdots+10$.",
                "We need 1+2+...+10 = 10·11/2 = 55.",
                "The sum is $\\boxed{55}$.",
                True,
                "55",
                "55",
            )
        ],
        [],
    ),
    "r1distill_v1": (
        "r1distill",
        [
            (
                "Factor 84 into primes.",
                "Prime factorization of 84 = 2^2 · 3 · 7.",
                "$84 = 2^2 \\cdot 3 \\cdot 7$, so the answer is $\\boxed{2^2 \\cdot 3 \\cdot 7}$.",
                True,
                "2^2 \\cdot 3 \\cdot 7",
                "2^2 \\cdot 3 \\cdot 7",
            )
        ],
        [],
    ),
    "openthoughts_math": (
        "bespoke",
        [
            (
                "What is the remainder when $2^{10}$ is divided by 7?",
                "2^3 ≡ 1 mod 7, so 2^10 ≡ 2.",
                "The remainder is $\\boxed{2}$.",
                True,
                "2",
                "2",
            )
        ],
        [],
    ),
    "openthoughts_metadata": (
        "openthoughts_metadata",
        [
            (
                "What is the remainder when $2^{10}$ is divided by 7?",
                "2^3 = 8 ≡ 1 (mod 7), so 2^10 = 2^9 · 2 ≡ 1 · 2 = 2.",
                "Since $2^3 \\equiv 1 \\pmod 7$, $2^{10} \\equiv 2$. The remainder is $\\boxed{2}$.",
                True,
                "2",
                "2",
            ),
            (
                "Generate an executable Python function generated from the given prompt. The "
                "function should take stdin as input and print the output. Simply call the "
                "function after the definition. Print the sum of two integers read from stdin.",
                "Read two ints, print their sum.",
                "```python\ndef main():\n    a, b = map(int, input().split())\n    print(a + b)"
                "\n\nmain()\n```",
                True,
                None,
                None,
            ),
        ],
        [],
    ),
    "openthoughts3": (
        "bespoke",
        [
            (
                "Write a function that returns the n-th Fibonacci number.",
                "Iterate with two accumulators.",
                "```python\ndef fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b,"
                " a + b\n    return a\n```",
                True,
                None,
                None,
            ),
            ("What is $3^4$?", "3^4 = 81.", "$3^4 = \\boxed{81}$", True, "81", None),
        ],
        [],
    ),
    "openthoughts2": (
        "bespoke",
        [
            (
                "Find [the decimal form of] the largest prime divisor of $100111011_6$.",
                "Okay, so I need to find the largest prime divisor of the number 100111011 in "
                "base 6…",
                "The decimal form of the number \\(100111011_6\\) is calculated by expanding…",
                True,
                "181",
                None,
            )
        ],
        [],
    ),
    "numina15_real": (
        "numina",
        [
            (
                "Problem 1. Find all prime numbers $p$ for which there exist positive integers…",
                None,
                "Solution. Let $A=x^{p}+y^{p}+z^{p}-x-y-z$.…",
                True,
                None,
                None,  # answer "proof": no gold
            )
        ],
        [],
    ),
    "limo": (
        "limo",
        [
            (
                "Find the last three digits of the product of the positive roots of "
                "$\\sqrt{1995}x^{\\log_{1995}x}=x^2.$",
                None,
                "Okay, so I need to find the last three digits…",
                True,
                "25",
                "25",
            )
        ],
        [(1, "solution", "null")],
    ),
    "dolphin": (
        "dolphin",
        [
            (
                "Is 221 a prime number?",
                "Let me check small primes. 221 / 13 = 17, so 221 = 13 × 17. Not prime.",
                "No. 221 = 13 × 17, so it is not prime.",
                True,
                None,
                None,
            ),
            (
                "Name the largest planet.",
                "The largest planet in the solar system is Jupiter.",
                "Jupiter.",
                True,
                None,
                None,
            ),
        ],
        [],
    ),
    "am": (
        "am",
        [
            (
                "Find the integral of \\(e^{-x} + e^{-2x} dx\\).",
                AM_REASONING_START + "…",
                AM_ANSWER,
                True,
                None,
                "-e^{-x} - \\frac{1}{2}e^{-2x} + C",
            )
        ],
        [(1, "messages", "no assistant turn after the first user turn")],
    ),
    "openmath": (
        "openmath",
        [
            (
                "Given a group of \\( N \\) balls consisting of \\( C \\) colors…",
                "Okay, so I need to find the probability that when I pick A balls out of N…",
                "To find the probability that when A balls are randomly picked…",
                True,
                None,
                "\\(\\frac{C_{n_1}^{a_1} \\cdot C_{n_2}^{a_2} \\cdot \\ldots \\cdot "
                "C_{n_C}^{a_C}}{C_N^A}\\)",
            ),
            # converted_proof: expected_answer is a majority vote, not a gold
            (
                "Let \\( a, b > 0 \\) with \\( ab = 1 \\). Find the minimum of \\( a + b \\).",
                "By AM-GM, a + b >= 2 sqrt(ab) = 2, with equality at a = b = 1.",
                "The minimum is \\(\\boxed{2}\\).",
                True,
                "2",
                None,
            ),
            # genselect: the answer is a selection
            (
                "You will be given a challenging math problem followed by 2 solutions…",
                "Solution 0 adds correctly; solution 1 does not.",
                "Judgment: 0",
                True,
                None,
                None,
            ),
        ],
        [],
    ),
    "openmath_additional": ("openmath", [], []),
    "s1k_r1": (
        "s1k_r1",
        [
            (
                "Given a rational number, write it as a fraction in lowest terms…",
                "We need coprime a < b with ab = 20!. 20! has 8 distinct primes, so 2^8 ordered "
                "splits, 2^7 with a < b.",
                "The count is $\\boxed{128}$.",
                True,
                "128",
                "128",
            ),
            (
                "Given a rational number, write it as a fraction in lowest terms…",
                "Maybe every divisor works? That gives too many.",
                "$\\boxed{41040}$",
                True,
                "41040",
                "128",
            ),
        ],
        [],
    ),
    "s1k11_lists": (
        "s1k",
        [
            (
                "Given a rational number, write it as a fraction in lowest terms…",
                "Alright, so I need to count fractions a/b in lowest terms with ab = 20!.\n\n20! "
                "has 8 distinct prime factors, each goes wholly to a or b: 2^8 ways, half with "
                "a<b.",
                "There are $2^7 = \\boxed{128}$ such rational numbers.",
                True,
                "128",
                "128",
            )
        ],
        [],
    ),
    "generalthought": (
        "generalthought",
        [
            (
                "What is the derivative of $x^3$?",
                "Power rule: d/dx x^n = n x^{n-1}, so 3x^2.",
                "The derivative is $3x^2$.",
                True,
                None,
                "3x^2",
            ),
            # no visible reasoning (o3-mini); a long reference answer is no short gold
            ("Why is the sky blue?", None, "Because of Rayleigh scattering.", True, None, None),
        ],
        [],
    ),
    "mixture_of_thoughts": (
        "messages",
        [
            (
                "You will be given a competitive programming problem…",
                "Trivial: read and double.",
                "```cpp\n#include <iostream>\nint main(){long long n;std::cin>>n;std::cout<<n*2;}"
                "\n```",
                True,
                None,
                None,
            )
        ],
        [],
    ),
    "nemotron": (
        "nemotron",
        [
            (
                "Can you explain the Pythagorean theorem?",
                "The user is asking for an explanation of the Pythagorean theorem…",
                "The Pythagorean theorem states that in a right triangle, the square of the "
                "hypotenuse equals the sum of the squares of the other two sides: a² + b² = c².",
                True,
                None,
                None,
            ),
            (
                "Can you explain the Pythagorean theorem?",
                None,
                "The Pythagorean theorem: in a right triangle, a² + b² = c², where c is the "
                "hypotenuse.",
                True,
                None,
                None,
            ),
            ("What is 7 * 8?", "7 * 8 = 56.", "7 × 8 = \\boxed{56}", True, "56", None),
        ],
        [],
    ),
    "numina15": (
        "numina",
        [
            ("Compute $2 \\cdot 3$.", None, "$2 \\cdot 3 = \\boxed{6}$", True, "6", "6"),
            (
                "Prove that $\\sqrt{2}$ is irrational.",
                None,
                "Suppose $\\sqrt{2}=p/q$ in lowest terms; then $p^2=2q^2$, a contradiction.",
                True,
                None,
                None,
            ),
        ],
        [(2, "problem", "empty")],
    ),
    "gsm8k_real": (
        "gsm8k",
        [
            (
                "Janet’s ducks lay 16 eggs per day…",
                None,
                "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = "
                "$<<9*2=18>>18 every day at the farmer’s market.\n\n\\boxed{18}",
                True,
                "18",
                "18",
            )
        ],
        [],
    ),
}


@pytest.fixture(autouse=True)
def _quiet_progress():
    datasets.disable_progress_bars()
    yield
    datasets.enable_progress_bars()


def _matches(got, want) -> bool:
    if isinstance(want, str) and want.endswith("…"):
        return isinstance(got, str) and got.startswith(want[:-1])
    return got == want


@pytest.mark.parametrize("name", sorted(CASES))
def test_auto_detects_and_splits_each_dataset(name):
    fmt, expected, quarantined = CASES[name]
    path = FIXTURES / f"{name}.jsonl"
    assert detect_format(load_table(path)) == fmt
    result = normalize("auto", str(path), return_quarantine=True)
    assert result.summary.format == fmt
    assert result.summary.notes == []  # nothing left out of the SFT target
    validate_dataset(result.dataset)
    assert result.dataset.features == FEATURES
    rows = [tuple(row[f] for f in FIELDS) for row in result.dataset.to_list()]
    assert len(rows) == len(expected), rows
    for got, want in zip(rows, expected, strict=True):
        assert all(_matches(g, w) for g, w in zip(got, want, strict=True)), (got, want)
    got_quarantine = [(q["row"], q["field"], q["reason"]) for q in result.quarantine.to_list()]
    assert got_quarantine == quarantined


def test_fixtures_carry_their_provenance():
    """Every dataset fixture names its source, revision and where it was read, and says for each
    row whether its text is verbatim or composed in the verified layout."""
    for name in [*CASES, "aime24"]:
        if name == "numina15":
            continue  # hand-written before issue 12 (NuminaMath-1.5 layout, no row text claimed)
        sidecar = FIXTURES / f"{name}.provenance.json"
        assert sidecar.exists(), f"{name}: no provenance sidecar"
        provenance = json.loads(sidecar.read_text(encoding="utf-8"))
        assert provenance["fixture"] == f"{name}.jsonl"
        assert provenance["dataset"] and provenance["revision"] and provenance["read_from"]
        lines = (FIXTURES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        assert provenance["rows"] == len(lines)
        assert sorted(provenance["row_text"], key=int) == [str(k) for k in range(len(lines))]
        for text in provenance["row_text"].values():
            assert text.startswith(("verbatim", "composed", "question", "prompt")), text


def test_am_answer_tags_leave_answer_and_sft_target():
    dataset = normalize("am", str(FIXTURES / "am.jsonl"))
    row = dataset[0]
    assistant = row["messages"][-1]["content"]
    assert "<answer>" not in row["answer"] and "</answer>" not in row["answer"]
    assert "<answer>" not in assistant and assistant.startswith("<think>\n" + AM_REASONING_START)
    info = json.loads(row["metadata"])["info"]
    assert info["user"] == {
        "source": "natural_reasoning",
        "reference_answer": "-e^{-x} - \\frac{1}{2}e^{-2x} + C",
    }
    assert info["assistant"] == {"source": "am-0309"}  # think/answer_content repeat the content


def test_dolphin_keeps_the_system_turn_and_model():
    row = normalize("dolphin", str(FIXTURES / "dolphin.jsonl"))[0]
    assert row["messages"][0] == {"role": "system", "content": "You are a helpful assistant."}
    assert json.loads(row["metadata"]) == {"model": "deepseek-ai/DeepSeek-R1"}


def test_nemotron_mode_option_and_history():
    on = normalize("nemotron", str(FIXTURES / "nemotron.jsonl"), mode="on", return_quarantine=True)
    assert [r["reasoning"] is not None for r in on.dataset] == [True, True]
    assert on.summary.skipped == {"reasoning-off row (mode='on')": 1}
    history = json.loads(on.dataset[1]["metadata"])["history"]
    assert history == [
        {"role": "user", "content": "Hi!"},
        {"role": "assistant", "content": "Hello! How can I help?"},
    ]
    assert on.dataset[0]["messages"][0] == {"role": "system", "content": "detailed thinking on"}


def test_openmath_gold_only_when_the_card_says_it_is_one():
    dataset = normalize("openmath", str(FIXTURES / "openmath.jsonl"))
    metadata = [json.loads(m) for m in dataset["metadata"]]
    assert [m["expected_answer"] for m in metadata][1:] == ["2", "4"]  # kept, though not gold
    assert dataset["gold_answer"][1:] == [None, None]
    result = normalize(
        "openmath", str(FIXTURES / "openmath_additional.jsonl"), return_quarantine=True
    )
    assert result.summary.line() == (
        "kept 0, quarantined 0; skipped 1 problem without a generated solution "
        "(additional_problems)"
    )


def test_s1k_r1_reads_the_r1_generations_not_the_gemini_trajectory():
    result = normalize("auto", str(FIXTURES / "s1k_r1.jsonl"), return_quarantine=True)
    metadata = [json.loads(m) for m in result.dataset["metadata"]]
    assert [m["correctness_math_verify"] for m in metadata] == [True, False]
    assert metadata[0]["thinking_trajectories"][0].startswith("Let the rational number")
    verified = normalize("s1k_r1", str(FIXTURES / "s1k_r1.jsonl"), generations="verified")
    assert verified["final_answer"] == ["128"]


def test_openthoughts_metadata_hub_id_with_config(monkeypatch):
    import toolkit.io

    real = toolkit.io.load_table
    calls = []

    fixtures = {
        "open-thoughts/OpenThoughts-114k:metadata": "openthoughts_metadata",
        "ServiceNow-AI/R1-Distill-SFT:v1": "r1distill_v1",
    }

    def fake(source, *, split=None, revision=None, limit=None):
        calls.append(source)
        return real(FIXTURES / f"{fixtures[source]}.jsonl", limit=limit)

    monkeypatch.setattr(toolkit.io, "load_table", fake)
    assert normalize(
        "open-thoughts/OpenThoughts-114k:metadata", return_quarantine=True
    ).summary.format == ("openthoughts_metadata")
    calls.clear()
    result = normalize("ServiceNow-AI/R1-Distill-SFT", return_quarantine=True)
    assert calls == ["ServiceNow-AI/R1-Distill-SFT:v1"] and result.summary.format == "r1distill"


def test_aime_table_fits_two_formats_equally_and_is_refused():
    """An AIME table (problem, question, solution, answer) fits numina and limo equally: before,
    alphabetical order decided; now auto refuses and lists both, and either works when named."""
    path = str(FIXTURES / "aime24.jsonl")
    with pytest.raises(AmbiguousFormatError) as error:
        normalize("auto", path)
    message = str(error.value)
    assert "limo, numina fit equally well" in message
    assert "gsm8k (score 0, 0/1 sampled rows convert): answer: no '#### N'" in message
    assert error.value.exit_code == 2 and "--format" in error.value.hint
    named = normalize("numina", path)
    assert named["gold_answer"] == ["204"]  # the AoPS solution marks no final answer
    assert named["problem"][0].startswith("Every morning Aya goes for a $9$-kilometer-long walk")
