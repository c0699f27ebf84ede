"""Where a recipe runs besides this machine: ``accelerate launch`` and Hugging Face Jobs.

The toolkit deliberately has no cluster layer of its own. Multi-GPU is ``accelerate launch`` with
one of the shipped configs (``toolkit/accelerate_configs/zero3.yaml`` for DeepSpeed ZeRO-3,
``fsdp.yaml`` for PyTorch FSDP); remote is the exact ``hf jobs run`` command (huggingface_hub's
Jobs CLI), printed for the user to inspect or, with ``--submit``, executed.

The job carries the recipe inline (base64 in an environment variable) with its ``${ENV}``
references *unresolved*; every referenced name is passed with ``--secrets NAME``, so tokens are
read from the submitting shell by the ``hf`` CLI (``${NAME:-default}`` ones only when set there) and never appear in the command line or logs.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from toolkit.training.recipe import ACCELERATE_CONFIGS, LoadedRecipe, RecipeError, env_names

#: GPUs per HF Jobs flavor (``hf jobs run --help`` lists the flavors).
FLAVOR_GPUS = {
    "t4-small": 1,
    "t4-medium": 1,
    "l4x1": 1,
    "l4x4": 4,
    "l40sx1": 1,
    "l40sx4": 4,
    "l40sx8": 8,
    "a10g-small": 1,
    "a10g-large": 1,
    "a10g-largex2": 2,
    "a10g-largex4": 4,
    "a100-large": 1,
    "a100x4": 4,
    "a100x8": 8,
    "h200": 1,
    "h200x2": 2,
    "h200x4": 4,
    "h200x8": 8,
    "rtx-pro-6000": 1,
    "rtx-pro-6000x2": 2,
    "rtx-pro-6000x4": 4,
    "rtx-pro-6000x8": 8,
}
CPU_FLAVORS = ("cpu-basic", "cpu-upgrade", "cpu-performance", "cpu-xl")
RECIPE_ENV = "TOOLKIT_RECIPE_B64"
REMOTE_RECIPE_PATH = "/tmp/recipe.yaml"


def accelerate_config_path(name: str) -> Path:
    """Path of a shipped accelerate config (``zero3`` or ``fsdp``)."""
    if name not in ACCELERATE_CONFIGS:
        raise RecipeError(
            f"unknown accelerate config {name!r}; shipped: {', '.join(ACCELERATE_CONFIGS)}"
        )
    path = resources.files("toolkit") / "accelerate_configs" / f"{name}.yaml"
    return Path(str(path))


def accelerate_command(
    recipe_path: str,
    *,
    config: str,
    num_processes: int,
    overrides: list[str] | None = None,
    config_file: str | None = None,
) -> list[str]:
    """``accelerate launch --config_file <shipped yaml> --num_processes N -m toolkit train …``."""
    if num_processes < 1:
        raise RecipeError("num_processes must be >= 1")
    return [
        "accelerate",
        "launch",
        "--config_file",
        config_file or str(accelerate_config_path(config)),
        "--num_processes",
        str(num_processes),
        "-m",
        "toolkit",
        "train",
        recipe_path,
        *(overrides or []),
    ]


def gpus_for(flavor: str) -> int:
    if flavor in CPU_FLAVORS:
        return 0
    if flavor not in FLAVOR_GPUS:
        raise RecipeError(
            f"unknown HF Jobs flavor {flavor!r}; GPU flavors: {', '.join(FLAVOR_GPUS)} "
            "(`hf jobs hardware` lists them)"
        )
    return FLAVOR_GPUS[flavor]


def hf_jobs_command(
    loaded: LoadedRecipe,
    *,
    flavor: str | None = None,
    timeout: str | None = None,
    image: str | None = None,
    detach: bool = True,
) -> list[str]:
    """The ``hf jobs run`` argv that runs this recipe on Hugging Face infrastructure.

    A local ``data.path`` cannot be read by the job: that is an error naming the fix (push the
    dataset first with ``toolkit push``), not a job that fails an hour later.
    """
    recipe = loaded.recipe
    remote = recipe.remote
    flavor = flavor or remote.flavor
    gpus = gpus_for(flavor)
    data_path = recipe.data.path
    if Path(data_path).exists() or data_path.startswith((".", "/", "~")):
        raise RecipeError(
            f"data.path {data_path!r} is a local path, which an HF Job cannot read; push it first "
            "(toolkit push) and set data.path to the Hub dataset id"
        )
    base = recipe.base_model
    if Path(base).exists() and base.strip().lower() != "smollm2":
        raise RecipeError(f"base_model {base!r} is a local path; use its Hub id for a remote run")
    raw = dict(loaded.raw)
    # The job writes into its own disk; results leave through hub.push.
    raw["output_dir"] = f"/tmp/runs/{recipe.name}"
    encoded = base64.b64encode(yaml.safe_dump(raw, sort_keys=False).encode()).decode()
    # ${NAME} without default must reach the job; ${NAME:-default} only when set here.
    required = env_names(loaded.raw, required_only=True)
    optional = [n for n in loaded.env_names if n not in required and n in os.environ]
    secrets = list(dict.fromkeys(["HF_TOKEN", *required, *optional, *remote.secrets]))
    train = shlex.join(["toolkit", "train", REMOTE_RECIPE_PATH])
    if gpus > 1 or remote.accelerate:
        config = remote.accelerate or "zero3"
        processes = remote.num_processes or max(gpus, 1)
        config_arg = f'$(python -c \'import toolkit,os;print(os.path.join(os.path.dirname(toolkit.__file__),"accelerate_configs","{config}.yaml"))\')'
        train = (
            f"accelerate launch --config_file {config_arg} --num_processes {processes} "
            f"-m toolkit train {REMOTE_RECIPE_PATH}"
        )
    script = (
        f"pip install --quiet {shlex.quote(remote.package)} && "
        f'echo "${RECIPE_ENV}" | base64 -d > {REMOTE_RECIPE_PATH} && {train}'
    )
    argv = ["hf", "jobs", "run", "--flavor", flavor, "--timeout", timeout or remote.timeout]
    if detach:
        argv.append("--detach")
    argv += ["--name", _job_name(recipe.name), "--label", "toolkit=train"]
    argv += ["--env", f"{RECIPE_ENV}={encoded}"]
    for name in secrets:
        argv += ["--secrets", name]
    argv += [image or remote.image, "bash", "-c", script]
    return argv


def _job_name(name: str) -> str:
    return ("toolkit-train-" + re.sub(r"[^a-z0-9-]+", "-", name.lower())).strip("-")[:60]


def format_command(argv: list[str]) -> str:
    """A copy-pasteable shell line (the long base64 recipe stays one quoted word)."""
    return shlex.join(argv)


def submit(argv: list[str], *, timeout: float = 300.0) -> subprocess.CompletedProcess[Any]:
    """Run the ``hf jobs`` command; the ``hf`` CLI reads the secrets from this environment."""
    return subprocess.run(argv, check=False, capture_output=True, text=True, timeout=timeout)
