"""Where a recipe runs besides this machine: ``accelerate launch`` and Hugging Face Jobs.

The toolkit deliberately has no cluster layer of its own. Multi-GPU is ``accelerate launch`` with
one of the shipped configs (``toolkit/accelerate_configs/zero3.yaml`` for DeepSpeed ZeRO-3,
``fsdp.yaml`` for PyTorch FSDP); remote is the exact ``hf jobs run`` command (huggingface_hub's
Jobs CLI), printed for the user to inspect or, with ``--submit``, executed.

The job installs *this* toolkit from a source that exists (the seed command installed a
distribution name that is not on PyPI, so no job could start): ``git`` installs the commit of this
checkout from its remote (only when that commit has been pushed), ``wheel`` builds a wheel here
and mounts its folder into the job (``hf jobs run -v DIR:/toolkit-wheel``: the Jobs CLI uploads
it), ``auto`` picks git when possible. Either way with the ``train,gpu`` extras (DeepSpeed,
flash-attention, bitsandbytes, HQQ, Liger), installed without build isolation because
flash-attn's build needs the image's torch.

A remote run whose model would not be pushed anywhere (``hub.push: false``, or no repo id) is
refused unless ``--allow-ephemeral``: the job's disk disappears with it.

The job carries the recipe inline (base64 in an environment variable) with its ``${ENV}``
references *unresolved*; every referenced name is passed with ``--secrets NAME``, so tokens are
read from the submitting shell by the ``hf`` CLI (``${NAME:-default}`` ones only when set there)
and never appear in the command line or logs.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
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
WHEEL_MOUNT = "/toolkit-wheel"


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


@dataclass
class InstallSource:
    """How the job gets the toolkit: ``requirement`` for pip, and what to do first here."""

    kind: str
    requirement: str
    prepare: list[list[str]] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)


def _git(*args: str, cwd: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def source_checkout() -> Path | None:
    """The git checkout this toolkit runs from (``None`` for an installed wheel)."""
    package = Path(__file__).resolve().parents[1]
    top = _git("rev-parse", "--show-toplevel", cwd=package)
    return Path(top) if top and (Path(top) / "pyproject.toml").is_file() else None


def _https(url: str) -> str:
    """``git@github.com:org/repo.git`` → ``https://github.com/org/repo.git`` (jobs have no keys)."""
    match = re.fullmatch(r"git@([^:]+):(.+)", url)
    return f"https://{match.group(1)}/{match.group(2)}" if match else url


def git_source(root: Path, extras: str) -> InstallSource | None:
    """The pushed commit of ``root`` as a pip requirement, or ``None`` when it is not pushed
    (or has uncommitted changes the job would not see)."""
    sha = _git("rev-parse", "HEAD", cwd=root)
    url = _git("remote", "get-url", "origin", cwd=root)
    if not sha or not url or _git("status", "--porcelain", "--untracked-files=no", cwd=root):
        return None
    if not _git("branch", "-r", "--contains", sha, cwd=root):
        return None
    return InstallSource("git", f"r1-distill-toolkit[{extras}] @ git+{_https(url)}@{sha}")


def wheel_source(root: Path, extras: str) -> InstallSource:
    """A wheel of ``root`` built here into ``dist/job-wheel/`` and mounted into the job.

    setuptools builds in ``root/build/`` and never deletes what it copied there before, so a
    module removed or renamed since an earlier build would ship in the wheel: the scratch folder
    goes first (it holds nothing else; git ignores it)."""
    version = _project_version(root)
    folder = root / "dist" / "job-wheel"
    wheel = f"r1_distill_toolkit-{version}-py3-none-any.whl"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(folder), str(root)]
    return InstallSource(
        "wheel",
        f"{WHEEL_MOUNT}/{wheel}[{extras}]",
        prepare=[["rm", "-rf", str(folder), str(root / "build")], build],
        mounts=[f"{folder}:{WHEEL_MOUNT}"],
    )


def _project_version(root: Path) -> str:
    import tomllib

    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"
    ]


def install_source(loaded: LoadedRecipe, source: str | None = None) -> InstallSource:
    """Where the job installs the toolkit from (see the module docstring)."""
    remote = loaded.recipe.remote
    if remote.package:
        return InstallSource("package", remote.package)
    kind = source or remote.source
    root = source_checkout()
    if root is None:
        raise RecipeError(
            "this toolkit is not running from a git checkout, so a job cannot install it from "
            "its source",
            hint="set remote.package to a pip requirement the job can install",
        )
    if kind in ("git", "auto"):
        found = git_source(root, remote.extras)
        if found is not None:
            return found
        if kind == "git":
            raise RecipeError(
                f"--source git: the commit of {root} is not pushed to a remote (or the tree has "
                "uncommitted changes), so the job could not fetch it",
                hint="git push first, or use --source wheel",
            )
    return wheel_source(root, remote.extras)


def check_kept(loaded: LoadedRecipe, *, allow_ephemeral: bool) -> None:
    """Refuse a remote run whose results would vanish with the job's container."""
    hub = loaded.recipe.hub
    if allow_ephemeral or (hub.push and hub.repo_id):
        return
    why = "hub.push is false" if not hub.push else "hub.repo_id is not set"
    raise RecipeError(
        f"--remote hf-jobs: {why}, so the trained model would stay in the job's container and "
        "be lost when the job ends",
        hint="set hub.push: true and hub.repo_id (e.g. ${HF_USER}/NAME), or pass --allow-ephemeral",
    )


def remote_plan(
    loaded: LoadedRecipe,
    *,
    flavor: str | None = None,
    timeout: str | None = None,
    source: str | None = None,
    allow_ephemeral: bool = False,
) -> list[list[str]]:
    """Every command of a remote run, in order: preparation here (a wheel build), then
    ``hf jobs run``. Refuses before anything runs: results that would be lost, a context length
    the model cannot take, a push target built from an unset variable."""
    from toolkit.training.checks import enforce

    check_kept(loaded, allow_ephemeral=allow_ephemeral)
    enforce(loaded, local=False)
    installed = install_source(loaded, source)
    argv = hf_jobs_command(loaded, flavor=flavor, timeout=timeout, install=installed)
    return [*installed.prepare, argv]


def hf_jobs_command(
    loaded: LoadedRecipe,
    *,
    flavor: str | None = None,
    timeout: str | None = None,
    image: str | None = None,
    detach: bool = True,
    install: InstallSource | None = None,
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
    if install is None:
        install = InstallSource("package", remote.package or f"r1-distill-toolkit[{remote.extras}]")
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
    # flash-attn and deepspeed build against the image's torch: no build isolation, with the
    # build tools present first.
    script = (
        "set -e; pip install --quiet 'setuptools>=69' wheel packaging ninja psutil && "
        f"pip install --quiet --no-build-isolation {shlex.quote(install.requirement)} && "
        f'echo "${RECIPE_ENV}" | base64 -d > {REMOTE_RECIPE_PATH} && {train}'
    )
    argv = ["hf", "jobs", "run", "--flavor", flavor, "--timeout", timeout or remote.timeout]
    if detach:
        argv.append("--detach")
    argv += ["--name", _job_name(recipe.name), "--label", "toolkit=train"]
    for mount in install.mounts:
        argv += ["-v", mount]
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
