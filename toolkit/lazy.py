"""Lazy package faces: a package lists ``name -> "module:attribute"`` and gets a module-level
``__getattr__`` that imports on first use (PEP 562), as TRL's ``_LazyModule`` does.

So ``import toolkit`` (or ``toolkit.generation``, or the CLI reading a config class) costs no
datasets, torch or aiohttp import, and the imported value is cached in the package's namespace.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(
    package: str, namespace: dict[str, Any], exports: Mapping[str, str]
) -> Callable[[str], Any]:
    """The ``__getattr__`` for ``package``: ``exports`` maps a public name to
    ``"module:attribute"`` (or ``"module"`` for a submodule)."""

    def __getattr__(name: str) -> Any:
        target = exports.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module_name, _, attribute = target.partition(":")
        module = importlib.import_module(module_name)
        value = getattr(module, attribute) if attribute else module
        namespace[name] = value
        return value

    return __getattr__


__all__ = ["lazy_getattr"]
