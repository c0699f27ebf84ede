"""A run's durable state directory: what makes generation and evaluation crash-safe.

``results.jsonl``
    one line per finished sample, appended and fsync'd by one writer thread (group commit: one
    fsync per batch of lines, so durability does not cost a disk flush per request). A line
    holds the request key, the problem and the *raw* completion (content, reasoning field,
    finish reason, usage): what the model returned, before any splitting or extraction, so an
    improved extraction rule can be re-applied without paying for the samples again, and
    extraction never runs on the event loop.
``errors.jsonl``
    failed samples (with their redacted error) and quarantined input rows; failed samples are
    asked again by the next run.
``manifest.json``
    the run identity (model, template, params, …), written atomically (temp file + rename). A
    re-run with another identity in the same directory is refused instead of mixing two runs.
``lock``
    one process per state directory (``flock``; the kernel drops it if the process dies).

A ``kill -9`` can tear the last line; :func:`read_jsonl_tolerant` drops it (it never counted
as finished) and truncates the file to its last complete line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from toolkit.errors import DataError, UsageError

log = logging.getLogger(__name__)

RESULTS_FILE = "results.jsonl"
ERRORS_FILE = "errors.jsonl"
MANIFEST_FILE = "manifest.json"
LOCK_FILE = "lock"


class ResultWriter:
    """The single writer: a thread appending lines to files with flush + fsync per batch.

    The event loop only enqueues bytes. The thread takes everything queued, writes it, and
    fsyncs once (group commit), so durability costs one fsync per batch rather than per request.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._queue: queue.SimpleQueue[tuple[str, bytes] | None] = queue.SimpleQueue()
        self._files: dict[str, Any] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="toolkit-state-writer", daemon=True)
        self._thread.start()

    def write(self, name: str, payload: dict[str, Any]) -> None:
        if self._error is not None:
            raise OSError(f"cannot write run state in {self.directory}: {self._error}")
        self._queue.put((name, jsonl(payload)))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            batch = [item]
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(self._queue.get_nowait())
            stop = False
            touched = set()
            try:
                for entry in batch:
                    if entry is None:
                        stop = True
                        continue
                    name, line = entry
                    handle = self._files.get(name)
                    if handle is None:
                        handle = self._files[name] = open(self.directory / name, "ab")  # noqa: SIM115
                    handle.write(line)
                    touched.add(name)
                for name in touched:
                    self._files[name].flush()
                    os.fsync(self._files[name].fileno())
            except OSError as error:  # disk full, permissions: surfaced to the loop on next write
                self._error = error
            if stop:
                for handle in self._files.values():
                    handle.close()
                return

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise OSError(f"cannot write run state in {self.directory}: {self._error}")


def jsonl(payload: dict[str, Any]) -> bytes:
    return (json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def read_jsonl_tolerant(
    path: Path, *, repair: bool = False, require: tuple[str, ...] = ()
) -> tuple[list[dict[str, Any]], int]:
    """Parse a JSONL file written by :class:`ResultWriter`, tolerating a torn last line.

    A ``kill -9`` can leave a final line without its newline (a partial write). That line never
    counted as finished, so it is dropped; with ``repair=True`` the file is truncated to its last
    complete line so the next append starts on a clean line. A complete line that is not a JSON
    object, or lacks a ``require``-d field, is not a torn write but a damaged file: a
    :class:`DataError` names the file and line. Returns (rows, torn lines dropped).
    """
    if not path.exists():
        return [], 0
    data = path.read_bytes()
    torn = 0
    end = data.rfind(b"\n") + 1
    if end < len(data):
        torn = 1
        if repair:
            with open(path, "r+b") as handle:
                handle.truncate(end)
                handle.flush()
                os.fsync(handle.fileno())
        data = data[:end]
    rows = []
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DataError(
                f"not a JSON line ({error})",
                path=str(path),
                row=number,
                hint="the run state is damaged: move the line away, or delete the state "
                "directory to start over",
            ) from None
        missing = [name for name in require if not isinstance(row, dict) or name not in row]
        if missing:
            raise DataError(
                f"a state line without {', '.join(repr(m) for m in missing)}",
                path=str(path),
                row=number,
                hint="the run state is damaged: move the line away, or delete the state "
                "directory to start over",
            )
        rows.append(row)
    return rows, torn


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON so a reader sees the old or the new file, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True, default=str)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # make the rename itself durable
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of a state directory (``{}`` when there is none yet)."""
    path = directory / MANIFEST_FILE
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(
            f"not valid JSON ({error})",
            path=str(path),
            hint="the run state is damaged: delete the state directory to start over",
        ) from None
    if not isinstance(manifest, dict):
        raise DataError("expected a JSON object", path=str(path))
    return manifest


def check_identity(directory: Path, previous: dict[str, Any] | None, current: dict) -> None:
    """Refuse to mix two runs in one state directory."""
    if not previous:
        return
    previous = dict(previous)
    params = dict(previous.get("params") or {})
    if "max_tokens" in params:  # spelled so before the model layer was unified
        params["max_new_tokens"] = params.pop("max_tokens")
        previous["params"] = params
    changed = sorted(k for k in current if previous.get(k) != current.get(k))
    if changed:
        raise UsageError(
            f"{directory} holds a run with a different {', '.join(changed)}",
            hint="use another output or --state-dir, or delete that directory to start over",
        )


@contextlib.contextmanager
def exclusive(state_dir: Path) -> Iterator[None]:
    """One process per state directory (the kernel drops the lock if we are killed)."""
    import fcntl

    handle = open(state_dir / LOCK_FILE, "a+b")  # noqa: SIM115
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                f"another process is running on {state_dir} (one writer per state directory)"
            ) from None
        yield
    finally:
        handle.close()


def record_quarantined(state_dir: Path | None, bad_rows: list[dict[str, Any]]) -> None:
    """Log quarantined input rows with the run (in errors.jsonl), so none is silently lost."""
    for bad in bad_rows[:5]:
        log.warning("skipping input row %(row)d: field %(field)r is %(reason)s", bad)
    if len(bad_rows) > 5:
        log.warning("... %d more bad input rows skipped", len(bad_rows) - 5)
    if state_dir is None or not bad_rows:
        return
    prepare_state_dir(state_dir)
    with open(state_dir / ERRORS_FILE, "ab") as handle:
        for bad in bad_rows:
            handle.write(jsonl({"quarantined": True, **bad}))
        handle.flush()
        os.fsync(handle.fileno())


def prepare_state_dir(directory: Path) -> None:
    """Create the state directory, with a clear error when the path is taken by a file."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(
            f"{directory} is a file, not a run state directory",
            hint="pass another --state-dir (or output) path",
        )
    directory.mkdir(parents=True, exist_ok=True)


__all__ = [
    "ERRORS_FILE",
    "LOCK_FILE",
    "MANIFEST_FILE",
    "RESULTS_FILE",
    "ResultWriter",
    "check_identity",
    "exclusive",
    "jsonl",
    "prepare_state_dir",
    "read_jsonl_tolerant",
    "read_manifest",
    "record_quarantined",
    "write_json_atomic",
]
