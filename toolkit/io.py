"""Reading and writing tables: the one dataset path every stage goes through.

A *source* may be a ``datasets.Dataset``, a pandas ``DataFrame``, a local file or directory
(JSONL/JSON, Parquet, CSV, an Arrow directory written by ``save_to_disk``, or a directory of such
files), or a Hugging Face Hub dataset id (optionally ``id:config``), loaded with
``datasets.load_dataset`` at a pinned ``revision``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import datasets

LOCAL_SUFFIXES = {
    ".jsonl": "json",
    ".json": "json",
    ".parquet": "parquet",
    ".csv": "csv",
    ".arrow": "arrow",
}


def describe_source(source: Any, revision: str | None = None) -> str:
    """A short, human-readable name for a source (used in ``source`` columns and logs)."""
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
            raise FileNotFoundError(
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
    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
            loaded = datasets.load_from_disk(str(path))
            if isinstance(loaded, datasets.DatasetDict):
                return loaded[split or _default_split(loaded)]
            return loaded
        files = sorted(p for p in path.rglob("*") if p.suffix in LOCAL_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"no .jsonl/.json/.parquet/.csv/.arrow files under {path}")
        builder = LOCAL_SUFFIXES[files[0].suffix]
        return datasets.load_dataset(builder, data_files=[str(p) for p in files], split="train")
    builder = LOCAL_SUFFIXES.get(path.suffix)
    if builder is None:
        raise ValueError(
            f"{path}: unknown file type {path.suffix!r}; use one of {', '.join(LOCAL_SUFFIXES)}"
        )
    return datasets.load_dataset(builder, data_files=str(path), split="train")


def write_table(table: datasets.Dataset, output: str | os.PathLike[str]) -> Path:
    """Write a dataset to ``output`` by its suffix (``.parquet``, ``.jsonl``/``.json``, ``.csv``)
    or, without a known suffix, as an Arrow directory (``save_to_disk``)."""
    path = Path(os.fspath(output))
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
