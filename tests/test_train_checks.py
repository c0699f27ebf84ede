"""Recipes meet TRL and the machine before any compute: ``params`` pass-through, preflight
(context length, packages, push target, environment), remote runs that keep their results and
install a toolkit that exists (issue 13; issue 10 point 3)."""

from __future__ import annotations

import shlex
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.training import load
from toolkit.training.checks import preflight, rope_parameters
from toolkit.training.recipe import RecipeError, load_recipe
from toolkit.training.remote import git_source, remote_plan, wheel_source

REPO = Path(__file__).resolve().parent.parent
QWEN = REPO / "recipes" / "qwen2.5-math-1.5b-bespoke-stratos.yaml"
runner = CliRunner()


def _line(output: str) -> str:
    return " ".join(output.split())  # Rich wraps long lines


# --- params: TRL SFTConfig names, passed through -------------------------------------------


def test_any_sft_config_field_passes_through_to_trl(tiny_model_dir):
    from transformers import AutoTokenizer

    from toolkit.training.sft import sft_config

    recipe = load_recipe(
        {
            "base_model": str(tiny_model_dir),
            "data": "d",
            "params": {
                "learning_rate": 3e-4,
                "neftune_noise_alpha": 5,  # not a field the toolkit knows: passed through
                "eval_strategy": "epoch",
                "lr_scheduler_type": "cosine_with_min_lr",
                "lr_scheduler_kwargs": {"min_lr_rate": 0.1},
                "report_to": "none",
            },
        }
    ).recipe
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    config = sft_config(recipe, bf16=False, end_of_turn="<|im_end|>", tokenizer=tokenizer)
    assert config.learning_rate == 3e-4 and config.neftune_noise_alpha == 5
    assert str(config.eval_strategy.value) == "epoch"
    assert config.lr_scheduler_kwargs == {"min_lr_rate": 0.1}
    assert config.eos_token == "<|im_end|>" and config.packing is True
    # The toolkit's masks carry the assistant-only loss, never TRL's {% generation %} path.
    assert config.assistant_only_loss is False


def test_unknown_param_names_the_closest_field():
    with pytest.raises(
        RecipeError, match=r"unknown key\(s\) lerning_rate; did you mean learning_rate"
    ):
        load_recipe({"base_model": "m", "data": "d", "params": {"lerning_rate": 1e-5}})


def test_reserved_and_doubled_params_are_refused():
    with pytest.raises(
        RecipeError, match=r"params\.push_to_hub: set by the toolkit from hub\.push"
    ):
        load_recipe({"base_model": "m", "data": "d", "params": {"push_to_hub": True}})
    with pytest.raises(RecipeError, match=r"both set learning_rate"):
        load_recipe({"base_model": "m", "data": "d", "params": {"lr": 1, "learning_rate": 2}})


def test_cli_override_under_the_other_spelling_wins(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"base_model": "m", "data": "d", "params": {"lr": 1e-3}}))
    recipe = load(path, **{"params.learning_rate": "5e-6"}).recipe
    assert recipe.params.learning_rate == pytest.approx(5e-6)
    assert "lr" not in yaml.safe_load(recipe.to_yaml())["params"]


# --- context length --------------------------------------------------------------------------


def test_qwen_recipe_at_16384_is_refused_with_a_clear_message():
    result = runner.invoke(app, ["train", str(QWEN), "--dry-run", "--params.max_length", "16384"])
    assert result.exit_code == 2
    line = _line(result.output)
    assert (
        "params.max_length 16384 exceeds the 4096 positions of base_model Qwen/Qwen2.5-Math-1.5B"
        in line
    )
    assert "params.rope_scaling: yarn" in line


def test_context_is_read_from_the_real_config(tiny_model_dir):
    loaded = load({"base_model": str(tiny_model_dir), "data": "d", "params": {"max_length": 4096}})
    findings = [f for f in preflight(loaded, local=False) if f.kind == "recipe"]
    assert (
        findings
        and "2048 positions" in findings[0].message
        and "config.json" in findings[0].message
    )


def test_rope_scaling_stretches_the_positions_when_asked(tiny_model_dir):
    from transformers import AutoConfig

    loaded = load(
        {
            "base_model": str(tiny_model_dir),
            "data": "d",
            "params": {"max_length": 8192, "rope_scaling": "yarn"},
        }
    )
    assert not [f for f in preflight(loaded, local=False) if f.kind == "recipe"]
    scaled = rope_parameters(loaded.recipe, AutoConfig.from_pretrained(tiny_model_dir))
    assert scaled["rope_type"] == "yarn" and scaled["factor"] == 4.0
    assert scaled["original_max_position_embeddings"] == 2048


def test_stretched_model_loads_with_the_new_positions(tiny_model_dir):
    from toolkit.training.sft import load_model

    recipe = load(
        {
            "base_model": str(tiny_model_dir),
            "data": "d",
            "params": {"max_length": 4096, "rope_scaling": "linear"},
        }
    ).recipe
    model = load_model(str(tiny_model_dir), recipe, bf16=False)
    assert model.config.max_position_embeddings == 4096
    assert model.config.rope_parameters["factor"] == 2.0


# --- packages and GPU ------------------------------------------------------------------------


def test_flash_attention_on_this_machine_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "train",
            str(REPO / "recipes" / "tiny-cpu.yaml"),
            "--params.attn_implementation",
            "flash_attention_2",
            "--output_dir",
            str(out),
        ],
    )
    assert result.exit_code == 2
    line = _line(result.output)
    assert "flash_attention_2 needs a CUDA GPU" in line
    assert "pip install 'r1-distill-toolkit[gpu]'" in line and "on CPU use sdpa" in line
    assert "Traceback" not in result.output and not out.exists()  # refused before any compute


def test_dry_run_reports_what_a_run_here_would_refuse(monkeypatch):
    monkeypatch.delenv("HF_USER", raising=False)
    result = runner.invoke(app, ["train", str(QWEN), "--dry-run"])
    assert result.exit_code == 0, result.output
    line = _line(result.output)
    assert "a run here would be refused" in line and "HF_USER unset" in line


# --- remote: results kept, toolkit installable ------------------------------------------------


@pytest.fixture
def hub_env(monkeypatch):
    monkeypatch.setenv("HF_USER", "someone")
    monkeypatch.setenv("HF_TOKEN", "hf_x")
    monkeypatch.setenv("TOOLKIT_DATASET", "someone/traces")


def test_remote_run_without_push_is_refused_unless_ephemeral(hub_env):
    loaded = load(REPO / "recipes" / "llama-3.1-8b-lora.yaml", **{"hub.push": "false"})
    with pytest.raises(RecipeError, match=r"would stay in the job's container") as error:
        remote_plan(loaded)
    assert "--allow-ephemeral" in error.value.hint
    assert remote_plan(loaded, allow_ephemeral=True)[-1][:3] == ["hf", "jobs", "run"]


def test_remote_run_with_unset_hf_user_is_refused(monkeypatch):
    monkeypatch.delenv("HF_USER", raising=False)
    monkeypatch.setenv("HF_TOKEN", "hf_x")
    monkeypatch.setenv("TOOLKIT_DATASET", "someone/traces")
    loaded = load(REPO / "recipes" / "llama-3.1-8b-lora.yaml")
    with pytest.raises(RecipeError, match=r"HF_USER unset"):
        remote_plan(loaded)


def test_remote_job_installs_a_wheel_built_here_with_the_gpu_extra(hub_env, tmp_path):
    loaded = load(QWEN)
    plan = remote_plan(loaded, source="wheel")
    build, job = plan[-2], plan[-1]
    assert build[1:4] == ["-m", "pip", "wheel"]
    mount = job[job.index("-v") + 1]
    assert mount.endswith("dist/job-wheel:/toolkit-wheel")
    script = job[-1]
    assert "--no-build-isolation '/toolkit-wheel/r1_distill_toolkit-" in script
    assert ".whl[train,gpu]'" in script
    assert "accelerate launch" in script and "--num_processes 8" in script
    assert shlex.split(shlex.join(job)) == job


def test_the_wheel_builds_and_carries_what_the_job_needs(tmp_path):
    source = wheel_source(REPO, "train,gpu")
    # A module left in setuptools' scratch folder by an earlier build (since renamed) must not
    # ship: the preparation clears the scratch folder before building.
    stale = REPO / "build" / "lib" / "toolkit" / "renamed_since.py"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("raise ImportError('stale')\n")
    clear = source.prepare[0]
    assert clear[:2] == ["rm", "-rf"] and str(REPO / "build") in clear
    subprocess.run(clear, check=True)
    build = [*source.prepare[-1][:-3], "-w", str(tmp_path), str(REPO)]
    done = subprocess.run(build, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    wheel = next(tmp_path.glob("r1_distill_toolkit-*.whl"))
    assert source.requirement.split("/")[-1].startswith(wheel.name)
    names = zipfile.ZipFile(wheel).namelist()
    assert "toolkit/training/remote.py" in names
    assert "toolkit/renamed_since.py" not in names
    assert "toolkit/accelerate_configs/zero3.yaml" in names
    metadata = (
        zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    )
    for package in ("deepspeed", "flash-attn", "bitsandbytes", "hqq", "liger-kernel"):
        assert f"{package}" in metadata and 'extra == "gpu"' in metadata


def test_git_source_is_the_pushed_commit_only(tmp_path):
    def git(*args, cwd):
        subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)

    origin, work = tmp_path / "origin.git", tmp_path / "work"
    git("init", "--bare", "-q", str(origin), cwd=tmp_path)
    git("init", "-q", str(work), cwd=tmp_path)
    (work / "pyproject.toml").write_text('[project]\nname = "r1-distill-toolkit"\nversion = "0"\n')
    git("add", "-A", cwd=work)
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "x", cwd=work)
    git("remote", "add", "origin", str(origin), cwd=work)
    assert git_source(work, "train,gpu") is None  # not pushed: the job could not fetch it
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True, check=True
    ).stdout.strip()
    found = git_source(work, "train,gpu")
    assert found is not None
    assert found.requirement == f"r1-distill-toolkit[train,gpu] @ git+{origin}@{sha}"
