"""Repository cards: dataset cards (:mod:`toolkit.cards.dataset_card`), model cards, and the
shared matplotlib plots (:mod:`toolkit.cards.plots`). Submodules import their heavy dependencies
lazily; import names from the submodules, e.g.
``from toolkit.cards.dataset_card import build_dataset_card``."""
