"""The outbound path: the messages the bot says on its own (``core.services.outbox``) are
handed to the running adapter of their platform, and what became of each is recorded."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from adapters.base import Adapter
from core.dispatch import Core
from core.logs import describe
from core.types import Later, Outcome, Outgoing

log = logging.getLogger("capx-bot")

IDLE_SECONDS = 1.0
"""How long the router waits for a command to queue something before it looks anyway (for
messages made due by time, or queued by another process)."""
RETRY_SECONDS = 30.0
"""When an adapter failed to send, how long the message waits before it is tried again."""


IN_FLIGHT = 32
"""Messages of one platform claimed and sent at once, then recorded together; the adapter's
own limiter paces them (Telegram's 30 a second overall, 20 a minute in a group). A group is
sent well within its lease, so that no other process takes it over meanwhile."""
STOPPING_SECONDS = 30.0
"""How long a cancelled router still waits for the group it is sending, to record it."""


class Router:
    """Knows the running adapters by platform; :meth:`run` delivers until cancelled."""

    def __init__(self, core: Core, adapters: Sequence[Adapter]) -> None:
        self.core = core
        self.adapters = {adapter.name: adapter for adapter in adapters}

    async def run(self) -> None:
        while True:
            try:
                tried = await self.deliver_due()
            except Exception as error:  # the database away: wait, and look again
                log.error("could not deliver the outbox: %s", describe(error))
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if not tried:
                await self.core.wait_for_outbox(IDLE_SECONDS)

    async def deliver_due(self) -> int:
        """Send one group of what is due on every platform whose adapter is ready; how many
        were tried. Cancelled meanwhile, it still records the group it was sending (for up
        to :data:`STOPPING_SECONDS`), so that a stop sends nothing twice."""
        tried = 0
        for adapter in self.adapters.values():
            if adapter.ready:
                group = await self.core.due(adapter.name, IN_FLIGHT)
                sending = asyncio.ensure_future(self._send_all(adapter, group))
                try:
                    await asyncio.shield(sending)
                except asyncio.CancelledError:
                    await asyncio.wait([sending], timeout=STOPPING_SECONDS)
                    raise
                tried += len(group)
        return tried

    async def _send_all(self, adapter: Adapter, group: list[Outgoing]) -> None:
        outcomes = await asyncio.gather(*(self._send(adapter, message) for message in group))
        await self.core.record_all(
            [(message.id, outcome) for message, outcome in zip(group, outcomes, strict=True)]
        )

    async def _send(self, adapter: Adapter, message: Outgoing) -> Outcome:
        try:
            return await adapter.send(message.target, message.reply, key=message.key)
        except Exception as error:  # an adapter's bug must not stop the others
            log.error("%s could not send message %d: %s", adapter.name, message.id, describe(error))
            return Later(RETRY_SECONDS, "failed")
