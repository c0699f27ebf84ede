"""How much the Space's streaming parser costs per streamed token, as the thinking grows.

``ThinkingStreamParser`` re-splits the whole accumulated text on every delta (simple and always
consistent with ``split_thinking``), which is quadratic in the output length. This measures, side
by side in one run, the cost per delta of (a) only accumulating the deltas and (b) the parser,
for thinking traces of growing length, and prints the per-token cost next to the time a token
takes to generate on this CPU with SmolLM2-135M (~15 tokens/s, i.e. ~66 ms): the parser must stay
a small fraction of that.

    python benchmarks/space_stream_parser.py
"""

from __future__ import annotations

import time

from toolkit.space import ThinkingStreamParser

TOKEN = "step "  # ~1 token
LENGTHS = (1_000, 4_000, 16_000)


def accumulate_only(deltas: list[str]) -> float:
    start = time.perf_counter()
    parts: list[str] = []
    for delta in deltas:
        parts.append(delta)
        "".join(parts)
    return time.perf_counter() - start


def parser(deltas: list[str], prefilled: bool) -> float:
    start = time.perf_counter()
    stream = ThinkingStreamParser(prefilled=prefilled)
    for delta in deltas:
        stream.feed(delta)
    stream.finish()
    return time.perf_counter() - start


def main() -> None:
    worst = 0.0
    print(
        f"{'tokens':>7} {'style':>10} {'accumulate µs/tok':>18} {'parser µs/tok':>14} {'ratio':>7}"
    )
    for length in LENGTHS:
        thinking = [TOKEN] * length
        for style, deltas, prefilled in (
            ("prefilled", [*thinking, "</think>", "\n\nThe answer is 4."], True),
            ("<think>", ["<think>", *thinking, "</think>", "\n\nThe answer is 4."], False),
        ):
            base = min(accumulate_only(deltas) for _ in range(3))
            parsed = min(parser(deltas, prefilled) for _ in range(3))
            per_base = base / len(deltas) * 1e6
            per_token = parsed / len(deltas) * 1e6
            worst = max(worst, per_token)
            print(
                f"{length:>7} {style:>10} {per_base:>18.2f} {per_token:>14.2f} "
                f"{parsed / base:>6.1f}x"
            )
    print(
        f"summary: worst parser cost {worst:.0f} µs per token (at {LENGTHS[-1]:,} thinking "
        f"tokens) = {worst / 66_000:.2%} of one SmolLM2-135M CPU token (~66,000 µs)"
    )


if __name__ == "__main__":
    main()
