"""Every benchmark against its best peer, each in a fresh process, as one table (issue 16).

    python benchmarks/run_all.py [--quick] [--only NAME ...] [--logs DIR]

Each benchmark's ``measure(quick=...)`` runs in its own subprocess (``run_all.py --child NAME``),
so the imports, thread pools and caches of one cannot skew the next; the child prints its
figures as JSON on its last stdout line. The parent prints one markdown table (figure, toolkit,
peer, ratio min / median over interleaved rounds, target, met), the notes, then the date, the
machine (CPU count, Python, torch) and the load average after each benchmark. Progress goes to
stderr. A benchmark that fails is named in the notes with its last error line, the others still
run, and the exit status is 1. ``--logs DIR`` keeps each child's full output (its per-round
lines) as ``DIR/NAME.log``.

Not here: ``space_stream_parser.py`` (no peer doing the same work; see its docstring) and
``lighteval_crosscheck.py`` (an agreement check that builds its own virtual environment).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib
import json
import logging
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common import REPO, TABLE_HEADER, Figure, load_average

HERE = Path(__file__).resolve().parent
#: In the order they run: the cheap and CPU-light first.
BENCHMARKS = (
    "import_cost",
    "normalize",
    "verify",
    "decontaminate",
    "degenerate",
    "generate",
    "evaluate",
    "train",
)
MARKER = "RUN_ALL_FIGURES "


@dataclass
class Result:
    """What one benchmark gave: its figures, or the error that stopped it."""

    name: str
    figures: list[Figure] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    load: str = ""


def child(name: str, quick: bool) -> None:
    """Run one benchmark's ``measure`` here and print its figures as JSON, last on stdout."""
    logging.disable(logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    module = importlib.import_module(name)
    figures = module.measure(quick=quick)
    sys.stdout.flush()
    print(MARKER + json.dumps([dataclasses.asdict(f) for f in figures]), flush=True)


def last_error_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def child_command(name: str, quick: bool) -> list[str]:
    """The fresh process that runs one benchmark."""
    return [sys.executable, str(Path(__file__).resolve()), "--child", name] + (
        ["--quick"] if quick else []
    )


def run_one(name: str, quick: bool, logs: Path | None, timeout: float | None) -> Result:
    command = child_command(name, quick)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, cwd=REPO, timeout=timeout, check=False
        )
        stdout, stderr, code = done.stdout, done.stderr, done.returncode
    except subprocess.TimeoutExpired as expired:
        out, err = expired.stdout or "", expired.stderr or ""
        stdout = out.decode(errors="replace") if isinstance(out, bytes) else out
        stderr = err.decode(errors="replace") if isinstance(err, bytes) else err
        stderr += f"\ntimed out after {timeout:.0f} s"
        code = None
    result = Result(name, seconds=time.perf_counter() - started, load=load_average())
    if logs is not None:
        logs.mkdir(parents=True, exist_ok=True)
        (logs / f"{name}.log").write_text(f"$ {' '.join(command)}\n{stdout}\n--- stderr\n{stderr}")
    lines = [line for line in stdout.splitlines() if line.startswith(MARKER)]
    if code == 0 and lines:
        result.figures = [Figure(**raw) for raw in json.loads(lines[-1][len(MARKER) :])]
    else:
        result.error = last_error_line(stderr if stderr.strip() else stdout)
    return result


def machine() -> str:
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    return (
        f"{os.cpu_count()} CPUs ({platform.machine()}, {platform.system()}), "
        f"Python {platform.python_version()}, torch {torch_version}"
    )


def report(results: Sequence[Result], command: str = "", when: str | None = None) -> str:
    """The table, the notes (failures first), then date, machine and load per benchmark."""
    lines = [TABLE_HEADER]
    for result in results:
        lines += [figure.row() for figure in result.figures]
        if result.error is not None:
            lines.append(f"| {result.name}: FAILED | - | - | - | - | NO |")
    lines.append("")
    for result in results:
        if result.error is not None:
            lines.append(f"- **{result.name} failed**: {result.error}")
    for result in results:
        for figure in result.figures:
            lines += [f"- {figure.name}: {note}" for note in figure.notes]
    lines.append("")
    when = when or datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines.append(
        f"Date: {when}. Machine: {machine()}." + (f" Command: `{command}`." if command else "")
    )
    lines.append("Load after each benchmark (seconds taken):")
    lines += [f"- {r.name} ({r.seconds:.0f} s): {r.load}" for r in results]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every benchmark small")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, metavar="NAME",
                        help=f"some of: {', '.join(BENCHMARKS)}")  # fmt: skip
    parser.add_argument("--logs", type=Path, default=None, help="keep each child's output here")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per benchmark")
    parser.add_argument("--child", choices=BENCHMARKS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.quick)
        return 0
    names = [name for name in BENCHMARKS if not args.only or name in args.only]
    results = []
    started = time.perf_counter()
    for index, name in enumerate(names, 1):
        print(f"[{index}/{len(names)}] {name}: started", file=sys.stderr, flush=True)
        result = run_one(name, args.quick, args.logs, args.timeout)
        status = "failed: " + result.error if result.error else f"{len(result.figures)} figures"
        print(
            f"[{index}/{len(names)}] {name}: {status} in {result.seconds:.0f} s ({result.load})",
            file=sys.stderr,
            flush=True,
        )
        results.append(result)
    command = "python benchmarks/run_all.py" + (" --quick" if args.quick else "")
    if args.only:
        command += " --only " + " ".join(args.only)
    print(report(results, command))
    print(f"total {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 1 if any(r.error is not None for r in results) else 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    raise SystemExit(main())
