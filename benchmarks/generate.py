"""Throughput and client CPU of ``toolkit generate`` against a fixed-latency teacher.

A loopback OpenAI-compatible server runs in a SEPARATE process (so its CPU is not charged to the
client) and answers every request after a fixed latency (200 ms) with a ~2 KB reasoning
completion. In one run this prints, side by side:

* the seed recipe's sequential loop (the official ``openai`` client, one request after another),
* the toolkit engine at concurrency 64 and 256 (lean httpx transport, results fsync'd to the
  resumable state exactly as in a real run), and at 256 with the official ``openai`` client,
* the ideal (concurrency / latency), the % of ideal reached, and the client's CPU per request
  (process CPU time / requests).

Targets (issue 3): >= 80 % of ideal at concurrency 256, < 2 ms client CPU per request.

    python benchmarks/generate.py [--latency 0.2] [--requests-per-slot 12]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import datasets  # noqa: E402
from toolkit.generate import GenerateConfig, agenerate, run_event_loop  # noqa: E402
from toolkit.teachers.openai_compat import OpenAICompatTeacher  # noqa: E402

from tests.helpers.servers import SubprocessServer  # noqa: E402

MODEL = "teacher"


def problems(count: int, offset: int = 0) -> datasets.Dataset:
    return datasets.Dataset.from_dict(
        {"problem": [f"Problem {offset + i}: compute {i} * {i + 3} + 7." for i in range(count)]}
    )


def run_toolkit(
    url: str, concurrency: int, requests: int, transport: str, offset: int, loop: str = "auto"
) -> dict:
    """One engine run: n=1 per problem, so requests == problems (retries would show up too)."""
    table = problems(requests, offset)
    teacher = OpenAICompatTeacher(MODEL, url + "/v1", transport=transport, timeout=60)
    config = GenerateConfig(n=1, concurrency=concurrency, progress=False, max_tokens=4096)
    with tempfile.TemporaryDirectory() as state:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = run_event_loop(agenerate(table, teacher, config, state_dir=state), loop)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    summary = result.summary
    if summary.completed != requests or len(result.dataset) != requests:
        raise SystemExit(f"benchmark run lost samples: {summary.line()}")
    return {
        "requests": summary.requests,
        "wall": wall,
        "cpu": cpu,
        "engine_wall": summary.elapsed_s,
    }


def run_sequential(url: str, requests: int) -> dict:
    """The seed recipe: a plain loop over problems with the official client."""
    import openai

    client = openai.OpenAI(base_url=url + "/v1", api_key="EMPTY", max_retries=0)
    rows = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(requests):
        completion = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": f"Problem {i}"}],
            temperature=0.6,
            top_p=0.95,
            max_tokens=4096,
        )
        message = completion.choices[0].message
        rows.append((getattr(message, "reasoning_content", None), message.content))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    client.close()
    return {"requests": requests, "wall": wall, "cpu": cpu}


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the server process has used so far, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loop_label(loop: str) -> str:
    if loop != "auto":
        return loop
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--reasoning-chars", type=int, default=2000)
    parser.add_argument(
        "--requests-per-slot",
        type=int,
        default=12,
        help="requests per concurrency slot (run length ≈ this × latency)",
    )
    parser.add_argument("--sequential-requests", type=int, default=15)
    parser.add_argument(
        "--skip-slow-transports",
        action="store_true",
        help="skip the httpx and official-openai-client runs at c=256",
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    datasets.disable_progress_bars()

    with SubprocessServer(
        "openai",
        model=MODEL,
        latency=args.latency,
        reasoning_chars=args.reasoning_chars,
        fixed_response=True,
    ) as server:
        pid = server.process.pid  # type: ignore[union-attr]
        # Warm-up: imports, connection pool, first-call costs.
        run_toolkit(server.url, 32, 64, "http11", offset=10**7)
        rows = []
        before = server_cpu(pid)
        seq = run_sequential(server.url, args.sequential_requests)
        seq["server_cpu"] = server_cpu(pid) - before
        rows.append(("sequential loop (seed recipe, openai client)", 1, seq))
        offset = 0
        plan = [(64, "http11", "auto"), (256, "http11", "auto"), (256, "http11", "asyncio")]
        if not args.skip_slow_transports:
            plan += [(256, "httpx", "auto"), (256, "openai", "auto")]
        for concurrency, transport, loop in plan:
            count = concurrency * args.requests_per_slot
            before = server_cpu(pid)
            result = run_toolkit(server.url, concurrency, count, transport, offset, loop)
            result["server_cpu"] = server_cpu(pid) - before
            offset += count
            loop_name = loop_label(loop)
            rows.append((f"toolkit c={concurrency} {transport}, {loop_name}", concurrency, result))

    print(
        f"\nteacher: loopback OpenAI-compatible server in a separate process, "
        f"{args.latency * 1000:.0f} ms latency, ~{args.reasoning_chars} chars reasoning per reply"
    )
    header = (
        f"{'run':<46} {'req':>6} {'req/s':>8} {'ideal':>8} {'% ideal':>8} {'CPU ms/req':>11}"
        f" {'engine req/s':>13} {'% ideal':>8} {'server CPU ms/req':>18}"
    )
    print(header)
    print("-" * len(header))
    for label, concurrency, result in rows:
        rate = result["requests"] / result["wall"]
        ideal = concurrency / args.latency
        cpu_ms = 1000 * result["cpu"] / result["requests"]
        engine = result["requests"] / result.get("engine_wall", result["wall"])
        server_ms = 1000 * result["server_cpu"] / result["requests"]
        print(
            f"{label:<46} {result['requests']:>6} {rate:>8.1f} {ideal:>8.1f} "
            f"{100 * rate / ideal:>7.1f}% {cpu_ms:>11.2f} {engine:>13.1f} {100 * engine / ideal:>7.1f}%"
            f" {server_ms:>18.2f}"
        )
    seq_rate = rows[0][2]["requests"] / rows[0][2]["wall"]
    best = rows[2][2]["requests"] / rows[2][2]["wall"]
    print(f"\nspeed-up of toolkit c=256 over the sequential loop: {best / seq_rate:.0f}x")
    print(
        "req/s: end to end (input loading, resume scan, fsync'd writes, final table); engine "
        "req/s: the request loop alone (summary.elapsed_s). CPU: client process time / requests."
    )
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, 1-min load average at the end {load:.1f}")


if __name__ == "__main__":
    main()
