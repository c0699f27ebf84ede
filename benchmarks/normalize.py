"""Benchmark ``toolkit.normalize`` against the best peer doing the same work.

The peer is what a user writes without the toolkit: a plain ``datasets.Dataset.map(batched=True)``
with the *same* split logic — :func:`toolkit.thinking.split_thinking`, the final answer, the
content hashes, ``messages`` and a JSON ``metadata`` object per row, built in Python — at
``num_proc`` 1 and N (issue 16). The toolkit runs ``normalize("auto", …)``, so the new format
detection (a converted sample of rows per candidate format) is inside the measured time.

Rows are synthetic Magpie-Reasoning-shaped rows (instruction, a ``<think>`` response with a few KB
of thinking, Magpie's 14 metadata columns) in a Parquet file, converted once to the Arrow cache
outside every timed region. Each measurement runs in its own subprocess; the four configurations
(toolkit/peer × num_proc 1/N) are interleaved within each round, so a change in machine load hits
both sides of a ratio alike. Printed per round: rows/s of both, the ratio, the load average; then
min / median of each ratio over the rounds, and the toolkit's best rows/s against the 50k rows/s
target (with rows per CPU-second, the figure that does not depend on other tenants).

``--crossover`` measures ``num_proc=1`` against ``num_proc=N`` at growing row counts: the
smallest row count where the pool wins is what ``toolkit.formats.default_num_proc`` uses.

Usage::

    python benchmarks/normalize.py                      # 50,000 rows, 3 rounds, num_proc 1 and 2
    python benchmarks/normalize.py --quick              # 10,000 rows (what run_all --quick runs)
    python benchmarks/normalize.py --rows 20000 --rounds 5 --num-proc 4
    python benchmarks/normalize.py --crossover --sizes 5000 20000 50000 100000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from common import Figure, print_figures

TARGET_ROWS_PER_S = 50_000

WORDS = [
    "let",
    "me",
    "think",
    "about",
    "this",
    "carefully",
    "first",
    "we",
    "need",
    "the",
    "value",
    "of",
    "x",
    "so",
    "the",
    "equation",
    "becomes",
    "wait",
    "that",
    "is",
    "not",
    "right",
    "because",
    "the",
    "sum",
    "of",
    "the",
    "angles",
    "must",
    "equal",
    "one",
    "hundred",
    "eighty",
    "degrees",
    "therefore",
    "substituting",
    "back",
    "gives",
    "us",
    "the",
    "same",
    "result",
    "again",
    "hmm",
    "maybe",
    "I",
    "should",
    "check",
    "the",
    "boundary",
    "case",
    "where",
    "n",
    "equals",
    "zero",
    "alternatively",
    "we",
    "can",
    "factor",
    "the",
    "quadratic",
    "polynomial",
    "and",
    "compute",
    "the",
    "discriminant",
    "which",
    "is",
    "positive",
    "so",
    "there",
    "are",
    "two",
    "real",
    "roots",
    "okay",
    "so",
    "the",
    "answer",
    "should",
    "be",
    "consistent",
    "with",
    "the",
    "constraint",
    "given",
    "in",
    "the",
    "problem",
    "statement",
]
# R1 traces are mostly ASCII; about one in four uses a symbol such as these somewhere.
NON_ASCII = ["≤", "√2", "π", "×", "→", "über", "≈"]
CATEGORIES = ["Math", "Reasoning", "Coding & Debugging", "Information seeking", "Planning"]


def _paragraphs(rng: random.Random, count: int) -> list[str]:
    paragraphs = [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 90))) for _ in range(count)
    ]
    for k in range(0, count, 30):  # a few paragraphs carry a non-ASCII symbol
        paragraphs[k] += f" so x {rng.choice(NON_ASCII)} y."
    return paragraphs


def build_rows(path: Path, rows: int, seed: int = 0) -> None:
    """Write ``rows`` synthetic Magpie rows to a Parquet file, in chunks (bounded memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    pool = _paragraphs(rng, 512)
    writer = None
    chunk = 10_000
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        instructions, responses, uuids = [], [], []
        for i in range(n):
            thinking = "\n\n".join(rng.choice(pool) for _ in range(rng.randint(6, 14)))
            answer = rng.choice(pool) + f"\n\nThe answer is $\\boxed{{{start + i}}}$."
            opening = "" if i % 50 == 0 else "<think>\n"  # some with the opening tag prefilled
            responses.append(f"{opening}{thinking}\n</think>\n\n{answer}")
            instructions.append(rng.choice(pool)[:300] + f" (problem {start + i})")
            uuids.append(str(uuid.UUID(int=rng.getrandbits(128))))
        table = pa.table(
            {
                "uuid": uuids,
                "instruction": instructions,
                "response": responses,
                "gen_input_configs": [
                    {
                        "temperature": 1.0,
                        "top_p": 1.0,
                        "input_generator": "meta-llama/Llama-3.3-70B-Instruct",
                        "seed": None,
                        "pre_query_template": "<|begin_of_text|><|start_header_id|>user",
                    }
                ]
                * n,
                "gen_response_configs": [
                    {
                        "prompt": None,
                        "temperature": 0.6,
                        "top_p": 0.95,
                        "repetition_penalty": 1.0,
                        "max_tokens": 4096,
                        "stop_tokens": ["<｜end▁of▁sentence｜>"],
                        "output_generator": "deepseek-ai/DeepSeek-R1-Distill-Llama-70B",
                        "engine": "vllm",
                    }
                ]
                * n,
                "intent": ["The user wants to solve a math problem about " + w for w in uuids],
                "knowledge": ["To solve this problem, the models need to know algebra"] * n,
                "difficulty": [rng.choice(["easy", "medium", "hard"]) for _ in range(n)],
                "difficulty_generator": ["meta-llama/Llama-3.3-70B-Instruct"] * n,
                "input_quality": [rng.choice(["good", "excellent", "average"]) for _ in range(n)],
                "quality_explanation": ["The query is clear, specific and well-formed."] * n,
                "quality_generator": ["meta-llama/Llama-3.3-70B-Instruct"] * n,
                "task_category": [rng.choice(CATEGORIES) for _ in range(n)],
                "other_task_category": [["Reasoning", "Math"]] * n,
                "task_category_generator": ["meta-llama/Llama-3.3-70B-Instruct"] * n,
                "language": ["EN"] * n,
            }
        )
        if writer is None:
            writer = pq.ParquetWriter(str(path), table.schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()


def peer_map(dataset, num_proc: int):
    """The peer: ``Dataset.map(batched=True)`` with the same split logic, written as a user would
    (one Python dict of lists per batch, ``json.dumps`` for the metadata)."""
    import datasets

    from toolkit.answers import final_answer
    from toolkit.schema import FEATURES, build_messages, content_hash
    from toolkit.thinking import split_thinking

    consumed = {"instruction", "response"}
    extra = [name for name in dataset.column_names if name not in consumed]

    def convert(batch):
        out = {name: [] for name in FEATURES}
        for i, (instruction, response) in enumerate(
            zip(batch["instruction"], batch["response"], strict=True)
        ):
            problem = instruction.strip()
            split = split_thinking(response)
            metadata = {name: batch[name][i] for name in extra if batch[name][i] is not None}
            out["id"].append(content_hash(problem, split.reasoning, split.answer))
            out["problem_id"].append(content_hash(problem))
            out["source"].append("bench")
            out["problem"].append(problem)
            out["reasoning"].append(split.reasoning)
            out["answer"].append(split.answer)
            out["reasoning_complete"].append(split.reasoning_complete)
            out["final_answer"].append(final_answer(split.answer))
            out["gold_answer"].append(None)
            out["messages"].append(
                build_messages(
                    problem,
                    split.reasoning,
                    split.answer,
                    reasoning_complete=split.reasoning_complete,
                )
            )
            out["domain"].append("math" if batch["task_category"][i] == "Math" else "general")
            out["metadata"].append(
                json.dumps(metadata, sort_keys=True, ensure_ascii=False, default=str)
            )
        return out

    return dataset.map(
        convert,
        batched=True,
        batch_size=1000,
        num_proc=num_proc if num_proc > 1 else None,
        remove_columns=dataset.column_names,
        features=datasets.Features(FEATURES),
    )


def child(mode: str, data: Path, rows: int, num_proc: int) -> None:
    """One measurement in a fresh process: print a JSON line with wall and CPU seconds."""
    import datasets

    datasets.disable_caching()  # a fresh map every run (no fingerprint cache hits)
    datasets.disable_progress_bars()
    from toolkit.formats import normalize
    from toolkit.io import load_table

    dataset = load_table(data, limit=rows)  # memory-mapped Arrow (a contiguous selection)
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    if mode == "toolkit":
        result = normalize("auto", dataset, num_proc=num_proc, source="bench", progress=False)
    else:
        result = peer_map(dataset, num_proc)
    seconds = time.perf_counter() - start
    assert len(result) == rows, (len(result), rows)
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)  # map workers, joined by now
    cpu = own.ru_utime + own.ru_stime - before.ru_utime - before.ru_stime
    cpu += workers.ru_utime + workers.ru_stime
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu}))


def run_child(mode: str, data: Path, rows: int, num_proc: int, cache: Path) -> dict[str, float]:
    env = {**os.environ, "HF_DATASETS_CACHE": str(cache), "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, __file__, "--child", mode, "--data", str(data)]
    command += ["--rows", str(rows), "--num-proc", str(num_proc)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{done.stderr[-3000:]}")
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    measured["load"] = os.getloadavg()[0]
    return measured


def compare(
    data: Path, cache: Path, rows: int, rounds: int, procs: list[int]
) -> dict[int, dict[str, list[float]]]:
    """Interleaved rounds of toolkit/peer at each ``num_proc``: rows/s and rows per CPU-second
    of both sides per round, keyed by ``num_proc``."""
    keys = ("toolkit", "peer", "toolkit_cpu", "peer_cpu")
    values: dict[int, dict[str, list[float]]] = {n: {k: [] for k in keys} for n in procs}
    for round_no in range(1, rounds + 1):
        parts = []
        for n in procs:
            ours = run_child("toolkit", data, rows, n, cache)
            peer = run_child("peer", data, rows, n, cache)
            ours_rate, peer_rate = rows / ours["seconds"], rows / peer["seconds"]
            values[n]["toolkit"].append(ours_rate)
            values[n]["peer"].append(peer_rate)
            values[n]["toolkit_cpu"].append(rows / ours["cpu_seconds"])
            values[n]["peer_cpu"].append(rows / peer["cpu_seconds"])
            parts.append(
                f"num_proc={n}: toolkit {ours_rate:,.0f} rows/s ({rows / ours['cpu_seconds']:,.0f}"
                f"/CPU-s), peer {peer_rate:,.0f} rows/s ({rows / peer['cpu_seconds']:,.0f}/CPU-s),"
                f" ratio {ours_rate / peer_rate:.2f}x, load {ours['load']:.1f}/{peer['load']:.1f}"
            )
        print(f"round {round_no}: " + " | ".join(parts), flush=True)
    return values


def figures_of(values: dict[int, dict[str, list[float]]], rows: int) -> list[Figure]:
    """One figure per ``num_proc``; the 50k rows/s target sits on the toolkit's faster one."""
    best = max(values, key=lambda n: statistics.median(values[n]["toolkit"]))
    figures = []
    for n, v in values.items():
        cpu_ratio = [t / p for t, p in zip(v["toolkit_cpu"], v["peer_cpu"], strict=True)]
        notes = [
            f"{rows:,} Magpie-shaped rows, each run in a fresh process; rows per CPU-second "
            f"(not skewed by other tenants): toolkit {statistics.median(v['toolkit_cpu']):,.0f}, "
            f"peer {statistics.median(v['peer_cpu']):,.0f}, ratio median "
            f"{statistics.median(cpu_ratio):.2f}"
        ]
        if n == best:
            notes.append(
                f"target {TARGET_ROWS_PER_S:,} rows/s wall, on the toolkit's faster num_proc"
            )
        figures.append(
            Figure(
                f"normalize rows/s, num_proc={n}",
                "rows/s",
                v["toolkit"],
                v["peer"],
                f"datasets.map(batched=True), num_proc={n}",
                target=TARGET_ROWS_PER_S if n == best else None,
                target_absolute=True,
                notes=notes,
            )
        )
    return figures


def measure(
    quick: bool = False, rows: int | None = None, rounds: int = 3, num_proc: int | None = None
) -> list[Figure]:
    """Build the rows, warm the Arrow cache, run the interleaved rounds; the headline figures
    (toolkit / ``datasets.map`` at ``num_proc`` 1 and N)."""
    rows = rows if rows is not None else (10_000 if quick else 50_000)
    num_proc = num_proc or os.cpu_count() or 2
    procs = [1] if num_proc <= 1 else [1, num_proc]
    with tempfile.TemporaryDirectory(prefix="bench-normalize-") as tmp:
        data = Path(tmp) / "magpie.parquet"
        build_rows(data, rows)
        cache = Path(tmp) / "hf-cache"
        run_child("toolkit", data, min(rows, 1000), 1, cache)  # Parquet → Arrow cache, untimed
        values = compare(data, cache, rows, max(rounds, 3), procs)
    return figures_of(values, rows)


def crossover(data: Path, cache: Path, sizes: list[int], procs: int) -> None:
    print(f"num_proc=1 against num_proc={procs} (toolkit, auto):")
    for rows in sizes:
        one = run_child("toolkit", data, rows, 1, cache)
        many = run_child("toolkit", data, rows, procs, cache)
        winner = f"num_proc={procs}" if many["seconds"] < one["seconds"] else "num_proc=1"
        print(
            f"  {rows:>9,} rows: {one['seconds']:6.2f}s vs {many['seconds']:6.2f}s "
            f"-> {winner} (load {one['load']:.1f}/{many['load']:.1f})",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="rows per run (50,000)")
    parser.add_argument("--quick", action="store_true", help="10,000 rows")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (>= 3)")
    parser.add_argument("--num-proc", type=int, default=os.cpu_count() or 2, help="N")
    parser.add_argument("--crossover", action="store_true", help="num_proc 1 vs N by row count")
    parser.add_argument("--sizes", type=int, nargs="*", default=[5_000, 20_000, 50_000, 100_000])
    parser.add_argument("--child", choices=["toolkit", "peer"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data, args.rows or 50_000, args.num_proc)
        return

    if not args.crossover:
        print_figures(measure(args.quick, args.rows, args.rounds, args.num_proc))
        return
    total = max(args.rows or 50_000, *args.sizes)
    with tempfile.TemporaryDirectory(prefix="bench-normalize-") as tmp:
        data = Path(tmp) / "magpie.parquet"
        started = time.perf_counter()
        build_rows(data, total)
        print(
            f"built {total:,} synthetic Magpie rows ({data.stat().st_size / 1e6:.0f} MB parquet) "
            f"in {time.perf_counter() - started:.0f}s; {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.1f}",
            flush=True,
        )
        cache = Path(tmp) / "hf-cache"
        run_child("toolkit", data, min(total, 1000), 1, cache)  # Parquet → Arrow cache, untimed
        crossover(data, cache, args.sizes, args.num_proc)


if __name__ == "__main__":
    main()
