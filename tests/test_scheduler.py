"""The periodic jobs: they run at once and then on their interval, and with several processes
on one PostgreSQL only the holder of the advisory lock runs them."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from bots import scheduler
from bots.scheduler import Scheduler
from core.dispatch import Core
from storage.models import ContactRequest, Person, RequestState
from tests.conftest import UNLIMITED


async def until(condition, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)


def test_only_one_process_holds_the_scheduling_lock(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's")
    first = scheduler.locked_connection(engine)
    try:
        assert first is not None
        assert scheduler.locked_connection(engine) is None  # another process would wait
    finally:
        scheduler.release(first)
    again = scheduler.locked_connection(engine)
    assert again is not None
    scheduler.release(again)


async def test_the_scheduler_runs_the_housekeeping_as_it_starts(core):
    with Session(core.engine) as session:
        asker = Person(display_name="Asker")
        asked = Person(display_name="Asked")
        session.add_all([asker, asked])
        session.commit()
        session.add(
            ContactRequest(
                asker_id=asker.id,
                person_id=asked.id,
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
                expires_at=datetime(2026, 1, 8, tzinfo=UTC),
            )
        )
        session.commit()
    task = asyncio.create_task(Scheduler(core, [], 60).run())
    try:
        for _ in range(100):
            with Session(core.engine) as session:
                state = session.exec(select(ContactRequest.state)).one()
            if state == RequestState.EXPIRED:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
    assert state == RequestState.EXPIRED


async def test_a_second_scheduler_waits_while_the_first_leads(engine, monkeypatch):
    if engine.dialect.name != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's")
    monkeypatch.setattr(scheduler, "LEADER_RETRY_SECONDS", 0.05)
    leader, follower = Core(engine, limits=UNLIMITED), Core(engine, limits=UNLIMITED)
    runs: list[str] = []

    async def counted(self) -> None:
        runs.append((self.core is leader and "leader") or "follower")

    monkeypatch.setattr(Scheduler, "housekeeping", counted)
    first = asyncio.create_task(Scheduler(leader, [], 60).run())
    await until(lambda: "leader" in runs)
    second = asyncio.create_task(Scheduler(follower, [], 60).run())
    await asyncio.sleep(0.5)
    assert runs == ["leader"]
    first.cancel()  # the leader stops: the follower takes over
    with suppress(asyncio.CancelledError):
        await first
    await until(lambda: "follower" in runs)
    second.cancel()
    with suppress(asyncio.CancelledError):
        await second
    leader.close()
    follower.close()
    assert runs == ["leader", "follower"]
