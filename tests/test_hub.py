"""Versioned push/load: the local git store (versions, identical re-push, a push killed mid-way)
and the Hub path against an HTTP-level fake of the Hub API."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import datasets
import pytest
from typer.testing import CliRunner

from tests.helpers.hub import serve_fake_hub
from toolkit.cli import app
from toolkit.curate import complete_only, write_lineage
from toolkit.store import (
    HubStore,
    LocalStore,
    PushResult,
    list_versions,
    load,
    load_lineage,
    local_repo_path,
    next_version,
    push,
    push_folder,
    resolve_target,
)
from toolkit.schema import FEATURES, TraceRecord, records_to_dataset

REPO = Path(__file__).resolve().parents[1]


def _traces(count: int, offset: int = 0) -> datasets.Dataset:
    return records_to_dataset(
        [
            TraceRecord(
                problem=f"What is {i} + {i}?",
                reasoning=f"Adding {i} and {i} gives {2 * i}. " * (1 + i % 7),
                answer=f"The answer is \\boxed{{{2 * i}}}.",
                final_answer=str(2 * i),
                gold_answer=str(2 * i),
                source="openai/gsm8k@e53f048",
                metadata={"teacher": "deepseek-r1", "temperature": 0.6},
            )
            for i in range(offset, offset + count)
        ]
    )


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


# ---------------------------------------------------------------------------------------------
# local store


def _target(store):
    """What a resolved store is: its kind and its root (``None`` for the Hub)."""
    resolved = resolve_target(store)
    return resolved.target, resolved.root


def test_target_resolution(tmp_path, monkeypatch):
    assert _target("hub") == ("hub", None)
    assert _target(tmp_path) == ("local", tmp_path)
    assert _target(None) == ("local", Path(os.environ["TOOLKIT_STORE"]))
    monkeypatch.setenv("TOOLKIT_TARGET", "hub")
    assert _target(None) == ("hub", None)
    monkeypatch.delenv("TOOLKIT_TARGET")
    monkeypatch.delenv("TOOLKIT_STORE")
    assert _target(None) == ("local", Path(os.environ["TOOLKIT_HOME"]) / "store")
    assert isinstance(resolve_target("hub"), HubStore)
    assert isinstance(resolve_target(tmp_path), LocalStore)


def test_push_load_round_trip_with_versions(tmp_path):
    first = _traces(20)
    result = push(first, "org/traces", "1.0.0")
    assert isinstance(result, PushResult)
    assert (result.created, result.version, result.target) == (True, "1.0.0", "local")
    repo = local_repo_path(Path(os.environ["TOOLKIT_STORE"]), "org/traces")
    assert Path(result.url_or_path) == repo
    assert _git(repo, "rev-parse", "v1.0.0").strip() == result.revision
    files = set(_git(repo, "ls-tree", "-r", "--name-only", "v1.0.0").split())
    assert {
        "data/train-00000-of-00001.parquet",
        "README.md",
        "plots/reasoning_length.png",
        "lineage.json",
        ".toolkit.json",
    } <= files

    second, report = complete_only(_traces(5, offset=100))
    result2 = push(second, "org/traces", lineage=[report])  # next patch version
    assert (result2.created, result2.version) == (True, "1.0.1")
    assert list_versions("org/traces") == ["1.0.0", "1.0.1"]

    loaded_first = load("org/traces", "1.0.0")
    assert loaded_first.features == FEATURES
    assert loaded_first.to_list() == first.to_list()
    assert load("org/traces").to_list() == second.to_list()  # latest
    assert load("org/traces", "v1.0.1").to_list() == second.to_list()
    assert load_lineage("org/traces", "1.0.1")[0]["step"] == "complete_only"
    card = _git(repo, "show", "v1.0.1:README.md")
    assert "complete_only" in card and "tag `v1.0.1`" in card
    with pytest.raises(ValueError, match=r"no version or revision 'v9\.9\.9'"):
        load("org/traces", "9.9.9")
    with pytest.raises(ValueError, match="no split 'test'"):
        load("org/traces", split="test")


def test_identical_repush_creates_no_version():
    data = _traces(10)
    first = push(data, "org/same", "1.0.0")
    again = push(data.select(range(10)), "org/same", "1.1.0")  # same rows via an indices mapping
    assert again.created is False
    assert (again.version, again.revision) == ("1.0.0", first.revision)
    assert again.content_hash == first.content_hash
    assert list_versions("org/same") == ["1.0.0"]
    repo = local_repo_path(Path(os.environ["TOOLKIT_STORE"]), "org/same")
    assert _git(repo, "rev-list", "--count", "main").strip() == "1"


def test_versions_are_immutable_and_validated():
    push(_traces(3), "org/imm", "2.0.0")
    with pytest.raises(ValueError, match=r"version 2\.0\.0 already exists"):
        push(_traces(4), "org/imm", "2.0.0")
    with pytest.raises(ValueError, match="invalid version"):
        push(_traces(4), "org/imm", "two")
    with pytest.raises(ValueError, match="invalid repo id"):
        push(_traces(4), "../escape", "1.0.0")
    assert next_version(["1.0.0", "1.2.9", "1.10.0"]) == "1.10.1"
    assert next_version([]) == "1.0.0"


def test_branch_and_local_pull_request():
    base = push(_traces(3), "org/br", "1.0.0")
    on_branch = push(_traces(4), "org/br", "1.1.0", branch="dev")
    assert on_branch.branch == "dev"
    assert load("org/br").to_list() == _traces(3).to_list()  # main untouched
    pr = push(_traces(5), "org/br", "1.2.0", create_pr=True)
    assert pr.branch == "pr/1" and pr.pr_url
    assert "1.2.0" not in list_versions("org/br")  # tagged only once merged
    assert load("org/br").to_list() == _traces(3).to_list()
    assert base.revision != pr.revision
    with pytest.raises(ValueError, match="create_pr opens a pull request against main"):
        push(_traces(6), "org/br", create_pr=True, branch="dev")


_KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    import datasets
    from toolkit.store import push
    from toolkit.schema import TraceRecord, records_to_dataset
    rows = 200_000
    data = datasets.Dataset.from_dict({
        "problem": [f"problem {i} " + "x" * 40 for i in range(rows)],
        "reasoning": [f"reasoning {i} " * 20 for i in range(rows)],
    })
    print("pushing", flush=True)
    push(data, "org/kill", "2.0.0", card=False)
    print("finished", flush=True)
    """
)


def test_push_killed_midway_leaves_previous_version_intact(tmp_path):
    store = Path(os.environ["TOOLKIT_STORE"])
    previous = datasets.Dataset.from_dict({"problem": ["p1", "p2"], "reasoning": ["r1", "r2"]})
    before = push(previous, "org/kill", "1.0.0", card=False)
    repo = local_repo_path(store, "org/kill")
    refs_before = _git(repo, "show-ref")
    script = tmp_path / "push_big.py"
    script.write_text(_KILL_SCRIPT)
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=REPO,
        env={**os.environ},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # Kill once the push has begun writing its staged files (mid-way, refs not yet moved).
        deadline = time.monotonic() + 120
        staged = None
        while time.monotonic() < deadline and process.poll() is None:
            staged = next((store / ".tmp").glob("push-*/content/data/*.parquet"), None)
            if staged is not None:
                break
            time.sleep(0.02)
        assert staged is not None, process.stderr.read().decode()[-2000:]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert list((store / ".tmp").glob(f"push-{process.pid}-*"))  # the dead push's staging
    assert _git(repo, "show-ref") == refs_before  # no branch moved, no tag created
    assert list_versions("org/kill") == ["1.0.0"]
    assert load("org/kill").to_list() == previous.to_list()
    assert load("org/kill", "1.0.0").to_list() == previous.to_list()
    # The store still accepts pushes (the dead push's lock and staging are not in the way).
    after = push(previous.select([0]), "org/kill", card=False)
    assert (after.created, after.version) == (True, "1.0.1")
    assert before.revision in _git(repo, "rev-list", "main")
    assert not list((store / ".tmp").glob(f"push-{process.pid}-*"))  # cleared by the next push
    subprocess.run(
        ["git", "--git-dir", str(repo), "fsck", "--no-dangling"], check=True, capture_output=True
    )


def test_push_failing_at_the_ref_update_changes_nothing(monkeypatch):
    import sys as _sys

    hub_module = _sys.modules["toolkit.store.local"]  # the local store's git runner
    first = push(_traces(3), "org/crash", "1.0.0", card=False)
    real_git = hub_module._git

    def crash_on_ref_update(repo, *args, **kwargs):
        if args and args[0] == "update-ref":
            raise KeyboardInterrupt  # interrupted after the objects were written
        return real_git(repo, *args, **kwargs)

    monkeypatch.setattr(hub_module, "_git", crash_on_ref_update)
    with pytest.raises(KeyboardInterrupt):
        push(_traces(4), "org/crash", "1.1.0", card=False)
    monkeypatch.setattr(hub_module, "_git", real_git)
    assert list_versions("org/crash") == ["1.0.0"]
    assert load("org/crash").to_list() == _traces(3).to_list()
    retry = push(_traces(4), "org/crash", "1.1.0", card=False)
    assert retry.created and retry.revision != first.revision
    assert load("org/crash", "1.1.0").to_list() == _traces(4).to_list()


def test_push_folder_versions_any_files(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"hidden_size": 8}')
    (folder / "README.md").write_text("# tiny\n")
    first = push_folder(folder, "org/tiny-model")
    assert (first.created, first.version, first.repo_type) == (True, "1.0.0", "model")
    assert push_folder(folder, "org/tiny-model").created is False
    (folder / "config.json").write_text('{"hidden_size": 16}')
    second = push_folder(folder, "org/tiny-model", version="1.1.0")
    assert (second.created, second.version) == (True, "1.1.0")
    repo = local_repo_path(Path(os.environ["TOOLKIT_STORE"]), "org/tiny-model", "model")
    assert json.loads(_git(repo, "show", "v1.0.0:config.json")) == {"hidden_size": 8}


def test_cli_push_and_load(tmp_path):
    data, report = complete_only(_traces(6))
    source = tmp_path / "curated.parquet"
    data.to_parquet(str(source))
    write_lineage(source, [report])
    runner = CliRunner()
    pushed = runner.invoke(app, ["push", str(source), "org/cli", "--version", "0.1.0"])
    assert pushed.exit_code == 0, pushed.output
    assert "pushed org/cli version 0.1.0" in pushed.output
    again = runner.invoke(app, ["push", str(source), "org/cli"])
    assert again.exit_code == 0 and "nothing pushed" in again.output
    out = tmp_path / "back.jsonl"
    loaded = runner.invoke(app, ["load", "org/cli", "--version", "0.1.0", "-o", str(out)])
    assert loaded.exit_code == 0, loaded.output
    assert len(out.read_text().splitlines()) == 6
    assert load_lineage("org/cli")[0]["step"] == "complete_only"
    missing = runner.invoke(app, ["load", "org/nothing"])
    assert missing.exit_code == 1 and "no dataset of that name" in missing.output


# ---------------------------------------------------------------------------------------------
# the Hub, through an HTTP-level fake of its API


@pytest.fixture
def fake_hub(monkeypatch):
    yield from serve_fake_hub(monkeypatch)


def test_hub_push_requests(fake_hub, caplog):
    caplog.set_level("DEBUG")
    data, report = complete_only(_traces(8))
    result = push(data, "org/hubset", "1.2.0", private=True, lineage=[report], store="hub")
    assert (result.created, result.version, result.target) == (True, "1.2.0", "hub")
    assert result.url_or_path == f"{fake_hub.url}/datasets/org/hubset/tree/v1.2.0"

    create = fake_hub.calls("POST", "/api/repos/create")
    payload = json.loads(create[0].body)
    assert (payload["name"], payload["organization"], payload["type"]) == (
        "hubset",
        "org",
        "dataset",
    )
    assert payload["visibility"] == "private"
    # Every request carries the token, which appears in no log record and no result field.
    assert all(
        {k.lower(): v for k, v in r.headers.items()}.get("authorization")
        == "Bearer hf_fixtureTOKEN0123456789"
        for r in fake_hub.requests
    )
    assert "hf_fixtureTOKEN" not in caplog.text
    assert "hf_fixtureTOKEN" not in repr(result)

    (commit,) = fake_hub.calls("POST", "/api/datasets/org/hubset/commit/main")
    assert commit.headers.get("Content-Type") == "application/x-ndjson"
    lines = [json.loads(line) for line in commit.body.decode().splitlines()]
    assert lines[0]["key"] == "header"
    assert lines[0]["value"]["summary"] == "org/hubset version 1.2.0"
    assert "Content-Hash: sha256:" in lines[0]["value"]["description"]
    files = {
        line["value"]["path"]: base64.b64decode(line["value"]["content"])
        for line in lines
        if line["key"] == "file"
    }
    assert set(files) == {
        "data/train-00000-of-00001.parquet",
        "README.md",
        "lineage.json",
        "plots/reasoning_length.png",
    }
    assert files["data/train-00000-of-00001.parquet"][:4] == b"PAR1"
    assert files["plots/reasoning_length.png"][:8] == b"\x89PNG\r\n\x1a\n"
    readme = files["README.md"].decode()
    assert "configs:" in readme and "path: data/train-*" in readme
    assert "complete_only" in readme
    assert json.loads(files["lineage.json"])[0]["step"] == "complete_only"
    assert fake_hub.calls("POST", "/api/validate-yaml")

    (tag,) = fake_hub.calls("POST", "/api/datasets/org/hubset/tag/")
    assert json.loads(tag.body)["tag"] == "v1.2.0"
    assert tag.path.endswith(f"/tag/{result.revision}")
    assert fake_hub.repos[("dataset", "org/hubset")].tags == {"v1.2.0": result.revision}
    assert fake_hub.repos[("dataset", "org/hubset")].private is True


def test_hub_identical_repush_and_next_version(fake_hub):
    data = _traces(8)
    first = push(data, "org/idem", store="hub")
    assert first.version == "1.0.0"
    commits_before = len(fake_hub.calls("POST", "/commit/"))
    again = push(data, "org/idem", "5.0.0", store="hub")
    assert (again.created, again.version, again.revision) == (False, "1.0.0", first.revision)
    assert len(fake_hub.calls("POST", "/commit/")) == commits_before
    assert fake_hub.calls("POST", "/paths-info/main")
    changed = push(_traces(9), "org/idem", store="hub")
    assert (changed.created, changed.version) == (True, "1.0.1")
    with pytest.raises(ValueError, match="already exists on the Hub"):
        push(_traces(10), "org/idem", "1.0.1", store="hub")


def test_hub_branch_and_pull_request(fake_hub, monkeypatch):
    monkeypatch.setenv("TOOLKIT_TARGET", "hub")  # store=None follows TOOLKIT_TARGET
    push(_traces(3), "org/flow", "1.0.0")
    on_branch = push(_traces(4), "org/flow", "1.1.0", branch="dev")
    assert fake_hub.calls("POST", "/api/datasets/org/flow/branch/dev")
    assert fake_hub.calls("POST", "/api/datasets/org/flow/commit/dev")
    assert fake_hub.repos[("dataset", "org/flow")].branches["dev"] == on_branch.revision
    pr = push(_traces(5), "org/flow", "1.2.0", create_pr=True)
    (opened,) = fake_hub.calls("POST", "/api/datasets/org/flow/discussions")
    assert json.loads(opened.body)["pullRequest"] is True
    assert fake_hub.calls("POST", "/api/datasets/org/flow/commit/refs/pr/1")
    assert pr.pr_url and pr.pr_url.endswith("/discussions/1")
    assert fake_hub.repos[("dataset", "org/flow")].branches["refs/pr/1"] == pr.revision
    assert fake_hub.repos[("dataset", "org/flow")].branches["main"] != pr.revision
    assert "v1.2.0" not in fake_hub.repos[("dataset", "org/flow")].tags


def test_hub_push_folder_model(fake_hub, tmp_path):
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "README.md").write_text("---\nlicense: apache-2.0\n---\n# model\n")
    result = push_folder(folder, "org/model", version="0.1.0", store="hub")
    assert result.url_or_path == f"{fake_hub.url}/org/model/tree/v0.1.0"
    assert fake_hub.calls("POST", "/api/models/org/model/commit/main")
    assert fake_hub.repos[("model", "org/model")].tags == {"v0.1.0": result.revision}
    assert push_folder(folder, "org/model", store="hub").created is False
