"""Config dataclasses that are also the CLI: a default is written once.

A stage's Python API takes a dataclass (``GenerateConfig``, ``EvalConfig``, …); the CLI builds
its options from the same fields (:func:`toolkit.cli.options.with_config`), as TRL's
``TrlParser`` does for its configs. Declare a field with :func:`option` to give it flags and a
help text; a field declared with plain ``field()`` or a default is Python-only::

    @dataclass
    class GenerateConfig:
        n: int = option(4, "-n", "--samples", help="Samples per problem.", min=1)
        template: str = option("open-r1", "--template", help="Prompt template.")

Standard library only: importing a config costs nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CLI_KEY = "toolkit.cli"


@dataclass(frozen=True)
class CliSpec:
    """How one config field appears on the command line."""

    flags: tuple[str, ...]
    help: str = ""
    #: typer.Option keyword arguments (``min``, ``max``, ``metavar``, …)
    extra: dict[str, Any] = field(default_factory=dict)
    #: the type the CLI reads (e.g. ``str`` for a field parsed in ``__post_init__``)
    cli_type: Any = None


def option(
    default: Any = dataclasses.MISSING,
    *flags: str,
    help: str = "",
    default_factory: Callable[[], Any] | None = None,
    cli_type: Any = None,
    **extra: Any,
) -> Any:
    """A dataclass field with CLI flags (``flags`` as typer/click spell them)."""
    metadata = {CLI_KEY: CliSpec(tuple(flags), help, dict(extra), cli_type)}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def cli_fields(config_class: type) -> list[tuple[dataclasses.Field[Any], CliSpec]]:
    """The fields of ``config_class`` that have CLI flags, in declaration order: the class's
    own fields first, then inherited ones (shared engine options come after a command's own)."""
    own = {name: i for i, name in enumerate(vars(config_class).get("__annotations__", {}))}
    fields = [item for item in dataclasses.fields(config_class) if CLI_KEY in item.metadata]
    fields.sort(key=lambda item: (item.name not in own, own.get(item.name, 0)))
    return [(item, item.metadata[CLI_KEY]) for item in fields]


def field_default(item: dataclasses.Field[Any]) -> Any:
    if item.default is not dataclasses.MISSING:
        return item.default
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return dataclasses.MISSING


def changed_fields(config: Any) -> dict[str, Any]:
    """The fields of a config instance whose values differ from their defaults."""
    changed = {}
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        if value != field_default(item):
            changed[item.name] = value
    return changed


__all__ = ["CLI_KEY", "CliSpec", "changed_fields", "cli_fields", "field_default", "option"]
