"""A real end-to-end evaluation of SmolLM2-135M-Instruct on one problem of every task, through the
transformers backend, then a model card from the real results.

Kept small on purpose (one batch of five prompts, a few new tokens): the point is that real
prompts go through a real chat template and a real model and come back split, extracted, graded
and reported — not the model's score, which at this size and token budget is zero.
"""

from __future__ import annotations

import pandas as pd
import pytest

from toolkit.cards.model_index import model_index_values, validate_model_card
from toolkit.evaluation import evaluate
from toolkit.evaluation.results import DETAIL_COLUMNS, load_results
from toolkit.publishing import write_model_card

TASKS = ["gsm8k", "math500", "aime24", "aime25", "gpqa_diamond"]
MAX_NEW_TOKENS = 12

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def smollm2_run(smollm2_dir, benchmark_data, fixtures_dir, tmp_path_factory):
    import torch

    out = tmp_path_factory.mktemp("smollm2-eval")
    # One intra-op thread: on a shared 2-core CI runner, two OpenMP threads competing with other
    # jobs spin-wait and make each forward pass several times slower (measured 2 s vs 15 s).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        evaluation = _run(smollm2_dir, benchmark_data, fixtures_dir, out)
    finally:
        torch.set_num_threads(threads)
    return evaluation, out


def _run(smollm2_dir, benchmark_data, fixtures_dir, out):
    return evaluate(
        smollm2_dir,
        TASKS,
        n=1,
        limit=1,
        max_new_tokens=MAX_NEW_TOKENS,
        data_files={
            "gsm8k": benchmark_data / "gsm8k_test.jsonl",
            "math500": benchmark_data / "math500_test.jsonl",
            "aime24": benchmark_data / "aime24_test.jsonl",
            "aime25": fixtures_dir / "evaluate" / "aime25_test.jsonl",
            "gpqa_diamond": fixtures_dir / "evaluate" / "gpqa_diamond.csv",
        },
        output_dir=out,
        show_progress=False,
    )


def test_smollm2_results_for_every_task(smollm2_run):
    _, out = smollm2_run
    results = load_results(out)
    assert list(results["tasks"]) == TASKS
    assert results["model"]["id"] == "SmolLM2-135M-Instruct"
    assert results["model"]["revision"].startswith("sha256:")
    assert results["protocol"]["max_new_tokens"] == MAX_NEW_TOKENS
    for task in TASKS:
        entry = results["tasks"][task]
        assert entry["num_problems"] == 1 and entry["n"] == 1
        assert 0.0 <= entry["metrics"]["pass@1"]["value"] <= 1.0
        assert entry["dataset"]["local_file"]

    details = pd.read_parquet(out / "details.parquet")
    assert list(details.columns) == list(DETAIL_COLUMNS)
    assert sorted(details["task"]) == sorted(TASKS)
    assert (details["completion_tokens"] <= MAX_NEW_TOKENS).all()
    assert set(details["finish_reason"]) <= {"stop", "length"}
    # A real instruct model answers in words; the chat template was applied (no echo of it).
    assert all(len(text.split()) >= 2 for text in details["completion"])
    assert not details["completion"].str.contains("<|im_start|>", regex=False).any()
    # SmolLM2 does not think in tags: the answer part is the whole completion.
    assert details["reasoning"].isna().all()
    gpqa = details[details["task"] == "gpqa_diamond"].iloc[0]
    assert gpqa["prompt"].startswith("Answer the following multiple choice question")
    assert gpqa["gold"] in "ABCD"


def test_model_card_from_real_results(smollm2_run, smollm2_dir, tmp_path):
    evaluation, out = smollm2_run
    written = write_model_card(
        smollm2_dir,
        out / "results.json",
        output_dir=tmp_path / "card",
        repo_id="me/smollm2-eval",
        # Not a trained model (no training_summary.json), so no base model to inherit from.
        license="apache-2.0",
    )
    text = written.readme.read_text()
    validate_model_card(text, evaluation.results)
    values = model_index_values(text)
    assert values[("openai/gsm8k", "main", "pass@1")] == round(100 * evaluation.score("gsm8k"), 2)
    assert len(values) == len(TASKS)
    assert written.plot is not None and written.plot.stat().st_size > 1000
