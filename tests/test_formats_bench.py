"""The normalize benchmark compares like with like: its peer (a plain ``datasets.map`` with the
same split logic) produces the same records as the toolkit; and the default ``num_proc``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import datasets
import pytest

from toolkit.formats import default_num_proc, normalize
from toolkit.formats.pipeline import POOL_MIN_ROWS

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "normalize.py"


@pytest.fixture(autouse=True)
def _quiet_progress():
    datasets.disable_progress_bars()
    yield
    datasets.enable_progress_bars()


def _bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH.parent))  # the benchmark imports its sibling `common`
    spec = importlib.util.spec_from_file_location("bench_normalize", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_peer_does_the_same_work(tmp_path, monkeypatch):
    bench = _bench(monkeypatch)
    path = tmp_path / "magpie.parquet"
    bench.build_rows(path, 60)
    table = datasets.Dataset.from_parquet(str(path))
    ours = normalize("auto", table, source="bench")
    peer = bench.peer_map(table, 1)
    for name in ("id", "problem_id", "problem", "reasoning", "answer", "final_answer", "messages"):
        assert ours[name] == peer[name], name
    assert ours["metadata"] == peer["metadata"]


def test_default_num_proc_uses_no_pool_below_the_crossover():
    assert default_num_proc(10_000, cores=16) == 1
    assert default_num_proc(POOL_MIN_ROWS - 1, cores=2) == 1
    assert default_num_proc(POOL_MIN_ROWS, cores=2) == 2
    assert default_num_proc(POOL_MIN_ROWS, cores=1) == 1
    assert default_num_proc(10 * POOL_MIN_ROWS, cores=64) == 8
