"""Generation throughput and client CPU: ``toolkit generate`` through its CLI defaults, next to
plain aiohttp (the best peer: the library under the toolkit's transport, here on uvloop as the
toolkit runs) and the official ``openai`` SDK with its default client.

A loopback OpenAI-compatible server runs in a SEPARATE process (its CPU is not charged to the
client) and answers every request after a fixed latency (200 ms) with a ~2 KB reasoning reply.
Each round runs every client once at each concurrency, back to back (interleaved), so load on a
shared machine hits all alike. The toolkit run is the real CLI (``toolkit generate FILE --model
M --base-url URL -o OUT --concurrency C``, in-process): pre-flight check, fsync'd resumable state,
output table and all. Peers only send requests and parse the JSON.

Targets (issue 16): through the CLI defaults >= 90 % of ideal at concurrency 64, >= 80 % at 256,
<= 0.5 ms client CPU per request.

    python benchmarks/generate.py [--quick] [--rounds 3] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

from common import Figure, print_figures

from tests.helpers.servers import SubprocessServer

MODEL = "teacher"


def _body(i: int) -> dict:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": f"Problem {i}: compute {i} * 3 + 7."}],
        "temperature": 0.6,
        "top_p": 0.95,
        "max_tokens": 4096,
    }


def run_cli(url: str, concurrency: int, requests: int, offset: int) -> tuple[float, float]:
    """``toolkit generate`` with default flags; returns (requests/s in the engine, CPU s)."""
    from typer.testing import CliRunner

    from toolkit.cli import app

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "problems.jsonl"
        source.write_text(
            "".join(
                json.dumps({"problem": f"Problem {offset + i}: compute {i} * 3 + 7."}) + "\n"
                for i in range(requests)
            )
        )
        args = ["generate", str(source), "--model", MODEL, "--base-url", url + "/v1", "-n", "1",
                "-o", str(Path(tmp) / "out.parquet"), "--concurrency", str(concurrency),
                "--no-progress", "--json"]  # fmt: skip
        cpu0 = time.process_time()
        result = CliRunner().invoke(app, args)
        cpu = time.process_time() - cpu0
    if result.exit_code != 0:
        raise SystemExit(f"toolkit generate failed: {result.output[-2000:]}")
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    if summary["completed"] != requests:
        raise SystemExit(f"benchmark run lost samples: {summary}")
    return summary["requests"] / summary["elapsed_s"], cpu


def run_aiohttp(url: str, concurrency: int, requests: int) -> tuple[float, float]:
    import aiohttp
    import uvloop

    async def main() -> float:
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            limit = asyncio.Semaphore(concurrency)

            async def one(i: int) -> None:
                async with limit, session.post(url + "/v1/chat/completions", json=_body(i)) as r:
                    payload = json.loads(await r.read())
                    assert payload["choices"][0]["message"]["content"]

            started = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(requests)))
            return time.perf_counter() - started

    cpu0 = time.process_time()
    wall = uvloop.run(main())
    return requests / wall, time.process_time() - cpu0


def run_openai_sdk(url: str, concurrency: int, requests: int) -> tuple[float, float]:
    import openai

    async def main() -> float:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="EMPTY", max_retries=0)
        limit = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with limit:
                completion = await client.chat.completions.create(**_body(i))
                assert completion.choices[0].message.content

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        await client.close()
        return time.perf_counter() - started

    cpu0 = time.process_time()
    wall = asyncio.run(main())
    return requests / wall, time.process_time() - cpu0


def measure(quick: bool = False, rounds: int = 3, latency: float = 0.2) -> list[Figure]:
    per_slot = 4 if quick else 12
    results: dict[tuple[str, int], list[tuple[float, float]]] = {}
    with SubprocessServer(
        "openai", model=MODEL, latency=latency, reasoning_chars=2000, fixed_response=True
    ) as server:
        run_cli(server.url, 16, 32, offset=10**7)  # warm-up: imports, first-call costs
        offset = 0
        for _ in range(rounds):
            for concurrency in (64, 256):
                count = concurrency * per_slot
                for name, fn in (
                    ("toolkit", lambda c=concurrency, n=count, o=offset: run_cli(
                        server.url, c, n, o)),
                    ("aiohttp", lambda c=concurrency, n=count: run_aiohttp(server.url, c, n)),
                    ("openai", lambda c=concurrency, n=count: run_openai_sdk(server.url, c, n)),
                ):  # fmt: skip
                    rate, cpu = fn()
                    results.setdefault((name, concurrency), []).append((rate, 1000 * cpu / count))
                offset += count

    def pct(name: str, c: int) -> list[float]:
        return [100 * rate * latency / c for rate, _ in results[(name, c)]]

    def cpu(name: str, c: int) -> list[float]:
        return [ms for _, ms in results[(name, c)]]

    sdk = {c: statistics.median(pct("openai", c)) for c in (64, 256)}
    sdk_cpu = statistics.median(cpu("openai", 256))
    figures = [
        Figure("generate c=64, % of ideal (CLI defaults)", "%", pct("toolkit", 64),
               pct("aiohttp", 64), "aiohttp+uvloop", target=90, target_absolute=True,
               notes=[f"official openai SDK default client: {sdk[64]:.1f} % of ideal"]),
        Figure("generate c=256, % of ideal (CLI defaults)", "%", pct("toolkit", 256),
               pct("aiohttp", 256), "aiohttp+uvloop", target=80, target_absolute=True,
               notes=[f"official openai SDK default client: {sdk[256]:.1f} % of ideal"]),
        Figure("generate c=256, client CPU per request", "ms", cpu("toolkit", 256),
               cpu("aiohttp", 256), "aiohttp+uvloop", higher_is_better=False, target=0.5,
               target_absolute=True,
               notes=[f"official openai SDK: {sdk_cpu:.2f} ms/request; the toolkit's includes "
                      "loading the input, fsync'd state and writing the output table"]),
    ]  # fmt: skip
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 requests per slot, not 12")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    figures = measure(args.quick, args.rounds, args.latency)
    print(f"teacher: separate-process loopback server, {args.latency * 1000:.0f} ms latency")
    print_figures(figures)


if __name__ == "__main__":
    main()
