"""Recipe values from YAML, the environment and the command line, coerced to field types.

Kept apart from :mod:`toolkit.training.recipe` (the sections themselves) because the same rules
serve three inputs: ``${ENV}`` references in the file, ``--params.learning_rate 1e-5`` on the
command line and ``params__learning_rate=1e-5`` in Python. Every coercion error names the dotted
key, so a typo is one clear line instead of a setting silently ignored.
"""

from __future__ import annotations

import copy
import os
import re
import types
import typing
from typing import Any, Literal

import yaml

from toolkit.errors import UsageError


class RecipeError(UsageError):
    """A recipe that cannot run: the message names the key and the reason (exit code 2)."""


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


def coerce(value: Any, annotation: Any, where: str) -> Any:
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
                return coerce(value, option, where)
        for option in options:
            if option is type(None):
                continue
            try:
                return coerce(value, option, where)
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
        return [coerce(v, item_type, where) for v in value]
    if annotation is Any:
        return value
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise RecipeError(f"{where}: expected a mapping, got {value!r}")
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
    if isinstance(annotation, type) and isinstance(value, annotation):
        return value  # e.g. an enum member given from Python
    raise RecipeError(f"{where}: unsupported type {annotation}")
