"""Cross-check ``toolkit eval``'s grading against lighteval 0.13 on identical completions.

    python benchmarks/lighteval_crosscheck.py            # builds the lighteval venv once, then runs

lighteval cannot share the project's environment (0.13 pins ``latex2sympy2_extended==1.0.6``,
which drags math-verify back to 0.5.2), so the script builds a throwaway virtual environment
(``--venv``, default ``.toolkit/lighteval-0.13-venv``, git-ignored) with ``pip install
lighteval==0.13.0 torch==2.13.0`` (a CPU torch where the machine offers one), and runs lighteval's
own metric code there:

* MATH-500 / AIME rows: ``Metrics.pass_at_k_math``'s scorer (``MultilingualExtractiveMatchMetric``,
  English, Expr + LaTeX targets for gold and prediction, precision 6), golds built as lighteval's
  task files build them (MATH-500: ``"ANSWER: " + solution``; AIME: the answer);
* GSM8K rows: ``Metrics.expr_gold_metric`` (gold Expr; prediction Expr + LaTeX with boxed first,
  precision 5), gold ``" " + answer`` (the solution ending ``#### N``), as ``tasks/gsm8k.py``;
* letter rows: ``Metrics.gpqa_instruct_metric`` (option letters, ``try_extract_without_anchor``);
* every completion first goes through lighteval's pipeline post-processing,
  ``remove_reasoning_tags(text, [("<think>", "</think>")])`` (its default).

The toolkit side is the real evaluation path: :func:`toolkit.evaluation.scoring.score_completions`
(split → :mod:`toolkit.answers` extraction → grading in the worker pool).

The completions (``tests/fixtures/answers/crosscheck_completions.jsonl``, committed, >= 500 rows)
are R1-style outputs built from real benchmark rows by ``--build-fixture`` (which reads
``../shared/data``): boxed answers, answer lines, unclosed thinking, prefilled thinking, option
letters and GSM8K numbers in the forms models write, right and wrong. The script prints the
agreement, per category, and every disagreement with its category; it exits 1 when a
disagreement (category, lighteval's verdict, the toolkit's verdict) is not a
``lighteval-crosscheck`` row of ``tests/fixtures/answers/DIFFERENCES.md`` (the deliberate
differences).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "answers" / "crosscheck_completions.jsonl"
DIFFERENCES = REPO / "tests" / "fixtures" / "answers" / "DIFFERENCES.md"
DEFAULT_VENV = REPO / ".toolkit" / "lighteval-0.13-venv"
PACKAGES = ["lighteval==0.13.0", "torch==2.13.0"]

#: Runs inside the lighteval venv: rows (JSON lines on stdin) → one JSON result per row.
LIGHTEVAL_SIDE = r"""
import json, logging, sys
logging.disable(logging.WARNING)
from lighteval.metrics.dynamic_metrics import MultilingualExtractiveMatchMetric
from lighteval.metrics.utils.extractive_match_utils import (
    ExprExtractionConfig, IndicesExtractionConfig, LatexExtractionConfig,
)
from lighteval.models.model_output import ModelResponse
from lighteval.tasks.requests import Doc
from lighteval.utils.language import Language
from lighteval.utils.utils import remove_reasoning_tags

letters = IndicesExtractionConfig(prefix_for_extraction="NativeLetters", try_extract_without_anchor=True)
METRICS = {  # as lighteval/metrics/metrics.py v0.13.0 defines them
    "math": MultilingualExtractiveMatchMetric(
        language=Language.ENGLISH,
        gold_extraction_target=[ExprExtractionConfig(), LatexExtractionConfig()],
        pred_extraction_target=[ExprExtractionConfig(), LatexExtractionConfig()],
        precision=6,
    ),
    "gsm8k": MultilingualExtractiveMatchMetric(
        language=Language.ENGLISH,
        fallback_mode="first_match",
        precision=5,
        gold_extraction_target=(ExprExtractionConfig(),),
        pred_extraction_target=(ExprExtractionConfig(), LatexExtractionConfig(boxed_match_priority=0)),
        aggregation_function=max,
    ),
    "choice": MultilingualExtractiveMatchMetric(
        language=Language.ENGLISH,
        gold_extraction_target=[letters],
        pred_extraction_target=[letters],
        precision=6,
    ),
}
for line in sys.stdin:
    row = json.loads(line)
    text = remove_reasoning_tags(row["completion"], [("<think>", "</think>")])
    response = ModelResponse(text=[text])
    response.text_post_processed = [text]
    doc = Doc(query="", choices=row["lighteval_choices"], gold_index=row["lighteval_gold_index"])
    score = METRICS[row["kind"]].compute(doc=doc, model_response=response)
    extracted = (doc.specific or {}).get("extracted_predictions")
    print(json.dumps({"id": row["id"], "score": float(score), "extracted": extracted}), flush=True)
"""


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    marker = venv / ".lighteval-ready"
    if marker.exists():
        return python
    print(f"building {venv} with {' '.join(PACKAGES)} (once; a few minutes)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    marker.write_text(" ".join(PACKAGES) + "\n")
    return python


def lighteval_scores(python: Path, rows: list[dict]) -> dict[str, dict]:
    payload = "".join(json.dumps(row) + "\n" for row in rows)
    env = {**os.environ, "PYTHONPATH": "", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(
        [str(python), "-c", LIGHTEVAL_SIDE],
        input=payload,
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
    )
    if done.returncode != 0:
        raise SystemExit(f"lighteval side failed:\n{done.stderr[-3000:]}")
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {result["id"]: result for result in results}


def toolkit_scores(rows: list[dict]) -> dict[str, dict]:
    from toolkit.backends import Completion
    from toolkit.evaluation.scoring import grade_samples, score_completions
    from toolkit.evaluation.tasks import BenchmarkSource

    samples, kinds = [], []
    for row in rows:
        task = BenchmarkSource(
            "crosscheck", "local", "test", "problem", "gold", answer_type=row["kind"]
        )
        [sample] = score_completions(
            task,
            [{"index": 0, "problem": "p", "gold_answer": row["gold"]}],
            ["prompt"],
            [[Completion(row["completion"], finish_reason="stop")]],
            grade=False,
        )
        samples.append(sample)
        kinds.append(row["kind"])
    grade_samples(samples, kinds)  # one pool for all rows, as toolkit eval does
    return {
        row["id"]: {
            "correct": sample.correct,
            "verdict": sample.verdict,
            "extracted": sample.extracted,
        }
        for row, sample in zip(rows, samples, strict=True)
    }


def documented_differences() -> set[tuple[str, str, str]]:
    """``{(category, lighteval verdict, toolkit verdict)}`` from the one table."""
    documented = set()
    for line in DIFFERENCES.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if len(cells) == 5 and cells[0] == "lighteval-crosscheck":
            documented.add((cells[1], cells[2], cells[3]))
    return documented


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--build-fixture", action="store_true", help="rebuild the completions")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()

    if args.build_fixture:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from crosscheck_fixture import build

        count = build(args.data, FIXTURE)
        print(f"wrote {count} completions to {FIXTURE}")
        return

    rows = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    python = ensure_venv(args.venv)
    theirs = lighteval_scores(python, rows)
    ours = toolkit_scores(rows)
    documented = documented_differences()
    per_category: Counter[str] = Counter()
    agree_category: Counter[str] = Counter()
    disagreements = []
    for row in rows:
        mine, peer = ours[row["id"]], theirs[row["id"]]
        per_category[row["category"]] += 1
        if bool(mine["correct"]) == (peer["score"] >= 1.0):
            agree_category[row["category"]] += 1
        else:
            disagreements.append((row, mine, peer))
    agreed = sum(agree_category.values())
    print(
        f"lighteval 0.13.0 vs toolkit.answers on {len(rows)} completions: {agreed} agree "
        f"({100 * agreed / len(rows):.1f} %), {len(disagreements)} differ"
    )
    for category in sorted(per_category):
        print(f"  {category:32} {agree_category[category]:4}/{per_category[category]}")
    undocumented = 0
    for row, mine, peer in disagreements:
        theirs_label = "correct" if peer["score"] >= 1.0 else "wrong"
        known = (row["category"], theirs_label, mine["verdict"]) in documented
        undocumented += not known
        print(
            f"[{row['category']}: lighteval {theirs_label}, toolkit {mine['verdict']}"
            f"{'' if known else ' — UNDOCUMENTED'}] {row['id']}: gold {row['gold']!r}; "
            f"extracted {mine['extracted']!r} vs lighteval {peer['extracted']!r}\n"
            f"    …{row['completion'][-140:]!r}"
        )
    print(
        f"{len(disagreements) - undocumented} of {len(disagreements)} disagreements are "
        "documented deliberate differences"
    )
    raise SystemExit(1 if undocumented else 0)


if __name__ == "__main__":
    main()
