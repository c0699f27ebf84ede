"""The benchmark data registry (``toolkit.benchmarks``): one source of rows for decontamination
and evaluation, and an offline error that says how to fix it (issue 14 item 8)."""

from __future__ import annotations

import pytest

from toolkit.benchmarks import (
    BENCHMARKS,
    BenchmarkSource,
    UnknownBenchmarkError,
    get_benchmark,
)
from toolkit.errors import MissingError, UsageError


@pytest.fixture
def hub_offline(monkeypatch):
    """huggingface_hub and datasets read HF_HUB_OFFLINE at import: force offline mode."""
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.delenv("TOOLKIT_BENCHMARK_DIR", raising=False)
    monkeypatch.delenv("TOOLKIT_MATH500_FILE", raising=False)


def test_missing_benchmark_offline_says_how_to_fix_it(hub_offline):
    with pytest.raises(MissingError) as error:
        get_benchmark("math500").problems()
    message = str(error.value)
    assert "math500" in message and "Couldn't reach" not in message
    assert "\n" not in message
    assert "TOOLKIT_BENCHMARK_DIR/math500_test.jsonl" in error.value.hint
    assert "TOOLKIT_MATH500_FILE" in error.value.hint and "--data-file" in error.value.hint


def test_local_copy_is_found_from_the_benchmark_dir(fixtures_dir, monkeypatch, hub_offline):
    monkeypatch.setenv("TOOLKIT_BENCHMARK_DIR", str(fixtures_dir / "evaluate"))
    rows = get_benchmark("aime25").load()
    assert rows and {"index", "problem", "gold_answer"} <= set(rows[0])
    with pytest.raises(MissingError, match="does not exist"):
        get_benchmark("aime25").load(fixtures_dir / "nope.jsonl")


def test_one_registry_for_curation_and_evaluation():
    from toolkit.evaluation.tasks import BENCHMARKS as TASKS
    from toolkit.evaluation.tasks import Task
    from toolkit.evaluation.tasks import get_benchmark as get_task

    assert TASKS is BENCHMARKS
    source = get_benchmark("gsm8k")
    task = get_task("gsm8k")
    assert isinstance(source, BenchmarkSource) and isinstance(task, Task)
    assert (task.hub_id, task.split, task.config) == (source.hub_id, source.split, source.config)
    assert task.describe_data() == source.describe_data()
    assert task.describe()["metric"] == "pass@1" and "prompt_template" in task.describe()
    with pytest.raises(UnknownBenchmarkError) as error:
        get_benchmark("nope")
    assert isinstance(error.value, KeyError) and isinstance(error.value, UsageError)
    assert str(error.value).startswith("unknown benchmark 'nope'; known: aime24")
