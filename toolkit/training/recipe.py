"""Training recipes: one YAML file per run, mapped 1:1 onto dataclasses.

A recipe is AutoTrain-style::

    task: sft                      # sft | distill
    base_model: Qwen/Qwen2.5-Math-1.5B-Instruct
    output_dir: runs/qwen-math     # optional; defaults to runs/<recipe name>
    data: {path: org/traces, version: v1.2, split: train, format: schema}
    params: {lr: 2.0e-5, epochs: 1, max_length: 16384, packing: true}
    peft: {method: lora, r: 64, alpha: 128, target_modules: all-linear}
    distill: {teacher: ..., strategy: logits, temperature: 2.0, alpha: 0.5}
    hub: {push: false, repo_id: me/model, token: ${HF_TOKEN}}
    generation: {temperature: 0.6, top_p: 0.95, max_new_tokens: 32768}
    remote: {flavor: a100-large, accelerate: zero3}

Every YAML section is one dataclass below and every key one field, so a typo is an error that
names the section and the valid keys instead of a silently ignored setting (the seed recipes lost
runs that way). CLI overrides use the same dotted path: ``--params.lr 1e-5``. ``${NAME}`` (or
``${NAME:-default}``) is replaced by the environment variable, so secrets never sit in the file;
the *unresolved* recipe is what remote runs ship, with the names passed as job secrets.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

TASKS = ("sft", "distill")
PEFT_METHODS = ("none", "lora", "qlora")
DISTILL_STRATEGIES = ("logits", "gkd")
PACKING_STRATEGIES = ("bfd", "bfd_split", "wrapped")
REPORT_TO = ("auto", "none", "tensorboard", "trackio")
ACCELERATE_CONFIGS = ("zero3", "fsdp")
THINK_TOKEN_INITS = ("text", "mean")
#: Aliases accepted in ``base_model`` / ``distill.teacher`` for models the toolkit provides offline.
MODEL_ALIASES = ("smollm2",)


class RecipeError(ValueError):
    """A recipe that cannot run: the message names the key and the reason."""


@dataclass
class DataConfig:
    """Where the traces come from.

    ``path`` is a local file/directory or a Hub dataset id (read with :func:`toolkit.io.load_table`).
    With ``version`` set, the dataset is a versioned toolkit dataset read with
    :func:`toolkit.hub.load` (so the exact revision ends up in ``training_summary.json``).
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
    #: Drop traces whose reasoning never closed (they teach the model not to stop).
    drop_incomplete: bool = True
    eval_fraction: float = 0.0


@dataclass
class ParamsConfig:
    """Optimisation and sequence settings (TRL ``SFTConfig`` names in comments)."""

    lr: float = 2e-5  # learning_rate
    epochs: float = 1.0  # num_train_epochs
    max_steps: int = -1
    batch_size: int = 1  # per_device_train_batch_size
    gradient_accumulation: int = 1
    max_length: int = 4096
    packing: bool = True
    packing_strategy: str = "bfd"
    #: Padding-free batches (flattened, position ids reset per sequence); on with BFD packing.
    padding_free: bool = True
    assistant_only_loss: bool = True
    warmup_ratio: float = 0.03
    scheduler: str = "cosine"  # lr_scheduler_type
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    optim: str = "adamw_torch"
    gradient_checkpointing: bool = True
    #: ``None``: bf16 when a GPU supports it, fp32 on CPU.
    bf16: bool | None = None
    seed: int = 42
    logging_steps: int = 1
    save_steps: int = 500
    save_total_limit: int | None = 2
    report_to: str = "auto"
    resume: bool = False
    #: Add ``<think>``/``</think>`` as special tokens (embedding resize) when the tokenizer lacks them.
    think_tokens: bool = False
    #: Init of new embedding rows: ``text`` = mean of the tokens of the literal text, ``mean`` = mean row.
    think_token_init: str = "text"
    attn_implementation: str | None = None
    #: CPU only: torch intra-op threads (``None`` = torch's default). On a shared or small CPU,
    #: 1 thread avoids oversubscription, which can make each step several times slower.
    cpu_threads: int | None = None
    dataloader_num_workers: int = 0
    dataset_num_proc: int | None = None


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
    (1−alpha)·CE``; ``strategy: gkd`` hands over to TRL's on-policy ``GKDTrainer``
    (``lmbda``/``beta``/``seq_kd`` are its knobs). Both need the teacher's tokenizer.
    """

    teacher: str = ""
    strategy: str = "logits"
    temperature: float = 2.0
    alpha: float = 0.5
    logit_clip: float | None = None
    #: ``bfloat16``/``float16``/``float32``/``auto``; bf16 falls back to fp32 on CPUs without it.
    teacher_dtype: str = "bfloat16"
    teacher_4bit: bool = False
    lmbda: float = 0.5
    beta: float = 0.5
    seq_kd: bool = False


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

    temperature: float = 0.6
    top_p: float = 0.95
    do_sample: bool = True
    max_new_tokens: int = 32768


@dataclass
class RemoteSection:
    """Where ``--remote hf-jobs`` runs: an HF Jobs flavor, image and optional accelerate config."""

    flavor: str = "a100-large"
    image: str = "pytorch/pytorch:2.7.1-cuda12.6-cudnn9-devel"
    timeout: str = "6h"
    package: str = "r1-distill-toolkit[train]"
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
        return dataclasses.asdict(self)

    def to_yaml(self, *, redact: bool = True) -> str:
        """The resolved recipe as YAML; the hub token is never written out."""
        data = self.to_dict()
        if redact and data["hub"].get("token"):
            data["hub"]["token"] = "${HF_TOKEN}"
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@dataclass
class LoadedRecipe:
    """A recipe plus what it came from: ``raw`` keeps ``${ENV}`` references (remote runs ship it)."""

    recipe: Recipe
    raw: dict[str, Any]
    path: Path | None
    env_names: list[str]


_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def substitute_env(value: Any, *, where: str = "", missing: list[str] | None = None) -> Any:
    """Replace ``${NAME}``/``${NAME:-default}`` in every string of ``value`` (recursively).

    An unset variable without default becomes ``None`` when it is the whole value (an optional
    secret such as the hub token) and is recorded in ``missing`` so the caller can complain if it
    matters; it is never printed with its value.
    """
    if isinstance(value, dict):
        return {
            k: substitute_env(v, where=f"{where}.{k}" if where else k, missing=missing)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [substitute_env(v, where=where, missing=missing) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = _ENV_PATTERN.fullmatch(value)

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        resolved = os.environ.get(name)
        if resolved is None:
            if default is not None:
                return default
            if missing is not None:
                missing.append(f"{where} (${{{name}}})")
            return ""
        return resolved

    result = _ENV_PATTERN.sub(replace, value)
    if whole and result == "" and whole.group(2) is None:
        return None
    return result


def env_names(value: Any, *, required_only: bool = False) -> list[str]:
    """Names of the environment variables a raw recipe refers to (for remote job secrets).

    ``required_only`` leaves out ``${NAME:-default}`` references, which work unset.
    """
    found: list[str] = []
    if isinstance(value, dict):
        for v in value.values():
            found += env_names(v, required_only=required_only)
    elif isinstance(value, list):
        for v in value:
            found += env_names(v, required_only=required_only)
    elif isinstance(value, str):
        found += [
            m.group(1)
            for m in _ENV_PATTERN.finditer(value)
            if not (required_only and m.group(2) is not None)
        ]
    return list(dict.fromkeys(found))


def parse_overrides(args: list[str]) -> dict[str, str]:
    """``["--params.lr", "1e-5", "--peft.r=8"]`` → ``{"params.lr": "1e-5", "peft.r": "8"}``."""
    overrides: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or len(arg) <= 2:
            raise RecipeError(f"unexpected argument {arg!r}: overrides look like --params.lr 1e-5")
        key = arg[2:]
        if "=" in key:
            key, value = key.split("=", 1)
            i += 1
        elif i + 1 < len(args) and not args[i + 1].startswith("--"):
            value = args[i + 1]
            i += 2
        else:
            value = "true"  # a bare flag: --params.packing
            i += 1
        overrides[key.replace("-", "_")] = value
    return overrides


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Set dotted keys (``params.lr``) in a copy of the raw recipe dict.

    String values are parsed as YAML scalars/lists (``"[q_proj, v_proj]"`` → a list); the
    dataclass types coerce them later, so ``1e-5`` works although YAML reads it as a string.
    """
    raw = copy.deepcopy(raw)
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node = raw
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise RecipeError(f"override {dotted!r}: {part!r} is not a section")
            node = child
        if isinstance(value, str):
            try:
                parsed = yaml.safe_load(value)
            except yaml.YAMLError:
                parsed = value
            value = value if isinstance(parsed, dict) else parsed
        node[parts[-1]] = value
    return raw


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Coerce a YAML/CLI value to a dataclass field type, or raise naming the key."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        is_null = value is None or (
            isinstance(value, str) and value.lower() in ("null", "none", "~")
        )
        if is_null and type(None) in options:
            return None
        errors = []
        # Prefer an exact type match (a list stays a list for ``list[str] | str``).
        for option in options:
            if option is type(None):
                continue
            base = typing.get_origin(option) or option
            if (
                isinstance(base, type)
                and isinstance(value, base)
                and not (base in (int, float) and isinstance(value, bool))
            ):
                return _coerce(value, option, where)
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except RecipeError as error:
                errors.append(str(error))
        raise RecipeError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin is Literal:
        if value not in typing.get_args(annotation):
            raise RecipeError(f"{where}: {value!r} is not one of {typing.get_args(annotation)}")
        return value
    if origin is list:
        (item_type,) = typing.get_args(annotation) or (Any,)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise RecipeError(f"{where}: expected a list, got {value!r}")
        return [_coerce(v, item_type, where) for v in value]
    if annotation is Any:
        return value
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in (
            "true",
            "yes",
            "1",
            "on",
            "false",
            "no",
            "0",
            "off",
        ):
            return value.lower() in ("true", "yes", "1", "on")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise RecipeError(f"{where}: expected true/false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool):
            raise RecipeError(f"{where}: expected an integer, got {value!r}")
        try:
            as_float = float(value)
        except (TypeError, ValueError):
            raise RecipeError(f"{where}: expected an integer, got {value!r}") from None
        if not as_float.is_integer():
            raise RecipeError(f"{where}: expected an integer, got {value!r}")
        return int(as_float)
    if annotation is float:
        if isinstance(value, bool):
            raise RecipeError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise RecipeError(f"{where}: expected a number, got {value!r}") from None
    if annotation is str:
        if isinstance(value, (dict, list)):
            raise RecipeError(f"{where}: expected a string, got {value!r}")
        return str(value)
    raise RecipeError(f"{where}: unsupported type {annotation}")


def _build(cls: type, values: dict[str, Any] | None, where: str) -> Any:
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
            kwargs[name] = _coerce(value, annotation, key)
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
            raise RecipeError(f"recipe file {path} does not exist")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise RecipeError(f"{path}: not valid YAML: {error}") from None
        if not isinstance(raw, dict):
            raise RecipeError(
                f"{path}: a recipe is a mapping of sections, got {type(raw).__name__}"
            )
    if overrides:
        raw = apply_overrides(raw, overrides)
    missing: list[str] = []
    resolved = substitute_env(raw, missing=missing)
    recipe = recipe_from_dict(resolved, name=path.stem if path else "")
    return LoadedRecipe(recipe=recipe, raw=raw, path=path, env_names=env_names(raw))


def validate(recipe: Recipe) -> None:
    """Check what the dataclass types cannot: choices, ranges and cross-field rules."""
    problems: list[str] = []

    def check(condition: bool, message: str) -> None:
        if not condition:
            problems.append(message)

    params, peft, distill = recipe.params, recipe.peft, recipe.distill
    check(recipe.task in TASKS, f"task: {recipe.task!r} is not one of {', '.join(TASKS)}")
    check(bool(recipe.base_model), "base_model: required (a Hub id, a local path or 'smollm2')")
    check(
        bool(recipe.data.path), "data.path: required (a local file/directory or a Hub dataset id)"
    )
    check(0.0 <= recipe.data.eval_fraction < 1.0, "data.eval_fraction: must be in [0, 1)")
    check(recipe.data.limit is None or recipe.data.limit > 0, "data.limit: must be positive")
    check(params.lr > 0, f"params.lr: must be > 0, got {params.lr}")
    check(
        params.epochs > 0 or params.max_steps > 0, "params.epochs or params.max_steps must be > 0"
    )
    check(params.batch_size >= 1, "params.batch_size: must be >= 1")
    check(params.gradient_accumulation >= 1, "params.gradient_accumulation: must be >= 1")
    check(params.max_length >= 16, f"params.max_length: {params.max_length} is too short")
    check(
        params.packing_strategy in PACKING_STRATEGIES,
        f"params.packing_strategy: {params.packing_strategy!r} is not one of {', '.join(PACKING_STRATEGIES)}",
    )
    check(
        params.report_to in REPORT_TO,
        f"params.report_to: {params.report_to!r} is not one of {', '.join(REPORT_TO)}",
    )
    check(
        params.think_token_init in THINK_TOKEN_INITS,
        f"params.think_token_init: {params.think_token_init!r} is not one of {', '.join(THINK_TOKEN_INITS)}",
    )
    check(0.0 <= params.warmup_ratio < 1.0, "params.warmup_ratio: must be in [0, 1)")
    check(
        peft.method in PEFT_METHODS,
        f"peft.method: {peft.method!r} is not one of {', '.join(PEFT_METHODS)}",
    )
    if peft.method != "none":
        check(peft.r > 0, "peft.r: must be > 0")
        check(peft.alpha > 0, "peft.alpha: must be > 0")
        check(0.0 <= peft.dropout < 1.0, "peft.dropout: must be in [0, 1)")
    if recipe.task == "distill":
        check(bool(distill.teacher), "distill.teacher: required when task is distill")
        check(
            distill.strategy in DISTILL_STRATEGIES,
            f"distill.strategy: {distill.strategy!r} is not one of {', '.join(DISTILL_STRATEGIES)}",
        )
        check(distill.temperature > 0, "distill.temperature: must be > 0")
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
    if recipe.hub.push:
        check(bool(recipe.hub.repo_id), "hub.repo_id: required when hub.push is true")
    check(recipe.generation.temperature >= 0, "generation.temperature: must be >= 0")
    check(0 < recipe.generation.top_p <= 1, "generation.top_p: must be in (0, 1]")
    check(recipe.generation.max_new_tokens > 0, "generation.max_new_tokens: must be > 0")
    check(
        recipe.remote.accelerate is None or recipe.remote.accelerate in ACCELERATE_CONFIGS,
        f"remote.accelerate: {recipe.remote.accelerate!r} is not one of {', '.join(ACCELERATE_CONFIGS)}",
    )
    if problems:
        raise RecipeError("invalid recipe:\n  - " + "\n  - ".join(problems))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-").lower() or "run"
