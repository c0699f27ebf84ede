"""CLI options generated from config dataclasses (:mod:`toolkit.config`).

``@with_config(config=GenerateConfig, model=ModelConfig)`` on a Typer command adds one option
per CLI field of each dataclass and hands the command built instances (``config=...``,
``model=...``) instead of dozens of loose parameters: the default, the flag and the help text
live on the dataclass field, once, and the Python API takes the same object.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

import typer

from toolkit.config import cli_fields, field_default


def with_config(
    defaults: dict[str, dict[str, Any]] | None = None,
    exclude: dict[str, set[str]] | None = None,
    **configs: type,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Generate a command's options from dataclasses.

    ``configs`` maps the command's parameter name to a config class; ``defaults`` overrides a
    field's default for this command (``{"model": {"backend": "transformers"}}``); ``exclude``
    leaves fields out (they take their dataclass default).
    """
    defaults = defaults or {}
    exclude = exclude or {}

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command)
        own = [p for p in signature.parameters.values() if p.name not in configs]
        taken = {p.name for p in own}
        generated: list[inspect.Parameter] = []
        owners: dict[str, list[str]] = {}
        for argument, config_class in configs.items():
            hints = typing.get_type_hints(config_class)
            overrides = defaults.get(argument, {})
            owners[argument] = []
            for item, spec in cli_fields(config_class):
                if item.name in exclude.get(argument, set()):
                    continue
                if item.name in taken:
                    raise TypeError(f"option {item.name!r} of {config_class.__name__} clashes")
                taken.add(item.name)
                owners[argument].append(item.name)
                default = overrides.get(item.name, field_default(item))
                generated.append(
                    inspect.Parameter(
                        item.name,
                        inspect.Parameter.KEYWORD_ONLY,
                        default=typer.Option(default, *spec.flags, help=spec.help, **spec.extra),
                        annotation=spec.cli_type or hints[item.name],
                    )
                )

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            for argument, config_class in configs.items():
                values = {name: kwargs.pop(name) for name in owners[argument]}
                for name, value in defaults.get(argument, {}).items():
                    values.setdefault(name, value)
                kwargs[argument] = config_class(**values)
            return command(**kwargs)

        # Typer reads the signature: the command's own parameters, then the generated options.
        wrapper.__signature__ = signature.replace(parameters=[*own, *generated])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {
            name: value for name, value in command.__annotations__.items() if name not in configs
        }
        return wrapper

    return decorate


__all__ = ["with_config"]
