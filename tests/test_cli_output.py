"""What the verbs print (issue 14 item 11) and how they fail on bad input (issue 15 item 7).

* every summary once: the stage's own log line is not shown next to the CLI's line;
* ``--json`` on every verb that prints a summary: one JSON document on stdout;
* ``-o out.txt`` refused *before* any work (no grading, no generation, no state directory);
* user errors as one line naming the file (and row): an empty file, a 0-row Parquet file, a
  training row whose ``messages`` is a string, a 300-character repo id — on every verb that
  reads data — and never a traceback;
* no ``except (...)`` tuple in the CLI that would turn a bug into a one-line message.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tests.helpers.servers import OpenAIServer
from toolkit.cli import app

CLI_DIR = Path(__file__).resolve().parent.parent / "toolkit" / "cli"
MESSAGES = Path(__file__).resolve().parent / "fixtures" / "formats" / "messages.jsonl"


def _rows(n: int = 3) -> list[dict]:
    return [
        {
            "problem": f"What is {i} + {i}?",
            "reasoning": f"{i} plus {i} is {2 * i}.",
            "answer": f"The answer is \\boxed{{{2 * i}}}.",
            "final_answer": str(2 * i),
            "gold_answer": str(2 * i),
            "reasoning_complete": True,
        }
        for i in range(1, n + 1)
    ]


@pytest.fixture
def traces(tmp_path) -> Path:
    path = tmp_path / "traces.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in _rows()), encoding="utf-8")
    return path


@pytest.fixture
def verified(traces, tmp_path) -> Path:
    out = tmp_path / "verified.parquet"
    result = CliRunner().invoke(app, ["verify", str(traces), "-o", str(out), "--num-proc", "1"])
    assert result.exit_code == 0, result.output
    return out


def _flat(text: str) -> str:
    return " ".join(text.split())


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


# --- every summary once ------------------------------------------------------------------------


def test_verify_summary_printed_once(traces, tmp_path):
    result = invoke("verify", traces, "-o", tmp_path / "v.parquet", "--num-proc", "1")
    assert result.exit_code == 0, result.output
    assert len(re.findall(r"verified 3 rows", result.output)) == 1, result.output


def test_curate_summary_printed_once(verified, tmp_path):
    result = invoke("curate", "complete-only", verified, "-o", tmp_path / "c.parquet")
    assert result.exit_code == 0, result.output
    assert _flat(result.output).count("complete_only: 3 → 3 rows") == 1, result.output


def test_normalize_summary_printed_once(tmp_path):
    result = invoke("normalize", "auto", MESSAGES, "-o", tmp_path / "n.parquet")
    assert result.exit_code == 0, result.output
    assert len(re.findall(r"kept \d+, quarantined \d+", result.output)) == 1, result.output
    assert _flat(result.output).count("detected") <= 1


def test_push_summary_printed_once(verified):
    result = invoke("push", verified, "org/once", "--license", "mit")
    assert result.exit_code == 0, result.output
    assert (
        _flat(result.output).count("pushed version") + _flat(result.output).count("pushed org/once")
        == 1
    ), result.output


def test_generate_summary_printed_once(traces, tmp_path):
    with OpenAIServer(model="teacher") as server:
        result = invoke(
            "generate", traces, "--backend", "openai", "--base-url", server.url + "/v1",
            "--model", "teacher", "-n", "1", "-o", tmp_path / "g.parquet",
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _flat(result.output).count("samples done") == 1, result.output


def test_eval_summary_printed_once(traces, tmp_path):
    with OpenAIServer(model="teacher") as server:
        args = ["eval", "teacher", "--backend", "openai", "--base-url", server.url + "/v1",
                "--tasks", traces, "-n", "1", "-o", tmp_path / "e"]  # fmt: skip
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        assert _flat(result.output).count("pass@1") == 1, result.output  # the table, not a log
        assert _flat(result.output).count("wrote") == 1, result.output
        as_json = invoke(*args, "--json")
    assert json.loads(as_json.stdout)["tasks"]["traces"]["num_problems"] == 3


# --- --json -------------------------------------------------------------------------------------


def test_json_output_of_every_summary_verb(traces, verified, tmp_path):
    checks = {
        ("verify", str(traces), "-o", str(tmp_path / "j1.parquet"), "--num-proc", "1"): "correct",
        ("curate", "dedup", str(verified), "-o", str(tmp_path / "j2.parquet")): "rows_out",
        ("normalize", "auto", str(MESSAGES), "-o", str(tmp_path / "j3.parquet")): "kept",
        ("push", str(verified), "org/json", "--license", "mit"): "version",
        ("load", "org/json", "-o", str(tmp_path / "j4.parquet")): "rows",
    }
    for args, key in checks.items():
        result = CliRunner().invoke(app, [*args, "--json"])
        assert result.exit_code == 0, (args, result.output)
        payload = json.loads(result.stdout)
        assert key in payload, (args, payload)
    assert json.loads(CliRunner().invoke(app, ["load", "org/json", "--json"]).stdout)["rows"] == 3


# --- outputs checked before any work ------------------------------------------------------------


def test_bad_outputs_are_refused_before_any_work(traces, verified, tmp_path):
    with OpenAIServer(model="teacher") as server:
        cases = [
            ["verify", traces, "-o", tmp_path / "out.txt"],
            ["curate", "dedup", verified, "-o", tmp_path / "out.txt"],
            ["generate", traces, "--backend", "openai", "--base-url", server.url + "/v1",
             "--model", "teacher", "-o", tmp_path / "out.txt"],
            ["normalize", "auto", traces, "-o", tmp_path / "out.txt"],
            ["eval", "teacher", "--backend", "openai", "--base-url", server.url + "/v1",
             "--tasks", traces, "-o", tmp_path / "results.json"],
        ]  # fmt: skip
        for args in cases:
            result = invoke(*args)
            assert result.exit_code == 2, (args, result.output)
            assert "Traceback" not in result.output
        assert server.stats["/v1/chat/completions"] == 0  # nothing was generated or evaluated
    assert not list(tmp_path.glob("out.txt*")) and not (tmp_path / "results.json").exists()
    pushed = invoke("push", verified, "org/out", "--license", "mit")
    assert pushed.exit_code == 0, pushed.output
    loaded = invoke("load", "org/out", "-o", tmp_path / "out.txt")
    assert loaded.exit_code == 2 and not (tmp_path / "out.txt").exists()


# --- user errors: one line naming the file ------------------------------------------------------


@pytest.fixture
def empty_inputs(tmp_path) -> dict[str, Path]:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    zero = tmp_path / "zero.parquet"
    pq.write_table(
        pa.table({"problem": pa.array([], pa.string()), "answer": pa.array([], pa.string())}),
        zero,
    )
    return {"empty file (0 bytes)": empty, "0 rows": zero}


def _one_line_error(result, *needles: str) -> None:
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    for needle in needles:
        assert needle in _flat(result.output), (needle, result.output)


def test_empty_inputs_on_every_verb_that_reads_data(empty_inputs, tmp_path):
    with OpenAIServer(model="teacher") as server:
        for reason, path in empty_inputs.items():
            recipe = tmp_path / f"recipe-{path.stem}.yaml"
            recipe.write_text(
                f"task: sft\nbase_model: smollm2\noutput_dir: {tmp_path / 'run'}\n"
                f"data:\n  path: {path}\n  format: messages\nparams:\n  max_steps: 1\n"
            )
            verbs = [
                ["verify", path, "-o", tmp_path / "v.parquet"],
                ["curate", "complete-only", path, "-o", tmp_path / "c.parquet"],
                ["curate", "dedup", path, "-o", tmp_path / "d.parquet"],
                ["push", path, "org/empty", "--license", "mit"],
                ["normalize", "auto", path, "-o", tmp_path / "n.parquet"],
                ["generate", path, "--backend", "openai", "--base-url", server.url + "/v1",
                 "--model", "teacher", "-o", tmp_path / "g.parquet"],
                ["eval", "teacher", "--backend", "openai", "--base-url", server.url + "/v1",
                 "--tasks", path, "-o", tmp_path / "e"],
                ["train", recipe],
            ]  # fmt: skip
            for args in verbs:
                result = invoke(*args)
                _one_line_error(result, path.name, reason)


def test_training_row_whose_messages_is_a_string(tmp_path):
    data = tmp_path / "strings.jsonl"
    good = {"messages": [{"role": "user", "content": "1+1?"},
                         {"role": "assistant", "content": "<think>2</think> 2"}]}  # fmt: skip
    data.write_text(json.dumps(good) + "\n" + json.dumps({"messages": "hello"}) + "\n")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"task: sft\nbase_model: smollm2\noutput_dir: {tmp_path / 'run'}\n"
        f"data:\n  path: {data}\n  format: messages\nparams:\n  max_steps: 1\n"
    )
    result = invoke("train", recipe)
    _one_line_error(result, "strings.jsonl, line 2", "'messages'", "got str")


def test_a_300_character_repo_id_is_one_line(verified, tiny_model_dir, tmp_path):
    repo_id = "org/" + "a" * 300
    for args in (
        ["push", verified, repo_id, "--license", "mit"],
        ["load", repo_id],
        ["publish", tiny_model_dir, repo_id, "--license", "mit"],
    ):
        _one_line_error(invoke(*args), "invalid repo id")


def test_cli_catches_no_exception_tuples():
    """A user error is a ToolkitError the one boundary prints; catching ValueError/OSError/
    RuntimeError tuples in a verb would print a programming bug as a one-line "error"."""
    offenders = []
    for path in sorted(CLI_DIR.glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"except\s*\(|except\s+(Exception|ValueError|OSError|RuntimeError)\b",
                         line):  # fmt: skip
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert not offenders, offenders


def test_quickstart_error_is_one_line_with_the_resume_hint(tmp_path):
    result = invoke("quickstart", "--workdir", tmp_path / "qs", "--train-problems", "100")
    _one_line_error(result, "bundled problems", "re-run the same command to resume")
    assert result.exit_code == 2


# --- models named the same way everywhere (issue 14 item 9) -------------------------------------


@pytest.mark.integration
def test_space_takes_the_smollm2_alias_and_store_ids(monkeypatch, smollm2_dir, tiny_model_dir):
    """`toolkit space --model smollm2` (as `train` and `eval` take it) and `--model org/name` of a
    model published to the local store (what the quickstart's card prints) load and serve."""
    import importlib

    from toolkit.store import push_folder

    launched = []
    space = importlib.import_module("toolkit.cli.space")
    monkeypatch.setattr(space, "launch", lambda demo, **kwargs: launched.append(kwargs))
    push_folder(tiny_model_dir, "local/tiny-student", version="1.0.0")
    for model in ("smollm2", "local/tiny-student", "local/tiny-student@1.0.0"):
        result = invoke("space", "--model", model, "--port", "0")
        assert result.exit_code == 0, (model, result.output)
        assert "Traceback" not in result.output
    assert len(launched) == 3
    missing = invoke("space", "--model", "local/tiny-student@2.0.0", "--port", "0")
    _one_line_error(missing, "no version or revision 'v2.0.0'")
