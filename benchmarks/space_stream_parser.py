"""How much the chat's streaming view costs per streamed token, as the thinking grows.

``ThinkingStreamParser`` re-splits the whole accumulated text for each view (simple and always
consistent with ``split_thinking``), and :func:`toolkit.chat.render.to_display` re-renders it,
so one view costs time linear in the output length. This measures, side by side in one run, the
cost per delta of (a) only accumulating the deltas, (b) a view (split + render) at every delta,
and (c) what the chat does — views at most every ``UPDATE_INTERVAL_S`` (and 5x the cost of the
last view apart) while tokens arrive at a fast server's pace (1,000 tokens/s simulated) — for
thinking traces of growing length. It prints the per-token cost next to the time a token takes
to generate on this CPU with SmolLM2-135M (~15 tokens/s, i.e. ~66 ms).

    python benchmarks/space_stream_parser.py

Not in ``benchmarks/run_all.py``: it has no peer doing the same work. It measures the chat's own
view cost against the time a token takes to generate (a budget, not a competitor); the libraries
a user would otherwise reach for (Gradio's ``ChatInterface`` reasoning display, the openai SDK's
streaming) do not split an R1 completion into reasoning and answer as it streams, so there is no
like-for-like ratio to put in the table.
"""

from __future__ import annotations

import time

from toolkit.chat.session import UPDATE_INTERVAL_S
from toolkit.chat.stream import ThinkingStreamParser, state_to_messages

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
    """A full view (split + safe rendering) at every delta: the worst case."""
    start = time.perf_counter()
    stream = ThinkingStreamParser(prefilled=prefilled)
    for delta in deltas:
        state_to_messages(stream.feed(delta))
    state_to_messages(stream.finish("stop"))
    return time.perf_counter() - start


def throttled(deltas: list[str], prefilled: bool, tokens_per_s: float = 1000.0) -> float:
    """What the chat session does, on a simulated clock of ``tokens_per_s`` arrivals: CPU
    seconds spent on views."""
    spent = 0.0
    clock = 0.0
    last = -1.0
    interval = UPDATE_INTERVAL_S
    stream = ThinkingStreamParser(prefilled=prefilled)
    for delta in deltas:
        clock += 1.0 / tokens_per_s
        stream.add(delta)
        if clock - last >= interval:
            start = time.perf_counter()
            state_to_messages(stream.state())
            cost = time.perf_counter() - start
            spent += cost
            interval = max(UPDATE_INTERVAL_S, 5 * cost)
            last = clock + cost
    start = time.perf_counter()
    state_to_messages(stream.finish("stop"))
    return spent + time.perf_counter() - start


def main() -> None:
    worst = worst_throttled = 0.0
    print(
        f"{'tokens':>7} {'style':>10} {'accumulate µs/tok':>18} {'every delta µs/tok':>19} "
        f"{'chat µs/tok':>12} {'ratio':>7}"
    )
    for length in LENGTHS:
        thinking = [TOKEN] * length
        for style, deltas, prefilled in (
            ("prefilled", [*thinking, "</think>", "\n\nThe answer is 4."], True),
            ("<think>", ["<think>", *thinking, "</think>", "\n\nThe answer is 4."], False),
        ):
            base = min(accumulate_only(deltas) for _ in range(3))
            parsed = min(parser(deltas, prefilled) for _ in range(3 if length < 16_000 else 1))
            chat = min(throttled(deltas, prefilled) for _ in range(3))
            per_base = base / len(deltas) * 1e6
            per_token = parsed / len(deltas) * 1e6
            per_chat = chat / len(deltas) * 1e6
            worst = max(worst, per_token)
            worst_throttled = max(worst_throttled, per_chat)
            print(
                f"{length:>7} {style:>10} {per_base:>18.2f} {per_token:>19.2f} "
                f"{per_chat:>12.2f} {parsed / base:>6.1f}x"
            )
    print(
        f"summary: a view at every delta costs up to {worst:.0f} µs per token (at "
        f"{LENGTHS[-1]:,} thinking tokens) = {worst / 66_000:.2%} of one SmolLM2-135M CPU token "
        f"(~66,000 µs); the chat's paced views cost {worst_throttled:.1f} µs per token at "
        "1,000 tokens/s"
    )


if __name__ == "__main__":
    main()
