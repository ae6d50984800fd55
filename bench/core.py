"""How fast the core answers each kind of command, beside python-telegram-bot dispatching an
update in the same process: ``make bench``, or from the repository root ``.venv/bin/python -m
bench.core [--people N] [--commands N]`` (as a module, so that this file does not hide the
``telegram`` package).

The core runs :meth:`Core.handle` directly (no adapter, no thread), one transaction per
command as always, on two SQLite files: the demo community, and ``--people`` synthetic people
(:func:`bench.matching.build_people`, 100,000 by default; 0 leaves it out). The askers are
people of the database with a chat identity each (the demo people's console accounts; on the
large one, identities added for a sample), in their private chat with the bot, and take turns.
Each kind of command (``help``, ``privacy``, ``capacities``, ``profile``, ``find`` for the
most, the median and the least offered capacity, ``peers``, ``needs``) is warmed up, then
timed one command at a time.

Beside it, the same process runs python-telegram-bot's own part of a command: the update's
JSON decoded (``Update.de_json``) and dispatched (``Application.process_update``) to one
``MessageHandler`` that takes the text as its echo, without sending it (as the core's answers
are not sent here). The bot's ``getMe`` at start is answered by a local request object, so
nothing leaves the process.

It prints the rate, p50 and p95 of each and, as its last line, one JSON object whose
``help_ratio`` is the core's ``help`` rate divided by PTB's dispatch rate. The goal:
``help_ratio >= 0.5``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from time import perf_counter
from typing import Any

from sqlalchemy import insert, select
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters
from telegram.request import BaseRequest

from bench.matching import analyze, build_people, capacity_classes
from core.dispatch import Core
from core.limits import Limits
from core.types import Actor, Conversation, Incoming
from storage import migrate
from storage.db import make_engine, unit_of_work
from storage.demo import CONSOLE, demo_console_accounts, seed_demo
from storage.models import ChatIdentity, Person
from storage.seed import seed_reference
from tests.telegram_server import TelegramUser, message

GOAL = 0.5
WARM_UP = 50
ASKERS = 200
PLATFORM = "bench"
TOKEN = "42:bench-token"
BOT_USER = {"id": 42, "is_bot": True, "first_name": "CapX", "username": "capx_bot"}


# -- the core --------------------------------------------------------------------------------


def demo_database(directory: Path) -> tuple[str, list[Actor]]:
    """The demo community, and its people as askers (their console accounts)."""
    url = str(directory / "demo.db")
    engine = make_engine(url)
    migrate.upgrade(engine)
    with unit_of_work(engine) as session:
        seed_reference(session)
        seed_demo(session)
        accounts = demo_console_accounts(session)
    engine.dispose()
    return url, [_actor(CONSOLE, account) for account in accounts]


def large_database(directory: Path, people: int) -> tuple[str, list[Actor]]:
    """``people`` synthetic people, :data:`ASKERS` of them given a chat identity to ask with."""
    url = str(directory / "large.db")
    engine = make_engine(url)
    migrate.upgrade(engine)
    with unit_of_work(engine) as session:
        seed_reference(session)
    with engine.begin() as connection:
        build_people(connection, people)
        chosen = random.Random(1).sample(range(1, people + 1), min(ASKERS, people))
        connection.execute(
            insert(ChatIdentity),
            [{"platform": PLATFORM, "account_id": str(n), "person_id": n} for n in chosen],
        )
    analyze(engine)
    engine.dispose()
    return url, [_actor(PLATFORM, str(n)) for n in chosen]


def _actor(platform: str, account: str) -> Actor:
    return Actor(platform, account, f"Asker {account}", locale_hint="en")


def command_kinds(url: str) -> dict[str, str]:
    """Each kind of command timed: name -> command line."""
    engine = make_engine(url)
    with engine.connect() as connection:
        classes = capacity_classes(connection)
    engine.dispose()
    return {
        "help": "help",
        "privacy": "privacy",
        "capacities": "capacities",
        "profile": "profile",
        **{f"find {name}": f"find {code}" for name, (code, _) in classes.items()},
        "peers": "peers",
        "needs": "needs",
    }


def time_core(url: str, askers: list[Actor], line: str, count: int) -> list[float]:
    """Seconds each of ``count`` commands ``line`` took (after a warm-up), the askers taking
    turns, each in their private chat."""
    core = Core(make_engine(url), limits=Limits(commands_burst=10**9))
    command, _, arguments = line.partition(" ")
    try:
        times = []
        for n in range(WARM_UP + count):
            actor = askers[n % len(askers)]
            chat = Conversation(actor.platform, f"dm-{actor.account_id}", is_direct=True)
            incoming = Incoming(actor, chat, command, arguments, event_id=f"bench-{n}")
            started = perf_counter()
            core.handle(incoming)
            if n >= WARM_UP:
                times.append(perf_counter() - started)
        return times
    finally:
        core.close()
        core.engine.dispose()


def check_askers(url: str, askers: list[Actor]) -> None:
    """Every asker is a person of the database (else ``profile`` and ``peers`` would time a
    refusal)."""
    engine = make_engine(url)
    with engine.connect() as connection:
        found = connection.execute(
            select(ChatIdentity.account_id)
            .join(Person, Person.id == ChatIdentity.person_id)
            .where(ChatIdentity.account_id.in_([a.account_id for a in askers]))
        ).all()
    engine.dispose()
    assert len(found) == len(askers), (len(found), len(askers))


# -- python-telegram-bot ---------------------------------------------------------------------


class _GetMeHere(BaseRequest):
    """A request object answering the only call made here, ``getMe``, itself."""

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(self, url: str, method: str, *_: Any, **__: Any) -> tuple[int, bytes]:
        if not url.endswith("/getMe"):
            raise AssertionError(f"the benchmark sends nothing, yet {url.rsplit('/', 1)[-1]}")
        return 200, json.dumps({"ok": True, "result": BOT_USER}).encode()


async def time_ptb(count: int) -> list[float]:
    """Seconds each of ``count`` updates took to decode and dispatch to an echo handler."""
    application = (
        Application.builder()
        .token(TOKEN)
        .request(_GetMeHere())
        .get_updates_request(_GetMeHere())
        .updater(None)
        .build()
    )
    echoed: list[str] = []

    async def echo(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        echoed.append(update.message.text)

    application.add_handler(MessageHandler(filters.TEXT, echo))
    people = [TelegramUser(1000 + n, f"Person {n}", f"person{n}") for n in range(ASKERS)]
    payloads = [
        {"update_id": n + 1, **message(people[n % ASKERS], "/help")} for n in range(WARM_UP + count)
    ]
    await application.initialize()
    try:
        times = []
        for n, payload in enumerate(payloads):
            started = perf_counter()
            update = Update.de_json(payload, application.bot)
            await application.process_update(update)
            if n >= WARM_UP:
                times.append(perf_counter() - started)
    finally:
        await application.shutdown()
    assert len(echoed) == len(payloads)
    return times


# -- the run ---------------------------------------------------------------------------------


def figures(times: list[float]) -> dict[str, float]:
    """Rate (a second), p50 and p95 (ms) of ``times``."""
    p95 = statistics.quantiles(times, n=20, method="inclusive")[18]
    return {
        "per_second": round(len(times) / sum(times), 1),
        "p50_ms": round(statistics.median(times) * 1000, 3),
        "p95_ms": round(p95 * 1000, 3),
    }


def measure(label: str, url: str, askers: list[Actor], count: int) -> dict[str, dict]:
    check_askers(url, askers)
    found = {}
    for kind, line in command_kinds(url).items():
        found[kind] = figures(time_core(url, askers, line, count))
        shown = found[kind]
        print(
            f"{label}: {kind:<12} {shown['per_second']:>8,.0f}/s  p50 {shown['p50_ms']:.2f} ms"
            f"  p95 {shown['p95_ms']:.2f} ms"
        )
    return found


def main(people: int, count: int) -> dict[str, Any]:
    ptb = figures(asyncio.run(time_ptb(count)))
    print(
        f"python-telegram-bot de_json + process_update: {ptb['per_second']:,.0f}/s  "
        f"p50 {ptb['p50_ms']:.3f} ms"
    )
    databases: list[tuple[str, Callable[[Path], tuple[str, list[Actor]]]]] = [
        ("demo", demo_database)
    ]
    if people:
        databases.append((f"{people:,} people", lambda d: large_database(d, people)))
    results: dict[str, Any] = {"ptb_dispatch": ptb}
    with tempfile.TemporaryDirectory() as directory:
        for label, build in databases:
            url, askers = build(Path(directory))
            results[label] = measure(label, url, askers, count)
    help_ratio = round(results["demo"]["help"]["per_second"] / ptb["per_second"], 3)
    print(f"help_ratio: {help_ratio} (goal: at least {GOAL})")
    return {"commands": count, "people": people, "help_ratio": help_ratio, "goal": GOAL, **results}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=100_000, help="the large database (0: none)")
    parser.add_argument("--commands", type=int, default=500, help="timed commands of each kind")
    args = parser.parse_args()
    print(json.dumps(main(args.people, args.commands)))
