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
from toolkit.errors import DataError, StoreError, UsageError
from toolkit.schema import FEATURES, TraceRecord, records_to_dataset
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


def test_hub_versions_and_lineage_read_back(fake_hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # downloads go to a fresh cache
    data, report = complete_only(_traces(8))
    push(data, "org/lin", "1", lineage=[report], store="hub")
    push(_traces(9), "org/lin", "1.1", store="hub")
    assert list_versions("org/lin", store="hub") == ["1.0.0", "1.1.0"]
    assert load_lineage("org/lin", "1.0", store="hub")[0]["step"] == "complete_only"
    assert load_lineage("org/lin", "1.1.0", store="hub") == []
    assert list_versions("org/never-pushed", store="hub") == []


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


# ---------------------------------------------------------------------------------------------
# hostile ids and versions, bad store paths, empty data (issue 15 item 7, issue 14 item 6)


@pytest.mark.parametrize(
    "repo_id",
    [
        "org/name\n",  # a trailing newline passed the old `$`-anchored match
        "org\n/name",
        "org/" + "n" * 297,  # 301 characters: one line, not an OS error from a long file name
        "org/na me",
        "org/na\u0663e",  # a non-ASCII digit is a \w and a \d in Python's re
        "-org/name",
        "org/name.",
        "org--x/name",
    ],
)
def test_invalid_repo_ids_are_refused_with_one_line(repo_id):
    with pytest.raises(UsageError, match="invalid repo id") as error:
        push(_traces(2), repo_id, "1.0.0", card=False)
    assert "\n" not in str(error.value) and error.value.hint
    assert len(str(error.value)) < 200
    store = Path(os.environ["TOOLKIT_STORE"])
    assert not store.exists() or not any("\n" in str(p) for p in store.rglob("*"))


def test_long_repo_id_part_is_refused():
    with pytest.raises(UsageError, match="at most 96"):
        push(_traces(2), "org/" + "n" * 97, "1.0.0", card=False)
    assert push(_traces(2), "org/" + "n" * 96, "1.0.0", card=False).created


def test_versions_are_semantic_one_version_per_number():
    first = push(_traces(3), "org/sem", "1")
    assert (first.version, list_versions("org/sem")) == ("1.0.0", ["1.0.0"])
    for same in ("1.0", "1.0.0", "v1", "01.0.0"):
        with pytest.raises(UsageError, match=r"version 1\.0\.0 already exists"):
            push(_traces(4), "org/sem", same)
        assert load("org/sem", same).to_list() == _traces(3).to_list()
    with pytest.raises(UsageError, match="build metadata"):
        push(_traces(4), "org/sem", "1.0.0+build")
    with pytest.raises(UsageError, match="build metadata"):
        load("org/sem", "1.0.0+build")
    push(_traces(5), "org/sem", "1.1.0-rc.1")
    push(_traces(6), "org/sem", "1.1")
    assert list_versions("org/sem") == ["1.0.0", "1.1.0-rc.1", "1.1.0"]
    assert next_version(["1.1.0-rc.1", "1.0.0"]) == "1.1.1"


def test_versions_written_by_an_older_toolkit_still_resolve():
    push(_traces(3), "org/legacy", "1.0.0", card=False)
    repo = local_repo_path(Path(os.environ["TOOLKIT_STORE"]), "org/legacy")
    subprocess.run(["git", "--git-dir", str(repo), "tag", "v2.0", "main"], check=True)
    assert list_versions("org/legacy") == ["1.0.0", "2.0.0"]
    assert load("org/legacy", "2").to_list() == _traces(3).to_list()
    with pytest.raises(UsageError, match="already exists"):
        push(_traces(4), "org/legacy", "2.0.0", card=False)


def test_store_path_that_is_a_file_is_one_clear_line(tmp_path):
    not_a_dir = tmp_path / "store.txt"
    not_a_dir.write_text("I am a file")
    for store in (not_a_dir, not_a_dir / "below"):
        with pytest.raises(StoreError, match="not a directory") as error:
            push(_traces(2), "org/x", store=store, card=False)
        assert error.value.hint and "\n" not in str(error.value)
    source = tmp_path / "in.parquet"
    _traces(2).to_parquet(str(source))
    result = CliRunner().invoke(
        app, ["push", str(source), "org/x", "--store", str(not_a_dir), "--no-card"]
    )
    output = _one_line_error(result)
    assert "is a file, not a directory" in output and "hint:" in output


def test_pushing_zero_rows_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="0 rows"):
        push(_traces(3).select([]), "org/empty")
    assert list_versions("org/empty") == []
    empty = tmp_path / "empty.parquet"
    _traces(3).select([]).to_parquet(str(empty))
    (tmp_path / "empty.jsonl").write_text("")
    for path in (empty, tmp_path / "empty.jsonl"):
        result = CliRunner().invoke(app, ["push", str(path), "org/empty"])
        assert result.exit_code == 1, result.output
        output = " ".join(result.output.split())
        assert ("0 rows" in output or "empty file" in output) and str(path) in output, output
        assert "Instruction" not in output
        assert result.exception is None or isinstance(result.exception, SystemExit)


# ---------------------------------------------------------------------------------------------
# licences: never assumed (issue 14 item 12)


def test_licence_is_inferred_from_known_sources_or_required(tmp_path):
    known = push(_traces(3), "org/gsm-traces", "1.0.0")  # every source is openai/gsm8k (MIT)
    repo = local_repo_path(Path(os.environ["TOOLKIT_STORE"]), "org/gsm-traces")
    assert "license: mit" in _git(repo, "show", f"{known.revision}:README.md")
    generated = records_to_dataset(
        [TraceRecord(problem="p", reasoning="r", answer="a", source="generate:my-teacher")]
    )
    with pytest.raises(UsageError, match="licence of the source data is unknown") as error:
        push(generated, "org/gen")
    assert "--license" in error.value.hint
    assert list_versions("org/gen") == []  # refused before anything was written
    assert push(generated, "org/gen", license="cc-by-4.0").created
    with pytest.raises(UsageError, match="not a Hub licence identifier"):
        push(generated, "org/gen2", license="free-for-all")
    source = tmp_path / "gen.parquet"
    generated.to_parquet(str(source))
    refused = CliRunner().invoke(app, ["push", str(source), "org/gen3"])
    assert refused.exit_code == 2 and "--license" in refused.output, refused.output
    ok = CliRunner().invoke(app, ["push", str(source), "org/gen3", "--license", "apache-2.0"])
    assert ok.exit_code == 0, ok.output


# ---------------------------------------------------------------------------------------------
# the Hub unreachable, offline or refusing: one line with a hint, never the token (issue 14
# item 10, issue 15 item 2)

TOKEN = "hf_fixtureTOKEN0123456789"


def _one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


def test_hub_offline_mode_is_one_line_with_a_hint(fake_hub, monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(StoreError, match="HF_HUB_OFFLINE") as error:
        push(_traces(3), "org/off", store="hub")
    assert "local store" in error.value.hint
    source = tmp_path / "t.parquet"
    _traces(3).to_parquet(str(source))
    monkeypatch.setenv("TOOLKIT_TARGET", "hub")
    output = _one_line_error(CliRunner().invoke(app, ["push", str(source), "org/off"]))
    assert "HF_HUB_OFFLINE" in output and "hint:" in output


def test_hub_unreachable_is_one_line_with_a_hint(fake_hub, monkeypatch, tmp_path):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(StoreError, match="not reachable") as error:
        push(_traces(3), "org/down", store="hub")
    assert "HF_ENDPOINT" in error.value.hint
    with pytest.raises(StoreError, match="not reachable"):
        load("org/down", store="hub")
    source = tmp_path / "t.parquet"
    _traces(3).to_parquet(str(source))
    monkeypatch.setenv("TOOLKIT_TARGET", "hub")
    output = _one_line_error(CliRunner().invoke(app, ["push", str(source), "org/down"]))
    assert "not reachable" in output and "HF_ENDPOINT" in output


def test_hub_401_echoing_the_token_says_login_and_never_shows_it(fake_hub, tmp_path, caplog):
    # INFO everywhere (what the CLI shows), DEBUG for the toolkit's own loggers. (httpcore2's
    # own DEBUG records carry raw response headers; the CLI keeps HTTP libraries at WARNING.)
    caplog.set_level("INFO")
    caplog.set_level("DEBUG", logger="toolkit")
    fake_hub.reject_status = 401
    with pytest.raises(StoreError, match="HTTP 401") as error:
        push(_traces(3), "org/denied", store="hub")
    assert "hf auth login" in error.value.hint
    assert fake_hub.requests  # the server did echo the header back...
    assert TOKEN not in str(error.value) and TOKEN not in repr(error.value.args)
    assert error.value.__cause__ is None and error.value.__suppress_context__
    assert TOKEN not in caplog.text  # ...and it is in no message and no log record
    with pytest.raises(StoreError, match="HTTP 401") as error:
        list_versions("org/denied", store="hub")
    assert TOKEN not in str(error.value)
    source = tmp_path / "t.parquet"
    _traces(3).to_parquet(str(source))
    result = CliRunner().invoke(app, ["push", str(source), "org/denied", "--store", "hub"])
    output = _one_line_error(result)
    assert "hf auth login" in output and TOKEN not in result.output


def test_cli_push_to_an_unreachable_hub_prints_a_few_lines_not_a_traceback(tmp_path):
    """The real CLI in a subprocess (the 131-287-line traceback of issue 14 item 10)."""
    source = tmp_path / "t.parquet"
    _traces(3).to_parquet(str(source))
    env = {
        **os.environ,
        "TOOLKIT_TARGET": "hub",
        "HF_ENDPOINT": "http://127.0.0.1:9",
        "HF_HUB_OFFLINE": "0",
        "HF_TOKEN": TOKEN,
    }
    run = subprocess.run(
        [sys.executable, "-m", "toolkit", "push", str(source), "org/x"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in (run.stdout + run.stderr).splitlines() if line.strip()]
    assert run.returncode == 1, run.stderr[-2000:]
    # The error and its hint (wrapped at 80 columns), after any progress bar of `datasets`.
    error_at = next(i for i, line in enumerate(lines) if line.startswith("error:"))
    assert len(lines) - error_at <= 4 and error_at <= 3, "\n".join(lines)
    assert "not reachable" in run.stderr and "HF_ENDPOINT" in run.stderr
    assert "Traceback" not in run.stderr and TOKEN not in run.stderr
