"""The local store: one bare git repository per dataset or model, written with the real ``git``.

``<store>/datasets/org/name.git`` (``models/``, ``spaces/`` likewise); each version is a commit
on ``main`` plus a tag ``v<version>``. Git gives content addressing, history and atomic ref
updates for free, and any git tool can inspect the store.

Guarantees:

* **Atomic.** Files are written to a temporary folder, committed into the object database with a
  private index, and only then do the branch and the tag move, in one ``git update-ref``
  transaction. A push killed at any point leaves the previous version intact and loadable.
  Concurrent pushes to one repository are serialised by a lock file.
* **Idempotent.** Identical content (same content hash as the branch head) makes no new version.
* **Immutable versions.** Pushing different content under an existing version is an error.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import subprocess
import tarfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.errors import MissingError, StoreError, UsageError
from toolkit.store.base import (
    DEFAULT_BRANCH,
    MANIFEST,
    Finish,
    PushResult,
    next_version,
    sorted_versions,
)
from toolkit.store.protocol import Store

if TYPE_CHECKING:
    import datasets

log = logging.getLogger("toolkit.store")

_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "toolkit",
    "GIT_AUTHOR_EMAIL": "toolkit@localhost",
    "GIT_COMMITTER_NAME": "toolkit",
    "GIT_COMMITTER_EMAIL": "toolkit@localhost",
}
STORE_HINT = "point --store (or $TOOLKIT_STORE) at a directory"


def local_repo_path(root: Path, repo_id: str, repo_type: str = "dataset") -> Path:
    return Path(root) / f"{repo_type}s" / f"{repo_id}.git"


def check_store_root(root: Path) -> Path:
    """Refuse a store path that is (or lies under) a file, in one line, before any ``mkdir``."""
    for path in (root, *root.parents):
        if path.exists():
            if not path.is_dir():
                where = "is a file" if path == root else f"lies under the file {path}"
                raise StoreError(f"store path {root} {where}, not a directory", hint=STORE_HINT)
            break
    return root


def _git(
    repo: Path,
    *args: str,
    env: dict[str, str] | None = None,
    input: bytes | None = None,
    check: bool = True,
    binary: bool = False,
) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **_GIT_IDENTITY, "GIT_TERMINAL_PROMPT": "0", **(env or {})}
    result = subprocess.run(
        ["git", "--git-dir", str(repo), *args],
        env=full_env,
        input=input,
        capture_output=True,
        text=not binary and input is None,
        check=False,
    )
    if check and result.returncode != 0:
        stderr = result.stderr if isinstance(result.stderr, str) else result.stderr.decode()
        lines = stderr.strip().splitlines() or ["(no message)"]
        raise StoreError(f"git {' '.join(args[:2])} failed in {repo}: {lines[-1]}")
    return result


@contextlib.contextmanager
def _repo_lock(repo: Path) -> Iterator[None]:
    """An exclusive ``flock`` per repository; the kernel drops it if the holder dies."""
    import fcntl

    lock_path = repo.with_name(repo.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _init_repo(repo: Path) -> None:
    if (repo / "HEAD").exists():
        return
    repo.parent.mkdir(parents=True, exist_ok=True)
    tmp = repo.with_name(f".{repo.name}.init-{uuid.uuid4().hex[:8]}")
    subprocess.run(
        ["git", "init", "--bare", "--quiet", "--initial-branch", DEFAULT_BRANCH, str(tmp)],
        check=True,
        capture_output=True,
    )
    tmp.rename(repo)  # appears complete or not at all


def _clear_stale_ref_locks(repo: Path) -> None:
    """A push killed inside ``update-ref`` can leave ``*.lock`` files that block every later
    ref update. We hold the repository lock, so no live toolkit process owns them."""
    for lock in [*list((repo / "refs").rglob("*.lock")), repo / "packed-refs.lock"]:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()


def _rev(repo: Path, ref: str) -> str | None:
    result = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    return result.stdout.strip() or None if result.returncode == 0 else None


def _manifest_at(repo: Path, commit: str) -> dict[str, Any]:
    result = _git(repo, "show", f"{commit}:{MANIFEST}", check=False)
    if result.returncode != 0:
        return {}
    try:
        return json.loads(result.stdout)
    except ValueError:
        return {}


class LocalStore(Store):
    """Versions as commits and tags of bare git repositories under :attr:`root`."""

    target = "local"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = check_store_root(Path(root))

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def repo_path(self, repo_id: str, repo_type: str = "dataset") -> Path:
        assert self.root is not None
        return local_repo_path(self.root, repo_id, repo_type)

    def staging_parent(self) -> Path:
        """``<store>/.tmp``, cleared of staging folders left by pushes that died (their pid is
        in the name), so that a killed push costs disk space only until the next one."""
        assert self.root is not None
        staging = self.root / ".tmp"
        staging.mkdir(parents=True, exist_ok=True)
        for leftover in staging.glob("push-*-*"):
            try:
                pid = int(leftover.name.split("-")[1])
            except (IndexError, ValueError):
                continue
            if pid == os.getpid():
                continue
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                shutil.rmtree(leftover, ignore_errors=True)
            except PermissionError:  # alive, owned by someone else
                continue
        return staging

    # -- reading ------------------------------------------------------------------------------
    def version_tags(self, repo_id: str, *, repo_type: str = "dataset") -> list[str]:
        repo = self.repo_path(repo_id, repo_type)
        if not repo.exists():
            return []
        return _git(repo, "tag", "--list", "v*").stdout.split()

    def _existing_repo(self, repo_id: str, repo_type: str) -> Path:
        repo = self.repo_path(repo_id, repo_type)
        if not (repo / "HEAD").exists():
            raise MissingError(
                f"{repo_id}: no {repo_type} of that name in the local store {self.root}",
                hint="check the name, or --store / $TOOLKIT_STORE (TOOLKIT_TARGET=hub for the Hub)",
            )
        return repo

    def checkout(self, repo_id: str, ref: str = DEFAULT_BRANCH, *, repo_type: str = "dataset"):
        """A read-only folder with the files of ``ref`` (materialised once per commit)."""
        assert self.root is not None
        repo = self._existing_repo(repo_id, repo_type)
        commit = _rev(repo, ref) or _rev(repo, f"refs/tags/{ref}")
        if commit is None:
            versions = ", ".join(self.list_versions(repo_id, repo_type=repo_type)) or "none"
            raise UsageError(
                f"{repo_id}: no version or revision {ref!r} (versions: {versions})",
                hint="`toolkit load REPO_ID` without --version loads the latest",
            )
        target = self.root / ".checkouts" / f"{repo_type}s" / repo_id / commit
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        archive = _git(repo, "archive", "--format=tar", commit, binary=True).stdout
        tmp = target.with_name(f".{commit}.{uuid.uuid4().hex[:8]}")
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        try:
            tmp.rename(target)
        except OSError:  # another process materialised it first
            shutil.rmtree(tmp, ignore_errors=True)
        return target

    def read_file(self, repo_id: str, ref: str, path: str, *, repo_type: str = "dataset") -> str:
        file = self.checkout(repo_id, ref, repo_type=repo_type) / path
        return file.read_text(encoding="utf-8") if file.exists() else ""

    def load(
        self, repo_id: str, ref: str, *, split: str = "train", repo_type: str = "dataset"
    ) -> datasets.Dataset:
        folder = self.checkout(repo_id, ref, repo_type=repo_type)
        files = sorted((folder / "data").glob(f"{split}-*.parquet"))
        if not files:
            available = sorted(
                {p.name.split("-", 1)[0] for p in (folder / "data").glob("*.parquet")}
            )
            raise UsageError(
                f"{repo_id}@{ref}: no split {split!r} (available: {', '.join(available) or 'none'})"
            )
        import datasets
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.concat_tables([pq.read_table(f) for f in files])
        return datasets.Dataset(table)

    # -- writing ------------------------------------------------------------------------------
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
        del files, private  # every staged file is committed; local repositories are private
        repo = self.repo_path(repo_id, repo_type)
        branch = branch or DEFAULT_BRANCH
        with _repo_lock(repo):
            _init_repo(repo)
            _clear_stale_ref_locks(repo)
            head = _rev(repo, f"refs/heads/{branch}")
            if head is not None:
                manifest = _manifest_at(repo, head)
                if manifest.get("content_hash") == content_hash:
                    existing = manifest.get("version")
                    log.info(
                        "%s: content identical to version %s (%s); nothing pushed",
                        repo_id,
                        existing,
                        head[:12],
                    )
                    return PushResult(
                        repo_id, existing, head, str(repo), False, content_hash, "local",
                        repo_type, branch,
                    )  # fmt: skip
            existing_versions = sorted_versions(self.version_tags(repo_id, repo_type=repo_type))
            if version is None:
                version = next_version(existing_versions)
            elif version in existing_versions:
                raise UsageError(
                    f"{repo_id}: version {version} already exists with different content; "
                    "versions are immutable, push a new version",
                    hint="omit --version to use the next patch version",
                )
            finish(version)
            manifest = {
                "content_hash": content_hash,
                "version": version,
                "repo_id": repo_id,
                "repo_type": repo_type,
            }
            (folder / MANIFEST).write_text(
                json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
            )
            commit = self._write_commit(repo, folder, head, message, repo_id, version, content_hash)
            zero = "0" * 40
            if create_pr:
                number = 1 + len(_git(repo, "for-each-ref", "refs/heads/pr/").stdout.splitlines())
                transaction = f"start\ncreate refs/heads/pr/{number} {commit}\nprepare\ncommit\n"
                _git(repo, "update-ref", "--stdin", input=transaction.encode(), binary=True)
                log.info("%s: version %s staged on branch pr/%d", repo_id, version, number)
                return PushResult(
                    repo_id, version, commit, str(repo), True, content_hash, "local", repo_type,
                    f"pr/{number}", f"{repo}#pr/{number}",
                )  # fmt: skip
            transaction = (
                "start\n"
                f"update refs/heads/{branch} {commit} {head or zero}\n"
                f"create refs/tags/v{version} {commit}\n"
                "prepare\ncommit\n"
            )
            _git(repo, "update-ref", "--stdin", input=transaction.encode(), binary=True)
        log.info("%s: pushed version %s (%s) to %s", repo_id, version, commit[:12], repo)
        return PushResult(
            repo_id, version, commit, str(repo), True, content_hash, "local", repo_type, branch
        )

    @staticmethod
    def _write_commit(
        repo: Path,
        folder: Path,
        head: str | None,
        message: str | None,
        repo_id: str,
        version: str,
        content_hash: str,
    ) -> str:
        """Objects and a commit for ``folder`` (no ref moves yet), with a private index."""
        index = folder.parent / "index"
        env = {"GIT_INDEX_FILE": str(index), "GIT_WORK_TREE": str(folder)}
        # Stored uncompressed: weights and Parquet do not compress, and zlib on a 540 MB
        # safetensors file took 34 s of a 2-core CPU (5 s without): the quickstart's slowest
        # non-training step.
        _git(repo, "-c", "core.compression=0", "add", "--all", "--force", ".", env=env)
        tree = _git(repo, "write-tree", env=env).stdout.strip()
        parents = ["-p", head] if head else []
        return _git(
            repo,
            "commit-tree",
            tree,
            *parents,
            "-m",
            message or f"{repo_id} version {version}",
            "-m",
            f"Toolkit-Version: {version}\nContent-Hash: {content_hash}",
        ).stdout.strip()


__all__ = ["LocalStore", "check_store_root", "local_repo_path"]
