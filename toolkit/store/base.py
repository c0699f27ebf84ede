"""Validation of repository ids and versions, and what a push returns.

Everything that does not depend on *where* data goes — validation here, staging deterministic
Parquet, the card and the lineage in :mod:`toolkit.store.staging` — is written once, so the two
stores (:mod:`toolkit.store.protocol`) cannot drift.

Versions follow semantic versioning with zeros filled in: ``1``, ``1.0`` and ``1.0.0`` are the
same version (stored as tag ``v1.0.0``); a pre-release (``1.0.0-rc.1``) is allowed; build
metadata (``1.0.0+build``) is refused, because semver says versions differing only in build
metadata are equal, and an immutable store cannot hold two contents under one version.
Repository ids follow the Hub's rules with a *full* match (a trailing newline is not an id).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from toolkit.errors import UsageError

MANIFEST = ".toolkit.json"
LINEAGE_FILE = "lineage.json"
DEFAULT_BRANCH = "main"
REPO_TYPES = ("model", "dataset", "space")
#: The Hub's limit on the name part of a repository id (huggingface_hub.utils.validate_repo_id).
MAX_NAME_LENGTH = 96
MAX_VERSION_LENGTH = 64

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?"
_REPO_ID = re.compile(rf"(?:(?P<org>{_NAME})/)?(?P<name>{_NAME})")
_VERSION = re.compile(
    r"[vV]?(?P<major>[0-9]+)(?:\.(?P<minor>[0-9]+))?(?:\.(?P<patch>[0-9]+))?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


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


#: Called with the final version once it is known, to write the card and lineage.
Finish = Callable[[str], None]


# ---------------------------------------------------------------------------------------------
# validation


def check_repo_id(repo_id: str) -> str:
    """``repo_id`` if it is a valid ``org/name`` (or ``name``), else a :class:`UsageError`."""
    hint = "letters, digits, '-', '_' and '.', at most 96 characters per part, e.g. 'my-org/traces'"
    if not isinstance(repo_id, str):
        raise UsageError(f"invalid repo id {repo_id!r}: expected a string 'org/name'", hint=hint)
    shown = repo_id if len(repo_id) <= 60 else repo_id[:57] + "..."
    match = _REPO_ID.fullmatch(repo_id)
    if match is None or ".." in repo_id or "--" in repo_id:
        raise UsageError(
            f"invalid repo id {shown!r}: expected 'org/name' (letters, digits, -_.)", hint=hint
        )
    for part in (match["org"], match["name"]):
        if part is not None and len(part) > MAX_NAME_LENGTH:
            raise UsageError(
                f"invalid repo id {shown!r}: {len(part)} characters in one part "
                f"(at most {MAX_NAME_LENGTH})",
                hint=hint,
            )
    return repo_id


def check_version(version: str | None) -> str | None:
    """The canonical form of ``version`` (``MAJOR.MINOR.PATCH[-pre]``), or ``None``."""
    if version is None:
        return None
    text = str(version)
    if "+" in text:
        raise UsageError(
            f"invalid version {text!r}: build metadata ('+…') is not allowed",
            hint="semver treats versions that differ only in build metadata as the same "
            "version; use a pre-release ('1.0.0-rc.1') or a new version instead",
        )
    match = _VERSION.fullmatch(text) if len(text) <= MAX_VERSION_LENGTH else None
    if match is None:
        raise UsageError(
            f"invalid version {text[:MAX_VERSION_LENGTH]!r}: expected e.g. '1', '1.2' or '1.2.0'"
        )
    numbers = (int(match[part] or 0) for part in ("major", "minor", "patch"))
    canonical = ".".join(str(n) for n in numbers)
    return f"{canonical}-{match['pre']}" if match["pre"] else canonical


def parse_version_tag(tag: str) -> str | None:
    """The canonical version of a tag ``v<version>``, or ``None`` for any other tag (tags
    written by hand, or with build metadata by an older toolkit, are not versions)."""
    if not tag.startswith("v"):
        return None
    try:
        return check_version(tag[1:])
    except UsageError:
        return None


def version_key(version: str) -> tuple[Any, ...]:
    """Semver precedence: numbers numerically, a pre-release before its release."""
    core, _, pre = version.partition("-")
    numbers = tuple(int(part) for part in core.split("."))
    if not pre:
        return (*numbers, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (*numbers, 0, parts)


def sorted_versions(tags: Sequence[str]) -> list[str]:
    """Canonical versions of the version tags among ``tags``, ascending, without duplicates."""
    versions = {v for v in (parse_version_tag(t) for t in tags) if v is not None}
    return sorted(versions, key=version_key)


def version_tag(tags: Sequence[str], version: str) -> str | None:
    """The tag holding ``version`` (``v1.0.0``, or ``v1.0`` written by an older toolkit)."""
    if f"v{version}" in tags:
        return f"v{version}"
    return next((t for t in tags if parse_version_tag(t) == version), None)


def next_version(existing: Sequence[str]) -> str:
    """The next patch version after the highest existing one (``1.0.0`` for the first)."""
    versions = [v for v in (check_or_none(v) for v in existing) if v is not None]
    if not versions:
        return "1.0.0"
    major, minor, patch = max(versions, key=version_key).split("-", 1)[0].split(".")
    return f"{major}.{minor}.{int(patch) + 1}"


def check_or_none(version: str) -> str | None:
    try:
        return check_version(version)
    except UsageError:
        return None


def check_pr_branch(create_pr: bool, branch: str | None) -> None:
    # The Hub opens pull requests against the default branch only (huggingface_hub refuses
    # create_pr together with a revision); the local store follows the same rule.
    if create_pr and branch:
        raise UsageError("create_pr opens a pull request against main; do not also pass branch")


def check_repo_type(repo_type: str) -> None:
    if repo_type not in REPO_TYPES:
        raise UsageError(f"repo_type must be 'model', 'dataset' or 'space', not {repo_type!r}")


__all__ = [
    "DEFAULT_BRANCH",
    "LINEAGE_FILE",
    "MANIFEST",
    "Finish",
    "PushResult",
    "check_pr_branch",
    "check_repo_id",
    "check_repo_type",
    "check_version",
    "next_version",
    "parse_version_tag",
    "sorted_versions",
    "version_key",
    "version_tag",
]
