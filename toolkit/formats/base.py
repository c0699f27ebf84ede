"""What a format *is*: the :class:`Format` base class, the registry, and the row-level helpers.

A format declares which columns it needs and reads (used by auto-detection, see
:mod:`toolkit.formats.detect`) and implements :meth:`Format.convert` for one Arrow batch; the
batch machinery lives in :mod:`toolkit.formats.records`. Split from the batch machinery because
the two change for different reasons: formats change when a dataset is added, records when the
schema or the performance work changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from toolkit.errors import DataError, UsageError
from toolkit.formats.records import Batch, Records  # re-exported: formats import them from here

if TYPE_CHECKING:
    import pyarrow as pa


class FormatError(DataError):
    """The input as a whole does not fit (unknown format or option, missing columns).

    A :class:`toolkit.errors.DataError` (exit code 1): the data and the chosen format disagree."""


class AmbiguousFormatError(FormatError, UsageError):
    """Auto-detection found no clear winner: the user has to choose (exit code 2, a usage error).

    ``candidates`` holds the scored :class:`toolkit.formats.detect.Candidate` list."""

    def __init__(self, message: str, *, hint: str | None = None, candidates: Any = None) -> None:
        super().__init__(message, hint=hint)
        self.candidates = candidates or []


class BadRow(Exception):
    """Raised inside :meth:`Format.convert` for one row; the row goes to the quarantine."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def require_text(value: Any, field: str, *, allow_empty: bool = False) -> str:
    """``value`` as a string, or :class:`BadRow` naming ``field`` (null, wrong type, empty)."""
    if value is None:
        raise BadRow(field, "null")
    if not isinstance(value, str):
        raise BadRow(field, f"expected a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise BadRow(field, "empty")
    return value


def optional_text(value: Any, field: str) -> str | None:
    """``value`` as a stripped string, ``None`` for null/empty, :class:`BadRow` for other types."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise BadRow(field, f"expected a string, got {type(value).__name__}")


def worked_solutions(batch: Batch, out: Records) -> Iterator[tuple[int, str, str, str | None]]:
    """``(position, problem, solution, answer)`` for every row of a problem + worked ``solution``
    (+ optional ``answer``) dataset such as MATH-500 or NuminaMath, problem and solution stripped;
    rows with a null or mistyped field are rejected into ``out`` and not yielded."""
    answers = batch.column("answer")
    for i, (problem, solution) in enumerate(
        zip(batch.column("problem"), batch.column("solution"), strict=True)
    ):
        try:
            problem_text = require_text(problem, "problem").strip()
            solution_text = require_text(solution, "solution").strip()
            answer = optional_text(answers[i], "answer")
        except BadRow as bad:
            out.reject(i, bad.field, bad.reason)
            continue
        yield i, problem_text, solution_text, answer


class Format:
    """One source format: which columns it reads and how one source row becomes records.

    Subclasses set the class attributes and implement :meth:`convert`; see the package
    docstring of :mod:`toolkit.formats` for a worked example. The attributes below ``priority``
    feed auto-detection (:mod:`toolkit.formats.detect`), which never guesses: it converts a
    sample of rows with every format whose columns fit and refuses when no single format both
    fits best and passes its content checks.
    """

    #: Registry name (``toolkit normalize NAME``).
    name: ClassVar[str] = ""
    #: One line for ``--help`` and error messages.
    description: ClassVar[str] = ""
    #: Columns that must be present; a tuple inside means "any one of these spellings".
    required: ClassVar[tuple[str | tuple[str, ...], ...]] = ()
    #: Columns that make this format a better fit in ``detect_format`` when present.
    signature: ClassVar[tuple[str, ...]] = ()
    #: Columns the format turns into schema fields or that only repeat them (everything else
    #: goes to ``metadata``).
    consumed: ClassVar[tuple[str, ...]] = ()
    #: Hub dataset ids that are known to be in this format.
    hub_ids: ClassVar[tuple[str, ...]] = ()
    #: Loading defaults of those ids where ``load_dataset``'s own would fail: the config of a
    #: multi-config dataset, the split of a test-only one (``{"org/name": {"config": "main"}}``).
    hub_defaults: ClassVar[dict[str, dict[str, str]]] = {}
    #: Default ``domain`` of its records.
    domain: ClassVar[str] = "math"
    #: Options accepted by ``__init__`` (``normalize(..., **options)``) with their defaults.
    options: ClassVar[dict[str, Any]] = {}
    #: Kept for formats defined outside the package; detection no longer breaks ties with it
    #: (a tie is reported, never decided by name or priority).
    priority: ClassVar[int] = 0
    #: A fallback that fits many tables (``messages``, ``columns``): auto-detection picks it only
    #: when no dataset-specific format passes its checks.
    generic: ClassVar[bool] = False
    #: Content check: the format's sources always carry separate thinking, so a sample in which
    #: no record has reasoning means the table is something else (Alpaca rows are not Magpie).
    expects_reasoning: ClassVar[bool] = False
    #: Excluded from auto-detection (the column mapping needs the user's column names).
    explicit_only: ClassVar[bool] = False

    def __init__(self, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            accepted = ", ".join(self.options) or "none"
            raise FormatError(
                f"format {self.name!r} got unknown option(s) {', '.join(unknown)} "
                f"(accepted: {accepted})"
            )
        self.settings = {**self.options, **options}

    def missing_columns(self, columns: Iterable[str]) -> list[str]:
        """The required columns (``a|b`` for alternatives) that ``columns`` lacks."""
        present = set(columns)
        missing = []
        for requirement in self.required:
            choices = (requirement,) if isinstance(requirement, str) else requirement
            if not any(choice in present for choice in choices):
                missing.append("|".join(choices))
        return missing

    def fit_score(self, columns: Iterable[str]) -> int:
        """How specifically ``columns`` match this format (0 when a required column is absent)."""
        present = set(columns)
        if self.missing_columns(present):
            return 0
        named = {c for r in self.required for c in ((r,) if isinstance(r, str) else r)}
        return 1 + len(named & present) + len(set(self.signature) & present)

    def metadata_columns(self, columns: Sequence[str]) -> list[str]:
        """The source columns kept in ``metadata``: all that the format does not consume."""
        consumed = set(self.consumed)
        return [name for name in columns if name not in consumed]

    def read_columns(self, columns: Sequence[str]) -> set[str]:
        """The columns this format takes text from or knows to repeat it (not metadata).

        Auto-detection compares it with the columns that hold reasoning traces: a trace in a
        column outside this set would be lost from the SFT target."""
        return set(columns) - set(self.metadata_columns(list(columns)))

    def alternative_traces(self, columns: Sequence[str]) -> dict[str, str]:
        """Trace columns this format leaves aside on purpose, with how to read them instead
        (``{"gemini_thinking_trajectory": "teacher='gemini'"}``): reported, not refused."""
        return {}

    def prepare(self, table: pa.Table) -> None:
        """Optional per-batch hook (for example to check column types once per batch)."""

    def convert(self, batch: Batch, out: Records) -> None:
        """Turn every row of ``batch`` into records with ``out.add`` (or ``out.reject``)."""
        raise NotImplementedError


REGISTRY: dict[str, type[Format]] = {}


def register_format(cls: type[Format]) -> type[Format]:
    """Class decorator: make a :class:`Format` available by name (and by its Hub ids)."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    REGISTRY[cls.name] = cls
    return cls


def get_format(name: str) -> type[Format]:
    try:
        return REGISTRY[name]
    except KeyError:
        raise FormatError(
            f"unknown format {name!r}; known formats: {', '.join(sorted(REGISTRY))}, or 'auto'",
            hint="toolkit normalize --help lists the formats with what they read",
        ) from None


def hub_defaults(hub_id: str) -> dict[str, str]:
    """The loading defaults (``config``, ``split``) registered for a Hub id, if any."""
    wanted = hub_id.lower()
    for cls in REGISTRY.values():
        for known, defaults in cls.hub_defaults.items():
            if known.lower() == wanted:
                return defaults
    return {}


def hub_id_formats() -> dict[str, str]:
    """Known Hub dataset ids (lower-cased) → format name."""
    return {hub_id.lower(): cls.name for cls in REGISTRY.values() for hub_id in cls.hub_ids}


def guess_domain(problem: str, answer: str, default: str = "general") -> str:
    """A coarse domain for mixed sources (Bespoke, OpenThoughts, chat sets): boxed answers are
    math, fenced code is code. Cheap substring checks only: this runs once per row."""
    if "\\boxed" in answer or "\\boxed" in problem:
        return "math"
    if "```" in answer or "```" in problem:
        return "code"
    return default
