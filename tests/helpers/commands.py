"""Shell commands as documentation prints them, extracted to be run exactly as written.

Used by ``tests/test_readme_tour.py`` (the README's tour), ``tests/test_printed_commands.py``
(the commands in recipes' headers and in rendered cards). A command is one logical shell line:
``\\``-continuations joined, comments and blank lines dropped; ``export`` lines are kept (the
runner carries them into the following commands, as a shell session would).
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^(?P<fence>```+)(?P<lang>[\w-]*)\s*$")
#: What a datasets progress bar prints (it must never leak into a verb's output).
DATASETS_BARS = (
    "Map:",
    "Filter:",
    "Generating train split",
    "Creating parquet from Arrow format",
    "Saving the dataset",
    "Casting the dataset",
    "Loading weights",
    "Writing model shards",
)


def fenced_blocks(markdown: str, lang: str = "bash") -> list[str]:
    """The bodies of the ``lang`` code fences of a Markdown text, in order."""
    blocks: list[str] = []
    current: list[str] | None = None
    fence = ""
    for line in markdown.splitlines():
        match = FENCE.match(line.strip())
        if current is None:
            if match and match["lang"] == lang:
                current, fence = [], match["fence"]
        elif line.strip() == fence:
            blocks.append("\n".join(current))
            current = None
        else:
            current.append(line)
    return blocks


def shell_commands(block: str) -> list[str]:
    """Logical commands of a shell block: continuations joined, comment-only lines dropped,
    a trailing ``# comment`` left in place (the shell ignores it)."""
    commands: list[str] = []
    pending = ""
    for raw in block.splitlines():
        line = raw.rstrip()
        if not pending and (not line.strip() or line.strip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        commands.append((pending + line.strip()).strip())
        pending = ""
    if pending:
        commands.append(pending.strip())
    return commands


def section(markdown: str, heading: str) -> str:
    """The text under ``heading`` (a ``## …`` line) up to the next heading of the same level."""
    level = heading.split(" ", 1)[0]
    start = markdown.index(heading + "\n")
    rest = markdown[start + len(heading) + 1 :]
    match = re.search(rf"^{level} ", rest, flags=re.MULTILINE)
    return rest[: match.start()] if match else rest


def substitute(command: str, mapping: Mapping[str, str]) -> str:
    """``command`` with each key of ``mapping`` (a host URL or a Hub id) replaced, as a whole
    word only: ``openai/gsm8k`` must not touch ``--tasks gsm8k``."""
    for old, new in mapping.items():
        command = re.sub(rf"(?<![\w/.-]){re.escape(old)}(?![\w/-])", new, command)
    return command


def output_paths(command: str) -> list[str]:
    """The ``-o``/``--output`` arguments of a command."""
    words = shlex.split(command, comments=True)
    return [words[i + 1] for i, word in enumerate(words[:-1]) if word in ("-o", "--output")]


@dataclass
class Session:
    """Runs commands one after another in ``cwd`` like a shell session: ``export`` lines carry
    over, each command's output is kept for assertions."""

    cwd: Path
    env: dict[str, str]
    exports: list[str] = field(default_factory=list)
    log: list[tuple[str, subprocess.CompletedProcess[str]]] = field(default_factory=list)

    def run(self, command: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        if command.startswith("export "):
            self.exports.append(command)
        script = "\n".join(["set -e", *self.exports, command])
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        self.log.append((command, result))
        return result

    def serve(self, command: str, port: int, timeout: float = 240) -> str:
        """Start a server command, wait (bounded) for its HTTP page on ``port``, return the
        page and stop the server."""
        script = "\n".join([*self.exports, f"exec {command}"])
        process = subprocess.Popen(
            ["bash", "-c", script],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    output = process.stdout.read() if process.stdout else ""
                    raise AssertionError(f"{command} exited {process.returncode}:\n{output}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
                        return page.read().decode("utf-8", "replace")
                except OSError:
                    time.sleep(1)
            raise AssertionError(f"{command} did not serve within {timeout:.0f} s")
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rows_in(path: Path) -> int:
    """Rows of a table the toolkit wrote (.parquet, .jsonl/.json, .csv, Arrow directory)."""
    if path.is_dir():
        import datasets

        return len(datasets.load_from_disk(str(path)))
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_metadata(str(path)).num_rows
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return len(lines) - (1 if path.suffix == ".csv" else 0)


def iter_outputs(log: list[tuple[str, subprocess.CompletedProcess[str]]]) -> Iterator[str]:
    for _, result in log:
        yield result.stdout + result.stderr


def base_env(**overrides: str) -> dict[str, str]:
    """The test process's environment with wide, uncoloured output (Rich wraps at 80 columns
    when it is not a terminal, which would split the lines the assertions look for)."""
    env = {**os.environ, "COLUMNS": "240", "NO_COLOR": "1", "TERM": "dumb"}
    env.update(overrides)
    return env


__all__ = [
    "DATASETS_BARS",
    "Session",
    "base_env",
    "fenced_blocks",
    "free_port",
    "iter_outputs",
    "output_paths",
    "rows_in",
    "section",
    "shell_commands",
    "substitute",
]
