"""How many Discord slash commands a second capx-bot answers, and how fast, beside a bare
discord.py app answering the same interactions: from the repository root
``.venv/bin/python -m bench.discord [--interactions N]`` (as a module, so that this file does
not hide the ``discord`` package).

Both bots are unmodified discord.py clients connected to the same kind of local gateway and
REST stand-in (``tests/discord_server.py``, a fresh one each), which runs in a process of its
own, as Discord is (``--in-process``: in the bot's event loop, where its work is counted as
the bot's). The stand-in dispatches each interaction over the gateway (``zlib-stream``, as
discord.py asks) and the bot answers it with an interaction callback over HTTP. For each bot
the run dispatches warm-up interactions, waits for their answers, then dispatches ``N`` more
and times until every one of them has had its callback recorded. Discord wants a callback
within three seconds (the stand-in refuses a later one, as Discord does), so the
interactions are not all dispatched at once: at most :data:`IN_FLIGHT` are unanswered at any
time, a new one going out as soon as one is answered, for both bots alike. Each
interaction's latency runs from its dispatch to its callback's being recorded, both by the
stand-in's clock.

- The full path: stand-in, discord.py and its ``CommandTree`` (the registry's commands, as
  synced), our adapter, the core (one transaction per command) on a SQLite file seeded with
  the reference data and the demo community (so that ``find`` ranks real candidates), and the
  answer as an embed (ephemeral for a private command). The commands are a mix of what people
  ask: ``/help``, ``/capacities``, ``/capacities query:communication``, ``/privacy``,
  ``/profile`` (their own) and ``/find capacity:communication``, from
  :data:`PEOPLE` different people. The core's per-person command limits are lifted, since one
  person here sends far more commands than anyone would.
- The bare app: a ``discord.Client`` with an ``app_commands.CommandTree`` holding the same
  command names and options, synced to the guild the same way, each answering with
  ``interaction.response.send_message`` of the option given, or ``ok``. Both have the same
  intents (``guilds`` only: our adapter asks no more).

- The same full path with a core that answers each command and its options with its first
  answer, from memory (:class:`AnsweringFromMemory`): what our adapter and discord.py cost
  without the core's work, for ``adapter_ratio``.

It prints the three rates and median latencies, with the processor time each process spent
(the stand-in takes about as much for an interaction as the bare app: with its own process
it keeps up, and its figure says so) and how many answers were deferred, and, as its last
line, one JSON object whose ``ratio`` is our rate divided by the bare app's and whose
``adapter_ratio`` is that of the core answering from memory. The goal: ours at least half
the bare app's rate (``ratio >= 0.5``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import discord
from aiohttp import web
from discord import app_commands

from adapters.discord import DiscordAdapter, DiscordSettings
from bots.supervisor import settle
from core.dispatch import Core
from core.limits import Limits
from core.types import Incoming, Reply
from storage import migrate
from storage.db import make_engine, unit_of_work
from storage.demo import seed_demo
from storage.seed import seed_reference
from tests.discord_server import (
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
    GUILD_ID,
    TOKEN,
    Call,
    DiscordServer,
    DiscordUser,
    InteractionRecord,
    point_discord_py_at,
)

GOAL = 0.5
IN_FLIGHT = 50
"""Interactions dispatched and not yet answered, at most, at any time."""
WARM_UP = 200
PEOPLE = 200
COMMANDS: tuple[tuple[str, dict[str, str]], ...] = (
    ("help", {}),
    ("capacities", {}),
    ("capacities", {"query": "communication"}),
    ("privacy", {}),
    ("profile", {}),
    ("find", {"capacity": "communication"}),
)
ANSWER_WITHIN = 30.0
"""Seconds an interaction may wait for its answer before the run fails (the stand-in refuses
a callback after three anyway)."""


def people() -> list[DiscordUser]:
    return [
        DiscordUser(1300000000000010000 + n, f"person{n}", f"Person {n}") for n in range(PEOPLE)
    ]


def interactions(count: int) -> list[tuple[DiscordUser, str, dict[str, str]]]:
    """``count`` slash commands: the mix, by :data:`PEOPLE` people in turn."""
    everyone = people()
    return [(everyone[n % PEOPLE], *COMMANDS[n % len(COMMANDS)]) for n in range(count)]


# -- the stand-in's side ---------------------------------------------------------------------


@dataclass(repr=False)
class TimedServer(DiscordServer):
    """The stand-in, noting when each interaction's callback was recorded and waking whoever
    waits for it (``wait_answer`` wakes every waiter at every call: with many in flight, the
    stand-in would spend its time in their predicates)."""

    answered_at: dict[int, float] = field(default_factory=dict)
    refused: dict[int, Any] = field(default_factory=dict)
    """What the stand-in answered to a callback it refused (too late, twice...)."""
    _waiting: dict[int, asyncio.Future[None]] = field(default_factory=dict)

    async def _answer(
        self, call: Call, status: int, body: Any, headers: Any = None
    ) -> web.Response:
        now = asyncio.get_running_loop().time()
        response = await super()._answer(call, status, body, headers)
        record = self._record_for(call.path) if call.path.endswith("/callback") else None
        if record is not None:
            if call.ok:
                self.answered_at[record.id] = now
            else:
                self.refused[record.id] = call.result
            waiter = self._waiting.pop(record.id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        return response

    async def answered(self, record: InteractionRecord) -> float:
        """Seconds from the interaction's dispatch to its callback's being recorded."""
        if record.id not in self.answered_at and record.id not in self.refused:
            waiter = asyncio.get_running_loop().create_future()
            self._waiting[record.id] = waiter
            await asyncio.wait_for(waiter, ANSWER_WITHIN)
        if record.id in self.refused:
            raise AssertionError(f"a callback was refused: {self.refused[record.id]}")
        return self.answered_at[record.id] - record.sent_at


@dataclass
class Driven:
    """What :func:`drive` found."""

    seconds: float
    """From the first dispatch until every interaction was answered."""
    latencies: list[float]
    """Each interaction's, from its dispatch to its callback's being recorded."""
    deferred: int
    """Interactions whose callback only deferred the answer (type 5)."""
    cpu_seconds: float
    """Processor time of the stand-in's process meanwhile (the bot's too when they share
    it)."""


async def drive(server: TimedServer, count: int) -> Driven:
    """Dispatch ``count`` interactions, at most :data:`IN_FLIGHT` unanswered at a time, and
    wait for their answers."""
    await server.wait_ready()
    pending = iter(interactions(count))
    records: list[InteractionRecord] = []
    latencies: list[float] = []

    async def worker() -> None:
        for user, name, options in pending:
            record = await server.slash(name, options, user=user)
            records.append(record)
            latencies.append(await server.answered(record))

    loop = asyncio.get_running_loop()
    started, working = loop.time(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    seconds, worked = loop.time() - started, time.process_time() - working
    deferred = sum(
        record.response_type == DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE for record in records
    )
    return Driven(seconds, latencies, deferred, worked)


async def new_server() -> TimedServer:
    server = TimedServer()
    await server.start()
    for person in people():
        server.add_user(person)
    return server


def _serve_apart(pipe: Connection) -> None:
    """The stand-in's own process: its address, then for each count asked, what
    :func:`drive` found; asked None, it stops."""

    async def serve() -> None:
        server = await new_server()
        pipe.send(server.url)
        while (count := await asyncio.to_thread(pipe.recv)) is not None:
            pipe.send(await drive(server, count))
        await server.stop()
        pipe.send(None)

    asyncio.run(serve())


class StandIn:
    """A fresh stand-in, in a process of its own or in this one."""

    def __init__(self, apart: bool) -> None:
        self.apart = apart
        self.url = ""
        self._server: TimedServer | None = None
        self._pipe: Connection | None = None
        self._process: BaseProcess | None = None

    async def start(self) -> None:
        if self.apart:
            spawn = multiprocessing.get_context("spawn")
            self._pipe, theirs = spawn.Pipe()
            self._process = spawn.Process(target=_serve_apart, args=(theirs,), daemon=True)
            self._process.start()
            self.url = await asyncio.to_thread(self._pipe.recv)
        else:
            self._server = await new_server()
            self.url = self._server.url

    @property
    def address(self) -> DiscordServer:
        """What :func:`point_discord_py_at` needs: a server object naming the address (not
        started: the stand-in may be in another process)."""
        return self._server or DiscordServer(url=self.url)

    async def drive(self, count: int) -> Driven:
        """:func:`drive`, where the stand-in runs."""
        if self._pipe is not None:
            self._pipe.send(count)
            return await asyncio.to_thread(self._pipe.recv)
        assert self._server is not None
        return await drive(self._server, count)

    async def stop(self) -> None:
        if self._pipe is not None and self._process is not None:
            self._pipe.send(None)
            if not await asyncio.to_thread(self._pipe.poll, 10):
                self._process.terminate()
            await asyncio.to_thread(self._process.join, 10)
        elif self._server is not None:
            await self._server.stop()


# -- the bots --------------------------------------------------------------------------------

Bot = Callable[[], AbstractAsyncContextManager[None]]
"""Starts a bot on the stand-in discord.py is pointed at, ready (commands synced) for as long
as the context lasts."""


class AnsweringFromMemory(Core):
    """The core answering each command and its options with the replies it gave them first,
    whoever asks: a core whose work costs nothing, to measure what is left."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._answers: dict[tuple[str, tuple[tuple[str, str], ...]], list[Reply]] = {}

    async def handle_async(self, incoming: Incoming) -> list[Reply]:
        asked = (incoming.command, tuple(sorted((incoming.options or {}).items())))
        if asked not in self._answers:
            self._answers[asked] = await super().handle_async(incoming)
        return self._answers[asked]


@asynccontextmanager
async def capx_bot(directory: Path, kind: type[Core] = Core) -> AsyncIterator[None]:
    engine = make_engine(str(directory / "capx.db"))
    migrate.upgrade(engine)
    with unit_of_work(engine) as session:
        seed_reference(session)
        seed_demo(session)
    core = kind(engine, limits=Limits(commands_burst=10**9, needs_per_room_per_hour=10**9))
    settings = DiscordSettings(token=TOKEN, guilds=(GUILD_ID,), guild_ready_timeout=0.05)
    adapter = DiscordAdapter(core, settings)
    task = asyncio.create_task(adapter.run())
    try:
        async with asyncio.timeout(30):
            while not adapter.ready:
                if task.done():
                    task.result()  # why it stopped
                    raise AssertionError("the adapter stopped before it was ready")
                await asyncio.sleep(0.01)
        settle()  # as ``capx-bot run`` does once started
        yield
    finally:
        gc.unfreeze()  # the bare app, measured next, starts as it would on its own
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        core.close()
        engine.dispose()


def bare_tree(client: discord.Client) -> app_commands.CommandTree:
    """The same command names and options as ours, each answering with its option or ``ok``."""
    tree = app_commands.CommandTree(client)
    guild = discord.Object(id=GUILD_ID)

    @tree.command(name="help", description="help", guild=guild)
    async def help_(interaction: discord.Interaction, command: str | None = None) -> None:
        await interaction.response.send_message(command or "ok")

    @tree.command(description="capacities", guild=guild)
    async def capacities(interaction: discord.Interaction, query: str | None = None) -> None:
        await interaction.response.send_message(query or "ok")

    @tree.command(description="privacy", guild=guild)
    async def privacy(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("ok")

    @tree.command(description="profile", guild=guild)
    async def profile(interaction: discord.Interaction, name: str | None = None) -> None:
        await interaction.response.send_message(name or "ok")

    @tree.command(description="find", guild=guild)
    async def find(
        interaction: discord.Interaction,
        capacity: str,
        language: str | None = None,
        near: str | None = None,
    ) -> None:
        await interaction.response.send_message(capacity)

    return tree


@asynccontextmanager
async def bare_bot() -> AsyncIterator[None]:
    intents = discord.Intents.none()
    intents.guilds = True
    client = discord.Client(intents=intents, guild_ready_timeout=0.05)
    tree = bare_tree(client)
    ready = asyncio.Event()

    @client.event
    async def on_ready() -> None:
        await tree.sync(guild=discord.Object(id=GUILD_ID))
        ready.set()

    task = asyncio.create_task(client.start(TOKEN))
    try:
        async with asyncio.timeout(30):
            waiting = asyncio.ensure_future(ready.wait())
            await asyncio.wait([waiting, task], return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                waiting.cancel()
                task.result()
                raise AssertionError("the bare app stopped before it was ready")
        yield
    finally:
        await client.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# -- the run ---------------------------------------------------------------------------------


async def measure(start: Bot, count: int, apart: bool) -> dict[str, Any]:
    """Interactions a second and median latency through the bot ``start`` runs, after a
    warm-up, on a fresh stand-in; with the processor seconds of both processes."""
    stand_in = StandIn(apart)
    await stand_in.start()
    try:
        with point_discord_py_at(stand_in.address):
            async with start():
                await stand_in.drive(WARM_UP)
                working = time.process_time()
                driven = await stand_in.drive(count)
                worked = time.process_time() - working
    finally:
        await stand_in.stop()
    assert len(driven.latencies) == count, (len(driven.latencies), count)
    ordered = sorted(driven.latencies)
    return {
        "per_second": round(count / driven.seconds, 1),
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 2),
        "seconds": round(driven.seconds, 3),
        "deferred": driven.deferred,
        "bot_cpu_seconds": round(worked, 3),
        "stand_in_cpu_seconds": round(driven.cpu_seconds, 3) if apart else None,
    }


async def main(count: int, apart: bool = True) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        ours = await measure(lambda: capx_bot(Path(directory)), count, apart)
    with tempfile.TemporaryDirectory() as directory:
        remembering = await measure(
            lambda: capx_bot(Path(directory), AnsweringFromMemory), count, apart
        )
    bare = await measure(bare_bot, count, apart)
    return {
        "interactions": count,
        "in_flight": IN_FLIGHT,
        "stand_in": "own process" if apart else "same process",
        "ours_per_second": ours["per_second"],
        "bare_per_second": bare["per_second"],
        "ours_median_ms": ours["median_ms"],
        "bare_median_ms": bare["median_ms"],
        "ratio": round(ours["per_second"] / bare["per_second"], 3),
        "adapter_ratio": round(remembering["per_second"] / bare["per_second"], 3),
        "goal": GOAL,
        "ours": ours,
        "core_from_memory": remembering,
        "bare": bare,
    }


def describe(name: str, figures: dict[str, Any]) -> str:
    work = f"processor: {figures['bot_cpu_seconds']:.1f} s the bot's"
    if figures["stand_in_cpu_seconds"] is not None:
        work += f", {figures['stand_in_cpu_seconds']:.1f} s the stand-in's"
    deferred = f", {figures['deferred']} deferred" if figures["deferred"] else ""
    return (
        f"{name} {figures['per_second']:.0f} interactions/s,"
        f" median {figures['median_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms"
        f" ({work}, in {figures['seconds']:.1f} s{deferred})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--interactions", type=int, default=2000, help="interactions to time per bot"
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the stand-in in the bot's own process and event loop",
    )
    options = parser.parse_args()
    apart = not options.in_process
    result = asyncio.run(main(options.interactions, apart))
    print(describe("capx-bot full path: ", result["ours"]))
    print(describe("core from memory:   ", result["core_from_memory"]))
    print(describe("bare discord.py app:", result["bare"]))
    print(f"ratio: {result['ratio']:.2f} (goal: at least {GOAL})")
    print(f"adapter_ratio, the core answering from memory: {result['adapter_ratio']:.2f}")
    print(json.dumps(result))
