"""``benchmarks/run_all.py`` builds one table from every benchmark's figures, reports a failed
benchmark with its last error line and exits 1, without running a real benchmark (issue 16)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def run_all(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("run_all")


def test_figure_row_ratio_and_met(run_all):
    from common import Figure

    faster = Figure("f", "rows/s", [10, 20, 30], [10, 10, 10], "peer", target=1.5)
    assert faster.ratios == [1.0, 2.0, 3.0]
    assert faster.met is True
    assert faster.row() == "| f | 20.00 rows/s | 10.00 (peer) | 1.00 / 2.00 | 1.5 | yes |"
    slower = Figure("s", "s", [2, 4, 4], [1, 1, 1], "peer", higher_is_better=False, target=3.0,
                    target_absolute=True)  # fmt: skip
    assert slower.ratios == [0.5, 0.25, 0.25]
    assert slower.met is False and slower.row().endswith("| 3 s | NO |")
    floor = Figure("i", "s", [0.1, 0.2, 0.1], [0.04] * 3, "floor", compared=False)
    assert floor.met is None and "| - | - | - |" in floor.row()


def test_report_has_the_table_failures_notes_and_machine(run_all):
    from common import TABLE_HEADER, Figure

    ok = run_all.Result(
        "verify",
        [Figure("verify answers/s", "answers/s", [3, 3, 3], [1, 1, 1], "Pool", notes=["n1"])],
        seconds=12,
        load="load average 1.00",
    )
    broken = run_all.Result("train", error="RuntimeError: boom", seconds=3, load="load average 2")
    text = run_all.report([ok, broken], "python benchmarks/run_all.py --quick", when="today")
    assert text.startswith(TABLE_HEADER)
    assert "| verify answers/s | 3.00 answers/s | 1.00 (Pool) | 3.00 / 3.00 | - | - |" in text
    assert "| train: FAILED |" in text
    assert "- **train failed**: RuntimeError: boom" in text
    assert "- verify answers/s: n1" in text
    assert "Date: today. Machine: " in text and "Python " in text
    assert "- verify (12 s): load average 1.00" in text
    assert "- train (3 s): load average 2" in text


def test_a_failing_benchmark_is_reported_and_the_others_still_run(
    run_all, tmp_path, monkeypatch, capsys
):
    """Fake benchmarks, each in a fresh process: one raises, the next still runs; exit 1."""
    (tmp_path / "fake_bad.py").write_text(
        "def measure(quick=False):\n    raise ValueError('the fake broke')\n"
    )
    (tmp_path / "fake_ok.py").write_text(
        "from common import Figure\n"
        "def measure(quick=False):\n"
        "    print('a per-round line')\n"
        "    return [Figure('fake', 'x/s', [2, 2, 2], [1, 1, 1], 'peer', target=1.0,\n"
        "                   notes=[f'quick={quick}'])]\n"
    )
    script = (
        "import sys; sys.path[:0] = sys.argv[1:3]; import run_all; "
        "run_all.child(sys.argv[3], sys.argv[4] == 'quick')"
    )

    def child_command(name, quick):
        paths = [str(tmp_path), str(BENCHMARKS)]
        return [sys.executable, "-c", script, *paths, name, "quick" if quick else "full"]

    monkeypatch.setattr(run_all, "BENCHMARKS", ("fake_bad", "fake_ok"))
    monkeypatch.setattr(run_all, "child_command", child_command)
    assert run_all.main(["--quick", "--logs", str(tmp_path / "logs")]) == 1
    out, err = capsys.readouterr()
    assert "| fake_bad: FAILED |" in out
    assert "- **fake_bad failed**: ValueError: the fake broke" in out
    assert "| fake | 2.00 x/s | 1.00 (peer) | 2.00 / 2.00 | 1 | yes |" in out
    assert "- fake: quick=True" in out
    assert "[1/2] fake_bad: started" in err and "[2/2] fake_ok: 1 figures in" in err
    assert "a per-round line" in (tmp_path / "logs" / "fake_ok.log").read_text()
