"""LIMO (GAIR/LIMO, LIMO-v2): ``question``, ``solution``, ``answer``.

``solution`` is the whole long reasoning chain (R1-style "Okay, so I need to…", ending with the
boxed answer) *without* thinking markers; LIMO trains on it as the complete response. It is kept
as the ``answer`` with ``reasoning=None`` — inventing a ``</think>`` boundary the source does not
have would be a guess. ``final_answer`` is its final answer, ``gold_answer`` the ``answer``
column. Columns verified on the dataset card and in other projects' loaders (fixture provenance:
``tests/fixtures/formats/limo.provenance.json``).

Before this format, ``auto`` read LIMO as GSM8K (``question``/``answer``) and quarantined every
row ("no '#### N'"); the content checks of :mod:`toolkit.formats.detect` now refuse that.
"""

from __future__ import annotations

from typing import ClassVar

from toolkit.formats.base import register_format
from toolkit.formats.mapped import MappedFormat


@register_format
class LimoFormat(MappedFormat):
    name = "limo"
    description = "LIMO (question, solution = reasoning without markers, answer)"
    required = ("question", "solution", "answer")
    consumed = ("question", "solution", "answer")
    columns_map: ClassVar[dict[str, str]] = {
        "problem": "question",
        "answer": "solution",
        "gold": "answer",
    }
    hub_ids = ("GAIR/LIMO", "GAIR/LIMO-v2")
