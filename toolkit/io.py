"""Reading and writing tables: the one dataset path every stage goes through.

A *source* may be a ``datasets.Dataset``, a pandas ``DataFrame``, a local file or directory
(JSONL/JSON, Parquet, CSV, an Arrow directory written by ``save_to_disk``, or a directory of such
files), or a Hugging Face Hub dataset id (optionally ``id:config``), loaded with
``datasets.load_dataset`` at a pinned ``revision``.

Files a user hands over are often broken in ways that end deep inside ``datasets`` or Arrow with
a traceback and no line number (issues 14 and 15). Each of these gives one
:class:`toolkit.errors.DataError` naming the file, the line and the reason instead: an empty file,
a file without rows, UTF-16/UTF-32 text, a line that is not JSON, a JSON array where an object is
expected, lone surrogates (text that cannot be UTF-8), nesting deeper than Arrow accepts. Clean
files take the fast path (``datasets``' JSON builder); lines are only scanned one by one after
the fast path failed, so the checks cost nothing on good data.

Batch jobs that quarantine bad rows (``toolkit normalize``) do the same with bad *lines*: inside
:func:`collecting_bad_lines`, unreadable JSONL lines are handed to the caller as :class:`BadLine`
(with their line number) and the rest of the file loads.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from toolkit.errors import DataError, MissingError, UsageError

if TYPE_CHECKING:  # a kernel module: datasets is imported where a table is loaded
    import datasets

LOCAL_SUFFIXES = {
    ".jsonl": "json",
    ".json": "json",
    ".parquet": "parquet",
    ".csv": "csv",
    ".arrow": "arrow",
}
OUTPUT_SUFFIXES = (".parquet", ".jsonl", ".json", ".csv")
#: Deepest nesting (objects and arrays) a JSON line may have: Arrow refuses about 64 levels.
MAX_DEPTH = 62
_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}


class BadLine(NamedTuple):
    """A line of a JSONL file that cannot become a row (1-based ``line``)."""

    path: str
    line: int
    reason: str
    raw: str


_BAD_LINES: contextvars.ContextVar[list[BadLine] | None] = contextvars.ContextVar(
    "toolkit_bad_lines", default=None
)


@contextlib.contextmanager
def collecting_bad_lines() -> Iterator[list[BadLine]]:
    """Within this block, :func:`load_table` skips unreadable JSONL lines and appends them to
    the yielded list instead of raising (for stages that quarantine bad rows)."""
    collected: list[BadLine] = []
    token = _BAD_LINES.set(collected)
    try:
        yield collected
    finally:
        _BAD_LINES.reset(token)


def describe_source(source: Any, revision: str | None = None) -> str:
    """A short, human-readable name for a source (used in ``source`` columns and logs)."""
    import datasets

    if isinstance(source, datasets.Dataset):
        name = source.info.dataset_name or "dataset"
    elif hasattr(source, "columns") and hasattr(source, "iloc"):
        name = "dataframe"
    else:
        name = Path(str(source)).name if os.path.exists(str(source)) else str(source)
    return f"{name}@{revision}" if revision else name


def load_table(
    source: Any,
    *,
    split: str | None = None,
    revision: str | None = None,
    limit: int | None = None,
) -> datasets.Dataset:
    """Load ``source`` as a ``datasets.Dataset`` (see the module docstring for what it accepts)."""
    import datasets

    if isinstance(source, datasets.DatasetDict):
        source = source[split or _default_split(source)]
    if isinstance(source, datasets.Dataset):
        table = source
    elif hasattr(source, "columns") and hasattr(source, "iloc"):
        table = datasets.Dataset.from_pandas(source, preserve_index=False)
    else:
        path = Path(os.fspath(source))
        if path.exists():
            table = _load_local(path, split)
        elif str(source).count("/") == 1 or ":" in str(source):
            repo_id, _, config = str(source).partition(":")
            table = datasets.load_dataset(
                repo_id, config or None, split=split or "train", revision=revision
            )
        else:
            raise MissingError(
                f"{source!r} is neither a local file or directory nor a Hub dataset id (org/name)"
            )
    if limit is not None:
        table = table.select(range(min(limit, len(table))))
    return table


def _default_split(dataset_dict: datasets.DatasetDict) -> str:
    for name in ("train", "test", "validation"):
        if name in dataset_dict:
            return name
    return next(iter(dataset_dict))


def _load_local(path: Path, split: str | None) -> datasets.Dataset:
    import datasets

    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
            loaded = datasets.load_from_disk(str(path))
            if isinstance(loaded, datasets.DatasetDict):
                return loaded[split or _default_split(loaded)]
            return loaded
        files = sorted(p for p in path.rglob("*") if p.suffix in LOCAL_SUFFIXES)
        if not files:
            raise MissingError(f"no .jsonl/.json/.parquet/.csv/.arrow files under {path}")
    else:
        files = [path]
    builder = LOCAL_SUFFIXES.get(files[0].suffix)
    if builder is None:
        raise UsageError(
            f"{path}: unknown file type {path.suffix!r}",
            hint=f"use one of {', '.join(LOCAL_SUFFIXES)}",
        )
    for file in files:
        _check_file(file)
    data_files = [str(p) for p in files]
    try:
        return datasets.load_dataset(builder, data_files=data_files, split="train")
    except (Exception, RecursionError) as error:  # datasets wraps Arrow/JSON errors
        if builder != "json":
            raise DataError(
                f"cannot read the file: {_root_cause(error)}", path=str(path)
            ) from error
        return _load_json_line_by_line(files, error)


def _check_file(path: Path) -> None:
    """Refuse what ``datasets`` would turn into a traceback: no bytes, no rows, not UTF-8."""
    size = path.stat().st_size
    if size == 0:
        raise DataError("empty file (0 bytes)", path=str(path), hint="check the path")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            rows = pq.read_metadata(str(path)).num_rows
        except Exception as error:
            raise DataError(f"not a Parquet file ({_root_cause(error)})", path=str(path)) from error
        if rows == 0:
            raise DataError("the Parquet file has 0 rows", path=str(path), hint="check the path")
        return
    if path.suffix in (".jsonl", ".json", ".csv"):
        with path.open("rb") as handle:
            head = handle.read(4)
        for bom, encoding in _BOMS.items():
            if head.startswith(bom):
                raise DataError(
                    f"the file is {encoding} text; the toolkit reads UTF-8",
                    path=str(path),
                    hint=f"convert it: iconv -f {encoding} -t UTF-8 {path} > utf8{path.suffix}",
                )
        if path.suffix != ".csv" and not head.strip(b" \t\r\n\xef\xbb\xbf"):
            with path.open("rb") as handle:
                if not handle.read(1 << 16).strip():
                    raise DataError("no rows (the file holds only whitespace)", path=str(path))


def _load_json_line_by_line(files: list[Path], error: BaseException) -> datasets.Dataset:
    """The slow path after the JSON builder failed: find the bad lines, then either raise on the
    first (one line naming file, line and reason) or, inside :func:`collecting_bad_lines`, load
    the good lines and hand the bad ones to the caller."""
    import datasets

    bad: list[BadLine] = []
    for path in files:
        if path.suffix == ".json" and _starts_with(path, b"["):
            _check_json_document(path)
            continue
        bad.extend(_scan_lines(path))
    if not bad:
        raise DataError(f"cannot read JSON: {_root_cause(error)}", path=str(files[0])) from error
    collector = _BAD_LINES.get()
    if collector is None:
        first = bad[0]
        more = f" (and {len(bad) - 1} more bad line(s))" if len(bad) > 1 else ""
        raise DataError(
            first.reason + more,
            path=first.path,
            row=first.line,
            hint="fix or remove the line; `toolkit normalize` quarantines such lines instead",
        ) from error
    collector.extend(bad)
    skip = {(b.path, b.line) for b in bad}
    workdir = Path(tempfile.mkdtemp(prefix="toolkit-good-lines-"))
    try:
        good = workdir / "good.jsonl"
        kept = 0
        with good.open("wb") as out:
            for path in files:
                with path.open("rb") as handle:
                    for number, line in enumerate(handle, 1):
                        if (str(path), number) not in skip and line.strip():
                            out.write(line.rstrip(b"\r\n") + b"\n")
                            kept += 1
        if kept == 0:
            raise DataError(
                f"none of the lines can be read ({len(bad)} bad, first: line {bad[0].line}: "
                f"{bad[0].reason})",
                path=bad[0].path,
            ) from error
        return datasets.load_dataset("json", data_files=str(good), split="train")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _starts_with(path: Path, prefix: bytes) -> bool:
    with path.open("rb") as handle:
        return handle.read(4096).lstrip(b" \t\r\n\xef\xbb\xbf").startswith(prefix)


def _check_json_document(path: Path) -> None:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(f"malformed JSON: {error.msg}", path=str(path), row=error.lineno) from None
    except (UnicodeDecodeError, RecursionError) as error:
        raise DataError(f"cannot read JSON: {_root_cause(error)}", path=str(path)) from None


def _scan_lines(path: Path) -> Iterator[BadLine]:
    """Every line of a JSONL file that cannot become a row, with the reason."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            reason = line_problem(raw)
            if reason is not None:
                yield BadLine(str(path), number, reason, raw.decode("utf-8", "replace")[:2000])


def line_problem(raw: bytes) -> str | None:
    """Why one JSONL line cannot become a row, or ``None`` when it can."""
    try:
        text = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as error:
        return f"not valid UTF-8 (byte {error.start})"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return f"malformed JSON: {error.msg} (column {error.colno})"
    except RecursionError:
        return "nested too deeply to parse"
    if not isinstance(value, dict):
        kinds = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
        kind = kinds.get(type(value), "a number")
        return f"{kind} where one JSON object per line is expected"
    depth = _depth(value)
    if depth > MAX_DEPTH:
        return f"nested {depth} levels deep (Arrow accepts at most {MAX_DEPTH})"
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:
        return f"lone surrogate {error.object[error.start : error.end]!r}: not valid Unicode text"
    return None


def _depth(value: Any) -> int:
    """Nesting depth of a JSON value, iteratively (a 10,000-deep value must not recurse)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def _root_cause(error: BaseException) -> str:
    """The innermost cause of an error, on one line (``datasets`` wraps the useful message)."""
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:300]


def write_table(table: datasets.Dataset, output: str | os.PathLike[str]) -> Path:
    """Write a dataset to ``output`` by its suffix (``.parquet``, ``.jsonl``/``.json``, ``.csv``)
    or, without a suffix, as an Arrow directory (``save_to_disk``).

    Any other suffix is refused (:class:`toolkit.errors.UsageError`): ``-o out.txt`` used to
    create a *directory* named ``out.txt``, which no one asking for a text file expects."""
    path = Path(os.fspath(output))
    check_output_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        table.to_parquet(str(path))
    elif path.suffix in (".jsonl", ".json"):
        table.to_json(str(path), lines=True, force_ascii=False)
    elif path.suffix == ".csv":
        table.to_csv(str(path), index=False)
    else:
        table.save_to_disk(str(path))
    return path


def check_output_path(output: str | os.PathLike[str]) -> Path:
    """``output`` if :func:`write_table` can write it; call it before long work, so that a bad
    ``-o`` fails in a second rather than after an hour of conversion."""
    path = Path(os.fspath(output))
    if path.suffix and path.suffix not in OUTPUT_SUFFIXES:
        raise UsageError(
            f"{path}: unknown output type {path.suffix!r}",
            hint=f"use {', '.join(OUTPUT_SUFFIXES)}, or a path without a suffix for an Arrow "
            "directory (save_to_disk)",
        )
    if path.suffix and path.is_dir():
        raise UsageError(f"{path} is a directory, not a {path.suffix} file")
    return path
