"""Every command the toolkit prints for users to copy works as printed (issue 14 item 9).

* Recipes: each ``toolkit …`` line in a recipe's header (and in ``recipes/README.md``) names a
  real verb with real options (parsed by the CLI itself, as a shell would hand it over); the
  training commands run for real as ``--dry-run`` (the GPU recipes cannot train here) and, with
  ``--remote``, print their ``hf jobs run`` command.
* Model cards: a card is rendered for a model published to the local store and to the (loopback)
  Hub, and every command in it is run: the download step (``hf download`` / the local store's
  copy), the transformers snippet, and ``toolkit space --model <repo id>``, which must serve
  the model. ``ollama`` lines run only where Ollama is installed.
* Dataset cards: the usage snippet loads the pushed version.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import click
import pytest
import typer

from tests.helpers.commands import (
    Session,
    base_env,
    fenced_blocks,
    free_port,
    section,
    shell_commands,
)
from toolkit.cli import app

REPO = Path(__file__).resolve().parent.parent
VERBS = {command for command in typer.main.get_command(app).commands}  # type: ignore[attr-defined]
RECIPE_ENV = {"HF_USER": "my-org", "TOOLKIT_DATASET": "my-org/traces", "HF_TOKEN": "hf_x"}


def recipe_commands() -> list[tuple[str, str]]:
    """(file, command) for every ``toolkit VERB …`` line printed in recipes."""
    found = []
    for path in sorted((REPO / "recipes").glob("*.yaml")):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = re.match(r"#\s+(toolkit (\S+).*)$", line)
            if match and match.group(2) in VERBS:
                found.append((path.name, match.group(1).strip()))
    readme = (REPO / "recipes" / "README.md").read_text(encoding="utf-8")
    for block in fenced_blocks(readme):
        found.extend(("README.md", command) for command in shell_commands(block))
    return found


def parse(argv: list[str]) -> click.Command:
    """Parse ``toolkit ARGV`` with the CLI's own parser (no command runs); the leaf command."""
    command: click.Command = typer.main.get_command(app)
    context = command.make_context("toolkit", list(argv))
    while isinstance(command, click.Group):
        args = [*context._protected_args, *context.args]
        name, sub, rest = command.resolve_command(context, args)
        assert sub is not None, argv
        context = sub.make_context(name, rest, parent=context)
        command = sub
    return command


def test_recipe_commands_name_real_verbs_and_options(monkeypatch):
    for key, value in RECIPE_ENV.items():
        monkeypatch.setenv(key, value)
    commands = recipe_commands()
    assert len(commands) >= 15
    for source, command in commands:
        words = shlex.split(command.split("  #")[0].replace("$HF_USER", "my-org"), comments=True)
        words = [("recipes/tiny-cpu.yaml" if word == "RECIPE" else word) for word in words]
        assert words[0] == "toolkit", (source, command)
        try:
            parse(words[1:])
        except click.ClickException as error:  # pragma: no cover - the failure message
            pytest.fail(f"{source}: `{command}` does not parse: {error.format_message()}")


@pytest.mark.integration
def test_recipe_training_commands_dry_run(tmp_path):
    """`toolkit train RECIPE …` as printed, checked with --dry-run (and --remote printed, never
    submitted): every recipe resolves and passes its checks, here, before any compute."""
    session = Session(cwd=tmp_path, env=base_env(**RECIPE_ENV, HF_HUB_OFFLINE="1"))
    shutil.copytree(REPO / "recipes", tmp_path / "recipes")
    seen = set()
    for source, command in recipe_commands():
        words = shlex.split(command, comments=True)
        if words[1] != "train" or not words[2].startswith("recipes/") or words[2] in seen:
            continue
        seen.add(words[2])
        dry = session.run(f"toolkit train {words[2]} --dry-run")
        assert dry.returncode == 0, f"{source}: {dry.stderr[-2000:]}"
        assert "recipe OK" in dry.stderr
        if "--remote" in words:
            printed = [w for w in words if w != "--submit"]
            remote = session.run(shlex.join(printed))
            assert remote.returncode == 0, f"{source}: {remote.stderr[-2000:]}"
            assert remote.stdout.startswith("hf jobs run "), remote.stdout
    assert len(seen) == 5


# --- cards --------------------------------------------------------------------------------------


@pytest.fixture
def published(tiny_model_dir, tmp_path, fixtures_dir):
    """The tiny model, evaluated (scripted) and published to the local store as me/tiny-r1."""
    from tests.helpers.evaluate import ScriptedBackend, gold_script
    from toolkit.evaluation import evaluate
    from toolkit.evaluation.tasks import get_benchmark
    from toolkit.publishing import publish

    data_files = {"aime25": fixtures_dir / "evaluate" / "aime25_test.jsonl"}
    golds = {r["problem"]: r["gold_answer"] for r in get_benchmark("aime25").load(
        data_files["aime25"], limit=2)}  # fmt: skip
    evaluation = evaluate(
        "scripted", ["aime25"], n=1, limit=2, backend=ScriptedBackend(gold_script(golds, {0})),
        data_files=data_files, output_dir=tmp_path / "eval", show_progress=False,
    )  # fmt: skip
    model_dir = tmp_path / "tiny-r1"
    shutil.copytree(tiny_model_dir, model_dir)
    publish(model_dir, "me/tiny-r1", results=evaluation.results_path, license="apache-2.0")
    return model_dir


def _card_commands(card: str) -> tuple[list[str], list[str]]:
    usage = section(card, "## Usage")
    shell = [c for block in fenced_blocks(usage) for c in shell_commands(block)]
    return shell, fenced_blocks(usage, "python")


@pytest.mark.integration
def test_model_card_commands_run_as_printed(published, tmp_path):
    card = (published / "README.md").read_text(encoding="utf-8")
    shell, python = _card_commands(card)
    port = free_port()
    user = tmp_path / "user"  # a fresh folder, as a reader of the card would use
    user.mkdir()
    session = Session(cwd=user, env=base_env(GRADIO_SERVER_PORT=str(port)))
    ran = []
    for command in shell:
        if command.startswith("ollama ") and shutil.which("ollama") is None:
            continue  # documented: needs an Ollama install
        if command.startswith("toolkit space"):
            page = session.serve(command, port)
            assert "gradio" in page.lower()
        else:
            result = session.run(command)
            assert result.returncode == 0, f"{command}\n{result.stderr[-2000:]}"
        ran.append(command.split()[0])
    assert ran == ["cp", "toolkit"], ran  # the local store's copy, then the Space
    assert (user / "tiny-r1" / "config.json").is_file()  # what `cp -r` brought
    for snippet in python:  # the transformers snippet, fewer new tokens for a CPU test
        code = snippet.replace("max_new_tokens=1024", "max_new_tokens=8")
        result = session.run(f"python - <<'PY'\n{code}\nPY")
        assert result.returncode == 0, result.stderr[-2000:]


@pytest.fixture
def fake_hub(monkeypatch):
    from tests.helpers.hub import serve_fake_hub

    yield from serve_fake_hub(monkeypatch, patch_endpoint_constant=True)


@pytest.mark.integration
def test_model_card_for_the_hub_downloads_with_hf(published, fake_hub, tmp_path):
    """A card for a Hub repository says `hf download` (huggingface_hub ≥ 1 has no
    `huggingface-cli`), and that command downloads the published folder."""
    from toolkit.publishing import publish

    results = tmp_path / "eval" / "results.json"  # the fixture's evaluation
    publish(published, "me/tiny-r1", results=results, store="hub", version="0.1.0",
            license="apache-2.0")  # fmt: skip
    card = fake_hub.repos[("model", "me/tiny-r1")].files_at("main")["README.md"].decode()
    shell, _ = _card_commands(card)
    download = next(c for c in shell if c.startswith("hf download"))
    assert "huggingface-cli" not in card
    user = tmp_path / "user"
    user.mkdir()
    result = Session(cwd=user, env=base_env()).run(download)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (user / "tiny-r1" / "model.safetensors").is_file()


def test_dataset_card_usage_loads_the_pushed_version(tmp_path):
    import datasets

    from toolkit.store import push

    rows = {"problem": ["1+1?"], "answer": ["2"], "reasoning": ["1 and 1"]}
    push(datasets.Dataset.from_dict(rows), "me/cmds", version="1.0.0", license="mit")
    from toolkit.store import checkout

    card = (checkout("me/cmds", "v1.0.0") / "README.md").read_text(encoding="utf-8")
    (snippet,) = fenced_blocks(section(card, "## Usage"), "python")
    result = Session(cwd=tmp_path, env=base_env()).run(
        f"python - <<'PY'\n{snippet}\nassert len(ds) == 1, ds\nPY"
    )
    assert result.returncode == 0, result.stderr[-2000:]
