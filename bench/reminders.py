"""How close capx-bot comes to Telegram's flood limits when a burst of event reminders is
due: from the repository root ``.venv/bin/python -m bench.reminders [--rooms N]
[--deliveries M]`` (as a module, like ``bench.telegram``; ``--rooms 500 --deliveries 2000``
for a quick run).

The run seeds a SQLite file with the reference data and adds ``N`` Telegram supergroups with
reminders on (one offset: an hour before) and ``M / N`` events starting a day later, a second
apart, so that ``M`` reminders are planned, ``M / N`` for each room. Planning is the periodic
job (``Core.housekeeping``: ``reminders.plan`` for each event that came within the horizon, up
to 200 events a transaction), timed to its commit.

Then the core's clock moves on to just after the reminders' time, so that all of them are due
at once, and they go out the real way: the outbox, the router (``bots.router``: claimed in
batches, sent a few dozen at a time, outcomes recorded) and our Telegram adapter, with
python-telegram-bot's limiter, over HTTP to the Bot API stand-in (``tests/telegram_server.py``)
in a process of its own, as Telegram is (``--in-process``: in the bot's event loop, as in
``bench.telegram``, where its work is counted as the bot's). The stand-in enforces a flood
limit over all chats and one per chat, and answers a message over either as Telegram does: a
429 with ``retry_after``. The adapter's limiter is given the same figures, as an operator
gives it Telegram's (``overall_max_rate``, and ``group_max_rate`` as the chat's rate a
minute). The figures have Telegram's shape, scaled up so that the run lasts a minute: 200 a
second overall (Telegram: 30) and 1 a second per chat (Telegram: about 1); ``--overall-rate``
and ``--chat-rate`` change them. Much above 200 a second the run measures the machine more
than the pacing: on a small one the bot spends a few milliseconds of processor per message
(mostly python-telegram-bot and httpx), so at 400 a second it has no time to spare. With the
default figures the limit over all chats is the one that binds (each room's reminders come
seconds apart); with few rooms (``--rooms 50 --deliveries 500``) the per-chat one does.

Sending is timed from the router's start until the stand-in has accepted every reminder;
then the run checks that each room got each of its reminders exactly once and that the outbox
holds every one as sent. The floor is the least time the stand-in's limits allow for those
messages (each limit is a bucket of one second's worth draining at its rate: see
``tests.telegram_server.Limit``), over all chats or in one. It prints the planning and sending
times (with the processor time each process spent), the floor and the refusals (429s) by
limit and, as its last line, one JSON object whose ``ratio`` is the sending time divided by
the floor. The goal: ``ratio`` at most 1.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import re
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from time import perf_counter

from sqlalchemy import func
from sqlmodel import select

from adapters.telegram import TelegramAdapter, TelegramSettings
from bots.router import Router
from core.dispatch import Core
from storage import migrate
from storage.db import make_engine, unit_of_work
from storage.models import Event, OutboxMessage, OutboxState, Room, utcnow
from storage.seed import seed_reference
from tests.telegram_server import BotApiServer, Limit

GOAL = 1.1
TOKEN = "42:test-token"
OVERALL_RATE = 200.0
"""Messages a second over all chats (Telegram's is 30)."""
CHAT_RATE = 1.0
"""Messages a second to one chat (Telegram's is about 1, and 20 a minute in a group)."""
OFFSET = 60
"""Minutes before each event at which its rooms are reminded."""
TITLE = re.compile(r"(Bench event \d+)\u2069")
"""An event's title in a reminder's text (set apart by the isolate marks of user text)."""
LEAD = timedelta(days=1)
"""How long after planning the first event starts."""


class Clock:
    """The real time, moved on by ``ahead``: the core's clock, so that the reminders planned
    for tomorrow are due now, while retries (a ``Later`` outcome) still come due."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.ahead


def add_rooms_and_events(core: Core, rooms: int, events: int, starts: datetime) -> list[str]:
    """``rooms`` groups with reminders on, and ``events`` events from ``starts`` on; the
    events' titles."""
    spacing = timedelta(seconds=min(1.0, 600 / events))
    titles = [f"Bench event {number + 1}" for number in range(events)]
    with unit_of_work(core.engine) as session:
        for number in range(rooms):
            session.add(
                Room(
                    platform="telegram",
                    room_id=room_id(number),
                    title=f"Bench room {number + 1}",
                    reminders_on=True,
                    reminder_offsets=str(OFFSET),
                )
            )
        for number, title in enumerate(titles):
            begins = starts + number * spacing
            session.add(
                Event(
                    title=title,
                    starts_at=begins,
                    ends_at=begins + timedelta(hours=1),
                    timezone="UTC",
                    link=f"https://meta.wikimedia.org/wiki/Event:Bench_{number + 1}",
                )
            )
    return titles


def room_id(number: int) -> str:
    """A supergroup's chat id, as Telegram writes them (``-100`` and ten digits)."""
    return f"-100{number + 1:010d}"


async def plan(core: Core, expected: int) -> float:
    """Seconds the periodic job takes to plan every event's reminders (a few events a
    transaction: the job's own batches)."""
    started = perf_counter()
    planned = 0
    while planned < expected:
        done = (await core.housekeeping())["reminders planned"]
        if not done:
            raise AssertionError(f"planned {planned} reminders, not {expected}")
        planned += done
    return perf_counter() - started


async def send(core: Core, stand_in: StandIn, expected: int) -> tuple[float, float, float]:
    """Seconds from the router's start until the stand-in has accepted ``expected`` messages,
    and the processor seconds the bot's process and the stand-in's took meanwhile; the
    adapter is started (and ready) before, and everything stopped once the router has
    recorded them all."""
    settings = TelegramSettings(
        token=TOKEN,
        api_url=stand_in.url,
        overall_max_rate=stand_in.overall.rate,
        group_max_rate=stand_in.per_chat.rate * 60,
    )
    adapter = TelegramAdapter(core, settings)
    adapter_task = asyncio.create_task(adapter.run())
    router_task: asyncio.Task[None] | None = None
    try:
        while not adapter.ready:
            if adapter_task.done():
                adapter_task.result()  # why it stopped
                raise AssertionError("the adapter stopped before it was ready")
            await asyncio.sleep(0.01)
        started, working = time.monotonic(), time.process_time()
        router_task = asyncio.create_task(Router(core, [adapter]).run())
        done_at, its_work = await stand_in.accepted(expected)
        worked = time.process_time() - working
        await wait_recorded(core, expected)
        return done_at - started, worked, its_work
    finally:
        for task in (router_task, adapter_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def sent_count(core: Core) -> int:
    with unit_of_work(core.engine) as session:
        query = select(func.count()).where(OutboxMessage.state == OutboxState.SENT)
        return session.exec(query).one()


async def wait_recorded(core: Core, expected: int, timeout: float = 60) -> None:
    """Until the router has recorded ``expected`` messages as sent (its last records follow
    the last sends)."""
    for _ in range(int(timeout / 0.05)):
        if await asyncio.to_thread(sent_count, core) >= expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"only {sent_count(core)} of {expected} reminders recorded as sent")


Received = list[tuple[str, str | None]]
"""What the stand-in accepted: each message's chat id and the title of its event."""


def received(server: BotApiServer) -> Received:
    return [
        (call.fields["chat_id"], _title(call.fields["text"]))
        for call in server.sent()
        if call.result is not None
    ]


def _title(text: str) -> str | None:
    found = TITLE.search(text)
    return found.group(1) if found else None


class StandIn:
    """The Bot API stand-in with the flood limits, in this process (sharing the bot's event
    loop, as in ``bench.telegram``) or, by default, in a process of its own, as Telegram is:
    its work then takes nothing from the bot's."""

    def __init__(self, overall: Limit, per_chat: Limit, apart: bool) -> None:
        self.overall = overall
        self.per_chat = per_chat
        self.apart = apart
        self.url = ""
        self._server: BotApiServer | None = None
        self._pipe: Connection | None = None
        self._process: BaseProcess | None = None

    async def start(self) -> None:
        if self.apart:
            spawn = multiprocessing.get_context("spawn")
            self._pipe, theirs = spawn.Pipe()
            limits = (theirs, self.overall, self.per_chat)
            self._process = spawn.Process(target=_serve_apart, args=limits, daemon=True)
            self._process.start()
            self.url = await asyncio.to_thread(self._pipe.recv)
        else:
            self._server = limited_server(self.overall, self.per_chat)
            await self._server.start()
            self.url = self._server.url

    async def accepted(self, count: int) -> tuple[float, float]:
        """Once ``count`` messages have been accepted: when (``time.monotonic``) the last
        was, and the processor seconds the stand-in's process took until then (none here in
        the bot's process: they are the bot's)."""
        if self._pipe is not None:
            self._pipe.send(count)
            return await asyncio.to_thread(self._pipe.recv)
        assert self._server is not None
        return await _accepted(self._server, count), 0.0

    async def stop(self) -> tuple[Received, Counter[str]]:
        """Stop it; what it accepted, and how many messages it refused (429)."""
        if self._pipe is not None and self._process is not None:
            self._pipe.send(None)
            # It answers at once, unless the run failed while it waited for a count.
            if not await asyncio.to_thread(self._pipe.poll, 10):
                self._process.terminate()
                raise AssertionError("the stand-in did not answer")
            found = await asyncio.to_thread(self._pipe.recv)
            await asyncio.to_thread(self._process.join, 30)
            return found
        assert self._server is not None
        await self._server.stop()
        return received(self._server), self._server.throttled


def limited_server(overall: Limit, per_chat: Limit) -> BotApiServer:
    return BotApiServer(tokens={TOKEN}, overall_limit=overall, chat_limit=per_chat)


async def _accepted(server: BotApiServer, count: int) -> float:
    await server.wait_for(lambda s: s.answered["sendMessage"] >= count, timeout=3600)
    return time.monotonic()


def _serve_apart(pipe: Connection, overall: Limit, per_chat: Limit) -> None:
    """The stand-in's own process: its address, then, for each count asked, when it was
    reached (and its processor seconds meanwhile), and at last (asked None) what it accepted
    and refused."""

    async def serve() -> None:
        server = limited_server(overall, per_chat)
        await server.start()
        pipe.send(server.url)
        while (count := await asyncio.to_thread(pipe.recv)) is not None:
            working = time.process_time()
            done_at = await _accepted(server, count)
            pipe.send((done_at, time.process_time() - working))
        await server.stop()
        pipe.send((received(server), server.throttled))

    asyncio.run(serve())


def check(core: Core, got: Received, rooms: int, titles: list[str]) -> None:
    """Each room got each event's reminder exactly once, and the outbox says all were sent."""
    times = Counter(got)
    wanted = {(room_id(n), title) for n in range(rooms) for title in titles}
    missing = wanted - set(times)
    twice = {key for key, count in times.items() if count > 1}
    stray = set(times) - wanted
    assert not (missing or twice or stray), (len(missing), len(twice), len(stray))
    with unit_of_work(core.engine) as session:
        states = Counter(session.exec(select(OutboxMessage.state)))
    assert states == {OutboxState.SENT: len(wanted)}, states


async def main(
    deliveries: int,
    rooms: int,
    overall_rate: float = OVERALL_RATE,
    chat_rate: float = CHAT_RATE,
    apart: bool = True,
) -> dict:
    if deliveries % rooms:
        raise SystemExit("--deliveries must be a multiple of --rooms")
    events = deliveries // rooms
    overall, per_chat = Limit(overall_rate), Limit(chat_rate)
    stand_in = StandIn(overall, per_chat, apart)
    await stand_in.start()
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(str(Path(directory) / "capx.db"))
        migrate.upgrade(engine)
        with unit_of_work(engine) as session:
            seed_reference(session)
        clock = Clock()
        core = Core(engine, clock=clock)
        try:
            starts = clock() + LEAD
            titles = add_rooms_and_events(core, rooms, events, starts)
            planning = await plan(core, deliveries)
            with unit_of_work(engine) as session:
                latest = session.exec(select(func.max(OutboxMessage.not_before))).one()
            clock.ahead = latest + timedelta(seconds=1) - utcnow()
            sending, bot_work, stand_in_work = await send(core, stand_in, deliveries)
        finally:
            got, throttled = await stand_in.stop()
        try:
            check(core, got, rooms, titles)
        finally:
            core.close()
            engine.dispose()
    floor = max(overall.floor(deliveries), per_chat.floor(events))
    return {
        "deliveries": deliveries,
        "rooms": rooms,
        "stand_in": "own process" if apart else "same process",
        "planning_seconds": round(planning, 3),
        "sending_seconds": round(sending, 3),
        "floor_seconds": round(floor, 3),
        "ratio": round(sending / floor, 3) if floor else None,
        "throttled": sum(throttled.values()),
        "throttled_by": dict(throttled),
        "overall_per_s": overall.rate,
        "per_chat_per_s": per_chat.rate,
        "bot_cpu_seconds": round(bot_work, 3),
        "stand_in_cpu_seconds": round(stand_in_work, 3) if apart else None,
        "goal": GOAL,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=10_000, help="reminders to send")
    parser.add_argument("--rooms", type=int, default=1_000, help="groups they go to")
    parser.add_argument(
        "--overall-rate", type=float, default=OVERALL_RATE, help="messages/s over all chats"
    )
    parser.add_argument("--chat-rate", type=float, default=CHAT_RATE, help="messages/s per chat")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the stand-in in the bot's own process and event loop",
    )
    options = parser.parse_args()
    result = asyncio.run(
        main(
            options.deliveries,
            options.rooms,
            options.overall_rate,
            options.chat_rate,
            apart=not options.in_process,
        )
    )
    print(f"planning {result['deliveries']} reminders: {result['planning_seconds']:.2f} s")
    print(
        f"sending them to {result['rooms']} rooms: {result['sending_seconds']:.2f} s"
        f" (processor: {result['bot_cpu_seconds']:.1f} s the bot's,"
        f" {result['stand_in_cpu_seconds'] or 0:.1f} s the stand-in's)"
    )
    print(
        f"the limits' floor: {result['floor_seconds']:.2f} s"
        f" ({result['overall_per_s']:g}/s overall, {result['per_chat_per_s']:g}/s per chat);"
        f" refused (429): {result['throttled']} {result['throttled_by'] or ''}"
    )
    print(f"ratio: {result['ratio']} (goal: at most {GOAL})")
    print(json.dumps(result))
