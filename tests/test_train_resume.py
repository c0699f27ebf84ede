"""Runs that survive a kill (issue 15, item 4): torn checkpoints, existing run directories, the
loss curve across resumes. Each test fails on the code before the fix."""

from __future__ import annotations

import json
import logging
import shutil

import pytest
import yaml

from tests.helpers.train import TRACES_FIXTURE, one_torch_thread
from toolkit.training import train
from toolkit.training.recipe import RecipeError

_one_thread = pytest.fixture(autouse=True)(one_torch_thread)


def recipe(model_dir, output_dir, **params):
    base = {
        "learning_rate": 3e-3,
        "per_device_train_batch_size": 2,
        "max_length": 128,
        "gradient_checkpointing": False,
        "report_to": "none",
        "logging_steps": 1,
        "warmup_steps": 0,
        "lr_scheduler_type": "constant",
        "save_total_limit": None,
    }
    base.update(params)
    return {
        "task": "sft",
        "base_model": str(model_dir),
        "output_dir": str(output_dir),
        "data": {"path": str(TRACES_FIXTURE), "limit": 12},
        "params": base,
    }


def _kill_after_run(out, *, torn_step):
    """What a kill leaves: no summary or final model, and a checkpoint torn mid-save."""
    for name in ("training_summary.json", "model.safetensors", "README.md"):
        (out / name).unlink(missing_ok=True)
    torn = out / f"checkpoint-{torn_step}"
    shutil.rmtree(torn, ignore_errors=True)
    torn.mkdir()
    (torn / "trainer_state.json").write_text('{"global_step": ')  # cut off mid-write


def test_resume_skips_a_torn_checkpoint_and_keeps_the_whole_loss_curve(
    tiny_model_dir, tmp_path, caplog
):
    out = tmp_path / "run"
    train(recipe(tiny_model_dir, out, max_steps=4, save_steps=2))
    _kill_after_run(out, torn_step=4)
    with caplog.at_level(logging.WARNING):
        resumed = train(recipe(tiny_model_dir, out, max_steps=6, save_steps=2, resume=True))
    summary = resumed.summary
    assert summary["resumed_from"].endswith("checkpoint-2")  # the newest *complete* one
    assert "checkpoint-4" in caplog.text and "incomplete" in caplog.text
    assert summary["steps"] == 6
    # The steps before the resume are in the curve although the first run wrote no summary.
    assert [p["step"] for p in summary["loss_curve"]] == [1, 2, 3, 4, 5, 6]


def test_an_existing_run_is_refused_without_resume_or_overwrite(tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    first = train(recipe(tiny_model_dir, out, max_steps=2, save_steps=2))
    before = (out / "training_summary.json").read_text()
    with pytest.raises(RecipeError, match=r"already holds a run") as error:
        train(recipe(tiny_model_dir, out, max_steps=2, save_steps=2))
    assert "--resume" in error.value.hint and "--overwrite" in error.value.hint
    assert (out / "training_summary.json").read_text() == before  # nothing was touched
    again = train(recipe(tiny_model_dir, out, max_steps=3, save_steps=3, overwrite=True))
    assert again.summary["steps"] == 3 and again.summary["resumed_from"] is None
    assert not (out / "checkpoint-2").exists()  # the old run is gone, not mixed in
    assert first.summary["steps"] == 2


def test_cli_refuses_an_existing_run_in_one_line(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from toolkit.cli import app

    out = tmp_path / "run"
    out.mkdir()
    (out / "training_summary.json").write_text(json.dumps({"steps": 1}))
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe(tiny_model_dir, out, max_steps=1)))
    result = CliRunner().invoke(app, ["train", str(path)])
    assert result.exit_code == 2
    output = " ".join(result.output.split())  # Rich wraps long lines
    assert "already holds a run" in output and "--overwrite" in output
