"""`toolkit quickstart` end to end with real components (a shrunken run), and its resume."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolkit.hub_access import hub_reachable
from toolkit.quickstart import DATASET_REPO, MODEL_REPO, bundled

STAGES = [
    "teacher",
    "generate",
    "normalize",
    "verify",
    "curate",
    "push",
    "train",
    "evaluate",
    "baseline",
    "card",
]


def test_bundled_problems_are_distinct_and_have_answers():
    rows = [json.loads(line) for line in bundled("problems.jsonl").read_text().splitlines()]
    assert len(rows) >= 20
    assert len({row["problem"] for row in rows}) == len(rows)
    assert all(row["answer"].strip() for row in rows)
    seeds = bundled("seed_traces.jsonl").read_text().splitlines()
    assert seeds and all("<think>" in json.loads(line)["response"] for line in seeds)


def test_hub_reachable_is_false_for_a_closed_port(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    assert hub_reachable(timeout=1.0) is False


@pytest.mark.integration
def test_quickstart_runs_every_stage_then_resumes(tmp_path, smollm2_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    workdir = tmp_path / "qs"
    command = [
        sys.executable, "-m", "toolkit", "quickstart", "--workdir", str(workdir),
        "--train-problems", "3", "--eval-problems", "2", "-n", "1",
        "--teacher-max-tokens", "12", "--train-steps", "2", "--eval-max-new-tokens", "12",
    ]  # fmt: skip
    first = subprocess.run(command, capture_output=True, text=True, timeout=540)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "quickstart done" in first.stderr

    state = json.loads((workdir / "quickstart.json").read_text())
    assert list(state) == STAGES
    assert state["generate"]["outputs"]["rows"] == 3  # 3 problems × n=1
    assert state["curate"]["outputs"]["rows"] >= 1
    steps = [entry["step"] for entry in state["curate"]["outputs"]["lineage"]]
    assert steps == ["complete_only", "dedup", "decontaminate", "correct_only"]

    from toolkit.store import load

    dataset = load(DATASET_REPO, version="1.0.0")
    assert len(dataset) == state["curate"]["outputs"]["rows"]

    results = json.loads((workdir / "eval" / "results.json").read_text())
    assert "quickstart_heldout" in results["tasks"]
    card = (workdir / "student" / "README.md").read_text()
    assert "model-index" in card and "quickstart_heldout" in card
    assert state["card"]["outputs"]["repo_id"] == MODEL_REPO
    # issue 14 item 12: the base was evaluated too, so the card compares; no local paths
    base = json.loads((workdir / "eval-base" / "results.json").read_text())
    assert base["protocol"] == {**results["protocol"], "seed": base["protocol"]["seed"]}
    assert "| task | metric | this model | SmolLM2-135M-Instruct | Δ |" in card
    assert str(tmp_path) not in card and "/.cache/" not in card
    assert "toolkit space --model local/quickstart-student" in " ".join(first.stderr.split())
    # item 9: the card's `toolkit space --model local/quickstart-student` names a loadable model
    from toolkit.models import resolve_model

    assert (Path(resolve_model(MODEL_REPO)) / "config.json").is_file()

    began = time.monotonic()
    second = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stderr.count("done earlier, skipped") == len(STAGES)
    assert "toolkit space --model local/quickstart-student" in " ".join(second.stderr.split())
    assert time.monotonic() - began < 60  # nothing was redone
