"""Curation steps: every removal counted with its reason; decontamination on planted overlaps."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.curate import (
    CurationReport,
    MinHashLSH,
    complete_only,
    contamination_flags,
    correct_only,
    curate,
    decontaminate,
    dedup,
    estimate_tokens,
    length_filter,
    load_benchmark_indexes,
    pass_rate,
    read_lineage,
    write_lineage,
)
from toolkit.curate.ngrams import build_ngram_index
from toolkit.errors import EmptyOutputError
from toolkit.schema import TraceRecord, records_to_dataset


def _dataset(rows: list[dict]) -> datasets.Dataset:
    return records_to_dataset([TraceRecord(**row) for row in rows])


def _graded(pairs: list[tuple[str, bool | None, str | None]]) -> datasets.Dataset:
    base = _dataset([{"problem": p, "answer": "a", "reasoning": "r"} for p, _, _ in pairs])
    base = base.add_column("correct", [c for _, c, _ in pairs], feature=datasets.Value("bool"))
    return base.add_column(
        "verify_error", [e for _, _, e in pairs], feature=datasets.Value("string")
    )


def test_correct_only_counts_reasons():
    data = _graded(
        [
            ("p1", True, None),
            ("p2", False, None),
            ("p3", None, "gold_unparseable"),
            ("p4", True, None),
            ("p5", None, "timeout"),
        ]
    )
    kept, report = correct_only(data)
    assert kept["problem"] == ["p1", "p4"]
    assert (report.rows_in, report.rows_out, report.removed) == (5, 2, 3)
    assert report.removed_by_reason == {
        "incorrect": 1,
        "ungradable:gold_unparseable": 1,
        "ungradable:timeout": 1,
    }
    kept, report = correct_only(data, keep_ungradable=True)
    assert kept["problem"] == ["p1", "p3", "p4", "p5"]


def test_correct_only_needs_verification():
    with pytest.raises(ValueError, match=r"no 'correct' column.*toolkit verify"):
        correct_only(_dataset([{"problem": "p", "answer": "a"}]))


def test_complete_only():
    data = _dataset(
        [
            {"problem": "a", "reasoning": "r", "answer": "x"},
            {"problem": "b", "reasoning": "r", "answer": "", "reasoning_complete": False},
            {"problem": "c", "reasoning": "r", "answer": "  "},
        ]
    )
    kept, report = complete_only(data)
    assert kept["problem"] == ["a"]
    assert report.removed_by_reason == {"reasoning_incomplete": 1, "empty_answer": 1}


def test_length_filter_estimate_and_tokenizer():
    assert estimate_tokens("Let x = 2, so x^2 = 4.") == 12
    data = _dataset(
        [
            {"problem": "short", "reasoning": "one two", "answer": "a"},
            {"problem": "mid", "reasoning": " ".join(["w"] * 50), "answer": "a"},
            {"problem": "long", "reasoning": " ".join(["w"] * 500), "answer": "a"},
            {"problem": "none", "reasoning": None, "answer": "a"},
        ]
    )
    kept, report = length_filter(data, min_tokens=10, max_tokens=100)
    assert kept["problem"] == ["mid"]
    assert report.removed_by_reason == {"too_short": 2, "too_long": 1}

    class CharTokenizer:  # one token per character: a real tokenizer's call signature
        name_or_path = "chars"

        def __call__(self, texts, add_special_tokens=False):
            return {"input_ids": [list(t) for t in texts]}

    kept, report = length_filter(data, max_tokens=50, tokenizer=CharTokenizer())
    assert kept["problem"] == ["short", "none"]
    assert report.params["tokenizer"] == "chars"
    with pytest.raises(ValueError, match="min_tokens, max_tokens"):
        length_filter(data)


def test_exact_dedup_normalises_case_space_and_punctuation():
    data = _dataset(
        [
            {"problem": "What is 2+2?", "reasoning": "Two plus two.", "answer": "4"},
            {"problem": "what is 2 + 2", "reasoning": "two   plus two", "answer": "4."},
            {"problem": "What is 2+3?", "reasoning": "Two plus three.", "answer": "5"},
        ]
    )
    kept, report = dedup(data)
    assert kept["problem"] == ["What is 2+2?", "What is 2+3?"]
    assert report.removed_by_reason == {"exact_duplicate": 1}


def test_near_dedup_minhash_removes_planted_near_copy_only():
    words = [f"word{i}" for i in range(200)]
    base = " ".join(words)
    near = " ".join([*words[:150], "changed", *words[151:]])  # one word of 200 differs
    other = " ".join(f"other{i}" for i in range(200))
    data = _dataset(
        [
            {"problem": "p", "reasoning": base, "answer": "a"},
            {"problem": "p", "reasoning": near, "answer": "a"},
            {"problem": "p", "reasoning": other, "answer": "a"},
        ]
    )
    kept, report = dedup(data, near=False)
    assert report.removed == 0
    kept, report = dedup(data, near=True, threshold=0.8)
    assert kept["reasoning"] == [base, other]
    assert report.removed_by_reason == {"near_duplicate": 1}


def test_minhash_estimates_jaccard():
    index = MinHashLSH(threshold=0.5, num_perm=256, seed=1)
    a = index.signature(range(0, 1000))
    b = index.signature(range(500, 1500))  # true Jaccard 1/3
    estimate = float((a == b).mean())
    assert 0.25 < estimate < 0.42


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


AIME_PROBLEM = (
    "Find the number of ordered pairs of positive integers (m, n) such that m squared times n "
    "equals twenty to the power of twenty."
)


@pytest.fixture
def hub_offline(monkeypatch):
    """huggingface_hub and datasets read HF_HUB_OFFLINE at import, before conftest sets it:
    force offline mode so unavailable benchmarks fail at once instead of retrying DNS."""
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)


def test_decontaminate_planted_overlaps(tmp_path, monkeypatch, hub_offline):
    bench = tmp_path / "bench"
    bench.mkdir()
    _write_jsonl(bench / "aime24_test.jsonl", [{"problem": AIME_PROBLEM, "answer": "231"}])
    _write_jsonl(
        bench / "math500_test.jsonl",
        [
            {
                "problem": "Compute the sum of all prime numbers "
                "less than one hundred and express it in base ten.",
                "answer": "1060",
            }
        ],
    )
    monkeypatch.setenv("TOOLKIT_BENCHMARK_DIR", str(bench))
    rows = [
        # 10 consecutive words of the AIME problem, different case and punctuation: flagged.
        {
            "problem": "Warm-up. FIND the number of ordered pairs of positive integers (m,n) "
            "where it works!",
            "answer": "x",
        },
        # Only 7 consecutive words in common: not an 8-gram overlap.
        {"problem": "count the number of ordered pairs of positive apples", "answer": "x"},
        {"problem": "Compute the sum of all prime numbers less than one hundred.", "answer": "x"},
        {"problem": "A completely unrelated question about triangles.", "answer": "x"},
        {
            "problem": "Our private set says: the quick brown fox jumps over the lazy dog today.",
            "answer": "x",
        },
    ]
    data = _dataset(rows)
    kept, report = decontaminate(
        data,
        ["aime24", "math500", "aime25", "gsm8k", "gpqa_diamond"],
        extra={"private": ["Yes the quick brown fox jumps over the lazy dog today again"]},
    )
    assert kept["problem"] == [rows[1]["problem"], rows[3]["problem"]]
    assert report.removed_by_reason == {
        "contaminated:aime24": 1,
        "contaminated:math500": 1,
        "contaminated:private": 1,
    }
    assert report.params["flagged"] == {"aime24": 1, "math500": 1, "private": 1}
    # Offline and without local files, these cannot load: named, never silently skipped.
    assert sorted(report.params["unavailable"]) == ["aime25", "gpqa_diamond", "gsm8k"]
    assert any(n.startswith("unavailable: aime25") for n in report.notes)
    for column in ("contaminated_aime24", "contaminated_math500", "contaminated_private"):
        assert column in kept.column_names
    flagged, _ = decontaminate(data, ["aime24", "math500"], remove=False)
    assert len(flagged) == 5
    assert flagged["contaminated_aime24"] == [True, False, False, False, False]
    assert flagged["contaminated_math500"] == [False, False, True, False, False]


def test_decontaminate_against_real_benchmark_files(shared_data, monkeypatch):
    monkeypatch.setenv("TOOLKIT_BENCHMARK_DIR", str(shared_data))
    indexes, unavailable = load_benchmark_indexes(("gsm8k", "math500", "aime24"), ngram=8)
    assert [i.problems for i in indexes] == [1319, 500, 30]
    assert unavailable == []
    gsm8k_first = json.loads((shared_data / "gsm8k_test.jsonl").read_text().splitlines()[0])
    texts = [gsm8k_first["question"].upper(), "Nothing to see in this short sentence here at all."]
    flags = contamination_flags(texts, indexes)
    assert flags["gsm8k"] == [True, False]
    assert flags["math500"] == [False, False]


def test_pass_rate_groups_samples_per_problem():
    rows, correct = [], []
    for problem, verdicts in {
        "easy": [1, 1, 1, 1],
        "mid": [1, 0, 1, 0],
        "hard": [0, 0, 0, 0],
        "bad": [None, None],
    }.items():
        for v in verdicts:
            rows.append({"problem": problem, "answer": "a", "reasoning": "r"})
            correct.append(None if v is None else bool(v))
    data = _dataset(rows).add_column("correct", correct, feature=datasets.Value("bool"))
    kept, report = pass_rate(data, 0.1, 0.9)
    assert set(kept["problem"]) == {"mid"}
    assert kept["pass_rate"] == [0.5] * 4
    assert report.removed_by_reason == {
        "pass_rate_above_hi": 4,
        "pass_rate_below_lo": 4,
        "no_graded_samples": 2,
    }
    with pytest.raises(ValueError, match="lo <= hi"):
        pass_rate(data, 0.9, 0.1)


def test_pipeline_and_lineage_sidecar(tmp_path):
    data = _dataset(
        [
            {"problem": "a", "reasoning": "r r r", "answer": "x"},
            {"problem": "a", "reasoning": "r r r", "answer": "x"},
            {"problem": "b", "reasoning": "r", "answer": "", "reasoning_complete": False},
        ]
    )
    out, reports = curate(data, ["complete_only", ("dedup", {"fields": ("problem",)})])
    assert len(out) == 1
    assert [r.step for r in reports] == ["complete_only", "dedup"]
    assert [r.removed for r in reports] == [1, 1]
    path = tmp_path / "out.parquet"
    write_lineage(path, reports)
    again = [CurationReport.from_dict(d) for d in read_lineage(path)]
    assert again == reports
    with pytest.raises(ValueError, match="unknown curation step 'shuffle'"):
        curate(data, ["shuffle"])


def test_cli_curate_chain_keeps_lineage(tmp_path):
    data = _dataset(
        [
            {"problem": "a", "reasoning": "r", "answer": "x"},
            {"problem": "a", "reasoning": "r", "answer": "x"},
            {"problem": "b", "reasoning": "r", "answer": "", "reasoning_complete": False},
        ]
    )
    source = tmp_path / "in.parquet"
    data.to_parquet(str(source))
    runner = CliRunner()
    first = runner.invoke(app, ["curate", "dedup", str(source), "-o", str(tmp_path / "d.parquet")])
    assert first.exit_code == 0, first.output
    second = runner.invoke(
        app,
        ["curate", "complete-only", str(tmp_path / "d.parquet"), "-o", str(tmp_path / "c.jsonl")],
    )
    assert second.exit_code == 0, second.output
    assert "removed 1 (reasoning_incomplete: 1)" in second.output
    lineage = read_lineage(tmp_path / "c.jsonl")
    assert [(s["step"], s["removed"]) for s in lineage] == [("dedup", 1), ("complete_only", 1)]
    bad = runner.invoke(
        app, ["curate", "correct-only", str(source), "-o", str(tmp_path / "x.parquet")]
    )
    assert bad.exit_code == 1
    assert "no 'correct' column" in bad.output


def test_forked_scan_matches_single_process(monkeypatch):
    import sys

    monkeypatch.setattr(sys.modules["toolkit.curate.ngrams"], "_CHUNK_ROWS", 3)

    index = build_ngram_index("bench", ["one two three four five six seven eight nine ten"])
    texts = [
        "x one two three four five six seven eight y" if i % 4 == 0 else f"row {i} nothing"
        for i in range(20)
    ]
    single = contamination_flags(texts, [index], num_proc=1)
    forked = contamination_flags(texts, [index], num_proc=2)
    assert single == forked
    assert single["bench"] == [i % 4 == 0 for i in range(20)]


# ---------------------------------------------------------------------------------------------
# recall against open-r1's approach, on real MATH-500 problems (issue 16)


def _open_r1(monkeypatch):
    """open-r1's ``scripts/decontaminate.py`` approach, as the benchmark re-implements it."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "decontaminate.py"
    monkeypatch.syspath_prepend(str(path.parent))  # the benchmark imports its sibling `common`
    spec = importlib.util.spec_from_file_location("decontaminate_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_row_open_r1_flags_is_flagged(benchmark_data, tmp_path, monkeypatch, hub_offline):
    # Real MATH-500 rows: the first 40 and every problem shorter than one 8-gram.
    lines = [
        line
        for name in ("math500_test.jsonl", "math500_short_problems.jsonl")
        for line in (benchmark_data / name).read_text(encoding="utf-8").splitlines()
    ]
    problems = [json.loads(line)["problem"] for line in lines]
    bench = tmp_path / "math500.jsonl"
    bench.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("TOOLKIT_MATH500_FILE", str(bench))
    short = "Simplify $(-k + 4) + (-2 + 3k)$."  # 8 tokens for open-r1, 5 words for us
    assert short in problems
    formula = problems[0].split()  # "...form $(r,\\theta),$ where $r > 0$ and $0 \\le \\theta..."
    rows = [
        *problems,  # verbatim
        *(f"Problem: {p} Answer briefly." for p in problems),  # embedded
        "Warm up first. " + " ".join(formula[-8:]) + " Then rest.",  # 8 tokens, < 8 words
        "Simplify the expression and compute the value of k.",  # shares words, no copy
        "Evaluate the logarithm of 64 in base 2.",
    ]
    peer = _open_r1(monkeypatch).openr1_flags(rows, {"math500": problems})
    data = datasets.Dataset.from_dict({"problem": rows})
    flagged, report = decontaminate(data, ["math500"], remove=False)
    ours = flagged["contaminated_math500"]
    missed = [row for row, p, o in zip(rows, peer, ours, strict=True) if p and not o]
    assert missed == []  # every row the peer flags is flagged
    assert peer[rows.index(short)] is True  # the peer flags this verbatim problem...
    assert all(ours[: 2 * len(problems)])  # ...and so do we, with every verbatim/embedded copy
    assert ours[-3] is True and peer[-3] is True
    assert ours[-2:] == [False, False]  # shared words alone are no contamination
    assert report.params["flagged"] == {"math500": 2 * len(problems) + 1}


def test_short_problems_match_whole_and_words_in_order():
    index = build_ngram_index("bench", ["Evaluate $\\log_264$.", "Compute $\\dbinom{31}{28}$."])
    assert index.grams == set() and index.short == {"evaluate log_264", "compute dbinom 31 28"}
    texts = [
        "evaluate LOG_264 please",  # case and punctuation changed: still the problem
        "Compute $\\dbinom{31}{28}$ and add one.",
        "compute dbinom 28 31",  # other order: another problem
        "evaluate",
    ]
    assert contamination_flags(texts, [index])["bench"] == [True, True, False, False]


# ---------------------------------------------------------------------------------------------
# a step that removes every row fails loudly (issue 14 item 6)


def test_step_removing_every_row_fails_unless_allowed(tmp_path):
    data = _graded([("p1", False, None), ("p2", False, None)])
    with pytest.raises(EmptyOutputError, match=r"correct_only removed all 2 rows \(incorrect: 2\)"):
        correct_only(data)
    kept, report = correct_only(data, allow_empty=True)
    assert (len(kept), report.removed) == (0, 2)
    empty_in, report = complete_only(data.select([]))  # empty input is not an empty result
    assert (len(empty_in), report.rows_in) == (0, 0)
    with pytest.raises(EmptyOutputError):
        curate(data, ["correct_only"])

    source = tmp_path / "graded.parquet"
    data.to_parquet(str(source))
    runner = CliRunner()
    out = tmp_path / "out.parquet"
    failed = runner.invoke(app, ["curate", "correct-only", str(source), "-o", str(out)])
    assert failed.exit_code == 1, failed.output
    text = " ".join(failed.output.split())
    assert "removed all 2 rows (incorrect: 2)" in text and "--allow-empty" in text
    assert not out.exists()
    allowed = runner.invoke(
        app, ["curate", "correct-only", str(source), "-o", str(out), "--allow-empty"]
    )
    assert allowed.exit_code == 0, allowed.output
    assert out.exists() and read_lineage(out)[0]["rows_out"] == 0


def test_cli_extra_set_given_by_hub_id_is_loaded_not_read_as_text(tmp_path, hub_offline):
    extra = tmp_path / "private_set.jsonl"
    _write_jsonl(
        extra, [{"problem": "the quick brown fox jumps over the lazy dog again and again"}]
    )
    source = tmp_path / "in.parquet"
    _dataset(
        [{"problem": "so the quick brown fox jumps over the lazy dog again today", "answer": "a"},
         {"problem": "unrelated", "answer": "b"}]
    ).to_parquet(str(source))  # fmt: skip
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(
        app,
        ["curate", "decontaminate", str(source), "-o", str(out), "--benchmarks", "",
         "--extra", str(extra)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert read_lineage(out)[0]["removed_by_reason"] == {"contaminated:private_set": 1}


def test_scan_equals_comparing_strings_window_by_window(monkeypatch):
    """The vectorised scan against the plain definition, on rows mixing ASCII and not (which
    take different tokenisation paths) across several chunks."""
    import random
    import sys

    from toolkit.curate import normalize_text

    monkeypatch.setattr(sys.modules["toolkit.curate.ngrams"], "_CHUNK_ROWS", 7)
    rng = random.Random(3)
    words = ["alpha", "beta", "gamma", "délta", "x", "2", "Ω", "sum", "of", "the"]
    problems = [" ".join(rng.choice(words) for _ in range(rng.randint(2, 12))) for _ in range(8)]
    problems.append("Find $x$ + $y$ = ( 2 ) - ( 3 ) ; and stop")  # 12 tokens, 6 words
    index = build_ngram_index("bench", problems, ngram=5)
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 15))) for _ in range(60)]
    texts += [f"Intro: {p.upper()}!" for p in problems] + [None, ""]

    def contains(row: list[str], sequence: list[str]) -> bool:
        return any(row[i : i + len(sequence)] == sequence for i in range(len(row)))

    expected = [
        any(contains(normalize_text(t).split(), g.split()) for g in index.grams | index.short)
        for t in texts
    ]
    assert contamination_flags(texts, [index], ngram=5)["bench"] == expected
    assert all(expected[60:69])


def test_unreachable_hub_is_decided_once_and_benchmarks_fail_fast(monkeypatch, caplog):
    """No HF_HUB_OFFLINE and a Hub that does not answer: one probe switches to offline mode, so
    decontamination does not spend huggingface_hub's retries per benchmark (it took ~23 s each),
    and the unavailable sets are named in one warning."""
    import time

    import datasets.config
    import huggingface_hub.constants

    import toolkit.hub_access as hub_access
    from toolkit.curate import load_benchmark_indexes

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TOOLKIT_BENCHMARK_DIR", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on port 9
    monkeypatch.setattr(hub_access, "_decided", None)
    for module, name in (
        (huggingface_hub.constants, "HF_HUB_OFFLINE"),
        (datasets.config, "HF_HUB_OFFLINE"),
        (datasets.config, "HF_DATASETS_OFFLINE"),
    ):
        monkeypatch.setattr(module, name, False)
    started = time.perf_counter()
    with caplog.at_level("WARNING"):
        indexes, unavailable = load_benchmark_indexes(("aime24", "math500", "gsm8k"))
    assert time.perf_counter() - started < 15
    assert indexes == [] and [u.split(":")[0] for u in unavailable] == [
        "aime24",
        "math500",
        "gsm8k",
    ]
    assert huggingface_hub.constants.HF_HUB_OFFLINE is True  # decided offline, once
    warnings = [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warnings) == 1 and "aime24, math500, gsm8k" in warnings[0]
    assert "math500_test.jsonl" in warnings[0]
