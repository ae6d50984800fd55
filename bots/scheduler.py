"""The periodic jobs (APScheduler 3.x): the core's housekeeping (reminders coming within the
horizon, introductions left unanswered), the event feeds and the CapX sync. With several
processes on one PostgreSQL database, only the holder of an advisory lock schedules; each
job is safe to run twice anyway. Sending is not a job here: every process's router sends,
claiming messages with ``FOR UPDATE SKIP LOCKED``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Connection, Engine, text

from bots import feeds
from bots.capx import CapxSettings, Jobs
from core.dispatch import Core
from core.logs import describe

log = logging.getLogger("capx-bot")

HOUSEKEEPING_SECONDS = 60
LEADER_RETRY_SECONDS = 15.0
LOCK_KEY = 0x43617058  # "CapX"


class Scheduler:
    """Runs the periodic jobs while this process leads; :meth:`run` until cancelled."""

    def __init__(
        self,
        core: Core,
        feeds: list[str],
        refresh_minutes: int,
        capx: CapxSettings | None = None,
    ) -> None:
        self.core = core
        self.feeds = feeds
        self.refresh_minutes = refresh_minutes
        self.capx = Jobs(core, capx) if capx is not None and capx.enabled else None

    async def run(self) -> None:
        connection = await self._lead()
        jobs = AsyncIOScheduler(timezone=UTC)
        now = datetime.now(UTC)
        options = {"next_run_time": now, "max_instances": 1, "coalesce": True}
        jobs.add_job(self.housekeeping, "interval", seconds=HOUSEKEEPING_SECONDS, **options)
        if self.feeds:
            jobs.add_job(self.refresh, "interval", minutes=self.refresh_minutes, **options)
        if self.capx is not None:
            minutes = self.capx.settings.incremental_minutes
            first = {**options, "next_run_time": now + timedelta(minutes=minutes)}
            jobs.add_job(self.capx_incremental, "interval", minutes=minutes, **first)
            hours = self.capx.settings.reconcile_hours
            due = {**options, "next_run_time": await self.capx.next_reconcile()}
            jobs.add_job(self.capx_reconcile, "interval", hours=hours, **due)
        jobs.start()
        try:
            await asyncio.Event().wait()
        finally:
            jobs.shutdown(wait=False)
            if connection is not None:
                await asyncio.to_thread(release, connection)

    async def _lead(self) -> Connection | None:
        """Wait until this process holds the scheduling lock: on PostgreSQL, a session
        advisory lock on a connection kept for as long as it leads; elsewhere at once."""
        engine = self.core.engine
        if engine.dialect.name != "postgresql":
            return None
        while True:
            try:
                connection = await asyncio.to_thread(locked_connection, engine)
            except Exception as error:
                log.error("cannot take the scheduling lock: %s", describe(error))
            else:
                if connection is not None:
                    log.info("this process schedules the periodic jobs")
                    return connection
            await asyncio.sleep(LEADER_RETRY_SECONDS)

    async def housekeeping(self) -> None:
        with _stops_quietly():
            try:
                done = await self.core.housekeeping()
            except Exception as error:
                log.error("housekeeping failed: %s", describe(error))
            else:
                if any(done.values()):
                    log.info("housekeeping: %s", done)

    async def refresh(self) -> None:
        with _stops_quietly():
            await feeds.refresh(self.core, self.feeds)

    async def capx_incremental(self) -> None:
        with _stops_quietly():
            await self.capx.incremental()

    async def capx_reconcile(self) -> None:
        with _stops_quietly():
            await self.capx.reconcile()


@contextlib.contextmanager
def _stops_quietly() -> Iterator[None]:
    """A job cancelled because the process stops ends there, instead of being logged by the
    scheduler as a failure with its traceback (its transaction finishes on its own thread)."""
    with contextlib.suppress(asyncio.CancelledError):
        yield


def locked_connection(engine: Engine) -> Connection | None:
    """A connection holding the scheduling lock, or None when another process holds it."""
    connection = engine.connect()
    query = text("SELECT pg_try_advisory_lock(:key)")
    if connection.execute(query, {"key": LOCK_KEY}).scalar():
        connection.commit()
        return connection
    connection.close()
    return None


def release(connection: Connection) -> None:
    """Give the scheduling lock up (the connection goes back to the pool, its session open,
    so the lock must be released by name) and the connection with it."""
    try:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
        connection.commit()
    finally:
        connection.close()
