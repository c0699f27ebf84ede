"""Checks before any compute: will this recipe run to the end, here, and keep its results?

Each of these used to fail late, after data loading or hours of training (issue 13): a
``max_length`` beyond the model's positions (the Qwen2.5-Math recipe trained 16,384 tokens on a
model with 4,096), a flash-attention recipe on a machine without ``flash-attn`` (an uncaught
``ImportError``), a push to ``me/…`` because ``HF_USER`` was unset, a re-run that silently started
over an existing run (issue 15). :func:`preflight` finds them all at once.

Findings come in two kinds. ``recipe`` findings are wrong wherever the recipe runs (the context
length): ``--dry-run`` refuses them. ``environment`` findings depend on this machine or shell (a
package, a GPU, an unset variable, an existing output directory): ``--dry-run`` prints them as
what a real run here would refuse, and a real run refuses them before loading anything.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.training.overrides import RecipeError

if TYPE_CHECKING:
    from toolkit.training.recipe import LoadedRecipe, Recipe

log = logging.getLogger(__name__)

GPU_EXTRA = "pip install 'r1-distill-toolkit[gpu]'"
REMOTE_HINT = "run it on a GPU machine: toolkit train RECIPE --remote hf-jobs"

#: ``max_position_embeddings`` of the setups' models, from their ``config.json`` on the Hub, used
#: only when that file cannot be read (offline, gated repo). A local or cached config always wins.
KNOWN_POSITIONS = {
    "Qwen/Qwen2.5-Math-1.5B": 4096,
    "Qwen/Qwen2.5-Math-1.5B-Instruct": 4096,
    "Qwen/Qwen2.5-Math-7B": 4096,
    "Qwen/Qwen2.5-Math-7B-Instruct": 4096,
    "meta-llama/Llama-3.1-8B": 131072,
    "meta-llama/Llama-3.1-8B-Instruct": 131072,
    "unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit": 131072,
    "unsloth/Meta-Llama-3.1-8B-bnb-4bit": 131072,
    "microsoft/Phi-3-mini-4k-instruct": 4096,
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B": 131072,
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": 131072,
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B": 131072,
    "deepseek-ai/DeepSeek-R1-Distill-Llama-8B": 131072,
    "HuggingFaceTB/SmolLM2-135M-Instruct": 8192,
    "smollm2": 8192,
}
#: What marks a directory as holding a run (refused without --resume/--overwrite).
RUN_MARKERS = ("training_summary.json", "trainer_state.json", "model.safetensors", "recipe.yaml")


@dataclass
class Finding:
    """One reason the run would not finish: ``kind`` is ``recipe`` or ``environment``."""

    kind: str
    message: str
    hint: str | None = None

    def error(self) -> RecipeError:
        return RecipeError(self.message, hint=self.hint)


def model_config(name_or_path: str) -> tuple[dict[str, Any] | None, str]:
    """The model's ``config.json`` as a dict, and where it came from; ``None`` when unreadable.

    Reads a local directory, then the Hugging Face cache, then the Hub (skipped when
    ``HF_HUB_OFFLINE`` is set); never loads weights.
    """
    path = Path(name_or_path)
    if (path / "config.json").is_file():
        return json.loads((path / "config.json").read_text(encoding="utf-8")), str(path)
    if name_or_path.strip().lower() in ("smollm2", "smollm2-135m", "smollm2-135m-instruct"):
        from toolkit.models import model_cache_dir

        local = model_cache_dir() / "SmolLM2-135M-Instruct" / "config.json"
        if local.is_file():
            return json.loads(local.read_text(encoding="utf-8")), str(local.parent)
        return None, "SmolLM2 not converted yet"
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", name_or_path):
        return None, f"{name_or_path} is neither a local model directory nor a Hub id"
    try:
        from huggingface_hub import hf_hub_download, try_to_load_from_cache

        cached = try_to_load_from_cache(name_or_path, "config.json")
        if isinstance(cached, str):
            return json.loads(Path(cached).read_text(encoding="utf-8")), "the Hugging Face cache"
        if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
            return None, "HF_HUB_OFFLINE is set"
        downloaded = hf_hub_download(name_or_path, "config.json", etag_timeout=5)
        return json.loads(Path(downloaded).read_text(encoding="utf-8")), "the Hub"
    except Exception as error:  # offline, gated, missing: the check falls back, never crashes
        return None, f"config.json unreachable ({type(error).__name__})"


def model_positions(name_or_path: str) -> tuple[int | None, str]:
    """``max_position_embeddings`` of a model and where the figure comes from."""
    config, source = model_config(name_or_path)
    if config is not None:
        text = config.get("text_config") or config
        positions = text.get("max_position_embeddings") or text.get("n_positions")
        if positions:
            return int(positions), f"config.json ({source})"
    if name_or_path in KNOWN_POSITIONS:
        return KNOWN_POSITIONS[name_or_path], f"the toolkit's table of known models ({source})"
    return None, source


def rope_parameters(recipe: Recipe, config: Any) -> dict[str, Any] | None:
    """RoPE scaling that stretches ``config``'s positions to ``params.max_length``, when asked.

    ``factor = max_length / max_position_embeddings`` (rounded up to a quarter), keeping the
    model's own ``rope_theta``; ``original_max_position_embeddings`` records the trained length, as
    the YaRN recipe of Qwen2.5's model cards does. ``None`` when no scaling is needed or asked.
    """
    kind = recipe.params.rope_scaling
    positions = int(getattr(config, "max_position_embeddings", 0) or 0)
    if not kind or not positions or recipe.params.max_length <= positions:
        return None
    factor = math.ceil(recipe.params.max_length / positions * 4) / 4
    current = dict(getattr(config, "rope_parameters", None) or {})
    theta = current.get("rope_theta", getattr(config, "rope_theta", 10000.0))
    return {
        "rope_type": kind,
        "factor": factor,
        "original_max_position_embeddings": positions,
        "rope_theta": theta,
    }


def check_context(recipe: Recipe) -> list[Finding]:
    """``params.max_length`` against the positions of the student (and teacher)."""
    findings: list[Finding] = []
    models = [("base_model", recipe.base_model)]
    if recipe.task == "distill" and recipe.distill.teacher:
        models.append(("distill.teacher", recipe.distill.teacher))
    for key, name in models:
        positions, source = model_positions(name)
        if positions is None:
            log.warning("cannot check params.max_length against %s %s: %s", key, name, source)
            continue
        length = recipe.params.max_length
        if length <= positions:
            continue
        if recipe.params.rope_scaling and key == "base_model":
            log.warning(
                "params.max_length %d > %d positions of %s: %s RoPE scaling, factor %.2f",
                length,
                positions,
                name,
                recipe.params.rope_scaling,
                math.ceil(length / positions * 4) / 4,
            )
            continue
        findings.append(
            Finding(
                "recipe",
                f"params.max_length {length} exceeds the {positions} positions of {key} {name} "
                f"(max_position_embeddings, from {source})",
                hint=f"set params.max_length {positions}, or params.rope_scaling: yarn to stretch "
                "the positions (quality beyond the trained length is not guaranteed)",
            )
        )
    return findings


@dataclass
class Requirement:
    """An optional package a recipe setting needs; ``cpu`` is what to use instead on a CPU."""

    what: str
    module: str
    package: str
    needs_cuda: bool
    cpu: str | None = None


def requirements(recipe: Recipe) -> list[Requirement]:
    """Every optional package (and GPU) the recipe's settings ask for."""
    params, found = recipe.params, []
    attn = params.attn_implementation or ""
    what = f"params.attn_implementation: {attn}"
    if attn.startswith("flash_attention_3"):
        found.append(Requirement(what, "flash_attn_interface", "flash-attn-3", True, "sdpa"))
    elif attn.startswith("flash_attention"):
        found.append(Requirement(what, "flash_attn", "flash-attn", True, "sdpa"))
    elif "/" in attn:  # a Hub kernel, e.g. kernels-community/flash-attn
        found.append(Requirement(what, "kernels", "kernels", False))
    if recipe.peft.method == "qlora":
        found.append(
            Requirement(
                "peft.method: qlora", "bitsandbytes", "bitsandbytes", True, "peft.method: lora"
            )
        )
    if recipe.task == "distill" and recipe.distill.quantization == "nf4":
        found.append(
            Requirement(
                "distill.teacher_quantization: nf4",
                "bitsandbytes",
                "bitsandbytes",
                True,
                "distill.teacher_quantization: hqq (or none)",
            )
        )
    if recipe.task == "distill" and recipe.distill.quantization == "hqq":
        found.append(Requirement("distill.teacher_quantization: hqq", "hqq", "hqq", False))
    if "8bit" in params.optim or "paged" in params.optim:
        found.append(
            Requirement(
                f"params.optim: {params.optim}", "bitsandbytes", "bitsandbytes", True, "adamw_torch"
            )
        )
    if params.extra.get("use_liger_kernel"):
        found.append(Requirement("params.use_liger_kernel", "liger_kernel", "liger-kernel", True))
    if params.extra.get("deepspeed") or os.environ.get("ACCELERATE_USE_DEEPSPEED") == "true":
        found.append(Requirement("DeepSpeed (ZeRO-3)", "deepspeed", "deepspeed", True))
    return found


def check_packages(recipe: Recipe) -> list[Finding]:
    """Every optional package (and the GPU) the recipe asks for, named with the extra to install."""
    import torch

    findings = []
    has_cuda = torch.cuda.is_available()
    for need in requirements(recipe):
        installed = importlib.util.find_spec(need.module) is not None
        if installed and (has_cuda or not need.needs_cuda):
            continue
        parts = ["a CUDA GPU, which this machine lacks"] if need.needs_cuda and not has_cuda else []
        if not installed:
            parts.append(f"{need.package} (install the gpu extra: {GPU_EXTRA})")
        instead = f"; on CPU use {need.cpu}" if need.cpu and not has_cuda else ""
        findings.append(
            Finding(
                "environment",
                f"{need.what} needs {' and '.join(parts)}{instead}",
                hint=REMOTE_HINT,
            )
        )
    return findings


def check_env(loaded: LoadedRecipe) -> list[Finding]:
    """Variables the recipe refers to that are unset in this shell (a remote job reads them from
    here too); the push target is :func:`check_hub`'s."""
    findings = []
    for entry in loaded.missing_env:
        key, _, ref = entry.partition(" (")
        if key.startswith("hub."):
            continue
        name = ref.strip("()${}")
        findings.append(
            Finding(
                "environment",
                f"{key} refers to ${{{name}}}, which is not set",
                hint=f"export {name}=... (see the recipe's header)",
            )
        )
    return findings


def check_hub(loaded: LoadedRecipe) -> list[Finding]:
    """A push that would fail after training: repo id built from an unset variable, no token."""
    hub = loaded.recipe.hub
    if not hub.push:
        return []
    findings = []
    unset = [m for m in loaded.missing_env if m.startswith("hub.repo_id")]
    if unset or not re.fullmatch(r"[\w.-]+/[\w.-]+", hub.repo_id or ""):
        raw = (loaded.raw.get("hub") or {}).get("repo_id", hub.repo_id)
        names = ", ".join(re.findall(r"\$\{(\w+)", str(raw))) or "hub.repo_id"
        findings.append(
            Finding(
                "environment",
                f"hub.push is true but hub.repo_id {raw!r} does not resolve to owner/name "
                f"({names} unset)",
                hint=f"export {names.split(', ')[0]}=<your Hub user or org>, or set hub.push: false",
            )
        )
    if not hub.token and not os.environ.get("HF_TOKEN"):
        try:
            from huggingface_hub import get_token

            token = get_token()
        except Exception:
            token = None
        if not token:
            findings.append(
                Finding(
                    "environment",
                    "hub.push is true but no Hugging Face token is set (hub.token, HF_TOKEN or "
                    "`hf auth login`)",
                    hint="log in first, or set hub.push: false",
                )
            )
    return findings


def check_output_dir(recipe: Recipe) -> list[Finding]:
    """An existing run is never trained over silently: ``--resume`` or ``--overwrite`` decides."""
    out = Path(recipe.output_dir)
    if not out.is_dir() or recipe.params.resume or recipe.params.overwrite:
        return []
    marks = [m for m in RUN_MARKERS if (out / m).exists()]
    marks += sorted(p.name for p in out.glob("checkpoint-*"))[:1]
    if not marks:
        return []
    return [
        Finding(
            "environment",
            f"output_dir {out} already holds a run ({', '.join(marks)})",
            hint="continue it with --resume, start over with --overwrite, or set output_dir",
        )
    ]


def preflight(loaded: LoadedRecipe, *, local: bool = True) -> list[Finding]:
    """Every finding for this recipe; ``local=False`` (remote runs) skips this machine's checks."""
    recipe = loaded.recipe
    findings = check_context(recipe) + check_env(loaded) + check_hub(loaded)
    if local:
        findings += check_packages(recipe) + check_output_dir(recipe)
    return findings


def enforce(loaded: LoadedRecipe, *, local: bool = True) -> None:
    """Raise the first finding as a one-line :class:`RecipeError` (others are logged)."""
    findings = preflight(loaded, local=local)
    for extra in findings[1:]:
        log.error("%s", extra.message)
    if findings:
        raise findings[0].error()
