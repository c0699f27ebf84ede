"""Repository cards: dataset cards (:mod:`toolkit.cards.dataset_card`), model cards, and the
shared matplotlib plots (:mod:`toolkit.cards.plots`). Submodules import their heavy dependencies
lazily; import names from the submodules, e.g.
``from toolkit.cards.dataset_card import build_dataset_card``."""

from __future__ import annotations

import os
from pathlib import Path

#: The card templates: one copy, shipped as package data so that every install renders cards
#: (the repository's ``dataset_cards/`` and ``model_cards/`` folders hold documentation only).
PACKAGED_TEMPLATES = Path(__file__).resolve().parent / "templates"


def find_template(name: str, env: str) -> Path:
    """The Jinja template ``name`` for a card: ``$env`` when set (no fallback, so a typo in the
    override fails loudly), else the packaged template.

    Raises :class:`toolkit.errors.MissingError` naming the place looked at and the variable.
    """
    from toolkit.errors import MissingError

    override = os.environ.get(env)
    path = Path(override) if override else PACKAGED_TEMPLATES / name
    if path.is_file():
        return path
    raise MissingError(
        f"card template {name} not found (looked in {path}); set {env} to a Jinja template",
        hint=f"copy {PACKAGED_TEMPLATES / name} and point {env} at the copy",
    )
