"""The decontamination step: remove training rows that overlap evaluation benchmarks.

Benchmarks come from the kernel registry (:mod:`toolkit.benchmarks`), the same rows evaluation
scores on, so what is removed here is exactly what would otherwise leak into a score. The n-gram
matching itself is :mod:`toolkit.curate.ngrams`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.benchmarks import BENCHMARK_DIR_ENV, UnknownBenchmarkError, get_benchmark
from toolkit.curate.defaults import CONTAMINATION_FIELD, DEFAULT_BENCHMARKS, NGRAM
from toolkit.curate.ngrams import NgramIndex, build_ngram_index, contamination_flags
from toolkit.curate.report import CurationReport, apply_reasons, require_column
from toolkit.errors import DataError, ToolkitError
from toolkit.tables import add_column, column_values

if TYPE_CHECKING:
    import datasets

log = logging.getLogger("toolkit.curate")

_PROBLEM_COLUMNS = ("problem", "question", "Question", "prompt", "input")


def _extra_sources(extra: Any) -> list[tuple[str, Any]]:
    """``extra`` as (name, source) pairs: a dict, a path, a list of paths or of problem texts."""
    if extra is None:
        return []
    if isinstance(extra, dict):
        return list(extra.items())
    if isinstance(extra, str | os.PathLike):
        return [(Path(extra).stem, extra)]
    items = list(extra)
    if items and all(isinstance(i, str) and not Path(i).exists() for i in items):
        return [("extra", items)]
    return [(Path(str(i)).stem, i) for i in items]


def _problems_from(source: Any) -> list[str]:
    if isinstance(source, list | tuple) and all(isinstance(s, str) for s in source):
        if not (len(source) == 1 and Path(source[0]).exists()):
            return list(source)
        source = source[0]
    from toolkit.io import load_table

    table = load_table(source)
    for column in _PROBLEM_COLUMNS:
        if column in table.column_names:
            return [str(v) for v in table[column]]
    raise DataError(
        f"decontaminate: {source} has none of the columns {'/'.join(_PROBLEM_COLUMNS)}",
        hint=f"its columns: {', '.join(table.column_names)}",
    )


def _unavailable_reason(error: Exception) -> str:
    """Why a benchmark could not be loaded, in words fit for a dataset card: no paths, no raw
    exception text from a server (those go to the debug log)."""
    if isinstance(error, FileNotFoundError | ConnectionError):
        return "not reachable and no local copy (set TOOLKIT_BENCHMARK_DIR)"
    return f"could not be read ({type(error).__name__})"


def load_benchmark_indexes(
    benchmarks: Sequence[str] = DEFAULT_BENCHMARKS, ngram: int = NGRAM, extra: Any = None
) -> tuple[list[NgramIndex], list[str]]:
    """N-gram indexes of the benchmarks that can be loaded, and a note for each that cannot."""
    indexes: list[NgramIndex] = []
    unavailable: list[str] = []
    offline: list[Any] = []  # out of reach with no local copy: one warning for all of them
    for name in benchmarks:
        source = get_benchmark(name)  # an unknown name is the user's mistake: raise
        try:
            problems = source.problems()
        except UnknownBenchmarkError:
            raise
        except (ToolkitError, OSError, ValueError) as exc:  # offline Hub, unreadable local file
            unavailable.append(f"{name}: {_unavailable_reason(exc)}")
            hint = getattr(exc, "hint", None)
            if hint and hint != source.offline_hint():  # e.g. an unreadable local copy
                log.warning("decontaminate: benchmark %s is unavailable; skipped (%s)", name, hint)
            else:
                offline.append(source)
            continue
        indexes.append(build_ngram_index(name, problems, ngram))
    if offline:
        files = ", ".join(s.local_file for s in offline if s.local_file)
        log.warning(
            "decontaminate: %d benchmark(s) unavailable and skipped (%s): offline, put local "
            "copies in $%s%s or set $TOOLKIT_<NAME>_FILE",
            len(offline),
            ", ".join(s.name for s in offline),
            BENCHMARK_DIR_ENV,
            f" ({files})" if files else "",
        )
    for name, source in _extra_sources(extra):
        indexes.append(build_ngram_index(name, _problems_from(source), ngram))
    return indexes, unavailable


def decontaminate(
    dataset: datasets.Dataset,
    benchmarks: Sequence[str] = DEFAULT_BENCHMARKS,
    *,
    ngram: int = NGRAM,
    extra: Any = None,
    text_field: str = CONTAMINATION_FIELD,
    remove: bool = True,
    num_proc: int | None = 1,
    allow_empty: bool = False,
) -> tuple[datasets.Dataset, CurationReport]:
    """Flag and remove rows sharing a word ``ngram``-gram with a benchmark problem, or containing
    a whole benchmark problem shorter than ``ngram`` words.

    Benchmarks load through :func:`toolkit.benchmarks.get_benchmark` (the Hub, or local files
    via ``TOOLKIT_BENCHMARK_DIR`` / ``TOOLKIT_<NAME>_FILE``). One that cannot be loaded is named
    in the report's notes and a warning, and the others still run. ``extra`` adds user sets: a
    file, a dataset id, a list of problem texts, or ``{name: source}``. A ``contaminated_<name>``
    column is added for every set before the removal (``remove=False`` only flags).
    """
    import datasets as hf_datasets

    require_column(dataset, text_field, "decontaminate")
    indexes, unavailable = load_benchmark_indexes(benchmarks, ngram, extra)
    flags = contamination_flags(
        column_values(dataset, text_field), indexes, ngram, num_proc=num_proc
    )
    for name, values in flags.items():
        dataset = add_column(dataset, f"contaminated_{name}", values, hf_datasets.Value("bool"))
    reasons: list[str | None] = []
    names = list(flags)
    for row in range(len(dataset)):
        hit = next((name for name in names if flags[name][row]), None)
        reasons.append(f"contaminated:{hit}" if hit and remove else None)
    notes = [f"unavailable: {u}" for u in unavailable]
    notes.append(
        "checked: " + ", ".join(f"{i.name} ({i.problems} problems)" for i in indexes)
        if indexes
        else "checked: nothing (no benchmark could be loaded)"
    )
    flagged = {name: sum(values) for name, values in flags.items()}
    params = {
        "benchmarks": list(benchmarks),
        "extra": [name for name, _ in _extra_sources(extra)],
        "ngram": ngram,
        "text_field": text_field,
        "remove": remove,
        "flagged": flagged,
        "unavailable": [u.split(":", 1)[0] for u in unavailable],
    }
    return apply_reasons(dataset, "decontaminate", reasons, params, notes, allow_empty=allow_empty)


__all__ = ["DEFAULT_BENCHMARKS", "decontaminate", "load_benchmark_indexes"]
