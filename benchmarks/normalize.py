"""Benchmark ``toolkit.normalize("magpie", ...)`` against a naive per-row Python loop.

Builds synthetic Magpie-Reasoning-shaped rows (instruction, a ``<think>`` response with a few KB
of thinking, and Magpie's metadata columns) into a Parquet file, then measures, each in its own
subprocess so that the peak-memory figures are separable:

* ``normalize``: ``toolkit.normalize("magpie", dataset, num_proc=N)`` over the Arrow dataset
  (memory-mapped, as ``load_table`` gives it) at the requested row counts;
* ``naive``: the same work one row at a time — iterate rows, ``split_thinking``,
  ``TraceRecord(...).to_row()`` (hashes, messages, JSON metadata), ``Dataset.from_list``.

It prints rows/s of both and their ratio from one run, and the peak RSS of the normalize runs at
each row count (main process and, separately, the largest worker). Usage::

    python benchmarks/normalize.py                  # 200,000 rows; RSS at 50k and 200k
    python benchmarks/normalize.py --rows 20000 --rss-rows 5000 20000 --naive-rows 5000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

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


def naive_normalize(dataset):  # the per-row loop the issue compares against
    import datasets

    from toolkit.answers import final_answer
    from toolkit.schema import FEATURES, TraceRecord
    from toolkit.thinking import split_thinking

    consumed = {"instruction", "response"}
    rows = []
    for row in dataset:
        split = split_thinking(row["response"])
        record = TraceRecord(
            problem=row["instruction"].strip(),
            reasoning=split.reasoning,
            answer=split.answer,
            reasoning_complete=split.reasoning_complete,
            final_answer=final_answer(split.answer),
            source="bench",
            domain="math" if row["task_category"] == "Math" else "general",
            metadata={k: v for k, v in row.items() if k not in consumed and v is not None},
        )
        rows.append(record.to_row())
    return datasets.Dataset.from_list(rows, features=FEATURES)


class MemorySampler:
    """Peak memory of this process and of its workers, sampled every 50 ms.

    ``ru_maxrss`` counts the pages of memory-mapped Arrow files that were read, which grow with
    the data but belong to the page cache (the kernel drops them under pressure). RSS minus
    shared (file-backed) memory is what the process itself holds: that is the figure that must
    not grow with the row count.
    """

    def __init__(self) -> None:
        import psutil

        self.process = psutil.Process()
        self.peak = {"main_rss": 0.0, "main_anon": 0.0, "worker_rss": 0.0, "worker_anon": 0.0}
        self.cpu_seconds = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        info = self.process.memory_info()
        self._update("main", info.rss, info.rss - info.shared)
        for worker in self.process.children(recursive=True):
            try:
                info = worker.memory_info()
            except psutil.Error:
                continue
            self._update("worker", info.rss, info.rss - info.shared)

    def _update(self, who: str, rss: int, anon: int) -> None:
        self.peak[f"{who}_rss"] = max(self.peak[f"{who}_rss"], rss / 2**20)
        self.peak[f"{who}_anon"] = max(self.peak[f"{who}_anon"], anon / 2**20)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self._sample()
        self.cpu_seconds = time.thread_time()  # the sampler's own CPU, left out of the figures

    def __enter__(self) -> MemorySampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def child(mode: str, data: Path, rows: int, num_proc: int) -> None:
    """One measurement in a fresh process: print a JSON line with times and peak memory."""
    import datasets

    datasets.disable_caching()  # a fresh map every run (no fingerprint cache hits)
    datasets.disable_progress_bars()
    from toolkit.formats import normalize
    from toolkit.io import load_table

    dataset = load_table(data, limit=rows)  # memory-mapped Arrow (a contiguous selection)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    with MemorySampler() as memory:
        start = time.perf_counter()
        if mode == "normalize":
            result = normalize("magpie", dataset, num_proc=num_proc, source="bench", progress=False)
        else:
            result = naive_normalize(dataset)
        seconds = time.perf_counter() - start
    assert len(result) == rows, (len(result), rows)
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)  # map workers, joined by now
    cpu = own.ru_utime + own.ru_stime - cpu_before + workers.ru_utime + workers.ru_stime
    cpu -= memory.cpu_seconds
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, **memory.peak}))


def run_child(mode: str, data: Path, rows: int, num_proc: int, cache: Path) -> dict[str, float]:
    env = {**os.environ, "HF_DATASETS_CACHE": str(cache), "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, __file__, "--child", mode, "--data", str(data)]
    command += ["--rows", str(rows), "--num-proc", str(num_proc)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows for the throughput run")
    parser.add_argument("--rss-rows", type=int, nargs="*", default=[50_000, 200_000])
    parser.add_argument("--naive-rows", type=int, default=50_000, help="rows for the naive loop")
    parser.add_argument("--num-proc", type=int, default=2)
    parser.add_argument("--child", choices=["normalize", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data, args.rows, args.num_proc)
        return

    total = max([args.rows, args.naive_rows, *args.rss_rows])
    with tempfile.TemporaryDirectory(prefix="bench-normalize-") as tmp:
        data = Path(tmp) / "magpie.parquet"
        started = time.perf_counter()
        build_rows(data, total)
        size_mb = data.stat().st_size / 1e6
        print(
            f"built {total:,} synthetic Magpie rows ({size_mb:.0f} MB parquet) "
            f"in {time.perf_counter() - started:.0f}s; {os.cpu_count()} CPUs"
        )
        cache = Path(tmp) / "hf-cache"
        # Convert the Parquet file to the Arrow cache once, outside every timed region.
        run_child("normalize", data, min(total, 1000), 1, cache)

        fast = run_child("normalize", data, args.rows, args.num_proc, cache)
        naive_rows = min(args.naive_rows, total)
        naive = run_child("naive", data, naive_rows, 1, cache)
        fast_rate = args.rows / fast["seconds"]
        naive_rate = naive_rows / naive["seconds"]
        fast_cpu_rate = args.rows / fast["cpu_seconds"]
        naive_cpu_rate = naive_rows / naive["cpu_seconds"]
        print(f"load average during the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(
            f"toolkit.normalize('magpie', num_proc={args.num_proc}): {args.rows:,} rows in "
            f"{fast['seconds']:.1f}s = {fast_rate:,.0f} rows/s "
            f"({fast_cpu_rate:,.0f} rows per CPU-second)"
        )
        print(
            f"naive per-row loop (1 process):        {naive_rows:,} rows in "
            f"{naive['seconds']:.1f}s = {naive_rate:,.0f} rows/s "
            f"({naive_cpu_rate:,.0f} rows per CPU-second)"
        )
        print(
            f"ratio: {fast_rate / naive_rate:.1f}x wall-clock, "
            f"{fast_cpu_rate / naive_cpu_rate:.1f}x per CPU-second"
        )
        if args.num_proc != 1:  # the same rows in one process: the like-for-like comparison
            single = run_child("normalize", data, naive_rows, 1, cache)
            print(
                f"toolkit.normalize('magpie', num_proc=1): {naive_rows:,} rows in "
                f"{single['seconds']:.1f}s = {naive_rows / single['seconds']:,.0f} rows/s "
                f"({naive_rows / single['cpu_seconds']:,.0f} rows per CPU-second); "
                f"ratio to the naive loop {naive['seconds'] / single['seconds']:.1f}x"
            )
        for rows in args.rss_rows:
            measured = (
                fast
                if rows == args.rows
                else run_child("normalize", data, rows, args.num_proc, cache)
            )
            print(
                f"peak at {rows:,} rows: main process RSS {measured['main_rss']:,.0f} MB "
                f"(anonymous {measured['main_anon']:,.0f} MB), largest worker RSS "
                f"{measured['worker_rss']:,.0f} MB (anonymous {measured['worker_anon']:,.0f} MB)"
            )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
