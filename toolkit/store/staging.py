"""Staging: what is pushed, written once for both stores.

A dataset is written as deterministic Parquet (one chunk, fixed row groups, no timestamps), so
its SHA-256 is a content hash: re-pushing identical data is detected without reading the remote
side's bytes. The card and ``lineage.json`` are written only once the version is known (they
name it), through the ``finish`` callback the store calls.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.errors import DataError, MissingError
from toolkit.store.base import (
    LINEAGE_FILE,
    MANIFEST,
    PushResult,
    check_pr_branch,
    check_repo_id,
    check_repo_type,
    check_version,
)
from toolkit.tables import splits_of

if TYPE_CHECKING:
    import datasets

    from toolkit.store.protocol import Store

ROW_GROUP_SIZE = 10_000


def check_not_empty(splits: dict[str, datasets.Dataset]) -> None:
    """Refuse to publish a version without rows: ``datasets`` would fail later, on load, with
    a message about its own internals ("Instruction 'train' corresponds to no data")."""
    if not splits:
        raise DataError("the dataset to push has no splits")
    empty = [name for name, split in splits.items() if len(split) == 0]
    if empty:
        which = "the dataset" if len(splits) == 1 else f"split(s) {', '.join(empty)}"
        raise DataError(
            f"{which} to push has 0 rows; nothing to publish",
            hint="an earlier step removed every row: check its summary (e.g. `curate "
            "correct-only` after a `verify` without gold answers)",
        )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_parquet(dataset: datasets.Dataset, path: Path) -> str:
    """Write one deterministic Parquet file (features kept in the schema); return its SHA-256."""
    import pyarrow.parquet as pq

    # ``with_format("arrow")[:]`` applies any selection indices without a progress bar; the
    # features travel in the schema metadata, as datasets writes them.
    table = dataset.with_format("arrow")[:].combine_chunks()
    table = table.replace_schema_metadata(dataset.features.arrow_schema.metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table,
        path,
        row_group_size=ROW_GROUP_SIZE,
        compression="zstd",
        write_statistics=True,
        store_schema=True,
    )
    return sha256_file(path)


def stage_dataset(splits: dict[str, datasets.Dataset], folder: Path) -> tuple[str, list[str]]:
    """Write the data files into ``folder``; return the content hash they define and their
    paths. The card comes later, once the version is known."""
    hashes: dict[str, str] = {}
    for split, data in splits.items():
        relative = f"data/{split}-00000-of-00001.parquet"
        hashes[relative] = write_parquet(data, folder / relative)
    joined = "\n".join(f"{path} {digest}" for path, digest in sorted(hashes.items()))
    content_hash = "sha256:" + hashlib.sha256(joined.encode()).hexdigest()
    return content_hash, sorted(hashes)


def folder_content_hash(folder: Path) -> str:
    """SHA-256 over every file's relative path and bytes (for :func:`push_folder`)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative == MANIFEST or relative.startswith(".git/"):
            continue
        digest.update(f"{relative} {sha256_file(path)}\n".encode())
    return "sha256:" + digest.hexdigest()


def folder_files(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not p.relative_to(folder).as_posix().startswith(".git/")
    )


def push_dataset(
    store: Store,
    dataset: Any,
    repo_id: str,
    version: str | None = None,
    *,
    card: bool = True,
    license: str | None = None,
    private: bool = False,
    branch: str | None = None,
    create_pr: bool = False,
    message: str | None = None,
    lineage: Sequence[Any] | None = None,
) -> PushResult:
    """Stage ``dataset`` and hand it to ``store`` (see :func:`toolkit.store.push`)."""
    from toolkit.store.lineage import lineage_entries

    check_repo_id(repo_id)
    version = check_version(version)
    check_pr_branch(create_pr, branch)
    splits = splits_of(dataset)  # type and size checks before any I/O
    check_not_empty(splits)
    entries = lineage_entries(lineage)
    if card:  # a card that cannot be written (e.g. no licence) fails before anything is pushed
        from toolkit.cards.dataset_card import resolve_license

        license = resolve_license(dataset, license)
    with store.temporary_dir() as tmp:
        folder = Path(tmp) / "content"
        content_hash, data_files = stage_dataset(splits, folder)

        def finish(final_version: str) -> None:
            (folder / LINEAGE_FILE).write_text(
                json.dumps(entries, indent=2, ensure_ascii=False, sort_keys=True) + "\n",
                encoding="utf-8",
            )
            if card:
                from toolkit.cards.dataset_card import write_dataset_card

                write_dataset_card(
                    dataset,
                    folder,
                    repo_id=repo_id,
                    version=final_version,
                    lineage=entries,
                    content_hash=content_hash,
                    license=license,
                )

        return store.commit(
            folder,
            repo_id,
            "dataset",
            version,
            content_hash,
            data_files,
            finish,
            private=private,
            branch=branch,
            create_pr=create_pr,
            message=message,
        )


def stage_and_push_folder(
    store: Store,
    folder: str | os.PathLike[str],
    repo_id: str,
    *,
    repo_type: str = "model",
    version: str | None = None,
    create_pr: bool = False,
    private: bool = False,
    message: str | None = None,
    branch: str | None = None,
) -> PushResult:
    """Hand a folder to ``store`` as a new version (see :func:`toolkit.store.push_folder`)."""
    check_repo_id(repo_id)
    version = check_version(version)
    check_pr_branch(create_pr, branch)
    check_repo_type(repo_type)
    source = Path(folder)
    if not source.is_dir():
        raise MissingError(f"push_folder: {source} is not a directory")
    content_hash = folder_content_hash(source)
    options = {"private": private, "branch": branch, "create_pr": create_pr, "message": message}
    if not store.copies_folders:
        files = folder_files(source)
        return store.commit(
            source, repo_id, repo_type, version, content_hash, files, _no_finish, **options
        )
    with store.temporary_dir() as tmp:
        staged = Path(tmp) / "content"
        shutil.copytree(source, staged, ignore=shutil.ignore_patterns(".git"))
        files = folder_files(staged)
        return store.commit(
            staged, repo_id, repo_type, version, content_hash, files, _no_finish, **options
        )


def _no_finish(version: str) -> None:
    """Folders are published as they are: nothing to add once the version is known."""


__all__ = [
    "check_not_empty",
    "folder_content_hash",
    "push_dataset",
    "sha256_file",
    "stage_and_push_folder",
    "stage_dataset",
    "write_parquet",
]
