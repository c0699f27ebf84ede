"""Card template lookup: one packaged copy per card, an override, no second copy anywhere."""

from __future__ import annotations

import pytest

from toolkit.cards import PACKAGED_TEMPLATES, find_template
from toolkit.cards.dataset_card import template_path as dataset_template_path
from toolkit.cards.model_card import template_path as model_template_path
from toolkit.errors import MissingError

REPO = PACKAGED_TEMPLATES.parents[2]
TEMPLATES = ["dataset_card.md.j2", "model_card.md.j2"]


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_template_exists_once(name):
    # The packaged copy is the only one: the repository folders hold documentation, not a
    # second copy that could drift.
    folders = ("toolkit", "dataset_cards", "model_cards", "spaces", "recipes", "docs")
    copies = [*REPO.glob(name), *(p for f in folders for p in (REPO / f).rglob(name))]
    assert copies == [PACKAGED_TEMPLATES / name]
    for folder in ("dataset_cards", "model_cards"):
        assert not list((REPO / folder).glob("*.j2"))


def test_card_modules_resolve_the_packaged_templates(monkeypatch):
    monkeypatch.delenv("TOOLKIT_DATASET_CARD_TEMPLATE", raising=False)
    monkeypatch.delenv("TOOLKIT_MODEL_CARD_TEMPLATE", raising=False)
    assert dataset_template_path() == PACKAGED_TEMPLATES / "dataset_card.md.j2"
    assert model_template_path() == PACKAGED_TEMPLATES / "model_card.md.j2"


def test_missing_template_names_the_place_looked_and_the_variable(monkeypatch):
    monkeypatch.delenv("TOOLKIT_X_TEMPLATE", raising=False)
    with pytest.raises(FileNotFoundError) as error:
        find_template("nope.md.j2", "TOOLKIT_X_TEMPLATE")
    message = str(error.value)
    assert str(PACKAGED_TEMPLATES / "nope.md.j2") in message
    assert "TOOLKIT_X_TEMPLATE" in message
    assert isinstance(error.value, MissingError) and error.value.hint


def test_override_has_no_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_X_TEMPLATE", str(tmp_path / "typo.j2"))
    with pytest.raises(FileNotFoundError, match=r"typo\.j2.*TOOLKIT_X_TEMPLATE"):
        find_template("model_card.md.j2", "TOOLKIT_X_TEMPLATE")
    good = tmp_path / "mine.j2"
    good.write_text("# {{ model_name }}\n")
    monkeypatch.setenv("TOOLKIT_X_TEMPLATE", str(good))
    assert find_template("model_card.md.j2", "TOOLKIT_X_TEMPLATE") == good
