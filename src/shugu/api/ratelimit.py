"""Request rate limits: token buckets in this process, or counts in a store hub processes share.

Each limit allows `burst` requests at once and `per_minute` sustained. `RateLimiter` keeps one
token bucket per key (a client address, a participant id) in memory and drops the least recently
used bucket when it holds `max_keys` of them, so a flood of new keys never resets an active
caller. `SharedRateLimiter` counts in a `limits` storage (Redis, …): `burst` requests in any
moving window of `burst / rate` seconds, the same sustained rate and the same burst, enforced by
every hub process that uses the store. `HubLimits` holds the hub's three limits.

>>> from datetime import datetime, timezone
>>> from shugu.clock import ManualClock
>>> clock = ManualClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> limiter = RateLimiter(per_minute=60, burst=2, clock=clock)
>>> limiter.take("p"), limiter.take("p"), limiter.take("p")
(0.0, 0.0, 1.0)
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from limits import RateLimitItemPerSecond
from limits.errors import ConfigurationError, StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from shugu.clock import Clock
from shugu.errors import InvalidInputError, RateLimitedError, UnavailableError
from shugu.i18n import N_
from shugu.settings import Settings

MEMORY = "memory://"
TOO_MANY_REQUESTS = N_("too many requests; retry in {retry_after} s")
TOO_MANY_APPLICATIONS = N_("too many applications from this address; retry in {retry_after} s")


class Limiter(Protocol):
    """Anything that charges one request to a key."""

    blocking: bool
    """Whether `take` does network I/O (call it off the event loop)."""

    def take(self, key: str) -> float:
        """Take one request for `key`; return 0 on success, else the seconds to wait."""
        ...


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token buckets keyed by caller, at most `max_keys` of them (least recently used dropped)."""

    blocking = False

    def __init__(
        self, *, per_minute: float, burst: int, clock: Clock, max_keys: int = 100_000
    ) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """Take a token for `key`; return 0 on success, else the seconds to wait."""
        now = self._clock.now().timestamp()
        with self._lock:
            bucket = self._bucket(key, now)
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.stamp) * self._rate)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self._rate

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is not None:
            self._buckets.move_to_end(key)
            return bucket
        while len(self._buckets) >= self._max_keys:
            self._buckets.popitem(last=False)
        bucket = self._buckets[key] = _Bucket(self._burst, now)
        return bucket

    def check(self, key: str) -> None:
        """Take a token or raise `RateLimitedError` with `retry_after` in whole seconds."""
        refuse_if_waiting(self.take(key))


class SharedRateLimiter:
    """`burst` requests per moving window of `burst * 60 / per_minute` seconds, in a store.

    Raises (from `take`):
        UnavailableError: the store cannot be reached (requests are refused, not let through).
    """

    blocking = True

    def __init__(self, strategy: MovingWindowRateLimiter, *, per_minute: float, burst: int) -> None:
        self._strategy = strategy
        self._item = RateLimitItemPerSecond(burst, max(1, round(burst * 60 / per_minute)))

    def take(self, key: str) -> float:
        """Count one request for `key`; return 0 if allowed, else the seconds to wait."""
        try:
            if self._strategy.hit(self._item, key):
                return 0.0
            reset = self._strategy.get_window_stats(self._item, key).reset_time
        except StorageError as exc:
            raise UnavailableError(
                N_("the rate-limit store cannot be reached: {reason}"),
                reason=type(exc.storage_error).__name__,
            ) from exc
        return max(1.0, reset - time.time())


def refuse_if_waiting(wait: float, message: str = TOO_MANY_REQUESTS) -> None:
    """Raise `RateLimitedError` when `wait` (seconds) is positive."""
    if wait > 0:
        raise RateLimitedError(message, retry_after=max(1, math.ceil(wait)))


@dataclass(frozen=True, slots=True)
class HubLimits:
    """The hub's limits: every request per client address (before anything else is done with
    it), each authenticated participant, and applications per client address."""

    address: Limiter
    participant: Limiter
    application: Limiter

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> HubLimits:
        """The limits the settings describe, in memory or in the configured store.

        Raises:
            InvalidInputError: `rate_limit.storage_url` names no store the `limits` library knows.
        """
        rate = settings.rate_limit
        quotas: tuple[tuple[float, int], ...] = (
            (rate.address_per_minute, rate.address_burst),
            (rate.per_minute, rate.burst),
            (rate.applications_per_hour / 60, rate.applications_per_hour),
        )
        limiters: list[Limiter]
        if rate.storage_url == MEMORY:
            limiters = [
                RateLimiter(per_minute=p, burst=b, clock=clock, max_keys=rate.max_keys)
                for p, b in quotas
            ]
        else:
            strategy = _shared_strategy(rate.storage_url, f"shugu:{settings.space_name}")
            limiters = [SharedRateLimiter(strategy, per_minute=p, burst=b) for p, b in quotas]
        return cls(limiters[0], limiters[1], limiters[2])


def _shared_strategy(url: str, prefix: str) -> MovingWindowRateLimiter:
    try:
        storage = storage_from_string(
            url,
            key_prefix=prefix,
            wrap_exceptions=True,
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
        )
    except (ConfigurationError, ValueError) as exc:
        raise InvalidInputError(
            N_("rate_limit.storage_url: the limits library supports no store of scheme {scheme}"),
            scheme=url.split(":", 1)[0],
        ) from exc
    return MovingWindowRateLimiter(storage)
