"""The Hugging Face Hub as a store: :class:`huggingface_hub.HfApi` with versions as tags.

``create_repo(exist_ok=True)``, ``create_branch``, ``upload_folder`` (optionally as a pull
request), ``create_tag v<version>``. The endpoint is ``$HF_ENDPOINT`` (read at call time) and the
token comes from ``HF_TOKEN`` or the saved login; it is never logged, returned or put into an
error message.

Every Hub call goes through :func:`_hub_errors`, which turns what ``huggingface_hub`` and its
HTTP client raise (offline mode, connection refused, 401, 404, 5xx) into one-line
:class:`toolkit.errors.StoreError` / :class:`~toolkit.errors.MissingError` with a hint, instead
of a 100-line traceback. Text written by the server enters an error message in exactly one
place, :func:`server_text`, which redacts secrets with :func:`toolkit.redact.redact` (a proxy
that echoes request headers would otherwise put ``Authorization: Bearer hf_…`` into the
message).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.errors import MissingError, StoreError, UsageError
from toolkit.redact import redact
from toolkit.store.base import (
    DEFAULT_BRANCH,
    MANIFEST,
    Finish,
    PushResult,
    next_version,
    sorted_versions,
)
from toolkit.store.protocol import Store
from toolkit.store.staging import sha256_file

if TYPE_CHECKING:
    import datasets

log = logging.getLogger("toolkit.store")

LOGIN_HINT = "log in with `hf auth login` (or set HF_TOKEN to a token with write access)"
NETWORK_HINT = (
    "check the network or HF_ENDPOINT; or use the local store (unset TOOLKIT_TARGET, omit "
    "--store hub)"
)
OFFLINE_HINT = (
    "unset HF_HUB_OFFLINE to reach the Hub, or use the local store (unset TOOLKIT_TARGET)"
)
_MAX_SERVER_TEXT = 200


def server_text(error: BaseException) -> str:
    """The one place where text from the Hub (or its HTTP client) enters an error message:
    the server's own message when it sent one, else the first line of the exception; redacted
    and shortened."""
    text = getattr(error, "server_message", None) or str(error) or type(error).__name__
    text = " ".join(redact(text).split())
    return text if len(text) <= _MAX_SERVER_TEXT else text[: _MAX_SERVER_TEXT - 1] + "…"


def _network_errors() -> tuple[type[BaseException], ...]:
    """Transport failures of the HTTP clients huggingface_hub may use (and the builtins)."""
    classes: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError):
            classes.append(__import__(module).TransportError)
    return tuple(classes)


@contextlib.contextmanager
def _hub_errors(action: str, repo_id: str) -> Iterator[None]:
    """Map Hub failures to one-line toolkit errors with a hint (``action``: "push", "load"…)."""
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalTokenNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    try:
        yield
    except OfflineModeIsEnabled:
        raise StoreError(
            f"cannot {action} {repo_id}: the Hub is switched off (HF_HUB_OFFLINE is set)",
            hint=OFFLINE_HINT,
        ) from None
    except LocalTokenNotFoundError:
        raise StoreError(
            f"cannot {action} {repo_id}: not logged in to the Hub", hint=LOGIN_HINT
        ) from None
    except (RepositoryNotFoundError, RevisionNotFoundError) as error:
        status = getattr(getattr(error, "response", None), "status_code", None)
        if status in (401, 403):
            raise StoreError(
                f"cannot {action} {repo_id}: the Hub refused the request (HTTP {status}: "
                f"{server_text(error)})",
                hint=LOGIN_HINT,
            ) from None
        kind = "revision" if isinstance(error, RevisionNotFoundError) else "repository"
        raise MissingError(
            f"cannot {action} {repo_id}: no such {kind} on the Hub ({server_text(error)})",
            hint="check the id and version; private repositories need `hf auth login`",
        ) from None
    except HfHubHTTPError as error:
        status = getattr(getattr(error, "response", None), "status_code", None)
        hint = LOGIN_HINT if status in (401, 403) else None
        if status is not None and status >= 500:
            hint = "the Hub had an internal error; try again later"
        raise StoreError(
            f"cannot {action} {repo_id}: HTTP {status} from the Hub ({server_text(error)})",
            hint=hint,
        ) from None
    except _network_errors() as error:
        raise StoreError(
            f"cannot {action} {repo_id}: the Hub at {endpoint} is not reachable "
            f"({server_text(error)})",
            hint=NETWORK_HINT,
        ) from None


def _endpoint() -> str | None:
    """``$HF_ENDPOINT`` read at call time (huggingface_hub reads it once, at import)."""
    return os.environ.get("HF_ENDPOINT") or None


def _git_blob_sha1(path: Path) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class HubStore(Store):
    """Versions as tags of Hub repositories (see the module docstring)."""

    target = "hub"
    copies_folders = False  # upload_folder reads the folder; nothing is written into it

    def __repr__(self) -> str:
        return "HubStore()"

    def api(self) -> Any:
        from huggingface_hub import HfApi

        return HfApi(endpoint=_endpoint())

    # -- reading ------------------------------------------------------------------------------
    def version_tags(self, repo_id: str, *, repo_type: str = "dataset") -> list[str]:
        from huggingface_hub.errors import RepositoryNotFoundError

        with _hub_errors("list the versions of", repo_id):
            try:
                refs = self.api().list_repo_refs(repo_id, repo_type=repo_type)
            except RepositoryNotFoundError as error:
                status = getattr(getattr(error, "response", None), "status_code", None)
                if status in (401, 403):
                    raise
                return []
        return [tag.name for tag in refs.tags]

    def load(
        self, repo_id: str, ref: str, *, split: str = "train", repo_type: str = "dataset"
    ) -> datasets.Dataset:
        from toolkit.io import load_table

        with _hub_errors("load", repo_id):
            try:
                return load_table(repo_id, split=split, revision=ref)
            except FileNotFoundError as error:  # datasets' DatasetNotFoundError
                raise MissingError(
                    f"cannot load {repo_id}@{ref}: not found on the Hub ({server_text(error)})",
                    hint="check the id and version; private datasets need `hf auth login`",
                ) from None

    def read_file(self, repo_id: str, ref: str, path: str, *, repo_type: str = "dataset") -> str:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError

        with _hub_errors("read", repo_id):
            try:
                local = hf_hub_download(
                    repo_id, path, repo_type=repo_type, revision=ref, endpoint=_endpoint()
                )
            except EntryNotFoundError:
                return ""
        return Path(local).read_text(encoding="utf-8")

    def checkout(self, repo_id: str, ref: str = DEFAULT_BRANCH, *, repo_type: str = "dataset"):
        """The files of ``ref``, downloaded into the Hugging Face cache (read-only use)."""
        from huggingface_hub import snapshot_download

        with _hub_errors("download", repo_id):
            folder = snapshot_download(
                repo_id, repo_type=repo_type, revision=ref, endpoint=_endpoint()
            )
        return Path(folder)

    # -- writing ------------------------------------------------------------------------------
    def _identical(
        self,
        api: Any,
        repo_id: str,
        repo_type: str,
        revision: str,
        folder: Path,
        files: Sequence[str],
    ) -> bool:
        """Whether every content file already exists at ``revision`` with the same bytes (git
        blob id for regular files, SHA-256 for LFS/xet files), asked via paths-info."""
        from huggingface_hub.errors import HfHubHTTPError

        try:
            infos = api.get_paths_info(repo_id, list(files), repo_type=repo_type, revision=revision)
        except HfHubHTTPError as exc:  # a new repository or branch has no such revision yet
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status in (401, 403) or (status is not None and status >= 500):
                raise
            log.debug("paths-info failed (HTTP %s); treating as new content", status)
            return False
        remote = {info.path: info for info in infos}
        for relative in files:
            info = remote.get(relative)
            if info is None or not hasattr(info, "blob_id"):
                return False
            local = folder / relative
            lfs = getattr(info, "lfs", None)
            if lfs is not None:
                if lfs.sha256 != sha256_file(local):
                    return False
            elif info.blob_id != _git_blob_sha1(local):
                return False
        return True

    def commit(self, folder: Path, repo_id: str, *args: Any, **kwargs: Any) -> PushResult:
        """:meth:`Store.commit` (see there), with Hub failures as one-line store errors."""
        with _hub_errors("push", repo_id):
            return self._commit(folder, repo_id, *args, **kwargs)

    def _commit(
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
        api = self.api()
        endpoint = api.endpoint.rstrip("/")
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        revision = branch or DEFAULT_BRANCH
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
        if branch:
            api.create_branch(repo_id, branch=branch, repo_type=repo_type, exist_ok=True)
        refs = api.list_repo_refs(repo_id, repo_type=repo_type)
        tags = {t.name: t.target_commit for t in refs.tags}
        existing_versions = sorted_versions(list(tags))
        if self._identical(api, repo_id, repo_type, revision, folder, files):
            head = api.repo_info(repo_id, repo_type=repo_type, revision=revision).sha
            existing = next(
                (v for v in sorted_versions([n for n, sha in tags.items() if sha == head])), None
            )
            log.info("%s: content identical to the Hub's %s; nothing pushed", repo_id, revision)
            return PushResult(
                repo_id, existing, head, f"{endpoint}/{prefix}{repo_id}", False, content_hash,
                "hub", repo_type, branch,
            )  # fmt: skip
        if version is None:
            version = next_version(existing_versions)
        elif version in existing_versions:
            raise UsageError(
                f"{repo_id}: version {version} already exists on the Hub; versions are immutable",
                hint="omit --version to use the next patch version",
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


__all__ = ["HubStore", "server_text"]
