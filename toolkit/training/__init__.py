"""Training: YAML recipes → SFT (TRL + PEFT) or logits distillation → a loadable model directory.

``train(recipe_or_path, **overrides)`` runs one recipe locally (CPU or GPU; under
``accelerate launch`` for multi-GPU). Overrides use the recipe's dotted keys with ``__`` or ``.``::

    train("recipes/tiny-cpu.yaml", params__learning_rate=1e-4, params__max_steps=5)
    train("recipes/tiny-cpu.yaml", **{"params.learning_rate": 1e-4})

Modules: :mod:`~toolkit.training.recipe` (sections ↔ YAML), :mod:`~.params` (``params:`` =
TRL ``SFTConfig`` fields), :mod:`~.overrides` (``${ENV}``, CLI overrides, coercion),
:mod:`~.checks` (preflight), :mod:`~.data` (traces → messages → masked tokens), :mod:`~.sft`,
:mod:`~.distill`, :mod:`~.gkd`, :mod:`~.checkpoints` (resume), :mod:`~.remote` (HF Jobs /
accelerate commands), :mod:`~.outputs` (saved files, ``training_summary.json``, model card).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.training.recipe import LoadedRecipe, Recipe, RecipeError, load_recipe

if TYPE_CHECKING:
    from toolkit.training.sft import TrainResult

__all__ = ["LoadedRecipe", "Recipe", "RecipeError", "load", "train"]


def _override_keys(overrides: dict[str, Any]) -> dict[str, Any]:
    return {key.replace("__", "."): value for key, value in overrides.items()}


def load(
    recipe_or_path: str | os.PathLike[str] | dict[str, Any] | Recipe, **overrides: Any
) -> LoadedRecipe:
    """Load and validate a recipe with overrides, resolving relative paths next to the file."""
    loaded = load_recipe(recipe_or_path, _override_keys(overrides))
    if loaded.path is not None:
        base = loaded.path.resolve().parent
        recipe = loaded.recipe
        recipe.data.path = _beside(recipe.data.path, base)
        recipe.base_model = _beside(recipe.base_model, base)
        if recipe.distill.teacher:
            recipe.distill.teacher = _beside(recipe.distill.teacher, base)
    return loaded


def _beside(value: str, base: Path) -> str:
    """A relative path that exists next to the recipe (but not in the CWD) is resolved there."""
    if not value or os.path.isabs(value) or Path(value).exists():
        return value
    candidate = base / value
    for parent in (base, *base.parents):
        if (parent / value).exists():
            candidate = parent / value
            break
    return str(candidate) if candidate.exists() else value


def train(
    recipe_or_path: str | os.PathLike[str] | dict[str, Any] | Recipe | LoadedRecipe,
    **overrides: Any,
) -> TrainResult:
    """Run a recipe and return its output directory and ``training_summary.json`` content.

    :func:`toolkit.training.checks.preflight` runs first, so a recipe that cannot finish here
    (context length, packages, GPU, push target, an existing run) fails in a second, not after
    the data and model are loaded."""
    loaded = (
        recipe_or_path
        if isinstance(recipe_or_path, LoadedRecipe)
        else load(recipe_or_path, **overrides)
    )
    from toolkit.training.checkpoints import clear_for_overwrite
    from toolkit.training.checks import enforce

    enforce(loaded)  # before any data, model or GPU is touched
    clear_for_overwrite(loaded.recipe)
    if loaded.recipe.task == "distill":
        from toolkit.training.distill import run_distill

        return run_distill(loaded)
    from toolkit.training.sft import run_sft

    return run_sft(loaded)
