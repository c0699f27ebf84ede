"""Card template lookup: override, repository folder, packaged copy (non-editable installs)."""

from __future__ import annotations

import importlib

import pytest

from toolkit.cards import PACKAGED_TEMPLATES, REPO_ROOT, find_template
from toolkit.cards.dataset_card import template_path as dataset_template_path
from toolkit.cards.model_card import template_path as model_template_path

# The package module itself (``toolkit.<name>`` attributes may be re-exported functions).
CARDS = importlib.import_module("toolkit.cards")
TEMPLATES = [("dataset_cards", "dataset_card.md.j2"), ("model_cards", "model_card.md.j2")]


@pytest.mark.parametrize(("folder", "name"), TEMPLATES)
def test_packaged_copy_matches_repository_template(folder, name):
    # The repository folders are the source of truth; the packaged copy must not drift.
    assert (PACKAGED_TEMPLATES / name).read_bytes() == (REPO_ROOT / folder / name).read_bytes()


def test_card_modules_resolve_the_repository_templates(monkeypatch):
    monkeypatch.delenv("TOOLKIT_DATASET_CARD_TEMPLATE", raising=False)
    monkeypatch.delenv("TOOLKIT_MODEL_CARD_TEMPLATE", raising=False)
    assert dataset_template_path() == REPO_ROOT / "dataset_cards" / "dataset_card.md.j2"
    assert model_template_path() == REPO_ROOT / "model_cards" / "model_card.md.j2"


def test_falls_back_to_packaged_copy_without_repository(tmp_path, monkeypatch):
    monkeypatch.delenv("TOOLKIT_X_TEMPLATE", raising=False)
    monkeypatch.setattr(CARDS, "REPO_ROOT", tmp_path)
    found = find_template("model_cards", "model_card.md.j2", "TOOLKIT_X_TEMPLATE")
    assert found == PACKAGED_TEMPLATES / "model_card.md.j2"


def test_missing_template_names_every_place_looked(tmp_path, monkeypatch):
    monkeypatch.delenv("TOOLKIT_X_TEMPLATE", raising=False)
    monkeypatch.setattr(CARDS, "REPO_ROOT", tmp_path)
    with pytest.raises(FileNotFoundError) as error:
        find_template("model_cards", "nope.md.j2", "TOOLKIT_X_TEMPLATE")
    message = str(error.value)
    assert str(tmp_path / "model_cards" / "nope.md.j2") in message
    assert str(PACKAGED_TEMPLATES / "nope.md.j2") in message
    assert "TOOLKIT_X_TEMPLATE" in message


def test_override_has_no_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_X_TEMPLATE", str(tmp_path / "typo.j2"))
    with pytest.raises(FileNotFoundError, match=r"typo\.j2.*TOOLKIT_X_TEMPLATE"):
        find_template("model_cards", "model_card.md.j2", "TOOLKIT_X_TEMPLATE")
