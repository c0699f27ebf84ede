"""The final save of a sharded run holds the whole model (issue 13): a 2-process FSDP run on CPU.

Under FSDP (and ZeRO-3) every process holds a shard of each parameter; the seed code saved the
unwrapped module directly, which writes shards or empty placeholders (here it crashed on the
DTensor shards). ``trainer.save_model`` gathers the full state dict on the main process. The run
uses real FSDP2 on gloo (see ``tests/helpers/fsdp_cpu.py``), a tiny model and two steps: about a
minute of two processes' start-up on a 2-core box.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.train import TRACES_FIXTURE

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent

FSDP_CPU_CONFIG = {
    "compute_environment": "LOCAL_MACHINE",
    "distributed_type": "FSDP",
    "fsdp_config": {
        "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
        "fsdp_cpu_ram_efficient_loading": False,
        "fsdp_offload_params": False,
        "fsdp_reshard_after_forward": True,
        "fsdp_state_dict_type": "FULL_STATE_DICT",  # as the shipped fsdp.yaml
        "fsdp_version": 2,
    },
    "machine_rank": 0,
    "mixed_precision": "no",
    "num_machines": 1,
    "num_processes": 2,
    "rdzv_backend": "static",
    "same_network": True,
    "use_cpu": False,
}


def test_two_process_fsdp_run_saves_the_gathered_model(tiny_model_dir, tmp_path):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    config = tmp_path / "fsdp-cpu.yaml"
    config.write_text(yaml.safe_dump(FSDP_CPU_CONFIG))
    out = tmp_path / "out"
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "task": "sft",
                "base_model": str(tiny_model_dir),
                "output_dir": str(out),
                "data": {"path": str(TRACES_FIXTURE), "limit": 8},
                "params": {
                    "learning_rate": 5e-2,
                    "max_steps": 2,
                    "per_device_train_batch_size": 1,
                    "max_length": 128,
                    "gradient_checkpointing": False,
                    "report_to": "none",
                    "logging_steps": 1,
                    "save_steps": 100,
                    "warmup_steps": 0,
                    "cpu_threads": 1,
                },
            }
        )
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config)]
    done = subprocess.run(
        [*launch, "-m", "tests.helpers.fsdp_cpu", str(recipe)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    log = done.stdout + done.stderr
    assert "trained 2 steps" in " ".join(log.split())

    initial = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    saved = load_file(out / "model.safetensors")
    # Every tensor at its full shape: gathered, not one process's shard.
    for name, tensor in saved.items():
        assert tuple(tensor.shape) == tuple(initial[name].shape), name
        assert torch.isfinite(tensor).all(), name
    assert set(initial) - set(saved) <= {"lm_head.weight"}  # tied to the embeddings
    changed = [n for n, t in saved.items() if not torch.allclose(t, initial[n])]
    assert changed, "the saved weights are the initial ones: training was not saved"
    model = AutoModelForCausalLM.from_pretrained(out)  # loadable as a normal model
    assert model.get_input_embeddings().weight.shape == initial["model.embed_tokens.weight"].shape
    readme = (out / "README.md").read_text()
    assert "fine-tuned version of" not in readme and "## Training" in readme
