"""Per-participant rate limiting with token buckets (in the hub process).

Each key (a participant id, or an address for anonymous calls) has a bucket of `burst` tokens
refilled at `per_minute / 60` tokens a second; a request takes one token or is refused with the
number of seconds until one is available.

>>> from datetime import datetime, timezone
>>> from shugu.clock import ManualClock
>>> clock = ManualClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> limiter = RateLimiter(per_minute=60, burst=2, clock=clock)
>>> limiter.take("p"), limiter.take("p"), limiter.take("p")
(0.0, 0.0, 1.0)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from shugu.clock import Clock
from shugu.errors import RateLimitedError
from shugu.i18n import N_

_MAX_KEYS = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token buckets keyed by caller."""

    def __init__(self, *, per_minute: int, burst: int, clock: Clock) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take a token for `key`; return 0 on success, else the seconds to wait."""
        now = self._clock.now().timestamp()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= _MAX_KEYS:
                    self._buckets.clear()
                bucket = self._buckets[key] = _Bucket(self._burst, now)
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.stamp) * self._rate)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self._rate

    def check(self, key: str) -> None:
        """Take a token or raise `RateLimitedError` with `retry_after` in whole seconds."""
        wait = self.take(key)
        if wait > 0:
            raise RateLimitedError(
                N_("too many requests; retry in {retry_after} s"), retry_after=max(1, round(wait))
            )
