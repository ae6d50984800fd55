"""The supervisor's policy: a crashed adapter starts again, a stopped one stays stopped, and
neither holds up the others."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from adapters.base import AdapterStopped, Backoff
from bots.supervisor import supervise


class Scripted:
    """An adapter that crashes ``crashes`` times, then serves until cancelled."""

    def __init__(self, name: str, crashes: int = 0, stop: bool = False) -> None:
        self.name = name
        self.crashes = crashes
        self.stop = stop
        self.runs = 0
        self.serving = asyncio.Event()

    async def run(self) -> None:
        self.runs += 1
        if self.stop:
            raise AdapterStopped("no token")
        if self.runs <= self.crashes:
            raise RuntimeError("a bug")
        self.serving.set()
        await asyncio.Event().wait()


async def test_a_crashed_adapter_starts_again_and_a_stopped_one_does_not(caplog):
    flaky, stopped, steady = (
        Scripted("flaky", crashes=2),
        Scripted("off", stop=True),
        Scripted("ok"),
    )
    quick = {"base": 0.01, "cap": 0.02}
    with caplog.at_level(logging.WARNING):
        tasks = [
            asyncio.create_task(supervise(a, Backoff(**quick))) for a in (flaky, stopped, steady)
        ]
        await asyncio.wait_for(asyncio.gather(flaky.serving.wait(), steady.serving.wait()), 5)
        await asyncio.sleep(0.05)
        assert tasks[1].done() and not tasks[0].done() and not tasks[2].done()
        for task in tasks:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
    assert (flaky.runs, stopped.runs, steady.runs) == (3, 1, 1)
    messages = [r.getMessage() for r in caplog.records]
    assert sum(m.startswith("flaky adapter crashed; starting it again") for m in messages) == 2
    assert messages.count("off adapter stopped: no token") == 1
    assert all(task.cancelled() for task in (tasks[0], tasks[2]))
