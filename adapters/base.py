"""What every chat platform adapter shares: its lifecycle contract and the retry policy."""

from __future__ import annotations

import asyncio
import random
import time
from collections import OrderedDict
from typing import Generic, Protocol, TypeVar

from core.types import Outcome, Reply, Target

K = TypeVar("K")
V = TypeVar("V")


class Adapter(Protocol):
    name: str

    @property
    def ready(self) -> bool:
        """Whether it is connected and may :meth:`send`."""

    async def run(self) -> None:
        """Serve the platform until cancelled, cleaning up on cancellation. Raise
        :class:`AdapterStopped` when it cannot go on (no token, a rejected token); any other
        exception is a crash, after which the supervisor starts it again."""

    async def send(self, target: Target, reply: Reply, *, key: str) -> Outcome:
        """Deliver ``reply`` to ``target`` (a room, or a person's private chat), which the
        bot says on its own: the outcome, never an exception for the platform's refusals.
        ``key`` is unique to the message: where the platform takes an idempotency key, it is
        that key, so that a retry after a crash never posts twice."""


class Kept(Generic[K, V]):
    """At most ``size`` values, each kept ``seconds``; the oldest go first."""

    def __init__(self, size: int, seconds: float) -> None:
        self.size = size
        self.seconds = seconds
        self._values: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        found = self._values.get(key)
        if found is None or found[0] < time.monotonic():
            self._values.pop(key, None)
            return None
        return found[1]

    def put(self, key: K, value: V) -> None:
        self._values[key] = (time.monotonic() + self.seconds, value)
        self._values.move_to_end(key)
        while len(self._values) > self.size:
            self._values.popitem(last=False)

    def pop(self, key: K) -> V | None:
        value = self.get(key)
        self._values.pop(key, None)
        return value


class AdapterStopped(Exception):
    """The adapter cannot run with this configuration; the message says why, for an operator,
    and never contains a secret."""


class Backoff:
    """Exponential delays with jitter between retries: ``base``, twice that... up to ``cap``."""

    def __init__(self, *, base: float = 1.0, cap: float = 300.0) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        """The delay before the next try; each call counts one more failure."""
        delay = min(self.cap, self.base * 2**self.failures)
        self.failures += 1
        return delay * random.uniform(0.5, 1.0)

    async def wait(self) -> None:
        await asyncio.sleep(self.next_delay())

    def reset(self) -> None:
        """Call after a success: the next failure waits ``base`` again."""
        self.failures = 0
