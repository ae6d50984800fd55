"""Reading iCalendar feeds (an ``https://`` address or a file) into the core's events."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx

from core.dispatch import Core
from core.logs import describe
from core.services import ical

log = logging.getLogger("capx-bot")

MAX_BYTES = 20 * 2**20
"""The largest feed read: more is refused, not read in part."""
TIMEOUT_SECONDS = 30.0


class FeedProblem(Exception):
    """A feed that could not be read: a few words saying why, without its address."""


async def fetch(address: str) -> bytes:
    """The feed's bytes; a :class:`FeedProblem` when it cannot be had or is too large."""
    if not address.startswith(("http://", "https://")):
        path = Path(address)
        try:
            if path.stat().st_size > MAX_BYTES:
                raise FeedProblem("it is larger than 20 MiB")
            return path.read_bytes()
        except OSError as error:
            raise FeedProblem(error.strerror or type(error).__name__) from error
    try:
        async with (
            httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=True) as client,
            client.stream("GET", address) as response,
        ):
            if response.status_code != 200:
                raise FeedProblem(f"the server answered {response.status_code}")
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > MAX_BYTES:
                    raise FeedProblem("it is larger than 20 MiB")
            return bytes(data)
    except httpx.HTTPError as error:
        raise FeedProblem(f"cannot reach it ({type(error).__name__})") from error


async def import_feed(core: Core, address: str) -> ical.Synced:
    """Read the feed at ``address`` and bring its events here up to date; a
    :class:`FeedProblem` when it cannot be read (nothing is changed then)."""
    data = await fetch(address)
    try:
        feed = await asyncio.to_thread(ical.read, data, core.clock())  # seconds for a big one
    except ical.FeedError as error:
        raise FeedProblem(str(error)) from error
    return await core.in_database(
        lambda session: ical.sync(session, core.taxonomy, address, feed, core.clock())
    )


async def refresh(core: Core, addresses: list[str]) -> None:
    """Import every feed; one that cannot be read is logged and the others go on."""
    for number, address in enumerate(addresses, 1):
        try:
            synced = await import_feed(core, address)
        except FeedProblem as problem:
            log.warning("event feed %d cannot be read: %s", number, problem)
        except Exception as error:
            log.error("event feed %d failed: %s", number, describe(error))
        else:
            log.info("event feed %d: %s", number, synced)
