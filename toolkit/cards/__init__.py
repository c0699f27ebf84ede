"""Repository cards: dataset cards (:mod:`toolkit.cards.dataset_card`), model cards, and the
shared matplotlib plots (:mod:`toolkit.cards.plots`). Submodules import their heavy dependencies
lazily; import names from the submodules, e.g.
``from toolkit.cards.dataset_card import build_dataset_card``."""

from __future__ import annotations

import os
from pathlib import Path

#: The repository checkout: its ``dataset_cards/`` and ``model_cards/`` folders hold the card
#: templates people edit (the source of truth).
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Copies of those templates shipped as package data, so a non-editable install renders cards
#: too; ``tests/test_card_templates.py`` keeps them byte-identical to the repository folders.
PACKAGED_TEMPLATES = Path(__file__).resolve().parent / "templates"


def find_template(folder: str, name: str, env: str) -> Path:
    """The Jinja template ``name`` for a card: ``$env`` when set (no fallback, so a typo in the
    override fails loudly), else ``<repo>/<folder>/<name>``, else the packaged copy.

    Raises :class:`FileNotFoundError` naming every place looked at and the override variable.
    """
    override = os.environ.get(env)
    candidates = (
        [Path(override)] if override else [REPO_ROOT / folder / name, PACKAGED_TEMPLATES / name]
    )
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(str(path) for path in candidates)
    raise FileNotFoundError(
        f"card template {name} not found (looked in {looked}); set {env} to a Jinja template"
    )
