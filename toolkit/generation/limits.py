"""Token buckets that pace a run to a provider's requests/min and tokens/min limits.

Pacing below the limit costs less than the 429s and back-off of hitting it: a bucket refills
continuously, allows a short burst, and serves waiters in FIFO order.
"""

from __future__ import annotations

import asyncio
import time


class RateLimiter:
    """A token bucket: ``per_minute`` units refill continuously, ``burst_s`` seconds' worth at most.

    ``acquire`` waits in FIFO order; ``adjust`` corrects a reservation afterwards (tokens/min
    reserves prompt + max_new_tokens up front, then gives back what the completion did not use).
    """

    def __init__(self, per_minute: float, burst_s: float = 1.0) -> None:
        if per_minute <= 0:
            raise ValueError(f"rate limit must be > 0 per minute, got {per_minute}")
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self.available = self.capacity
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.available = min(self.capacity, self.available + (now - self.updated) * self.rate)
        self.updated = now

    async def acquire(self, amount: float = 1.0) -> float:
        amount = min(float(amount), self.capacity)
        async with self._lock:
            while True:
                self._refill()
                if self.available >= amount:
                    self.available -= amount
                    return amount
                await asyncio.sleep((amount - self.available) / self.rate)

    def adjust(self, delta: float) -> None:
        self._refill()
        self.available = min(self.capacity, self.available - delta)


__all__ = ["RateLimiter"]
