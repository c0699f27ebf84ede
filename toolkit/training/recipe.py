"""Training recipes: one YAML file per run, mapped onto dataclasses.

A recipe is AutoTrain-style::

    task: sft                      # sft | distill
    base_model: Qwen/Qwen2.5-Math-1.5B
    output_dir: runs/qwen-math     # optional; defaults to runs/<recipe name>
    data: {path: org/traces, version: v1.2, split: train, format: schema}
    params: {learning_rate: 2.0e-5, num_train_epochs: 1, max_length: 4096, packing: true}
    peft: {method: lora, r: 64, alpha: 128, target_modules: all-linear}
    distill: {teacher: ..., strategy: logits, temperature: 2.0, alpha: 0.5}
    hub: {push: false, repo_id: ${HF_USER}/model, token: ${HF_TOKEN}}
    generation: {temperature: 0.6, top_p: 0.95, max_new_tokens: 32768}
    remote: {flavor: a100-large, accelerate: zero3}

``params`` takes TRL ``SFTConfig`` field names and passes every one of them through, so a setup
written for TRL or open-r1 reads the same here and nothing is renamed by hand (issue 10). The
toolkit only sets its own defaults where TRL's would hurt reasoning traces (``max_length`` 1024
truncates most of them, ``packing`` off wastes compute on padding; see :mod:`~.params`), and
adds a few keys of its own (``TOOLKIT_PARAMS``). The short spellings of earlier versions
(``lr``, ``epochs``, ``batch_size``…) are still read (``PARAM_ALIASES``).

Every other section is one dataclass and every key one field, so a typo is an error that names
the section and the valid keys instead of a silently ignored setting (the seed recipes lost runs
that way). CLI overrides use the same dotted path: ``--params.learning_rate 1e-5``. ``${NAME}``
(or ``${NAME:-default}``) is replaced by the environment variable, so secrets never sit in the
file; the *unresolved* recipe is what remote runs ship, with the names passed as job secrets.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from toolkit.backends.base import R1_TEMPERATURE, R1_TOP_P
from toolkit.training.overrides import (
    RecipeError,
    apply_overrides,
    coerce,
    env_names,
    parse_overrides,
    substitute_env,
)
from toolkit.training.params import (
    PARAM_ALIASES,
    ParamsConfig,
    build_params,
)

__all__ = [
    "LoadedRecipe",
    "Recipe",
    "RecipeError",
    "apply_overrides",
    "env_names",
    "load_recipe",
    "parse_overrides",
    "substitute_env",
]

TASKS = ("sft", "distill")
PEFT_METHODS = ("none", "lora", "qlora")
DISTILL_STRATEGIES = ("logits", "gkd")
TEACHER_QUANTIZATIONS = ("none", "nf4", "hqq")
PACKING_STRATEGIES = ("bfd", "bfd_split", "wrapped")
ACCELERATE_CONFIGS = ("zero3", "fsdp")
THINK_TOKEN_INITS = ("text", "mean")
ROPE_SCALINGS = ("linear", "dynamic", "yarn")
REMOTE_SOURCES = ("auto", "git", "wheel")
#: Aliases accepted in ``base_model`` / ``distill.teacher`` for models the toolkit provides offline.
MODEL_ALIASES = ("smollm2",)


@dataclass
class DataConfig:
    """Where the traces come from.

    ``path`` is a local file/directory or a Hub dataset id (read with :func:`toolkit.io.load_table`).
    With ``version`` set, the dataset is a versioned toolkit dataset read with
    :func:`toolkit.store.load` (so the exact revision ends up in ``training_summary.json``).
    ``format`` is ``auto`` (the schema or a ``messages`` column is used as is, anything else goes
    through :func:`toolkit.normalize`), ``schema``/``messages`` (no normalisation) or a format
    name understood by :func:`toolkit.normalize`.
    """

    path: str = ""
    version: str | None = None
    split: str = "train"
    format: str = "auto"
    limit: int | None = None
    system_prompt: str | None = None
    #: Drop a leading system turn (Bespoke-Stratos ships one; the open-r1 run trained without it).
    drop_system_prompt: bool = False
    #: Drop traces whose reasoning never closed (they teach the model not to stop).
    drop_incomplete: bool = True
    eval_fraction: float = 0.0


@dataclass
class PeftSection:
    """``method: none`` is full fine-tuning; ``qlora`` loads the base in 4-bit (GPU only)."""

    method: str = "none"
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] | str = "all-linear"
    #: Merge the adapter into the base weights when saving (else save the adapter only).
    merge: bool = True
    modules_to_save: list[str] | None = None


@dataclass
class DistillSection:
    """Logits distillation (``task: distill``).

    ``strategy: logits`` trains on the fixed traces with ``alpha·T²·KL(teacher‖student) +
    (1−alpha)·CE`` (``alpha: 1`` is pure KL); ``strategy: gkd`` runs TRL's on-policy ``GKDTrainer``
    (``lmbda``/``beta``/``seq_kd`` are its knobs) with the loss at the same temperature ``T`` and
    students sampling at ``sampling_temperature``. Both need the teacher's tokenizer.
    """

    teacher: str = ""
    strategy: str = "logits"
    temperature: float = 2.0
    alpha: float = 0.5
    logit_clip: float | None = None
    #: ``bfloat16``/``float16``/``float32``/``auto``; bf16 falls back to fp32 on CPUs without it.
    teacher_dtype: str = "bfloat16"
    #: ``nf4`` (bitsandbytes, CUDA) or ``hqq`` (half-quadratic, no calibration; CPU or GPU) to
    #: fit a big teacher next to the student.
    teacher_quantization: str = "none"
    #: Earlier spelling of ``teacher_quantization: nf4``.
    teacher_4bit: bool = False
    hqq_bits: int = 4
    hqq_group_size: int = 64
    lmbda: float = 0.5
    beta: float = 0.5
    seq_kd: bool = False
    #: GKD only: temperature of the student's on-policy samples (TRL's ``GKDConfig.temperature``).
    sampling_temperature: float = 0.9
    #: GKD only: length of the on-policy samples.
    max_new_tokens: int = 256

    @property
    def quantization(self) -> str:
        return (
            "nf4"
            if self.teacher_4bit and self.teacher_quantization == "none"
            else (self.teacher_quantization)
        )


@dataclass
class HubSection:
    push: bool = False
    repo_id: str | None = None
    private: bool = True
    token: str | None = None
    revision: str | None = None


@dataclass
class GenerationSection:
    """Defaults written to ``generation_config.json`` (DeepSeek-R1's recommended sampling)."""

    temperature: float = R1_TEMPERATURE
    top_p: float = R1_TOP_P
    do_sample: bool = True
    max_new_tokens: int = 32768


@dataclass
class RemoteSection:
    """Where ``--remote hf-jobs`` runs: an HF Jobs flavor, image and optional accelerate config.

    ``source`` is where the job installs the toolkit from: ``git`` (the pushed commit of this
    checkout), ``wheel`` (a wheel built here and uploaded with the job) or ``auto`` (git when the
    commit is on a remote, else a wheel). ``package`` overrides both with a pip requirement.
    """

    flavor: str = "a100-large"
    image: str = "pytorch/pytorch:2.7.1-cuda12.6-cudnn9-devel"
    timeout: str = "6h"
    source: str = "auto"
    package: str | None = None
    extras: str = "train,gpu"
    accelerate: str | None = None
    num_processes: int | None = None
    secrets: list[str] = field(default_factory=list)


@dataclass
class Recipe:
    task: str = "sft"
    base_model: str = ""
    output_dir: str = ""
    name: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    params: ParamsConfig = field(default_factory=ParamsConfig)
    peft: PeftSection = field(default_factory=PeftSection)
    distill: DistillSection = field(default_factory=DistillSection)
    hub: HubSection = field(default_factory=HubSection)
    generation: GenerationSection = field(default_factory=GenerationSection)
    remote: RemoteSection = field(default_factory=RemoteSection)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["params"] = self.params.to_dict()
        return data

    def to_yaml(self, *, redact: bool = True) -> str:
        """The resolved recipe as YAML; the hub token is never written out."""
        data = self.to_dict()
        if redact and data["hub"].get("token"):
            data["hub"]["token"] = "${HF_TOKEN}"
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@dataclass
class LoadedRecipe:
    """A recipe plus what it came from: ``raw`` keeps ``${ENV}`` references (remote runs ship it);
    ``missing_env`` lists ``key (${NAME})`` for every variable that was unset."""

    recipe: Recipe
    raw: dict[str, Any]
    path: Path | None
    env_names: list[str]
    missing_env: list[str] = field(default_factory=list)


def _build(cls: type, values: dict[str, Any] | None, where: str) -> Any:
    if cls is ParamsConfig:
        return build_params(values)
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise RecipeError(f"{where or 'recipe'}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        section = where or "recipe"
        raise RecipeError(
            f"{section}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(known))}"
        )
    kwargs = {}
    for name, value in values.items():
        key = f"{where}.{name}" if where else name
        annotation = hints[name]
        if dataclasses.is_dataclass(annotation):
            kwargs[name] = _build(annotation, value, key)
        else:
            kwargs[name] = coerce(value, annotation, key)
    return cls(**kwargs)


def recipe_from_dict(raw: dict[str, Any], *, name: str = "") -> Recipe:
    """Build and validate a :class:`Recipe` from an (env-substituted) dict."""
    values = dict(raw)
    # ``data: org/name`` is shorthand for ``data: {path: org/name}``.
    if isinstance(values.get("data"), str):
        values["data"] = {"path": values["data"]}
    recipe = _build(Recipe, values, "")
    if isinstance(recipe.peft.target_modules, str) and "," in recipe.peft.target_modules:
        recipe.peft.target_modules = [
            m.strip() for m in recipe.peft.target_modules.split(",") if m.strip()
        ]
    if not recipe.name:
        recipe.name = name or _slug(recipe.base_model.split("/")[-1] or "run")
    if not recipe.output_dir:
        recipe.output_dir = str(Path("runs") / recipe.name)
    validate(recipe)
    return recipe


def load_recipe(
    source: str | os.PathLike[str] | dict[str, Any] | Recipe,
    overrides: dict[str, Any] | None = None,
) -> LoadedRecipe:
    """Read a recipe file (or dict), apply dotted overrides, substitute ``${ENV}``, validate."""
    path: Path | None = None
    if isinstance(source, Recipe):
        raw = source.to_dict()
    elif isinstance(source, dict):
        raw = copy.deepcopy(source)
    else:
        path = Path(os.fspath(source))
        if not path.is_file():
            from toolkit.errors import MissingError

            raise MissingError(
                f"recipe file {path} does not exist", hint="shipped recipes are in recipes/"
            )
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise RecipeError(f"{path}: not valid YAML: {error}") from None
        if not isinstance(raw, dict):
            raise RecipeError(
                f"{path}: a recipe is a mapping of sections, got {type(raw).__name__}"
            )
    if overrides:
        raw = apply_overrides(_align_aliases(raw, overrides), overrides)
    missing: list[str] = []
    resolved = _keep_unset(substitute_env(raw, missing=missing), raw, missing)
    recipe = recipe_from_dict(resolved, name=path.stem if path else "")
    return LoadedRecipe(
        recipe=recipe, raw=raw, path=path, env_names=env_names(raw), missing_env=missing
    )


def _keep_unset(
    resolved: dict[str, Any], raw: dict[str, Any], missing: list[str]
) -> dict[str, Any]:
    """Put the ``${NAME}`` text back where ``NAME`` is unset (the hub token excepted, which is
    optional), so the recipe still validates and prints as written, and
    :func:`toolkit.training.checks.check_env` reports the variable instead of a run failing on
    a ``None`` or half-built value later."""
    for entry in missing:
        key = entry.split(" (", 1)[0]
        if key == "hub.token" or "." not in key:
            continue
        section, name = key.split(".", 1)
        source = raw.get(section)
        if isinstance(source, dict) and isinstance(resolved.get(section), dict):
            resolved[section][name] = source.get(name)
    return resolved


def _align_aliases(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Drop a recipe's ``params`` key that an override sets under its other spelling
    (``lr`` in the file, ``--params.learning_rate`` on the command line): the override wins."""
    params = raw.get("params")
    if not isinstance(params, dict):
        return raw
    targets = {
        PARAM_ALIASES.get(k.split(".", 1)[1], k.split(".", 1)[1])
        for k in overrides
        if k.startswith("params.") and k.count(".") == 1
    }
    keys = {k: None for k in overrides}
    kept = {
        k: v
        for k, v in params.items()
        if f"params.{k}" in keys or PARAM_ALIASES.get(k, k) not in targets
    }
    return {**raw, "params": kept} if len(kept) != len(params) else raw


def _choice(value: Any, choices: tuple[str, ...], key: str) -> tuple[bool, str]:
    return value in choices, f"{key}: {value!r} is not one of {', '.join(choices)}"


def validate(recipe: Recipe) -> None:
    """Check what the dataclass types cannot: choices, ranges and cross-field rules.

    Only the recipe itself is judged here; whether *this machine* can run it (packages, GPU,
    context length of the real model, secrets) is :mod:`toolkit.training.checks`.
    """
    problems: list[str] = []

    def check(condition: bool, message: str) -> None:
        if not condition:
            problems.append(message)

    params, peft, distill = recipe.params, recipe.peft, recipe.distill
    check(*_choice(recipe.task, TASKS, "task"))
    check(bool(recipe.base_model), "base_model: required (a Hub id, a local path or 'smollm2')")
    check(
        bool(recipe.data.path), "data.path: required (a local file/directory or a Hub dataset id)"
    )
    check(0.0 <= recipe.data.eval_fraction < 1.0, "data.eval_fraction: must be in [0, 1)")
    check(recipe.data.limit is None or recipe.data.limit > 0, "data.limit: must be positive")
    lr_key = params.key("learning_rate")
    check(params.learning_rate > 0, f"{lr_key}: must be > 0, got {params.learning_rate}")
    check(
        params.num_train_epochs > 0 or params.max_steps > 0,
        f"{params.key('num_train_epochs')} or params.max_steps must be > 0",
    )
    batch = params.key("per_device_train_batch_size")
    check(params.per_device_train_batch_size >= 1, f"{batch}: must be >= 1")
    accumulation = params.key("gradient_accumulation_steps")
    check(params.gradient_accumulation_steps >= 1, f"{accumulation}: must be >= 1")
    check(params.max_length >= 16, f"params.max_length: {params.max_length} is too short")
    check(*_choice(params.packing_strategy, PACKING_STRATEGIES, "params.packing_strategy"))
    check(*_choice(params.think_token_init, THINK_TOKEN_INITS, "params.think_token_init"))
    if params.rope_scaling is not None:
        check(*_choice(params.rope_scaling, ROPE_SCALINGS, "params.rope_scaling"))
    check(params.warmup_steps >= 0, f"{params.key('warmup_steps')}: must be >= 0")
    check(not (params.resume and params.overwrite), "params.resume and params.overwrite conflict")
    check(*_choice(peft.method, PEFT_METHODS, "peft.method"))
    if peft.method != "none":
        check(peft.r > 0, "peft.r: must be > 0")
        check(peft.alpha > 0, "peft.alpha: must be > 0")
        check(0.0 <= peft.dropout < 1.0, "peft.dropout: must be in [0, 1)")
    if recipe.task == "distill":
        check(bool(distill.teacher), "distill.teacher: required when task is distill")
        check(*_choice(distill.strategy, DISTILL_STRATEGIES, "distill.strategy"))
        check(distill.temperature > 0, "distill.temperature: must be > 0")
        check(distill.sampling_temperature > 0, "distill.sampling_temperature: must be > 0")
        check(0.0 <= distill.alpha <= 1.0, "distill.alpha: must be in [0, 1]")
        check(
            distill.logit_clip is None or distill.logit_clip > 0, "distill.logit_clip: must be > 0"
        )
        check(0.0 <= distill.lmbda <= 1.0, "distill.lmbda: must be in [0, 1]")
        check(0.0 <= distill.beta <= 1.0, "distill.beta: must be in [0, 1]")
        check(
            distill.teacher_dtype in ("bfloat16", "float16", "float32", "auto"),
            "distill.teacher_dtype: one of bfloat16, float16, float32, auto",
        )
        check(
            *_choice(
                distill.teacher_quantization, TEACHER_QUANTIZATIONS, "distill.teacher_quantization"
            )
        )
        check(distill.hqq_bits in (1, 2, 3, 4, 8), "distill.hqq_bits: one of 1, 2, 3, 4, 8")
    if recipe.hub.push:
        check(bool(recipe.hub.repo_id), "hub.repo_id: required when hub.push is true")
    check(recipe.generation.temperature >= 0, "generation.temperature: must be >= 0")
    check(0 < recipe.generation.top_p <= 1, "generation.top_p: must be in (0, 1]")
    check(recipe.generation.max_new_tokens > 0, "generation.max_new_tokens: must be > 0")
    if recipe.remote.accelerate is not None:
        check(*_choice(recipe.remote.accelerate, ACCELERATE_CONFIGS, "remote.accelerate"))
    check(*_choice(recipe.remote.source, REMOTE_SOURCES, "remote.source"))
    if problems:
        raise RecipeError(
            "invalid recipe: " + "; ".join(problems),
            hint="see recipes/README.md for every section and key",
        )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-").lower() or "run"
