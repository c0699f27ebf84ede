"""The README's tour, run exactly as written (issue 14: "commands that do not work as written").

Every ``bash`` block of the README's "A tour" section is split into commands and run in order,
in one temporary folder, like a user's shell session. Only what would need the outside world is
changed, by this documented mapping and nothing else:

* hosts: the teachers' URLs (``https://api.deepseek.com/v1``, the local Ollama on
  ``127.0.0.1:11434``, the two vLLM machines ``a`` and ``b``) → loopback servers
  (``tests/helpers/servers.py``) that serve the README's model names and answer most problems
  correctly (so curation keeps rows), and the Hub (``HF_ENDPOINT``) → the loopback fake Hub;
* Hub datasets → local files: ``openai/gsm8k`` → a GSM8K-format file written from the bundled
  quickstart problems, the Magpie id → the bundled Magpie-format seed traces, OpenR1 and
  Bespoke-Stratos → their format fixtures;
* the environment a user would set offline: ``TOOLKIT_BENCHMARK_DIR`` (and the AIME 2025 / GPQA
  files) for the benchmarks, ``GRADIO_SERVER_PORT`` so that ``toolkit space`` does not collide
  with another process;
* files the README names as the user's own: ``my_traces.jsonl`` (chat messages, the format
  fixture) and the checkout's ``recipes/`` (the tour runs "from the root of a checkout").

Each command must exit 0 without a traceback or a ``datasets`` progress bar; each ``-o`` output
must be non-empty; the Hub push must land on the fake Hub with its tag; the final ``publish``
must publish and ``toolkit space`` must serve the published model.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.helpers.commands import (
    DATASETS_BARS,
    Session,
    base_env,
    fenced_blocks,
    free_port,
    output_paths,
    rows_in,
    section,
    shell_commands,
    substitute,
)
from tests.helpers.hub import FakeHub
from tests.helpers.servers import OllamaServer, OpenAIServer
from toolkit.quickstart import bundled

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
FORMATS = Path(__file__).resolve().parent / "fixtures" / "formats"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

FIRST_BLOCK = [
    'python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 -e ".[all]" '
    "&& toolkit quickstart",
    "python -m pytest -q",
]


def tour_commands() -> list[tuple[str, str]]:
    """(language, command) of the tour, in order: shell lines, and each Python block whole."""
    text = section(README.read_text(encoding="utf-8"), "## A tour")
    out: list[tuple[str, str]] = []
    for match in re.finditer(r"^```(bash|python)\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        lang, body = match.groups()
        if lang == "bash":
            out.extend(("bash", command) for command in shell_commands(body))
        else:
            out.append(("python", body))
    return out


def test_readme_starts_with_the_two_commands():
    """The first lines stay: one command runs the main job end to end, one runs the tests."""
    text = README.read_text(encoding="utf-8")
    first = fenced_blocks(text)[0]
    assert text.index("```bash") < text.index("\n## ")
    assert shell_commands(first) == FIRST_BLOCK


def test_tour_commands_are_parsed():
    commands = [command for lang, command in tour_commands() if lang == "bash"]
    verbs = {command.split()[1] for command in commands if command.startswith("toolkit ")}
    assert {"generate", "normalize", "verify", "curate", "push", "load", "train", "eval",
            "compare", "card", "publish", "space"} <= verbs  # fmt: skip
    assert any(command.startswith("TOOLKIT_TARGET=hub toolkit push") for command in commands)


def _teacher(golds: dict[str, str]):
    """A loopback teacher that knows the answers: right for samples 0-2, wrong for sample 3."""

    def respond(prompt: str, index: int) -> tuple[str, str]:
        gold = next((answer for problem, answer in golds.items() if problem in prompt), "0")
        value = gold if index != 3 else str(int(gold) + 1 if gold.isdigit() else 1)
        reasoning = (
            f"Let me solve this step by step (attempt {index}). The problem asks for a number; "
            f"working through the quantities gives {value}."
        )
        return reasoning, f"The answer is $\\boxed{{{value}}}$."

    return respond


def _gsm8k_file(folder: Path) -> tuple[Path, dict[str, str]]:
    """The bundled quickstart problems as GSM8K rows (``question``, ``answer`` ending ``#### N``):
    the stand-in for ``openai/gsm8k``'s train split."""
    rows = [json.loads(line) for line in bundled("problems.jsonl").read_text().splitlines()]
    path = folder / "gsm8k_train.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            answer = f"Working it out gives {row['answer']}.\n#### {row['answer']}"
            handle.write(json.dumps({"question": row["problem"], "answer": answer}) + "\n")
    return path, {row["problem"]: row["answer"] for row in rows}


@pytest.mark.integration
@pytest.mark.timeout(1500)
def test_readme_tour_runs_as_written(tmp_path, smollm2_dir):
    work = tmp_path / "checkout"
    work.mkdir()
    shutil.copytree(REPO / "recipes", work / "recipes")
    shutil.copy(FORMATS / "messages.jsonl", work / "my_traces.jsonl")
    data = tmp_path / "hub-data"
    data.mkdir()
    gsm8k, golds = _gsm8k_file(data)
    teacher = _teacher(golds)
    hub = FakeHub().start()
    port = free_port()
    servers = [
        OpenAIServer(model="deepseek-reasoner", api_key="...", responder=teacher),
        OllamaServer(models={"qwen3:8b": {"thinking": True}}, responder=teacher),
        OpenAIServer(model="deepseek-ai/DeepSeek-R1", responder=teacher),
        OpenAIServer(model="deepseek-ai/DeepSeek-R1", responder=teacher),
    ]
    for server in servers:
        server.start()
    deepseek, ollama, machine_a, machine_b = servers
    mapping = {
        "https://api.deepseek.com/v1": deepseek.url + "/v1",
        "http://127.0.0.1:11434": ollama.url,
        "http://a:8000/v1": machine_a.url + "/v1",
        "http://b:8000/v1": machine_b.url + "/v1",
        "openai/gsm8k": str(gsm8k),
        "Magpie-Align/Magpie-Reasoning-V2-250K-CoT-Deepseek-R1-Llama-70B": str(
            bundled("seed_traces.jsonl")
        ),
        "open-r1/OpenR1-Math-220k": str(FORMATS / "openr1.jsonl"),
        "bespokelabs/Bespoke-Stratos-17k": str(FORMATS / "bespoke.jsonl"),
    }
    env = base_env(
        TOOLKIT_BENCHMARK_DIR=str(FIXTURES / "benchmarks"),
        TOOLKIT_AIME25_FILE=str(FIXTURES / "evaluate" / "aime25_test.jsonl"),
        TOOLKIT_GPQA_DIAMOND_FILE=str(FIXTURES / "evaluate" / "gpqa_diamond.csv"),
        GRADIO_SERVER_PORT=str(port),
        HF_ENDPOINT=hub.url,
        HF_TOKEN="hf_tourTOKEN0123456789",
        HF_HUB_OFFLINE="0",
        HF_HUB_DISABLE_TELEMETRY="1",
        PATH=f"{Path(sys.executable).parent}:{base_env()['PATH']}",
        PYTHONPATH=str(REPO),
    )
    session = Session(cwd=work, env=env)
    try:
        for lang, written in tour_commands():
            command = substitute(written, mapping)
            if lang == "python":
                result = session.run(f"python - <<'PY'\n{command}\nPY")
                assert result.returncode == 0, f"{written}\n{result.stderr[-3000:]}"
                continue
            if command.startswith("toolkit space"):
                page = session.serve(command.split("#", 1)[0].strip(), port)
                assert "gradio" in page.lower()
                continue
            result = session.run(command, timeout=900)
            output = result.stdout + result.stderr
            assert result.returncode == 0, f"{written}\n{output[-4000:]}"
            assert "Traceback" not in output, f"{written}\n{output[-4000:]}"
            leaked = [bar for bar in DATASETS_BARS if bar in output]
            assert not leaked, f"{written}: progress bars {leaked} in\n{output[-2000:]}"
            _check_outputs(written, command, work, result.stdout, output, hub)
    finally:
        for server in servers:
            server.stop()
        hub.stop()
    # The end of the tour: the student is published, with its base-vs-student card.
    card = (work / "runs" / "tiny-cpu" / "README.md").read_text(encoding="utf-8")
    assert "| task | metric | this model | SmolLM2-135M-Instruct | Δ |" in card
    assert str(tmp_path) not in card  # no local paths


def _check_outputs(written, command, work, stdout, output, hub) -> None:
    """Each stage's output exists and is not empty; pushes and publishes landed."""
    for out in output_paths(command):
        path = work / out
        assert path.exists(), f"{written}: {out} was not written"
        if path.suffix in (".parquet", ".jsonl", ".json", ".csv"):
            assert rows_in(path) > 0, f"{written}: {out} is empty"
        elif path.is_dir() and written.startswith("toolkit eval"):
            results = json.loads((path / "results.json").read_text())
            assert results["tasks"], f"{written}: no task in {out}/results.json"
    words = written.split()
    if written.startswith("TOOLKIT_TARGET=hub toolkit push"):
        repo = hub.repos[("dataset", words[4])]
        assert "v1.0.0" in repo.tags, repo.tags
    elif words[:2] == ["toolkit", "push"]:
        assert stdout.strip() == "1.0.0", output
    elif words[:2] == ["toolkit", "load"]:
        assert re.search(r"\b[1-9]\d* rows", output), output
    elif words[:2] == ["toolkit", "train"] and "--dry-run" in words:
        assert "recipe OK" in output, output
    elif words[:2] == ["toolkit", "train"] and "--remote" in words:
        assert stdout.startswith("hf jobs run "), output
    elif words[:2] == ["toolkit", "train"]:
        assert (work / "runs" / "tiny-cpu" / "model.safetensors").is_file(), output
    elif words[:2] == ["toolkit", "compare"]:
        assert "gsm8k" in output, output
    elif words[:2] == ["toolkit", "card"]:
        assert (work / words[2] / "README.md").is_file(), output
    elif words[:2] == ["toolkit", "publish"]:
        assert f"published {words[3]} v1.0.0" in " ".join(output.split()), output
