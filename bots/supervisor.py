"""``capx-bot run``: every enabled adapter at once, each supervised on its own, so that one
platform's trouble never stops another."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Mapping, Sequence

from adapters.base import Adapter, AdapterStopped, Backoff
from adapters.matrix import MatrixAdapter, MatrixSettings
from adapters.telegram import TelegramAdapter, TelegramSettings
from bots.config import Config
from core.dispatch import Core

log = logging.getLogger("capx-bot")

STABLE_SECONDS = 60.0
"""An adapter that ran this long before crashing starts again after the shortest delay."""


def build_adapters(config: Config, core: Core, environ: Mapping[str, str]) -> list[Adapter]:
    """The adapters the configuration enables (``enabled = true`` in their section)."""
    adapters: list[Adapter] = []
    telegram = config.sections.get("telegram", {})
    if telegram.get("enabled"):
        adapters.append(TelegramAdapter(core, TelegramSettings.from_config(telegram, environ)))
    matrix = config.sections.get("matrix", {})
    if matrix.get("enabled"):
        adapters.append(MatrixAdapter(core, MatrixSettings.from_config(matrix, environ)))
    return adapters


async def supervise(adapter: Adapter, backoff: Backoff | None = None) -> None:
    """Run ``adapter`` until cancelled. After a crash it starts again, after a growing delay;
    after :class:`AdapterStopped` it stays stopped, with one log line saying why."""
    backoff = backoff or Backoff(cap=300)
    while True:
        started = time.monotonic()
        try:
            await adapter.run()
            return
        except AdapterStopped as reason:
            log.error("%s adapter stopped: %s", adapter.name, reason)
            return
        except Exception:
            if time.monotonic() - started > STABLE_SECONDS:
                backoff.reset()
            delay = backoff.next_delay()
            log.exception("%s adapter crashed; starting it again in %.0f s", adapter.name, delay)
            await asyncio.sleep(delay)


async def run_adapters(adapters: Sequence[Adapter]) -> None:
    """Supervise every adapter until all have stopped, or until SIGINT or SIGTERM."""
    task = asyncio.ensure_future(asyncio.gather(*(supervise(a) for a in adapters)))
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
        log.info("stopped by a signal")
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)
