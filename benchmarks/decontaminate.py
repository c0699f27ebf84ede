"""Rows/s of 8-gram decontamination of 200k rows against all five benchmarks.

Real benchmark files are used where present (``$TOOLKIT_BENCHMARK_DIR``, else ``../shared/data``
next to the repository: GSM8K, MATH-500, AIME 2024); the missing ones (AIME 2025, GPQA-Diamond)
get synthetic stand-ins of the real size written to a temporary benchmark folder, so that the
whole registry path (:func:`toolkit.evaluation.tasks.get_benchmark`) is exercised. Rows are
MATH-style problems of realistic length (~60 words); 1 % carry a planted 8-gram from a benchmark,
and the script checks that exactly those are flagged.

    python benchmarks/decontaminate.py [--rows 200000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FILES = {
    "gsm8k": "gsm8k_test.jsonl",
    "math500": "math500_test.jsonl",
    "aime24": "aime24_test.jsonl",
    "aime25": "aime25_test.jsonl",
    "gpqa_diamond": "gpqa_diamond.csv",
}
VOCAB = [
    "find",
    "the",
    "value",
    "of",
    "integer",
    "sum",
    "triangle",
    "circle",
    "radius",
    "area",
    "probability",
    "prime",
    "number",
    "positive",
    "real",
    "solutions",
    "equation",
    "function",
    "polynomial",
    "roots",
    "sequence",
    "terms",
    "digits",
    "remainder",
    "divided",
    "angle",
    "square",
    "side",
    "length",
    "points",
    "plane",
    "line",
    "minimum",
    "maximum",
    "expected",
    "coins",
    "dice",
    "ways",
    "arrange",
    "letters",
    "matrix",
    "vector",
    "complex",
    "modulo",
]


def synthetic_sentence(rng: random.Random, words: int) -> str:
    return " ".join(
        rng.choice(VOCAB) + (str(rng.randint(0, 99)) if rng.random() < 0.3 else "")
        for _ in range(words)
    )


def prepare_benchmarks(folder: Path, rng: random.Random) -> list[str]:
    """Copy the real files that exist, synthesise the rest; return notes on what is what."""
    notes = []
    source_dir = Path(os.environ.get("TOOLKIT_BENCHMARK_DIR") or SHARED)
    for name, file_name in FILES.items():
        real = source_dir / file_name
        if real.exists():
            shutil.copy(real, folder / file_name)
            notes.append(f"{name}: real ({real})")
            continue
        if name == "gpqa_diamond":
            with (folder / file_name).open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(
                    [
                        "Question",
                        "Correct Answer",
                        "Incorrect Answer 1",
                        "Incorrect Answer 2",
                        "Incorrect Answer 3",
                    ]
                )
                for _ in range(198):
                    writer.writerow([synthetic_sentence(rng, 80), "a", "b", "c", "d"])
        else:
            with (folder / file_name).open("w") as handle:
                for _ in range(30):
                    handle.write(
                        json.dumps({"problem": synthetic_sentence(rng, 60), "answer": "1"}) + "\n"
                    )
        notes.append(f"{name}: synthetic stand-in")
    return notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--ngram", type=int, default=8)
    args = parser.parse_args()

    import datasets

    from toolkit.curate import (
        DEFAULT_BENCHMARKS,
        contamination_flags,
        decontaminate,
        load_benchmark_indexes,
        normalize_text,
    )
    from toolkit.evaluation.tasks import get_benchmark

    rng = random.Random(0)
    tmp = Path(tempfile.mkdtemp(prefix="decontam-bench-"))
    try:
        notes = prepare_benchmarks(tmp, rng)
        os.environ["TOOLKIT_BENCHMARK_DIR"] = str(tmp)
        for name in DEFAULT_BENCHMARKS:
            os.environ.pop(f"TOOLKIT_{name.upper()}_FILE", None)
        sources = [get_benchmark(name).problems() for name in DEFAULT_BENCHMARKS]
        problems, planted = [], set()
        for row in range(args.rows):
            text = synthetic_sentence(rng, rng.randint(30, 90))
            if row % 100 == 0:
                words = normalize_text(rng.choice(rng.choice(sources))).split()
                if len(words) >= args.ngram + 2:
                    start = rng.randint(0, len(words) - args.ngram)
                    text = f"{text} {' '.join(words[start : start + args.ngram])} {text[:40]}"
                    planted.add(row)
            problems.append(text)
        dataset = datasets.Dataset.from_dict({"problem": problems})
        print(f"{len(dataset)} rows, {len(planted)} planted overlaps, {os.cpu_count()} CPU cores")
        for note in notes:
            print(f"  {note}")

        started = time.perf_counter()
        indexes, unavailable = load_benchmark_indexes(DEFAULT_BENCHMARKS, ngram=args.ngram)
        load_s = time.perf_counter() - started
        assert not unavailable, unavailable
        scans = {}
        for num_proc in (1, 2):
            started = time.perf_counter()
            contamination_flags(problems, indexes, args.ngram, num_proc=num_proc)
            scans[num_proc] = time.perf_counter() - started

        started = time.perf_counter()
        flagged, report = decontaminate(dataset, ngram=args.ngram, remove=False)
        elapsed = time.perf_counter() - started
        columns = [flagged[f"contaminated_{n}"] for n in DEFAULT_BENCHMARKS]
        hit_rows = {i for i, flags in enumerate(zip(*columns, strict=True)) if any(flags)}
        rows = len(dataset)
        print(f"loading the 5 benchmark n-gram indexes: {load_s:.2f} s (once per run)")
        for num_proc, seconds in scans.items():
            print(
                f"n-gram scan only, num_proc={num_proc}: {rows / seconds:,.0f} rows/s "
                f"({seconds:.2f} s)"
            )
        print(
            f"decontaminate() end to end ({args.ngram}-grams, 5 benchmarks, loading, columns): "
            f"{rows / elapsed:,.0f} rows/s ({elapsed:.2f} s; target >= 20,000 rows/s)"
        )
        print(f"flagged per benchmark: {report.params['flagged']}")
        print(
            f"planted found: {len(planted & hit_rows)}/{len(planted)}; "
            f"flagged but not planted: {len(hit_rows - planted)}"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
