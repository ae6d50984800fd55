"""``capx-bot run``: every enabled adapter at once, each supervised on its own, so that one
platform's trouble never stops another."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import signal
import socket
import sys
import time
from collections.abc import Coroutine, Mapping, Sequence
from enum import Enum
from typing import Any

from adapters.base import Adapter, AdapterStopped, Backoff
from bots.config import Config
from core.dispatch import Core
from core.logs import describe

log = logging.getLogger("capx-bot")

STABLE_SECONDS = 60.0
"""An adapter that ran this long before crashing starts again after the shortest delay."""

PLATFORMS = ("telegram", "matrix", "discord")

LIBRARY_UNREACHABLE = {"httpx": "TransportError", "aiohttp": "ClientConnectionError"}
"""Each HTTP library's error for a server that could not be reached."""
NETWORK_ERRNOS = {
    errno.ENETDOWN,
    errno.ENETUNREACH,
    errno.EHOSTDOWN,
    errno.EHOSTUNREACH,
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ETIMEDOUT,
}


class Ended(Enum):
    """How a supervised adapter ended."""

    FINISHED = "finished"
    """Its ``run`` returned."""
    STOPPED = "stopped"
    """It raised :class:`AdapterStopped`: it cannot run with this configuration."""


def enabled(config: Config) -> list[str]:
    """The platforms the configuration enables (``enabled = true`` in their section)."""
    return [name for name in PLATFORMS if config.sections.get(name, {}).get("enabled")]


def build_adapters(config: Config, core: Core, environ: Mapping[str, str]) -> list[Adapter]:
    """The adapters the configuration enables, their settings read from the checked
    sections."""
    adapters: list[Adapter] = []
    # Each platform's library is imported only when its adapter is wanted: it costs up to a
    # second of start-up (matrix-nio with its cryptography) that no other command should pay.
    for name in enabled(config):
        section = config.sections[name]
        if name == "telegram":
            from adapters.telegram import TelegramAdapter, TelegramSettings

            adapters.append(TelegramAdapter(core, TelegramSettings.from_config(section, environ)))
        elif name == "matrix":
            from adapters.matrix import MatrixAdapter, MatrixSettings

            adapters.append(MatrixAdapter(core, MatrixSettings.from_config(section, environ)))
        else:
            from adapters.discord import DiscordAdapter, DiscordSettings

            adapters.append(DiscordAdapter(core, DiscordSettings.from_config(section, environ)))
    return adapters


def _causes(error: BaseException) -> list[BaseException]:
    """``error`` and what it came from, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain and len(chain) < 20:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def unreachable(error: BaseException) -> str | None:
    """When ``error`` means the platform's server could not be reached, what happened, in a
    few words that quote no URL (a Telegram URL holds the token): the innermost system error
    and its text (``ConnectionRefusedError: Connect call failed``), else the library's error
    type. None for any other error."""
    chain = _causes(error)
    unreachable_types = _unreachable_types()
    if not any(
        isinstance(each, unreachable_types)
        or (isinstance(each, OSError) and each.errno in NETWORK_ERRNOS)
        for each in chain
    ):
        return None
    system = [each for each in chain if isinstance(each, OSError) and each.strerror]
    if system:
        return f"{type(system[-1]).__name__}: {system[-1].strerror}"
    return type(chain[-1]).__name__


def _unreachable_types() -> tuple[type[BaseException], ...]:
    """The errors that mean a server could not be reached (refused, unknown host, timed out,
    cut off), whichever library met them; a library's own only when it is loaded (else it
    met nothing), so that nothing here imports a platform's library."""
    found: list[type[BaseException]] = [ConnectionError, TimeoutError, socket.gaierror]
    for library, name in LIBRARY_UNREACHABLE.items():
        module = sys.modules.get(library)
        if module is not None:
            found.append(getattr(module, name))
    return tuple(found)


async def supervise(adapter: Adapter, backoff: Backoff | None = None) -> Ended:
    """Run ``adapter`` until cancelled. After a crash it starts again, after a growing delay:
    a server it cannot reach is one warning line for each try, any other crash is logged with
    its traceback. After :class:`AdapterStopped` it stays stopped, with one log line saying
    why."""
    backoff = backoff or Backoff(cap=300)
    while True:
        started = time.monotonic()
        try:
            await adapter.run()
            return Ended.FINISHED
        except AdapterStopped as reason:
            log.error("%s adapter stopped: %s", adapter.name, reason)
            return Ended.STOPPED
        except Exception as error:
            if time.monotonic() - started > STABLE_SECONDS:
                backoff.reset()
            delay = backoff.next_delay()
            cause = unreachable(error)
            if cause is not None:
                log.warning(
                    "%s adapter cannot reach its server (%s); trying again in %.0f s",
                    adapter.name,
                    cause,
                    delay,
                )
            else:
                log.error(
                    "%s adapter crashed: %s; starting it again in %.0f s",
                    adapter.name,
                    describe(error),
                    delay,
                    exc_info=error,
                )
            await asyncio.sleep(delay)


SIGNALS = (signal.SIGINT, signal.SIGTERM)


def settle() -> None:
    """Start-up is over: what it made (the libraries, the reference data, the adapters) is
    collected once and frozen out of the garbage collector's generations, so that its full
    collections stop walking it again every few thousand commands (a pause of 0.1-0.25 s
    each, measured in ``bench.discord``)."""
    gc.collect()
    gc.freeze()


async def run_adapters(
    adapters: Sequence[Adapter], background: Sequence[Coroutine[Any, Any, None]] = ()
) -> list[Ended]:
    """Supervise every adapter until all have ended, or until SIGINT or SIGTERM, with the
    ``background`` work (the router delivering the outbox, the scheduler) running meanwhile;
    how each adapter ended (nothing after a signal). On the way out the background stops
    first, while the adapters still run, so that the router records what it was sending."""
    settle()
    supervising = asyncio.ensure_future(asyncio.gather(*(supervise(a) for a in adapters)))
    running = [asyncio.ensure_future(work) for work in background]
    signalled = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in SIGNALS:
        loop.add_signal_handler(number, signalled.set)
    waiting = asyncio.ensure_future(signalled.wait())
    try:
        await asyncio.wait([supervising, waiting], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for number in SIGNALS:
            loop.remove_signal_handler(number)
        await _stopped([waiting, *running])
        await _stopped([supervising])
    if signalled.is_set():
        log.info("stopped by a signal")
        return []
    return list(supervising.result())


async def _stopped(tasks: Sequence[asyncio.Future[Any]]) -> None:
    """Cancel ``tasks`` and wait until each has finished its clean-up."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def none_could_serve(ended: Sequence[Ended]) -> bool:
    """Whether every adapter stopped for its configuration (a missing or rejected token...),
    so that ``capx-bot run`` served nothing and should say so with its exit status."""
    return bool(ended) and all(each is Ended.STOPPED for each in ended)
