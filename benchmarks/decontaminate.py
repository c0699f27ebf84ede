"""Decontamination: the toolkit against open-r1's ``scripts/decontaminate.py`` on the same rows.

The peer is open-r1's approach re-implemented faithfully (huggingface/open-r1,
``scripts/decontaminate.py``): lower-case + whitespace-normalised text, word 8-grams split on
whitespace, one ``{ngram: doc ids}`` lookup per benchmark, and one ``datasets.map`` per
benchmark that builds each row's n-gram set and adds ``contaminated_<benchmark>``. Both sides
get the same benchmarks (GSM8K, MATH-500, AIME 2024/2025, GPQA-Diamond; open-r1's fifth,
LiveCodeBench, is code and not in the toolkit's registry) and the same rows, and both are timed
end to end: reading the benchmark files (``datasets``), building the index, scanning, adding
the flag columns.

Rows (one dataset, so one timing covers them all):

* ``background``: MATH-style synthetic problems (~60 words) that share no benchmark text;
* ``planted``: 1 % of those with a verbatim span of 8 consecutive words of a benchmark problem;
* ``verbatim``: every benchmark problem as it is published;
* ``embedded``: every benchmark problem inside a sentence ("Problem: … Answer briefly.");
* ``normalized``: every benchmark problem with case, punctuation and ``$`` changed (a copy
  that went through another formatter).

Printed: rows/s of each side per round and the ratio toolkit / peer over interleaved rounds
(min / median), with the load average beside each round; the peer twice: as its script runs
(``datasets.map``) and as a plain loop over the same functions (its algorithm without the
``datasets`` overhead, the stronger baseline); and per kind of row how many each side
flags, how many only the peer flags (a recall bug of the toolkit: must be 0) and how many only
the toolkit flags. Real benchmark files are used where present (``$TOOLKIT_BENCHMARK_DIR``, else
``../shared/data``); missing ones get synthetic stand-ins of their real size.

    python benchmarks/decontaminate.py [--rows 200000] [--rounds 3] [--quick]

``measure(quick=True)`` is what ``benchmarks/run_all.py --quick`` calls.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import random
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from common import Figure, print_figures

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FILES = {
    "gsm8k": ("gsm8k_test.jsonl", "question"),
    "math500": ("math500_test.jsonl", "problem"),
    "aime24": ("aime24_test.jsonl", "problem"),
    "aime25": ("aime25_test.jsonl", "problem"),
    "gpqa_diamond": ("gpqa_diamond.csv", "Question"),
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


# ---------------------------------------------------------------------------------------------
# the peer: open-r1 scripts/decontaminate.py, same functions, same logic


def openr1_normalize_string(text: str) -> str:
    """Basic string normalization."""
    text = text.lower().strip()
    return " ".join(text.split())


def openr1_word_ngrams(text: str, n: int) -> list[str]:
    words = text.split()
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]


def openr1_build_ngram_lookup(documents: list[str], ngram_size: int = 8) -> dict[str, set[int]]:
    lookup: dict[str, set[int]] = collections.defaultdict(set)
    for doc_id, document in enumerate(documents):
        for ngram in openr1_word_ngrams(openr1_normalize_string(document), ngram_size):
            lookup[ngram].add(doc_id)
    return lookup


def openr1_build_ngram_single(document: str, ngram_size: int = 8) -> set[str]:
    return set(openr1_word_ngrams(openr1_normalize_string(document), ngram_size))


def openr1_decontaminate(
    ds: Any,
    eval_problems: dict[str, list[str]],
    ngram_size: int = 8,
    problem_column: str = "problem",
    num_proc: int | None = None,
) -> Any:
    """open-r1's main block: one lookup per benchmark, one ``ds.map`` per benchmark."""
    ngram_lookups = {
        name: openr1_build_ngram_lookup(problems, ngram_size=ngram_size)
        for name, problems in eval_problems.items()
    }
    for eval_name, ngram_lookup in ngram_lookups.items():

        def find_contaminated(row, eval_name=eval_name, ngram_lookup=ngram_lookup):
            ngrams = openr1_build_ngram_single(row[problem_column], ngram_size=ngram_size)
            row[f"contaminated_{eval_name}"] = any(set(ngram in ngram_lookup for ngram in ngrams))
            return row

        ds = ds.map(find_contaminated, num_proc=num_proc)
    return ds


def openr1_flags(texts: list[str], eval_problems: dict[str, list[str]], ngram: int = 8):
    """Whether open-r1's approach flags each text (any benchmark); no ``datasets`` needed."""
    lookups = [openr1_build_ngram_lookup(p, ngram) for p in eval_problems.values()]
    return [
        any(g in lookup for lookup in lookups for g in openr1_build_ngram_single(t, ngram))
        for t in texts
    ]


# ---------------------------------------------------------------------------------------------
# data


def synthetic_sentence(rng: random.Random, words: int) -> str:
    return " ".join(
        rng.choice(VOCAB) + (str(rng.randint(0, 99)) if rng.random() < 0.3 else "")
        for _ in range(words)
    )


def prepare_benchmarks(folder: Path, rng: random.Random) -> tuple[dict[str, list[str]], list[str]]:
    """Copy the real files that exist, synthesise the rest; return each benchmark's raw problem
    column (what open-r1 reads) and notes on what is real."""
    notes, raw = [], {}
    source_dir = Path(os.environ.get("TOOLKIT_BENCHMARK_DIR") or SHARED)
    for name, (file_name, column) in FILES.items():
        real = source_dir / file_name
        if real.exists():
            shutil.copy(real, folder / file_name)
            notes.append(f"{name}: real ({real.name})")
        elif name == "gpqa_diamond":
            with (folder / file_name).open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(
                    ["Question", "Correct Answer"] + [f"Incorrect Answer {i}" for i in (1, 2, 3)]
                )
                for _ in range(198):
                    writer.writerow([synthetic_sentence(rng, 80), "a", "b", "c", "d"])
            notes.append(f"{name}: synthetic stand-in")
        else:
            with (folder / file_name).open("w") as handle:
                for _ in range(30):
                    row = {"problem": synthetic_sentence(rng, 60), "answer": "1"}
                    handle.write(json.dumps(row) + "\n")
            notes.append(f"{name}: synthetic stand-in")
        path = folder / file_name
        if path.suffix == ".csv":
            with path.open(newline="") as handle:
                raw[name] = [row[column] for row in csv.DictReader(handle)]
        else:
            raw[name] = [json.loads(line)[column] for line in path.read_text().splitlines()]
    return raw, notes


def load_eval_problems(folder: Path) -> dict[str, list[str]]:
    """Each benchmark's problem column read with ``datasets.load_dataset``, as open-r1's script
    reads its eval sets (timed on both sides: the toolkit loads through its registry)."""
    from datasets import load_dataset

    problems = {}
    for name, (file_name, column) in FILES.items():
        builder = "csv" if file_name.endswith(".csv") else "json"
        data = load_dataset(builder, data_files=str(folder / file_name), split="train")
        problems[name] = data[column]
    return problems


def normalized_copy(text: str) -> str:
    """The same problem after another formatter: upper case, no ``$``, punctuation moved."""
    text = text.replace("$", "").replace(",", " ,").replace("?", " ?")
    return re.sub(r"\s+", " ", text).upper()


def build_rows(rows: int, raw: dict[str, list[str]], rng: random.Random, ngram: int):
    texts, kinds = [], []
    problems = [p for values in raw.values() for p in values]
    for row in range(rows):
        text = synthetic_sentence(rng, rng.randint(30, 90))
        kind = "background"
        if row % 100 == 0:
            words = rng.choice(problems).split()
            if len(words) >= ngram + 2:
                start = rng.randint(0, len(words) - ngram)
                text = f"{text} {' '.join(words[start : start + ngram])} {text[:40]}"
                kind = "planted"
        texts.append(text)
        kinds.append(kind)
    for problem in problems:
        texts += [problem, f"Problem: {problem} Answer briefly.", normalized_copy(problem)]
        kinds += ["verbatim", "embedded", "normalized"]
    return texts, kinds


# ---------------------------------------------------------------------------------------------
# the run


def _flags_of(dataset: Any) -> list[bool]:
    """Whether each row is flagged for any benchmark (the ``contaminated_*`` columns)."""
    from toolkit.tables import column_values  # Arrow, not row-by-row formatting (both sides)

    columns = [c for c in dataset.column_names if c.startswith("contaminated_")]
    return [any(v) for v in zip(*(column_values(dataset, c) for c in columns), strict=True)]


def measure(
    quick: bool = False,
    rounds: int = 3,
    rows: int | None = None,
    ngram: int = 8,
    peer_num_proc: int | None = None,
) -> list[Figure]:
    """Run the comparison; print the per-round table and the recall table; return the headline
    figures (rows/s against both forms of the peer, and recall against the peer)."""
    import datasets

    from toolkit.curate import DEFAULT_BENCHMARKS, decontaminate

    rows = rows if rows is not None else (20_000 if quick else 200_000)
    rounds = max(rounds, 3)
    datasets.disable_progress_bars()
    rng = random.Random(0)
    tmp = Path(tempfile.mkdtemp(prefix="decontam-bench-"))
    saved = {k: os.environ.get(k) for k in ("TOOLKIT_BENCHMARK_DIR",)}
    try:
        raw, notes = prepare_benchmarks(tmp, rng)
        os.environ["TOOLKIT_BENCHMARK_DIR"] = str(tmp)
        for name in DEFAULT_BENCHMARKS:
            os.environ.pop(f"TOOLKIT_{name.upper()}_FILE", None)
        texts, kinds = build_rows(rows, raw, rng, ngram)
        dataset = datasets.Dataset.from_dict({"problem": texts})
        print(
            f"{len(texts):,} rows ({dict(collections.Counter(kinds))}), {os.cpu_count()} CPU "
            "cores; " + "; ".join(notes)
        )
        sides = {
            "toolkit": lambda: _flags_of(decontaminate(dataset, ngram=ngram, remove=False)[0]),
            "open-r1": lambda: _flags_of(
                openr1_decontaminate(
                    dataset, load_eval_problems(tmp), ngram, num_proc=peer_num_proc
                )
            ),
            "open-r1 loop": lambda: openr1_flags(texts, load_eval_problems(tmp), ngram),
        }
        speeds: dict[str, list[float]] = {name: [] for name in sides}
        flagged: dict[str, list[bool]] = {}
        print(
            "open-r1: its script's datasets.map per benchmark; open-r1 loop: the same functions "
            "in a plain loop (its algorithm without the datasets overhead)"
        )
        header = "".join(f"{name + ' rows/s':>22}" for name in sides)
        print(f"{'round':>5}{header}{'vs open-r1':>12}{'vs loop':>9}{'load':>6}")
        for round_number in range(rounds):
            order = list(sides) if round_number % 2 == 0 else list(sides)[::-1]
            for name in order:
                started = time.perf_counter()
                flagged[name] = sides[name]()
                speeds[name].append(len(texts) / (time.perf_counter() - started))
            cells = "".join(f"{speeds[name][-1]:>22,.0f}" for name in sides)
            print(
                f"{round_number + 1:>5}{cells}"
                f"{speeds['toolkit'][-1] / speeds['open-r1'][-1]:>11.2f}x"
                f"{speeds['toolkit'][-1] / speeds['open-r1 loop'][-1]:>8.2f}x"
                f"{os.getloadavg()[0]:>6.1f}"
            )
        assert flagged["open-r1"] == flagged["open-r1 loop"]
        print(
            f"\n{'rows':<11} {'count':>7} {'toolkit':>8} {'open-r1':>8} {'peer only':>10} "
            f"{'ours only':>10}"
        )
        for kind in ("background", "planted", "verbatim", "embedded", "normalized"):
            index = [i for i, k in enumerate(kinds) if k == kind]
            ours = sum(flagged["toolkit"][i] for i in index)
            peer = sum(flagged["open-r1"][i] for i in index)
            peer_only = sum(flagged["open-r1"][i] and not flagged["toolkit"][i] for i in index)
            ours_only = sum(flagged["toolkit"][i] and not flagged["open-r1"][i] for i in index)
            print(f"{kind:<11} {len(index):>7} {ours:>8} {peer:>8} {peer_only:>10} {ours_only:>10}")
        peer_flags = sum(flagged["open-r1"])
        both = sum(p and t for p, t in zip(flagged["open-r1"], flagged["toolkit"], strict=True))
        recall = 100.0 * both / peer_flags if peer_flags else 100.0
        print(f"rows open-r1 flags that the toolkit flags too: {both:,}/{peer_flags:,}\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    size = f"{len(texts):,} rows, {rounds} interleaved rounds"
    return [
        Figure(
            "decontaminate rows/s (open-r1 script)",
            "rows/s",
            speeds["toolkit"],
            speeds["open-r1"],
            "open-r1 scripts/decontaminate.py",
            target=1.0,
            notes=[f"{size}; both end to end: benchmark files read, index, scan, flag columns"],
        ),
        Figure(
            "decontaminate rows/s (open-r1 loop)",
            "rows/s",
            speeds["toolkit"],
            speeds["open-r1 loop"],
            "open-r1 functions, plain loop",
            target=1.0,
            notes=["the peer's algorithm without datasets.map: the stronger baseline"],
        ),
        Figure(
            "decontaminate recall of open-r1's flags",
            "%",
            [recall] * rounds,
            [100.0] * rounds,
            "open-r1",
            target=100.0,
            target_absolute=True,
            notes=["every row the peer flags must be flagged (0 recall bugs)"],
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="synthetic background rows")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ngram", type=int, default=8)
    parser.add_argument("--peer-num-proc", type=int, default=None, help="open-r1 uses 8")
    parser.add_argument("--quick", action="store_true", help="20,000 background rows")
    args = parser.parse_args()
    figures = measure(args.quick, args.rounds, args.rows, args.ngram, args.peer_num_proc)
    print_figures(figures)


if __name__ == "__main__":
    main()
