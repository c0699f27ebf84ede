"""The store protocol: what the Hub store and the local git store both implement.

Pushing is written once here (:meth:`Store.push`, :meth:`Store.push_folder` stage the files and
hash them, in :mod:`toolkit.store.staging`); a store implements :meth:`Store.commit` (publish a
staged folder as a version unless the content is identical) and the readers. There is no
``if target == "hub"`` anywhere: the store object *is* the target.
"""

from __future__ import annotations

import abc
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.store.base import (
    DEFAULT_BRANCH,
    Finish,
    PushResult,
    sorted_versions,
    version_tag,
)
from toolkit.store.staging import push_dataset, stage_and_push_folder

if TYPE_CHECKING:
    import datasets


class Store(abc.ABC):
    """Where versions of datasets and models live: the Hub or a local git store.

    Pushing is written once (:meth:`push`, :meth:`push_folder` stage the files and hash them);
    a store implements :meth:`commit` (publish a staged folder as a version) and the readers.
    """

    #: ``"hub"`` or ``"local"`` (recorded in :class:`PushResult`).
    target: str = ""
    #: The local store's directory (``None`` for the Hub).
    root: Path | None = None
    #: Whether :meth:`commit` writes into the folder it is given (then folders are copied to a
    #: staging folder first, never modified in place).
    copies_folders: bool = True

    def staging_parent(self) -> Path | None:
        """Where temporary staging folders go (``None``: the system temporary directory)."""
        return None

    @abc.abstractmethod
    def commit(
        self,
        folder: Path,
        repo_id: str,
        repo_type: str,
        version: str | None,
        content_hash: str,
        files: Sequence[str],
        finish: Finish,
        *,
        private: bool,
        branch: str | None,
        create_pr: bool,
        message: str | None,
    ) -> PushResult:
        """Publish the staged ``folder`` (``files``: its content files, relative) as a new
        version, unless the latest content is identical; call ``finish(version)`` before the
        files are committed."""

    @abc.abstractmethod
    def load(
        self, repo_id: str, ref: str, *, split: str = "train", repo_type: str = "dataset"
    ) -> datasets.Dataset:
        """One split of a pushed dataset at ``ref`` (a version tag, branch or commit)."""

    @abc.abstractmethod
    def read_file(self, repo_id: str, ref: str, path: str, *, repo_type: str = "dataset") -> str:
        """The text of one file at ``ref`` (``""`` when the file does not exist)."""

    @abc.abstractmethod
    def version_tags(self, repo_id: str, *, repo_type: str = "dataset") -> list[str]:
        """Every tag of the repository (empty when the repository does not exist)."""

    @abc.abstractmethod
    def checkout(self, repo_id: str, ref: str, *, repo_type: str = "dataset") -> Path:
        """A read-only local folder with the files of ``ref``."""

    # -- shared -------------------------------------------------------------------------------
    def list_versions(self, repo_id: str, *, repo_type: str = "dataset") -> list[str]:
        """Versions in ascending order."""
        return sorted_versions(self.version_tags(repo_id, repo_type=repo_type))

    def resolve_ref(
        self,
        repo_id: str,
        version: str | None,
        revision: str | None = None,
        *,
        repo_type: str = "dataset",
    ) -> str:
        """The git ref for ``version`` (its tag), else ``revision``, else the main branch."""
        if version is None:
            return revision or DEFAULT_BRANCH
        tags = self.version_tags(repo_id, repo_type=repo_type)
        return version_tag(tags, version) or f"v{version}"

    def push(
        self, dataset: Any, repo_id: str, version: str | None = None, **options: Any
    ) -> PushResult:
        """Stage ``dataset`` and publish it (see :func:`toolkit.store.push`)."""
        return push_dataset(self, dataset, repo_id, version, **options)

    def push_folder(
        self, folder: str | os.PathLike[str], repo_id: str, **options: Any
    ) -> PushResult:
        """Publish a folder (see :func:`toolkit.store.push_folder`)."""
        return stage_and_push_folder(self, folder, repo_id, **options)

    def temporary_dir(self) -> tempfile.TemporaryDirectory[str]:
        """A staging folder named after this process, so a later push can clear it if we die."""
        return tempfile.TemporaryDirectory(prefix=f"push-{os.getpid()}-", dir=self.staging_parent())


__all__ = ["Store"]
