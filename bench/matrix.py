"""How long a command takes through capx-bot on a real Synapse, beside a bare matrix-nio echo
bot on the same server: ``make bench``, or from the repository root
``.venv/bin/python -m bench.matrix [--rounds N]``.

The run starts a Synapse (``tests/synapse_server.py``, rate limits raised) in a temporary
directory and registers three accounts: capx-bot, an echo bot and a person. The person, a real
nio client, shares a room with each bot and, one message at a time, sends a command and waits
(long-polling sync) for the bot's notice: the round trip. capx-bot serves a mix of commands
(help, capacities, privacy, profile, find) from a SQLite file with the reference data and the
demo community; the echo bot answers each text with the same text as a notice, from a
``sync_forever`` callback. It prints the median and p95 of both and, as its last line, one JSON
object whose ``ratio`` is our median divided by the echo's. The goal: ``ratio`` at most 1.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from time import perf_counter

from nio import (
    AsyncClient,
    InviteMemberEvent,
    MatrixRoom,
    RoomCreateResponse,
    RoomMessageNotice,
    RoomMessageText,
    SyncResponse,
)

from adapters.matrix import MatrixAdapter, MatrixSettings
from core.dispatch import Core
from core.limits import Limits
from storage import migrate
from storage.db import make_engine, unit_of_work
from storage.demo import seed_demo
from storage.seed import seed_reference
from tests.synapse_server import Synapse

GOAL = 1.1
COMMANDS = ("help", "capacities", "privacy", "profile", "find communication")
WARM_UP = 10
FILTER = {"room": {"timeline": {"limit": 50}}}


class Person:
    """The person who sends commands, with a real nio client."""

    def __init__(self, server: Synapse) -> None:
        self.user_id = server.register("person", "person-password")
        self.client = AsyncClient(server.url, self.user_id)
        self.since: str | None = None

    async def start(self) -> None:
        await self.client.login("person-password")
        await self.notices(timeout_ms=0)

    async def notices(self, timeout_ms: int) -> list[RoomMessageNotice]:
        response = await self.client.sync(timeout=timeout_ms, since=self.since, sync_filter=FILTER)
        assert isinstance(response, SyncResponse), response
        self.since = response.next_batch
        for room_id in response.rooms.invite:
            await self.client.join(room_id)
        return [
            event
            for joined in response.rooms.join.values()
            for event in joined.timeline.events
            if isinstance(event, RoomMessageNotice)
        ]

    async def room_with(self, bot: str) -> str:
        created = await self.client.room_create(invite=[bot])
        assert isinstance(created, RoomCreateResponse), created
        room = created.room_id
        while bot not in _joined(self.client.rooms.get(room)):
            await self.notices(timeout_ms=200)
        return room

    async def round_trip(self, room: str, text: str) -> float:
        """Seconds from sending ``text`` to the next notice (the person is in one bot's room
        at a time)."""
        started = perf_counter()
        await self.client.room_send(room, "m.room.message", {"msgtype": "m.text", "body": text})
        while True:
            if await self.notices(30_000):
                return perf_counter() - started


def _joined(room: MatrixRoom | None) -> set[str]:
    return set(room.users) - set(room.invited_users) if room else set()


async def echo_bot(server: Synapse) -> tuple[str, Callable[[], Awaitable[None]]]:
    """Start a bare nio echo bot; its user id and a function that stops it."""
    user_id = server.register("echobot", "echo-password")
    client = AsyncClient(server.url, user_id)
    await client.login("echo-password")

    async def echo(room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender != user_id:
            content = {"msgtype": "m.notice", "body": event.body}
            await client.room_send(room.room_id, "m.room.message", content)

    async def on_invite(room: MatrixRoom, event: object) -> None:
        await client.join(room.room_id)

    client.add_event_callback(echo, RoomMessageText)
    client.add_event_callback(on_invite, InviteMemberEvent)
    first = await client.sync(timeout=0, sync_filter=FILTER)
    assert isinstance(first, SyncResponse)
    task = asyncio.create_task(client.sync_forever(timeout=30_000, sync_filter=FILTER))

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.close()

    return user_id, stop


async def capx_bot(server: Synapse, directory: Path) -> tuple[str, Callable[[], Awaitable[None]]]:
    """Start capx-bot on a seeded SQLite file; its user id and a function that stops it."""
    user_id = server.register("capxbot", "capx-password")
    engine = make_engine(str(directory / "capx.db"))
    migrate.upgrade(engine)
    with unit_of_work(engine) as session:
        seed_reference(session)
        seed_demo(session)
    core = Core(engine, limits=Limits(commands_burst=10**9, needs_per_room_per_hour=10**9))
    settings = MatrixSettings(
        homeserver=server.url,
        user_id=user_id,
        password="capx-password",
        invite_servers=(server.server_name,),
    )
    task = asyncio.create_task(MatrixAdapter(core, settings).run())

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        core.close()
        engine.dispose()

    return user_id, stop


async def measure(person: Person, bot: str, texts: list[str]) -> list[float]:
    room = await person.room_with(bot)
    for text in texts[:WARM_UP]:
        await person.round_trip(room, text)
    return [await person.round_trip(room, text) for text in texts[WARM_UP:]]


def figures(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 1),
    }


async def main(rounds: int) -> dict:
    texts = [f"!capx {COMMANDS[n % len(COMMANDS)]}" for n in range(WARM_UP + rounds)]
    with tempfile.TemporaryDirectory() as directory, Synapse(Path(directory) / "synapse") as server:
        person = Person(server)
        await person.start()
        ours_id, stop_ours = await capx_bot(server, Path(directory))
        try:
            ours = await measure(person, ours_id, texts)
        finally:
            await stop_ours()
        echo_id, stop_echo = await echo_bot(server)
        try:
            echo = await measure(person, echo_id, texts)
        finally:
            await stop_echo()
        await person.client.close()
    return {"rounds": rounds, "ours": figures(ours), "echo": figures(echo)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200, help="commands timed per bot")
    result = asyncio.run(main(parser.parse_args().rounds))
    result["ratio"] = round(result["ours"]["median_ms"] / result["echo"]["median_ms"], 3)
    result["goal"] = GOAL
    for name in ("ours", "echo"):
        print(f"{name}: median {result[name]['median_ms']} ms, p95 {result[name]['p95_ms']} ms")
    print(f"ratio (median): {result['ratio']:.2f} (goal: at most {GOAL})")
    print(json.dumps(result))
