"""How fast one account may send commands: a token bucket per account, in memory.

A person typing or pressing by hand never meets the limit; a script does, and gets one
"slow down" answer per burst, then silence until its bucket fills again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum


@dataclass(frozen=True)
class Limits:
    """The ``[limits]`` section of the configuration."""

    commands_burst: int = 20
    """Commands one account may send at once."""
    commands_per_minute: float = 30
    """How fast the burst fills again."""
    needs_per_room_per_hour: int = 10
    """New needs one room takes in an hour."""


class Verdict(Enum):
    GO = "go"
    SLOW_DOWN = "slow down"
    """Refused, and the sender should be told (once per burst)."""
    IGNORE = "ignore"
    """Refused, and already told."""


@dataclass
class _Bucket:
    tokens: float
    at: float
    told: bool = False


@dataclass
class RateLimiter:
    """Token buckets per key, at most ``max_keys`` kept (full buckets are forgotten first)."""

    limits: Limits
    clock: Callable[[], float] = time.monotonic
    max_keys: int = 10_000
    _buckets: dict[object, _Bucket] = field(default_factory=dict)

    def check(self, key: object) -> Verdict:
        """Take one token for ``key`` if it has one."""
        now = self.clock()
        burst = float(self.limits.commands_burst)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(burst, now)
        rate = self.limits.commands_per_minute / 60
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.told = False
            return Verdict.GO
        if bucket.told:
            return Verdict.IGNORE
        bucket.told = True
        return Verdict.SLOW_DOWN

    def _forget_full(self, now: float) -> None:
        rate = self.limits.commands_per_minute / 60
        burst = self.limits.commands_burst
        for key, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.at) * rate >= burst:
                del self._buckets[key]
        if len(self._buckets) >= self.max_keys:  # all busy: forget the oldest
            del self._buckets[min(self._buckets, key=lambda k: self._buckets[k].at)]
