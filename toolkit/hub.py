"""Versioned push and load of datasets (and folders such as models), on the Hub or a local store.

``toolkit.push(dataset, "org/name", version="1.2.0")`` publishes Parquet shards under ``data/``,
a dataset card (``README.md``) with its histogram under ``plots/`` and the curation lineage
(``lineage.json``), and tags the commit ``v1.2.0``. ``toolkit.load("org/name", version="1.2.0")``
reads it back from the same place.

Where to:

* the **Hub** when ``store="hub"`` or, with ``store=None``, when ``TOOLKIT_TARGET=hub``:
  :class:`huggingface_hub.HfApi` (``create_repo(exist_ok=True)``, ``create_branch``,
  ``upload_folder`` with ``create_pr``, ``create_tag``); the endpoint is ``$HF_ENDPOINT`` and the
  token comes from ``HF_TOKEN`` or the saved login (it is never logged or returned).
* otherwise a **local store**: ``store`` (a path) or ``$TOOLKIT_STORE``, default
  ``<toolkit cache>/store``. One bare git repository per dataset or model
  (``<store>/datasets/org/name.git``), each version a commit on ``main`` plus a tag ``v<version>``,
  written with the real ``git`` CLI.

Guarantees:

* **Atomic.** Files are written to a temporary folder, committed into the object database with a
  private index, and only then do the branch and the tag move, in one ``git update-ref``
  transaction. A push killed at any point leaves the previous version intact and loadable.
  Concurrent pushes to one repository are serialised by a lock file.
* **Idempotent.** The content hash is the SHA-256 of the Parquet bytes (written deterministically:
  one chunk, fixed row groups, no timestamps), so re-pushing identical data returns the existing
  version with ``created=False`` instead of making a new one.
* **Immutable versions.** Pushing different content under an existing version is an error; with
  ``version=None`` the next patch version is used (``1.0.0`` first).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datasets

log = logging.getLogger(__name__)

MANIFEST = ".toolkit.json"
LINEAGE_FILE = "lineage.json"
DEFAULT_BRANCH = "main"
ROW_GROUP_SIZE = 10_000
_VERSION = re.compile(r"^\d+(?:\.\d+){0,2}(?:[-+][0-9A-Za-z.-]+)?$")
_REPO_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*$")
_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "toolkit",
    "GIT_AUTHOR_EMAIL": "toolkit@localhost",
    "GIT_COMMITTER_NAME": "toolkit",
    "GIT_COMMITTER_EMAIL": "toolkit@localhost",
}


@dataclass(frozen=True)
class PushResult:
    """The outcome of a push.

    ``created`` is ``False`` when the content was identical to the latest version (nothing was
    written; ``version`` and ``revision`` are those of the existing version). ``revision`` is the
    commit id; ``url_or_path`` the Hub URL or the local repository path.
    """

    repo_id: str
    version: str | None
    revision: str
    url_or_path: str
    created: bool
    content_hash: str
    target: str  # "hub" or "local"
    repo_type: str = "dataset"
    branch: str | None = None
    pr_url: str | None = None

    @property
    def commit(self) -> str:
        return self.revision


# ---------------------------------------------------------------------------------------------
# target resolution and validation


def resolve_target(store: str | os.PathLike[str] | None) -> tuple[str, Path | None]:
    """``("hub", None)`` or ``("local", store_root)`` (see the module docstring)."""
    if store is not None and str(store) == "hub":
        return "hub", None
    if store is None and os.environ.get("TOOLKIT_TARGET", "").strip().lower() == "hub":
        return "hub", None
    if store is not None:
        return "local", Path(store)
    env_store = os.environ.get("TOOLKIT_STORE")
    if env_store:
        return "local", Path(env_store)
    from toolkit.models import cache_dir

    return "local", cache_dir() / "store"


def check_repo_id(repo_id: str) -> str:
    if not isinstance(repo_id, str) or not _REPO_ID.match(repo_id) or ".." in repo_id:
        raise ValueError(f"invalid repo id {repo_id!r}: expected 'org/name' (letters, digits, -_.)")
    return repo_id


def check_version(version: str | None) -> str | None:
    if version is None:
        return None
    version = str(version).removeprefix("v")
    if not _VERSION.match(version):
        raise ValueError(f"invalid version {version!r}: expected e.g. '1', '1.2' or '1.2.0'")
    return version


def _version_key(version: str) -> tuple[int, ...]:
    core = re.split(r"[-+]", version, maxsplit=1)[0]
    return tuple(int(part) for part in core.split("."))


def _check_pr_branch(create_pr: bool, branch: str | None) -> None:
    # The Hub opens pull requests against the default branch only (huggingface_hub refuses
    # create_pr together with a revision); the local store follows the same rule.
    if create_pr and branch:
        raise ValueError("create_pr opens a pull request against main; do not also pass branch")


def next_version(existing: Sequence[str]) -> str:
    """The next patch version after the highest existing one (``1.0.0`` for the first)."""
    versions = [v for v in existing if _VERSION.match(v)]
    if not versions:
        return "1.0.0"
    major, minor, patch = ([*list(_version_key(max(versions, key=_version_key))), 0, 0])[:3]
    return f"{major}.{minor}.{patch + 1}"


# ---------------------------------------------------------------------------------------------
# staging: deterministic Parquet, card, lineage


def _as_splits(dataset: Any) -> dict[str, datasets.Dataset]:
    import datasets

    if isinstance(dataset, datasets.DatasetDict):
        return dict(dataset)
    if isinstance(dataset, datasets.Dataset):
        return {"train": dataset}
    raise TypeError(f"push expects a datasets.Dataset or DatasetDict, got {type(dataset).__name__}")


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
    return _sha256_file(path)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _stage_dataset(dataset: Any, folder: Path) -> tuple[str, list[str]]:
    """Write the data files into ``folder``; return the content hash they define and their
    paths. The card comes later, once the version is known."""
    hashes: dict[str, str] = {}
    for split, data in _as_splits(dataset).items():
        relative = f"data/{split}-00000-of-00001.parquet"
        hashes[relative] = write_parquet(data, folder / relative)
    joined = "\n".join(f"{path} {digest}" for path, digest in sorted(hashes.items()))
    content_hash = "sha256:" + hashlib.sha256(joined.encode()).hexdigest()
    return content_hash, sorted(hashes)


def _staging_dir(root: Path) -> Path:
    """``<store>/.tmp``, cleared of staging folders left by pushes that died (their pid is in
    the name), so that a killed push costs disk space only until the next one."""
    staging = root / ".tmp"
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


def _finish_dataset_stage(
    dataset: Any,
    folder: Path,
    *,
    repo_id: str,
    version: str,
    content_hash: str,
    card: bool,
    lineage: Sequence[Any] | None,
) -> None:
    entries = _lineage_entries(lineage)
    (folder / LINEAGE_FILE).write_text(
        json.dumps(entries, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
    )
    if card:
        from toolkit.cards.dataset_card import write_dataset_card

        write_dataset_card(
            dataset,
            folder,
            repo_id=repo_id,
            version=version,
            lineage=entries,
            content_hash=content_hash,
        )


def _lineage_entries(lineage: Sequence[Any] | None) -> list[dict[str, Any]]:
    from toolkit.curate import CurationReport

    entries = []
    for entry in lineage or []:
        entries.append(entry.to_dict() if isinstance(entry, CurationReport) else dict(entry))
    return entries


def folder_content_hash(folder: Path) -> str:
    """SHA-256 over every file's relative path and bytes (for :func:`push_folder`)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative == MANIFEST or relative.startswith(".git/"):
            continue
        digest.update(f"{relative} {_sha256_file(path)}\n".encode())
    return "sha256:" + digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# public API


def push(
    dataset: Any,
    repo_id: str,
    version: str | None = None,
    *,
    card: bool = True,
    private: bool = False,
    branch: str | None = None,
    create_pr: bool = False,
    store: str | os.PathLike[str] | None = None,
    message: str | None = None,
    lineage: Sequence[Any] | None = None,
) -> PushResult:
    """Publish a new version of a dataset (see the module docstring for targets and guarantees).

    Args:
        dataset: a ``Dataset`` (the ``train`` split) or a ``DatasetDict``.
        version: ``"1.2.0"``; ``None`` picks the next patch version.
        card: render ``README.md`` (+ histogram) from the data and ``lineage``.
        lineage: curation reports (:class:`toolkit.curate.CurationReport` or their dicts).
        branch: commit to this branch instead of ``main`` (created if missing).
        create_pr: open a pull request (Hub) / a ``pr/<n>`` branch (local) instead of committing
            to the branch; no version tag is created until it is merged.
    """
    check_repo_id(repo_id)
    version = check_version(version)
    _check_pr_branch(create_pr, branch)
    _as_splits(dataset)  # type check before any I/O
    target, root = resolve_target(store)
    staging_root = _staging_dir(root) if root is not None else None
    with tempfile.TemporaryDirectory(prefix=f"push-{os.getpid()}-", dir=staging_root) as tmp:
        folder = Path(tmp) / "content"
        content_hash, data_files = _stage_dataset(dataset, folder)

        def finish(final_version: str) -> None:
            _finish_dataset_stage(
                dataset,
                folder,
                repo_id=repo_id,
                version=final_version,
                content_hash=content_hash,
                card=card,
                lineage=lineage,
            )

        if target == "hub":
            return _hub_push(
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
        assert root is not None
        return _local_push(
            root,
            folder,
            repo_id,
            "dataset",
            version,
            content_hash,
            finish,
            branch=branch,
            create_pr=create_pr,
            message=message,
        )


def push_folder(
    folder: str | os.PathLike[str],
    repo_id: str,
    *,
    repo_type: str = "model",
    version: str | None = None,
    create_pr: bool = False,
    private: bool = False,
    store: str | os.PathLike[str] | None = None,
    message: str | None = None,
    branch: str | None = None,
) -> PushResult:
    """Publish a folder as a new version (model weights + card + plots, or any repository).

    The content hash covers every file, so re-pushing an unchanged folder creates nothing.
    """
    check_repo_id(repo_id)
    version = check_version(version)
    _check_pr_branch(create_pr, branch)
    if repo_type not in ("model", "dataset", "space"):
        raise ValueError(f"repo_type must be 'model', 'dataset' or 'space', not {repo_type!r}")
    source = Path(folder)
    if not source.is_dir():
        raise FileNotFoundError(f"push_folder: {source} is not a directory")
    content_hash = folder_content_hash(source)
    target, root = resolve_target(store)
    if target == "hub":
        files = sorted(
            p.relative_to(source).as_posix()
            for p in source.rglob("*")
            if p.is_file() and not p.relative_to(source).as_posix().startswith(".git/")
        )
        return _hub_push(
            source,
            repo_id,
            repo_type,
            version,
            content_hash,
            files,
            lambda _v: None,
            private=private,
            branch=branch,
            create_pr=create_pr,
            message=message,
        )
    assert root is not None
    staging_root = _staging_dir(root)
    with tempfile.TemporaryDirectory(prefix=f"push-{os.getpid()}-", dir=staging_root) as tmp:
        staged = Path(tmp) / "content"
        shutil.copytree(source, staged, ignore=shutil.ignore_patterns(".git"))
        return _local_push(
            root,
            staged,
            repo_id,
            repo_type,
            version,
            content_hash,
            lambda _v: None,
            branch=branch,
            create_pr=create_pr,
            message=message,
        )


def load(
    repo_id: str,
    version: str | None = None,
    *,
    split: str = "train",
    store: str | os.PathLike[str] | None = None,
    revision: str | None = None,
) -> datasets.Dataset:
    """Load one split of a pushed dataset: ``version`` (tag ``v<version>``), else ``revision``
    (branch, tag or commit), else the latest version on ``main``."""
    check_repo_id(repo_id)
    version = check_version(version)
    target, root = resolve_target(store)
    ref = f"v{version}" if version else (revision or DEFAULT_BRANCH)
    if target == "hub":
        from toolkit.io import load_table

        return load_table(repo_id, split=split, revision=ref)
    assert root is not None
    folder = checkout(repo_id, ref, store=root, repo_type="dataset")
    files = sorted((folder / "data").glob(f"{split}-*.parquet"))
    if not files:
        available = sorted({p.name.split("-", 1)[0] for p in (folder / "data").glob("*.parquet")})
        raise ValueError(
            f"{repo_id}@{ref}: no split {split!r} (available: {', '.join(available) or 'none'})"
        )
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables([pq.read_table(f) for f in files])
    return datasets.Dataset(table)


def load_lineage(
    repo_id: str, version: str | None = None, *, store: str | os.PathLike[str] | None = None
) -> list[dict[str, Any]]:
    """The curation lineage recorded with a version in the local store."""
    target, root = resolve_target(store)
    if target == "hub":
        from huggingface_hub import hf_hub_download

        path = hf_hub_download(
            repo_id, LINEAGE_FILE, repo_type="dataset", revision=f"v{version}" if version else None
        )
        return json.loads(Path(path).read_text(encoding="utf-8"))
    assert root is not None
    folder = checkout(
        repo_id, f"v{check_version(version)}" if version else DEFAULT_BRANCH, store=root
    )
    path = folder / LINEAGE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def list_versions(
    repo_id: str, *, repo_type: str = "dataset", store: str | os.PathLike[str] | None = None
) -> list[str]:
    """Versions in ascending order."""
    target, root = resolve_target(store)
    if target == "hub":
        api = _hub_api()
        refs = api.list_repo_refs(repo_id, repo_type=repo_type)
        tags = [t.name[1:] for t in refs.tags if t.name.startswith("v")]
    else:
        assert root is not None
        repo = local_repo_path(root, repo_id, repo_type)
        if not repo.exists():
            return []
        out = _git(repo, "tag", "--list", "v*").stdout.split()
        tags = [t[1:] for t in out]
    return sorted((t for t in tags if _VERSION.match(t)), key=_version_key)


# ---------------------------------------------------------------------------------------------
# local store (bare git repositories)


def local_repo_path(root: Path, repo_id: str, repo_type: str = "dataset") -> Path:
    return Path(root) / f"{repo_type}s" / f"{repo_id}.git"


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
        raise RuntimeError(f"git {' '.join(args[:2])} failed in {repo}: {stderr.strip()}")
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


def _local_push(
    root: Path,
    folder: Path,
    repo_id: str,
    repo_type: str,
    version: str | None,
    content_hash: str,
    finish: Any,
    *,
    branch: str | None,
    create_pr: bool,
    message: str | None,
) -> PushResult:
    repo = local_repo_path(root, repo_id, repo_type)
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
                    repo_id,
                    existing,
                    head,
                    str(repo),
                    False,
                    content_hash,
                    "local",
                    repo_type,
                    branch,
                )
        existing_versions = list_versions(repo_id, repo_type=repo_type, store=root)
        if version is None:
            version = next_version(existing_versions)
        elif version in existing_versions:
            raise ValueError(
                f"{repo_id}: version {version} already exists with different content; "
                "versions are immutable, push a new version"
            )
        finish(version)
        (folder / MANIFEST).write_text(
            json.dumps(
                {
                    "content_hash": content_hash,
                    "version": version,
                    "repo_id": repo_id,
                    "repo_type": repo_type,
                },
                indent=2,
                sort_keys=True,
            )
            + "\n",
            encoding="utf-8",
        )
        index = folder.parent / "index"
        env = {"GIT_INDEX_FILE": str(index), "GIT_WORK_TREE": str(folder)}
        _git(repo, "add", "--all", "--force", ".", env={**env})
        tree = _git(repo, "write-tree", env=env).stdout.strip()
        commit_message = message or f"{repo_id} version {version}"
        parents = ["-p", head] if head else []
        commit = _git(
            repo,
            "commit-tree",
            tree,
            *parents,
            "-m",
            commit_message,
            "-m",
            f"Toolkit-Version: {version}\nContent-Hash: {content_hash}",
        ).stdout.strip()
        zero = "0" * 40
        if create_pr:
            number = 1 + len(_git(repo, "for-each-ref", "refs/heads/pr/").stdout.splitlines())
            pr_ref = f"refs/heads/pr/{number}"
            transaction = f"start\ncreate {pr_ref} {commit}\nprepare\ncommit\n"
            _git(repo, "update-ref", "--stdin", input=transaction.encode(), binary=True)
            log.info("%s: version %s staged on branch pr/%d", repo_id, version, number)
            return PushResult(
                repo_id,
                version,
                commit,
                str(repo),
                True,
                content_hash,
                "local",
                repo_type,
                f"pr/{number}",
                f"{repo}#pr/{number}",
            )
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


def checkout(
    repo_id: str,
    ref: str = DEFAULT_BRANCH,
    *,
    store: str | os.PathLike[str] | None = None,
    repo_type: str = "dataset",
) -> Path:
    """A read-only folder with the files of ``ref`` (materialised once per commit)."""
    target, root = resolve_target(store)
    if target != "local" or root is None:
        raise ValueError("checkout reads the local store; use load() for the Hub")
    repo = local_repo_path(root, repo_id, repo_type)
    if not (repo / "HEAD").exists():
        raise FileNotFoundError(f"{repo_id}: no {repo_type} of that name in the local store {root}")
    commit = _rev(repo, ref) or _rev(repo, f"refs/tags/{ref}")
    if commit is None:
        versions = ", ".join(list_versions(repo_id, repo_type=repo_type, store=root)) or "none"
        raise ValueError(f"{repo_id}: no version or revision {ref!r} (versions: {versions})")
    target = root / ".checkouts" / f"{repo_type}s" / repo_id / commit
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


# ---------------------------------------------------------------------------------------------
# the Hugging Face Hub


def _hub_api() -> Any:
    from huggingface_hub import HfApi

    # Read the endpoint at call time (huggingface_hub reads HF_ENDPOINT once, at import).
    return HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None)


def _git_blob_sha1(path: Path) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hub_identical(
    api: Any, repo_id: str, repo_type: str, revision: str, folder: Path, files: Sequence[str]
) -> bool:
    """Whether every content file already exists at ``revision`` with the same bytes (git blob
    id for regular files, SHA-256 for LFS/xet files), asked via the paths-info endpoint."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        infos = api.get_paths_info(repo_id, list(files), repo_type=repo_type, revision=revision)
    except HfHubHTTPError as exc:  # a new repository or branch has no such revision yet
        log.debug("paths-info failed (%s); treating as new content", type(exc).__name__)
        return False
    remote = {info.path: info for info in infos}
    for relative in files:
        info = remote.get(relative)
        if info is None or not hasattr(info, "blob_id"):
            return False
        local = folder / relative
        lfs = getattr(info, "lfs", None)
        if lfs is not None:
            if lfs.sha256 != _sha256_file(local):
                return False
        elif info.blob_id != _git_blob_sha1(local):
            return False
    return True


def _hub_push(
    folder: Path,
    repo_id: str,
    repo_type: str,
    version: str | None,
    content_hash: str,
    content_files: Sequence[str],
    finish: Any,
    *,
    private: bool,
    branch: str | None,
    create_pr: bool,
    message: str | None,
) -> PushResult:
    api = _hub_api()
    endpoint = api.endpoint.rstrip("/")
    prefix = "" if repo_type == "model" else f"{repo_type}s/"
    revision = branch or DEFAULT_BRANCH
    api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
    if branch:
        api.create_branch(repo_id, branch=branch, repo_type=repo_type, exist_ok=True)
    refs = api.list_repo_refs(repo_id, repo_type=repo_type)
    tags = {t.name: t.target_commit for t in refs.tags}
    existing_versions = [
        name[1:] for name in tags if name.startswith("v") and _VERSION.match(name[1:])
    ]
    if _hub_identical(api, repo_id, repo_type, revision, folder, content_files):
        head = api.repo_info(repo_id, repo_type=repo_type, revision=revision).sha
        existing = next((name[1:] for name, sha in tags.items() if sha == head), None)
        log.info("%s: content identical to the Hub's %s; nothing pushed", repo_id, revision)
        return PushResult(
            repo_id,
            existing,
            head,
            f"{endpoint}/{prefix}{repo_id}",
            False,
            content_hash,
            "hub",
            repo_type,
            branch,
        )
    if version is None:
        version = next_version(existing_versions)
    elif version in existing_versions:
        raise ValueError(
            f"{repo_id}: version {version} already exists on the Hub; versions are immutable"
        )
    finish(version)
    commit = api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        repo_type=repo_type,
        revision=branch,
        commit_message=message or f"{repo_id} version {version}",
        commit_description=f"Toolkit-Version: {version}\nContent-Hash: {content_hash}",
        create_pr=create_pr,
        ignore_patterns=[".git/*", MANIFEST],
    )
    pr_url = getattr(commit, "pr_url", None)
    if not create_pr:
        api.create_tag(
            repo_id,
            tag=f"v{version}",
            revision=commit.oid,
            repo_type=repo_type,
            tag_message=f"version {version} ({content_hash})",
        )
    url = f"{endpoint}/{prefix}{repo_id}/tree/v{version}" if not create_pr else (pr_url or "")
    log.info("%s: pushed version %s to the Hub (%s)", repo_id, version, commit.oid[:12])
    return PushResult(
        repo_id, version, commit.oid, url, True, content_hash, "hub", repo_type, branch, pr_url
    )
