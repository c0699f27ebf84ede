"""Kill a CLI run with SIGKILL once its state file holds enough finished lines (crash tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def kill_after_lines(
    command: list[str], state_file: Path, lines: int, *, timeout: float = 120.0
) -> int:
    """Start ``command`` (``python -m toolkit …``), wait (bounded) until ``state_file`` has
    ``lines`` complete lines, then ``kill -9`` it. Returns the exit status (``-SIGKILL``);
    fails the test when the run finished before it could be killed."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            if state_file.exists() and state_file.read_bytes().count(b"\n") >= lines:
                break
            time.sleep(0.05)
        assert process.poll() is None, "the run finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        assert process.stderr is not None
        process.stderr.close()
    return process.returncode


def run(command: list[str], *, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to completion with this checkout on ``PYTHONPATH``."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
