"""The one retry policy for model requests: exponential back-off with full jitter, honouring
``Retry-After``.

Full jitter (a uniform delay in ``[0, base * 2**attempt]``) keeps hundreds of concurrent
requests that failed together from retrying together; a server's ``Retry-After`` is a floor,
never shortened. Generation and evaluation both run their requests through the engine in
:mod:`toolkit.generation.engine`, which applies this policy.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry a retryable failure (429, 5xx, timeouts, resets)."""

    max_retries: int = 8
    base_delay: float = 1.0
    max_delay: float = 60.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        return backoff_delay(attempt, retry_after, self.base_delay, self.max_delay, rng)


def backoff_delay(
    attempt: int, retry_after: float | None, base: float, cap: float, rng: random.Random
) -> float:
    """Exponential backoff with full jitter; a server's ``Retry-After`` is a floor."""
    delay = rng.uniform(0, min(cap, base * (2**attempt)))
    if retry_after is not None:
        delay = max(delay, retry_after) + rng.uniform(0, min(1.0, base))
    return delay


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), ``None`` if absent."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


__all__ = ["RetryPolicy", "backoff_delay", "parse_retry_after"]
