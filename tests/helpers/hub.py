"""A loopback stand-in for the Hugging Face Hub API, at the HTTP level.

It implements the handful of endpoints that ``huggingface_hub.HfApi`` calls for
``create_repo``/``create_branch``/``list_repo_refs``/``get_paths_info``/``repo_info``/
``upload_folder`` (validate-yaml, preupload, NDJSON commit)/``create_tag``, keeps repositories
in memory as real commits (file maps with git blob ids), and records every request so tests can
assert on exactly what the client sent. Files are accepted inline (``uploadMode: regular``); a
file that arrives as ``lfsFile`` is rejected, so a test notices if the client switched to LFS.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlparse

if TYPE_CHECKING:
    import pytest


def git_blob_id(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeRepo:
    repo_type: str
    repo_id: str
    private: bool
    branches: dict[str, str] = field(default_factory=dict)  # name -> commit oid
    tags: dict[str, str] = field(default_factory=dict)
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)  # oid -> {files, parent, ...}
    prs: list[str] = field(default_factory=list)

    def files_at(self, revision: str) -> dict[str, bytes] | None:
        oid = (
            self.branches.get(revision)
            or self.tags.get(revision)
            or (revision if revision in self.commits else None)
        )
        if oid is None:
            return None
        return self.commits[oid]["files"]


class FakeHub:
    """Start with :meth:`start`, point ``HF_ENDPOINT`` at :attr:`url`, stop with :meth:`stop`."""

    def __init__(self) -> None:
        self.repos: dict[tuple[str, str], FakeRepo] = {}
        self.requests: list[Recorded] = []
        #: When set, every request is refused with this status, and the error body and
        #: ``X-Error-Message`` echo the request headers back (as some proxies do): a client
        #: that shows server text unfiltered then leaks the token.
        self.reject_status: int | None = None
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                hub._handle(self, "GET")

            def do_POST(self) -> None:
                hub._handle(self, "POST")

            def do_HEAD(self) -> None:
                hub._handle(self, "HEAD")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.timeout = 5
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def calls(self, method: str | None = None, contains: str = "") -> list[Recorded]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and contains in r.path
        ]

    # ------------------------------------------------------------------ dispatch

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parsed = urlparse(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        record = Recorded(
            method, unquote(parsed.path), parse_qs(parsed.query), dict(handler.headers), body
        )
        with self.lock:
            self.requests.append(record)
            if self.reject_status is not None:
                echoed = "; ".join(f"{k}: {v}" for k, v in record.headers.items())
                status, payload = self.reject_status, {"error": f"Unauthorized ({echoed})"}
            else:
                resolved = self._resolve(record)
                if resolved is not None:
                    self._send_file(handler, method, *resolved)
                    return
                status, payload = self._route(record)
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        if status >= 400:
            handler.send_header("X-Error-Message", str(payload.get("error", "")))
            if payload.get("code"):
                handler.send_header("X-Error-Code", str(payload["code"]))
        handler.end_headers()
        handler.wfile.write(data)

    def _route(self, r: Recorded) -> tuple[int, Any]:
        parts = r.path.strip("/").split("/")
        if r.path == "/api/repos/create" and r.method == "POST":
            return self._create_repo(json.loads(r.body))
        if r.path == "/api/validate-yaml" and r.method == "POST":
            return 200, {"errors": [], "warnings": []}
        if len(parts) >= 5 and parts[0] == "api" and parts[1] in ("models", "datasets", "spaces"):
            repo_type = parts[1][:-1]
            repo_id = f"{parts[2]}/{parts[3]}"
            repo = self.repos.get((repo_type, repo_id))
            if repo is None:  # the real Hub marks this case with X-Error-Code: RepoNotFound
                return 404, {"error": f"Repository {repo_id} not found", "code": "RepoNotFound"}
            action, rest = parts[4], "/".join(parts[5:])
            if action == "discussions":
                return self._discussion(repo, r, parts[5:])
            handler = {
                ("GET", "refs"): self._refs,
                ("GET", "revision"): self._revision,
                ("GET", "tree"): self._tree,
                ("POST", "paths-info"): self._paths_info,
                ("POST", "preupload"): self._preupload,
                ("POST", "commit"): self._commit,
                ("POST", "tag"): self._tag,
                ("POST", "branch"): self._branch,
            }.get((r.method, action))
            if handler is not None:
                return handler(repo, rest, r)
        return 404, {"error": f"no route for {r.method} {r.path}"}

    # ------------------------------------------------------------------ file downloads

    def _resolve(self, r: Recorded) -> tuple[str, bytes] | None:
        """``/[datasets/]org/name/resolve/<revision>/<path>`` (what ``hf_hub_download`` asks
        for): the commit and the file's bytes, or ``None`` for any other path."""
        parts = r.path.strip("/").split("/")
        repo_type = "model"
        if parts and parts[0] in ("datasets", "spaces"):
            repo_type, parts = parts[0][:-1], parts[1:]
        if r.method not in ("GET", "HEAD") or len(parts) < 5 or parts[2] != "resolve":
            return None
        repo = self.repos.get((repo_type, f"{parts[0]}/{parts[1]}"))
        revision, path = unquote(parts[3]), "/".join(parts[4:])
        files = repo.files_at(revision) if repo is not None else None
        if files is None or path not in files:
            return "", b""
        oid = repo.branches.get(revision) or repo.tags.get(revision) or revision
        return oid, files[path]

    @staticmethod
    def _send_file(handler: BaseHTTPRequestHandler, method: str, oid: str, data: bytes) -> None:
        if not oid:
            body = b'{"error": "Entry not found"}'
            handler.send_response(404)
            handler.send_header("X-Error-Code", "EntryNotFound")
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body if method == "GET" else b"")
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("X-Repo-Commit", oid)
        handler.send_header("ETag", f'"{git_blob_id(data)}"')
        handler.end_headers()
        if method == "GET":
            handler.wfile.write(data)

    # ------------------------------------------------------------------ endpoints

    def _create_repo(self, payload: dict[str, Any]) -> tuple[int, Any]:
        repo_type = payload.get("type") or "model"
        repo_id = (
            f"{payload['organization']}/{payload['name']}"
            if payload.get("organization")
            else payload["name"]
        )
        key = (repo_type, repo_id)
        if key in self.repos:
            return 409, {"error": "You already created this repo", "url": self._repo_url(*key)}
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        self.repos[key] = FakeRepo(repo_type, repo_id, private)
        return 200, {"url": self._repo_url(*key), "name": repo_id}

    def _repo_url(self, repo_type: str, repo_id: str) -> str:
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        return f"{self.url}/{prefix}{repo_id}"

    def _refs(self, repo: FakeRepo, rest: str, r: Recorded) -> tuple[int, Any]:
        def ref(kind: str, name: str, oid: str) -> dict[str, str]:
            return {"name": name, "ref": f"refs/{kind}/{name}", "targetCommit": oid}

        return 200, {
            "branches": [ref("heads", n, o) for n, o in repo.branches.items()],
            "converts": [],
            "tags": [ref("tags", n, o) for n, o in repo.tags.items()],
        }

    def _revision(self, repo: FakeRepo, rest: str, r: Recorded) -> tuple[int, Any]:
        revision = unquote(rest)
        files = repo.files_at(revision)
        if files is None:
            return 404, {"error": f"Invalid rev id: {revision}"}
        sha = repo.branches.get(revision) or repo.tags.get(revision) or revision
        return 200, {
            "id": repo.repo_id,
            "sha": sha,
            "private": repo.private,
            "siblings": [{"rfilename": path} for path in sorted(files)],
        }

    def _tree(self, repo: FakeRepo, rest: str, r: Recorded) -> tuple[int, Any]:
        """``tree/<revision>[/<folder>]`` (what ``hf download`` lists): every file, flat (the
        client asks ``recursive=true``); one page, no pagination."""
        revision, _, folder = unquote(rest).partition("/")
        files = repo.files_at(revision)
        if files is None:
            return 404, {"error": f"Invalid rev id: {revision}"}
        prefix = f"{folder.rstrip('/')}/" if folder else ""
        return 200, [
            {"type": "file", "path": p, "size": len(data), "oid": git_blob_id(data)}
            for p, data in sorted(files.items())
            if p.startswith(prefix)
        ]

    def _paths_info(self, repo: FakeRepo, rest: str, r: Recorded) -> tuple[int, Any]:
        files = repo.files_at(unquote(rest))
        if files is None:
            return 404, {"error": f"Invalid rev id: {rest}"}
        form = parse_qs(r.body.decode())
        return 200, [
            {"type": "file", "path": p, "size": len(files[p]), "oid": git_blob_id(files[p])}
            for p in form.get("paths", [])
            if p in files
        ]

    def _preupload(self, repo: FakeRepo, rest: str, r: Recorded) -> tuple[int, Any]:
        payload = json.loads(r.body)
        files = repo.files_at(unquote(rest)) or {}
        return 200, {
            "files": [
                {
                    "path": f["path"],
                    "uploadMode": "regular",
                    "shouldIgnore": False,
                    "oid": git_blob_id(files[f["path"]]) if f["path"] in files else None,
                }
                for f in payload["files"]
            ]
        }

    def _commit(self, repo: FakeRepo, rest: str, r: Recorded) -> tuple[int, Any]:
        branch = unquote(rest)
        lines = [json.loads(line) for line in r.body.decode().splitlines() if line.strip()]
        header = next(line["value"] for line in lines if line["key"] == "header")
        if branch not in repo.branches and repo.branches:
            return 404, {"error": f"Invalid rev id: {branch}"}
        parent = repo.branches.get(branch) or None
        files = dict(repo.commits[parent]["files"]) if parent else {}
        for line in lines:
            if line["key"] == "file":
                files[line["value"]["path"]] = base64.b64decode(line["value"]["content"])
            elif line["key"] == "deletedFile":
                files.pop(line["value"]["path"], None)
            elif line["key"] == "lfsFile":
                return 400, {"error": "this fake Hub accepts inline files only"}
        oid = hashlib.sha1(
            json.dumps(
                [parent, header, sorted((p, git_blob_id(c)) for p, c in files.items())]
            ).encode(),
            usedforsecurity=False,
        ).hexdigest()
        repo.commits[oid] = {"files": files, "parent": parent, "header": header}
        response = {
            "commitUrl": f"{self._repo_url(repo.repo_type, repo.repo_id)}/commit/{oid}",
            "commitOid": oid,
            "pullRequestUrl": None,
        }
        if r.query.get("create_pr") == ["1"]:  # older clients: commit and PR in one request
            number = len(repo.prs) + 1
            repo.prs.append(oid)
            response["pullRequestUrl"] = (
                f"{self._repo_url(repo.repo_type, repo.repo_id)}/discussions/{number}"
            )
        else:
            repo.branches[branch] = oid
        return 200, response

    def _discussion(self, repo: FakeRepo, r: Recorded, rest: list[str]) -> tuple[int, Any]:
        """Pull requests: ``create_pr`` opens one, then commits go to ``refs/pr/<num>``."""
        if r.method == "POST" and not rest:
            payload = json.loads(r.body)
            if not payload.get("pullRequest"):
                return 400, {"error": "only pull requests are supported"}
            number = len(repo.prs) + 1
            repo.prs.append(payload["title"])
            repo.branches[f"refs/pr/{number}"] = repo.branches.get("main") or ""
            return 200, {"num": number}
        if r.method == "GET" and len(rest) == 1 and rest[0].isdigit():
            number = int(rest[0])
            if number > len(repo.prs):
                return 404, {"error": "Discussion not found"}
            return 200, {
                "title": repo.prs[number - 1],
                "num": number,
                "author": {"name": "fixture"},
                "createdAt": "2026-01-01T00:00:00.000Z",
                "status": "draft",
                "repo": {"name": repo.repo_id, "type": repo.repo_type},
                "isPullRequest": True,
                "events": [],
                "changes": {"base": "refs/heads/main"},
                "filesWithConflicts": [],
            }
        return 404, {"error": "no such discussion route"}

    def _tag(self, repo: FakeRepo, rest: str, r: Recorded) -> tuple[int, Any]:
        payload = json.loads(r.body)
        revision = unquote(rest)
        oid = repo.branches.get(revision) or (revision if revision in repo.commits else None)
        if oid is None:
            return 404, {"error": f"Invalid rev id: {revision}"}
        if payload["tag"] in repo.tags:
            return 409, {"error": f"Tag {payload['tag']} already exists"}
        repo.tags[payload["tag"]] = oid
        return 200, {}

    def _branch(self, repo: FakeRepo, rest: str, r: Recorded) -> tuple[int, Any]:
        branch = unquote(rest)
        if branch in repo.branches:
            return 409, {"error": f"Branch {branch} already exists"}
        start = repo.branches.get("main")
        if start is None:  # an empty repository: the branch starts empty, like the Hub's
            empty = hashlib.sha1(b"empty", usedforsecurity=False).hexdigest()
            repo.commits.setdefault(empty, {"files": {}, "parent": None, "header": {}})
            start = empty
        repo.branches[branch] = start
        return 200, {}


def serve_fake_hub(
    monkeypatch: pytest.MonkeyPatch, *, patch_endpoint_constant: bool = False
) -> Iterator[FakeHub]:
    """Start a :class:`FakeHub` and point ``huggingface_hub`` at it for one test, online, with a
    dummy token and no telemetry; stop it afterwards. Use it from a fixture with
    ``yield from serve_fake_hub(monkeypatch)``.

    ``HF_ENDPOINT`` is read by ``huggingface_hub`` once, at import, into ``constants.ENDPOINT``;
    ``patch_endpoint_constant=True`` patches that too, for code that builds URLs from the constant
    (model publishing). It is opt-in because it changes what the client sends: with it,
    ``test_hub_push_requests`` sees requests without the ``Authorization`` header.
    """
    import huggingface_hub.constants

    hub = FakeHub().start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    if patch_endpoint_constant:
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_TOKEN", "hf_fixtureTOKEN0123456789")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    try:
        yield hub
    finally:
        hub.stop()
