"""Publishing a model directory: card + plot + results + weights, versioned, to the local store
and (through an HTTP-level fake of the Hub API) to the Hub."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers.evaluate import ScriptedBackend, gold_script
from tests.helpers.hub import serve_fake_hub
from toolkit.cards.model_index import validate_model_card
from toolkit.cli import app
from toolkit.evaluation import evaluate
from toolkit.evaluation.tasks import get_benchmark
from toolkit.publishing import publish
from toolkit.store import checkout, list_versions


@pytest.fixture(scope="module")
def results_file(fixtures_dir, tmp_path_factory):
    data_files = {"aime25": fixtures_dir / "evaluate" / "aime25_test.jsonl"}
    golds = {
        r["problem"]: r["gold_answer"] for r in get_benchmark("aime25").load(data_files["aime25"])
    }
    out = tmp_path_factory.mktemp("publish-eval")
    evaluation = evaluate(
        "scripted",
        ["aime25"],
        n=2,
        backend=ScriptedBackend(gold_script(golds, {1})),
        data_files=data_files,
        output_dir=out,
        show_progress=False,
    )
    return evaluation.results_path


@pytest.fixture
def model_dir(tiny_model_dir, tmp_path):
    folder = tmp_path / "student"
    shutil.copytree(tiny_model_dir, folder)
    # Training leftovers that must not be published.
    (folder / "checkpoint-5").mkdir()
    (folder / "checkpoint-5" / "model.safetensors").write_bytes(b"intermediate")
    (folder / "optimizer.pt").write_bytes(b"state")
    (folder / "runs").mkdir()
    (folder / "runs" / "events.out").write_bytes(b"tb")
    return folder


def test_publish_to_local_store_with_versions_and_pr(model_dir, results_file):
    first = publish(
        model_dir, "me/student-r1", results=results_file, version="1.0.0", license="apache-2.0"
    )
    assert (first.push.target, first.push.created, first.version) == ("local", True, "1.0.0")
    assert first.readme == model_dir / "README.md" and first.plot == model_dir / "eval_plot.png"
    assert "optimizer.pt" not in first.files and not any("checkpoint-" in f for f in first.files)

    tree = checkout("me/student-r1", "v1.0.0", repo_type="model")
    names = {p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()}
    assert {"README.md", "eval_plot.png", "eval_results.json", "config.json", "model.safetensors",
            "tokenizer.json"} <= names  # fmt: skip
    assert not {"optimizer.pt", "checkpoint-5/model.safetensors", "runs/events.out"} & names
    assert (tree / "model.safetensors").read_bytes() == (
        model_dir / "model.safetensors"
    ).read_bytes()
    results = json.loads((tree / "eval_results.json").read_text())
    assert results["tasks"]["aime25"]["metrics"]["pass@1"]["value"] == 0.5
    validate_model_card((tree / "README.md").read_text(), results)

    again = publish(model_dir, "me/student-r1", results=results_file, license="apache-2.0")
    assert (again.push.created, again.version) == (False, "1.0.0")

    (model_dir / "generation_config.json").write_text('{"temperature": 0.6}')
    pr = publish(
        model_dir, "me/student-r1", results=results_file, version="1.1.0", create_pr=True,
        license="apache-2.0",
    )  # fmt: skip
    assert pr.push.created and pr.push.branch == "pr/1"
    assert list_versions("me/student-r1", repo_type="model") == ["1.0.0"]  # a PR tags nothing

    final = publish(model_dir, "me/student-r1", results=results_file, license="apache-2.0")
    assert final.version == "1.0.1"
    assert list_versions("me/student-r1", repo_type="model") == ["1.0.0", "1.0.1"]


def test_publish_errors(model_dir, results_file, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"no config\.json"):
        publish(empty, "me/x", results=results_file)
    (empty / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="no weight files"):
        publish(empty, "me/x", results=results_file)
    with pytest.raises(ValueError, match=r"no README\.md and no results"):
        publish(model_dir, "me/x")
    with pytest.raises(ValueError, match="org/name"):
        publish(model_dir, "no-org", results=results_file)
    with pytest.raises(FileNotFoundError):
        publish(tmp_path / "missing", "me/x", results=results_file)


@pytest.fixture
def fake_hub(monkeypatch):
    yield from serve_fake_hub(monkeypatch, patch_endpoint_constant=True)


def test_publish_to_hub(fake_hub, model_dir, results_file):
    published = publish(
        model_dir, "me/student-r1", results=results_file, version="0.1.0", store="hub",
        license="apache-2.0",
    )  # fmt: skip
    assert published.push.target == "hub"
    assert published.push.url_or_path == f"{fake_hub.url}/me/student-r1/tree/v0.1.0"
    (commit,) = fake_hub.calls("POST", "/api/models/me/student-r1/commit/main")
    lines = [json.loads(line) for line in commit.body.decode().splitlines()]
    files = {
        line["value"]["path"]: base64.b64decode(line["value"]["content"])
        for line in lines
        if line["key"] == "file"
    }
    assert {"README.md", "eval_plot.png", "eval_results.json", "model.safetensors"} <= set(files)
    assert "optimizer.pt" not in files
    assert files["eval_plot.png"][:8] == b"\x89PNG\r\n\x1a\n"
    readme = files["README.md"].decode()
    validate_model_card(readme, json.loads(files["eval_results.json"]))
    # The Hub's own YAML validation endpoint accepts the card.
    validate_model_card(readme, remote=True)
    assert fake_hub.calls("POST", "/api/validate-yaml")
    assert fake_hub.repos[("model", "me/student-r1")].tags == {"v0.1.0": published.push.revision}

    (model_dir / "generation_config.json").write_text('{"temperature": 0.6}')
    pr = publish(
        model_dir, "me/student-r1", results=results_file, version="0.2.0", store="hub",
        create_pr=True, message="Evaluate and publish 0.2.0", license="apache-2.0",
    )  # fmt: skip
    assert pr.push.pr_url and pr.push.pr_url.endswith("/discussions/1")
    assert "v0.2.0" not in fake_hub.repos[("model", "me/student-r1")].tags


def test_publish_cli(model_dir, results_file):
    result = CliRunner().invoke(
        app,
        ["publish", str(model_dir), "me/cli-model", "--results", str(results_file),
         "--version", "2.0.0", "--license", "apache-2.0"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "published me/cli-model v2.0.0" in " ".join(result.output.split())
    assert list_versions("me/cli-model", repo_type="model") == ["2.0.0"]
    result = CliRunner().invoke(app, ["publish", str(model_dir), "me/cli-model"])
    assert result.exit_code == 0  # README.md exists now: identical content, nothing new
    assert "unchanged" in result.output
    as_json = CliRunner().invoke(app, ["publish", str(model_dir), "me/cli-model", "--json"])
    payload = json.loads(as_json.stdout)
    assert (payload["created"], payload["version"], payload["target"]) == (False, "2.0.0", "local")


def test_a_published_model_is_named_by_its_store_id_everywhere(model_dir, results_file):
    """Issue 14, item 9: `toolkit space --model local/quickstart-student` failed because store
    ids were not resolved; one resolver serves train, eval and chat."""
    from toolkit.errors import UsageError
    from toolkit.models import resolve_model

    publish(model_dir, "me/student-r1", results=results_file, version="1.0.0", license="mit")
    latest = Path(resolve_model("me/student-r1"))
    pinned = Path(resolve_model("me/student-r1@1.0.0"))
    assert (latest / "config.json").is_file() and latest == pinned
    assert resolve_model("someone/not-published") == "someone/not-published"  # a Hub id
    with pytest.raises(UsageError, match=r"no version or revision 'v9\.9\.9'"):
        resolve_model("me/student-r1@9.9.9")
    # the one loader takes the store id like any path
    from toolkit.backends import make_model

    model = make_model("transformers", "me/student-r1")
    assert model.load().path == str(latest)
