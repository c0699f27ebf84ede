"""Versioned push and load of datasets (and folders such as models), on the Hub or a local store.

``toolkit.push(dataset, "org/name", version="1.2.0")`` publishes Parquet shards under ``data/``,
a dataset card (``README.md``) with its histogram under ``plots/`` and the curation lineage
(``lineage.json``), and tags the commit ``v1.2.0``. ``toolkit.load("org/name", version="1.2.0")``
reads it back from the same place.

Where to (:func:`resolve_target` returns the :class:`Store`):

* the **Hub** (:class:`HubStore`) when ``store="hub"`` or, with ``store=None``, when
  ``TOOLKIT_TARGET=hub``; the endpoint is ``$HF_ENDPOINT`` and the token comes from ``HF_TOKEN``
  or the saved login (it is never logged or returned);
* otherwise a **local store** (:class:`LocalStore`): ``store`` (a path) or ``$TOOLKIT_STORE``,
  default ``<toolkit cache>/store``; one bare git repository per dataset or model, each version
  a commit plus a tag ``v<version>``.

Both guarantee the same: pushes are atomic (a push killed mid-way leaves the previous version
intact), identical content (the SHA-256 of deterministic Parquet) makes no new version
(``created=False``), and versions are immutable; with ``version=None`` the next patch version is
used (``1.0.0`` first). Versions are semantic: ``1``, ``1.0`` and ``1.0.0`` are one version.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.store.base import (
    DEFAULT_BRANCH,
    LINEAGE_FILE,
    MANIFEST,
    PushResult,
    check_repo_id,
    check_version,
    next_version,
)
from toolkit.store.hub import HubStore
from toolkit.store.local import LocalStore, local_repo_path
from toolkit.store.protocol import Store
from toolkit.store.staging import folder_content_hash, write_parquet

if TYPE_CHECKING:
    import datasets

StoreSpec = Store | str | os.PathLike[str] | None


def resolve_target(store: StoreSpec = None) -> Store:
    """The store to use: a :class:`Store` as given; ``"hub"`` → the Hub; a path → a local store
    there; ``None`` → the Hub when ``TOOLKIT_TARGET=hub``, else ``$TOOLKIT_STORE``, else
    ``<toolkit cache>/store``."""
    if isinstance(store, Store):
        return store
    if store is not None and str(store) == "hub":
        return HubStore()
    if store is None and os.environ.get("TOOLKIT_TARGET", "").strip().lower() == "hub":
        return HubStore()
    if store is not None:
        return LocalStore(store)
    return local_store()


def local_store() -> LocalStore:
    """The local store, whatever ``TOOLKIT_TARGET`` says: ``$TOOLKIT_STORE``, else
    ``<toolkit cache>/store`` (where models published without the Hub live)."""
    env_store = os.environ.get("TOOLKIT_STORE")
    if env_store:
        return LocalStore(env_store)
    from toolkit.models import cache_dir

    return LocalStore(cache_dir() / "store")


def push(
    dataset: Any,
    repo_id: str,
    version: str | None = None,
    *,
    card: bool = True,
    license: str | None = None,
    private: bool = False,
    branch: str | None = None,
    create_pr: bool = False,
    store: StoreSpec = None,
    message: str | None = None,
    lineage: Sequence[Any] | None = None,
) -> PushResult:
    """Publish a new version of a dataset (see the module docstring for targets and guarantees).

    Args:
        dataset: a ``Dataset`` (the ``train`` split) or a ``DatasetDict``; 0 rows is refused.
        version: ``"1.2.0"``; ``None`` picks the next patch version.
        card: render ``README.md`` (+ histogram) from the data and ``lineage``.
        license: the card's licence (a Hub identifier); required when it cannot be inferred
            from the source datasets.
        lineage: curation reports (:class:`toolkit.curate.CurationReport` or their dicts).
        branch: commit to this branch instead of ``main`` (created if missing).
        create_pr: open a pull request (Hub) / a ``pr/<n>`` branch (local) instead of committing
            to the branch; no version tag is created until it is merged.
    """
    check_repo_id(repo_id)  # before resolving the store: a bad id fails the same everywhere
    return resolve_target(store).push(
        dataset,
        repo_id,
        version,
        card=card,
        license=license,
        private=private,
        branch=branch,
        create_pr=create_pr,
        message=message,
        lineage=lineage,
    )


def push_folder(
    folder: str | os.PathLike[str],
    repo_id: str,
    *,
    repo_type: str = "model",
    version: str | None = None,
    create_pr: bool = False,
    private: bool = False,
    store: StoreSpec = None,
    message: str | None = None,
    branch: str | None = None,
) -> PushResult:
    """Publish a folder as a new version (model weights + card + plots, or any repository).

    The content hash covers every file, so re-pushing an unchanged folder creates nothing.
    """
    check_repo_id(repo_id)
    return resolve_target(store).push_folder(
        folder,
        repo_id,
        repo_type=repo_type,
        version=version,
        create_pr=create_pr,
        private=private,
        message=message,
        branch=branch,
    )


def load(
    repo_id: str,
    version: str | None = None,
    *,
    split: str = "train",
    store: StoreSpec = None,
    revision: str | None = None,
) -> datasets.Dataset:
    """Load one split of a pushed dataset: ``version`` (tag ``v<version>``), else ``revision``
    (branch, tag or commit), else the latest version on ``main``."""
    check_repo_id(repo_id)
    version = check_version(version)
    target = resolve_target(store)
    ref = target.resolve_ref(repo_id, version, revision)
    return target.load(repo_id, ref, split=split)


def load_lineage(
    repo_id: str, version: str | None = None, *, store: StoreSpec = None
) -> list[dict[str, Any]]:
    """The curation lineage recorded with a version (``[]`` when none was recorded)."""
    from toolkit.store.lineage import parse_lineage

    check_repo_id(repo_id)
    target = resolve_target(store)
    ref = target.resolve_ref(repo_id, check_version(version))
    text = target.read_file(repo_id, ref, LINEAGE_FILE)
    return parse_lineage(text, f"{repo_id}@{ref}/{LINEAGE_FILE}") if text.strip() else []


def list_versions(
    repo_id: str, *, repo_type: str = "dataset", store: StoreSpec = None
) -> list[str]:
    """Versions in ascending order (canonical form, e.g. ``1.0.0``)."""
    check_repo_id(repo_id)
    return resolve_target(store).list_versions(repo_id, repo_type=repo_type)


def checkout(
    repo_id: str,
    ref: str = DEFAULT_BRANCH,
    *,
    store: StoreSpec = None,
    repo_type: str = "dataset",
) -> Path:
    """A read-only folder with the files of ``ref`` (a version tag, branch or commit)."""
    check_repo_id(repo_id)
    return resolve_target(store).checkout(repo_id, ref, repo_type=repo_type)


__all__ = [
    "DEFAULT_BRANCH",
    "LINEAGE_FILE",
    "MANIFEST",
    "HubStore",
    "LocalStore",
    "PushResult",
    "Store",
    "check_repo_id",
    "check_version",
    "checkout",
    "folder_content_hash",
    "list_versions",
    "load",
    "load_lineage",
    "local_repo_path",
    "local_store",
    "next_version",
    "push",
    "push_folder",
    "resolve_target",
    "write_parquet",
]
