"""What the package face costs: ``import toolkit``, ``toolkit --help`` and ``import toolkit.chat``
next to ``python -c pass`` (the floor any Python command pays), in fresh processes, interleaved.

Targets (issue 10): ``import toolkit`` and ``toolkit --help`` add < 0.3 s to ``python -c pass``;
``import toolkit.chat`` imports no datasets, pandas, pyarrow or torch (so a Space that only chats
does not carry the pipeline).

    python benchmarks/import_cost.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import compileall
import json
import statistics
import subprocess
import sys
import time

from common import REPO, Figure, print_figures

HEAVY = ("datasets", "pandas", "pyarrow", "torch", "transformers", "gradio")


def _time(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - started


def heavy_modules(module: str) -> list[str]:
    """The heavy libraries that ``import module`` pulls in (in a fresh interpreter)."""
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=REPO
        ).stdout
    )
    return [name for name in HEAVY if name in loaded]


def measure(quick: bool = False, rounds: int = 5) -> list[Figure]:
    rounds = 3 if quick else rounds
    commands = {
        "pass": [sys.executable, "-c", "pass"],
        "import toolkit": [sys.executable, "-c", "import toolkit"],
        "toolkit --help": [sys.executable, "-m", "toolkit", "--help"],
        "import toolkit.chat": [sys.executable, "-c", "import toolkit.chat"],
    }
    # A user's first `toolkit` command writes the package's bytecode and every later one reads
    # it; where PYTHONDONTWRITEBYTECODE=1 is set (this sandbox sets it), nothing is ever written
    # and each run would re-compile the toolkit's own ~35 modules (~50 ms), so write it here.
    # Site-packages were compiled by pip at install time.
    compileall.compile_dir(REPO / "toolkit", quiet=1)
    _time(commands["toolkit --help"])  # warm the file cache
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, command in commands.items():
            times[name].append(_time(command))
    floor = times["pass"]
    figures = []
    for name in ("import toolkit", "toolkit --help", "import toolkit.chat"):
        added = [t - f for t, f in zip(times[name], floor, strict=True)]
        figure = Figure(
            f"{name}: seconds added to `python -c pass`",
            "s",
            added,
            floor,
            "python -c pass (absolute)",
            higher_is_better=False,
            target=0.3,
            target_absolute=True,
            compared=False,
        )
        figures.append(figure)
    heavy = heavy_modules("toolkit.chat")
    figures[-1].notes.append(
        "heavy modules imported by `import toolkit.chat`: " + (", ".join(heavy) or "none")
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    figures = measure(args.quick, args.rounds)
    print_figures(figures)
    medians = {f.name: statistics.median(f.toolkit) for f in figures}
    print(json.dumps(medians, indent=2))


if __name__ == "__main__":
    main()
