"""The outbound path: the messages the bot says on its own (``core.services.outbox``) are
handed to the running adapter of their platform, and what became of each is recorded."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from adapters.base import Adapter
from core.dispatch import Core
from core.logs import describe
from core.types import Later

log = logging.getLogger("capx-bot")

IDLE_SECONDS = 1.0
"""How long the router waits for a command to queue something before it looks anyway (for
messages made due by time, or queued by another process)."""
RETRY_SECONDS = 30.0
"""When an adapter failed to send, how long the message waits before it is tried again."""


class Router:
    """Knows the running adapters by platform; :meth:`run` delivers until cancelled."""

    def __init__(self, core: Core, adapters: Sequence[Adapter]) -> None:
        self.core = core
        self.adapters = {adapter.name: adapter for adapter in adapters}

    async def run(self) -> None:
        while True:
            try:
                await self.deliver_due()
            except Exception as error:  # the database away: wait, and look again
                log.error("could not deliver the outbox: %s", describe(error))
                await asyncio.sleep(RETRY_SECONDS)
            await self.core.wait_for_outbox(IDLE_SECONDS)

    async def deliver_due(self) -> int:
        """Send what is due on every platform whose adapter is ready; how many were tried."""
        tried = 0
        for platform, adapter in self.adapters.items():
            if not adapter.ready:
                continue
            for message in await self.core.due(platform):
                tried += 1
                try:
                    outcome = await adapter.send(message.target, message.reply, key=message.key)
                except Exception as error:  # an adapter's bug must not stop the others
                    log.error(
                        "%s could not send message %d: %s", platform, message.id, describe(error)
                    )
                    outcome = Later(RETRY_SECONDS, "failed")
                await self.core.record(message.id, outcome)
        return tried
