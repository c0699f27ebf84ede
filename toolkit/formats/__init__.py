"""Source formats → the one trace schema: :func:`normalize`, :func:`detect_format`, the registry.

Every reasoning dataset marks its problem, thinking and answer differently. A *format* knows one
family of datasets (its columns and markers) and turns each source row into schema records
(:mod:`toolkit.schema`). :func:`normalize` loads the data (Hub id, local file, ``Dataset`` or
``DataFrame``), runs the format over Arrow batches with ``Dataset.map(batched=True, num_proc=...)``
and splits off the rows it could not parse into a *quarantine* dataset, with the row index, the
field and the reason, so that nothing is dropped silently.

Built-in formats (``toolkit normalize --list-formats``; the README's "Supported datasets" table
says what goes where for each public dataset)::

    bespoke                Bespoke-Stratos-17k, OpenThoughts-114k/-114k-math/3: conversations
    magpie                 Magpie-Reasoning CoT-DeepSeek-R1: instruction + response with <think>
    numina                 NuminaMath-CoT / -TIR / -1.5: problem + solution (+ answer)
    openr1                 OpenR1-Math-220k: one record per generation (generations="all"|"verified")
    s1k                    s1K / s1K-1.1 (every revision): question + trajectory + attempt
    s1k_r1                 s1k_r1_math_verify: s1K questions, R1 generations + math-verify verdicts
    gsm8k                  GSM8K: question + answer ending in "#### N" (kept marked: \\boxed{N})
    math500                MATH-500: problem + solution + answer + subject + level
    limo                   LIMO: question + solution (no markers) + answer
    r1distill              ServiceNow-AI/R1-Distill-SFT v0/v1: the reannotated (R1) columns
    openthoughts_metadata  OpenThoughts-114k metadata config: deepseek_reasoning/_solution columns
    dolphin                dolphin-r1 reasoning configs: prompt messages + reasoning + answer
    am                     AM-DeepSeek-R1-Distilled-1.4M: messages with info, <answer> tags
    openmath               OpenMathReasoning (cot/tir/genselect): problem + generated_solution
    generalthought         GeneralThought-430K: question + model_reasoning + model_answer
    nemotron               Llama-Nemotron-Post-Training: input turns + output, reasoning on/off
    messages               any chat dataset (Mixture-of-Thoughts…): role/content or from/value
    columns                any table by naming its columns (never chosen by auto)

``auto`` never guesses: :mod:`toolkit.formats.detect` scores every format on the columns and on a
converted sample of rows, and raises :class:`AmbiguousFormatError` (with the candidates and how to
choose) on a tie, on content that does not match, or when a reasoning trace would be left out.
Cross-source choices (answer-format instructions out of ``problem``, system prompts that name
other markers rewritten) are in :mod:`toolkit.formats.prompts`; the batch machinery in
:mod:`toolkit.formats.records`; the run itself in :mod:`toolkit.formats.pipeline`.

How to add a format
-------------------
1. Create ``toolkit/formats/<name>.py`` with a :class:`Format` subclass decorated with
   :func:`register_format`. Set ``name`` and ``description``; ``required`` (columns that must
   exist — a tuple inside means "any one of these spellings"); optionally ``signature`` (columns
   that make auto-detection prefer this format), ``expects_reasoning`` (a content check: the
   format's sources always carry thinking) and ``generic`` (a fallback that loses to any
   dataset-specific format); ``consumed``
   (columns turned into schema fields, or merely repeating them — every *other* column is kept in
   ``metadata``); ``hub_ids`` (Hub ids that ``normalize(hub_id)`` maps to the format) with
   ``hub_defaults`` (their config/split where ``load_dataset`` needs one); the default
   ``domain``; and ``options`` (keyword options with their defaults, validated for you). A
   format whose parts sit in named columns only needs ``columns_map`` on a
   :class:`toolkit.formats.mapped.MappedFormat` subclass (see ``limo.py``).
2. Implement ``convert(self, batch, out)``: read columns with ``batch.column(name)`` (a Python
   list per Arrow batch) and call ``out.add(i, problem, answer, reasoning, reasoning_complete,
   final_answer, gold_answer, system=..., domain=..., extra=...)`` per record (several per row
   are fine; ``out.add_split(i, problem, split, gold_answer, ...)`` takes a completion split by
   :func:`toolkit.thinking.split_thinking` as it is), ``out.reject(i, field, reason)`` for a row
   that cannot be parsed, or ``out.skip(i, reason)`` for a candidate an option leaves out on
   purpose. ``require_text`` /
   ``optional_text`` raise :class:`BadRow` with the field and reason for null or mistyped values.
   Split completions with :func:`toolkit.thinking.split_thinking`; never build ids, messages or
   metadata yourself: :class:`Records` does that for every format alike, column-wise.
3. Import the module at the bottom of this file, add a fixture with the dataset's real layout
   (and a ``NAME.provenance.json`` saying where it was read) under ``tests/fixtures/formats/``,
   and assert its detection and exact split in ``tests/test_formats_datasets.py``.

A format defined outside the package works the same way: decorate it with
:func:`register_format` in your own code, or pass an instance (``normalize(QAFormat(), data)``).

Example::

    @register_format
    class QAFormat(Format):
        name = "qa"
        description = "question + reasoning + answer columns"
        required = ("question", "answer")
        consumed = ("question", "reasoning", "answer")

        def convert(self, batch, out):
            for i, (question, reasoning, answer) in enumerate(zip(
                batch.column("question"), batch.column("reasoning"), batch.column("answer")
            )):
                try:
                    problem = require_text(question, "question")
                except BadRow as bad:
                    out.reject(i, bad.field, bad.reason)
                    continue
                split = split_thinking(answer, reasoning=reasoning)
                out.add_split(i, problem, split)  # final_answer: toolkit.answers.final_answer
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from toolkit.formats.base import (
    REGISTRY,
    AmbiguousFormatError,
    BadRow,
    Format,
    FormatError,
    get_format,
    optional_text,
    register_format,
    require_text,
)
from toolkit.formats.detect import Candidate, Detection, detect, detect_columns
from toolkit.formats.inspection import Inspection, inspect
from toolkit.formats.pipeline import (
    NormalizeResult,
    NormalizeSummary,
    default_num_proc,
    fitting_formats,
    format_names,
    normalize,
)
from toolkit.formats.records import Batch, Records

if TYPE_CHECKING:
    import datasets


def detect_format(columns: Iterable[str] | datasets.Dataset) -> str:
    """The format of a dataset (columns *and* a sample of rows, see :mod:`toolkit.formats.detect`)
    or, given bare column names, the unique best column fit. Raises :class:`FormatError` when
    nothing fits and :class:`AmbiguousFormatError` when no format is a clear winner."""
    import datasets

    if isinstance(columns, datasets.Dataset):
        return detect(columns).format
    return detect_columns(list(columns))


# The built-in formats register themselves on import.
from toolkit.formats import (  # noqa: E402
    am,
    bespoke,
    columns,
    dolphin,
    generalthought,
    gsm8k,
    limo,
    magpie,
    math500,
    messages,
    nemotron,
    numina,
    openmath,
    openr1,
    openthoughts,
    r1distill,
    s1k,
)

__all__ = [
    "REGISTRY",
    "AmbiguousFormatError",
    "BadRow",
    "Batch",
    "Candidate",
    "Detection",
    "Format",
    "FormatError",
    "Inspection",
    "NormalizeResult",
    "NormalizeSummary",
    "Records",
    "am",
    "bespoke",
    "columns",
    "default_num_proc",
    "detect",
    "detect_format",
    "dolphin",
    "fitting_formats",
    "format_names",
    "generalthought",
    "get_format",
    "gsm8k",
    "inspect",
    "limo",
    "magpie",
    "math500",
    "messages",
    "nemotron",
    "normalize",
    "numina",
    "openmath",
    "openr1",
    "openthoughts",
    "optional_text",
    "r1distill",
    "register_format",
    "require_text",
    "s1k",
]
