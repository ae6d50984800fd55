"""How many Telegram updates a second capx-bot handles, beside a bare python-telegram-bot echo
bot: ``make bench``, or from the repository root ``.venv/bin/python -m bench.telegram
[--updates N]`` (as a module, so that this file does not hide the ``telegram`` package).

Both bots poll the same kind of local Bot API stand-in (``tests/telegram_server.py``, a fresh
one each) over HTTP. For each bot the run pushes warm-up updates, waits for their answers,
then pushes ``N`` updates at once and times until the stand-in has received ``N`` answers.

- The full path: stand-in, PTB, our adapter (offset saved after every update), the core (one
  transaction per command) on a SQLite file seeded with the reference data and the demo
  community (so that ``find`` ranks real candidates). The commands are a
  mix of what people send in private chats: help, capacities, a capacity's page, privacy,
  profile and a find, from many different people. Telegram's flood limits are lifted
  (``overall_max_rate = 0``), since the stand-in is not Telegram and the limiter would only
  measure itself.
- The bare echo bot: a PTB ``Application`` with one ``MessageHandler`` that answers each text
  with itself, polling with PTB's own ``Updater``.

It prints both rates and their ratio and, as its last line, one JSON object with the key
``ratio``. The goal: ours at least half the echo's rate (``ratio >= 0.5``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from time import perf_counter

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from adapters.telegram import TelegramAdapter, TelegramSettings
from bots.supervisor import settle
from core.dispatch import Core
from core.limits import Limits
from storage import migrate
from storage.db import make_engine, unit_of_work
from storage.demo import seed_demo
from storage.seed import seed_reference
from tests.telegram_server import BotApiServer, TelegramUser, message

GOAL = 0.5
TOKEN = "42:test-token"
COMMANDS = (
    "/help",
    "/capacities",
    "/capacities communication",
    "/privacy",
    "/profile",
    "/find communication",
)
WARM_UP = 60


def updates(count: int) -> list[dict]:
    """``count`` message updates: the command mix, sent by 50 different people."""
    people = [TelegramUser(1000 + n, f"Person {n}", f"person{n}", "en") for n in range(50)]
    return [message(people[n % len(people)], COMMANDS[n % len(COMMANDS)]) for n in range(count)]


async def rate(server: BotApiServer, count: int) -> float:
    """Push ``count`` updates at once; the answers a second until all have come."""
    before = server.counts["sendMessage"]
    started = perf_counter()
    for update in updates(count):
        await server.push(update)
    await server.wait_for(lambda s: s.counts["sendMessage"] >= before + count, timeout=600)
    return count / (perf_counter() - started)


@asynccontextmanager
async def stand_in() -> AsyncIterator[BotApiServer]:
    server = BotApiServer(tokens={TOKEN})
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


Bot = Callable[[BotApiServer], AbstractAsyncContextManager[None]]
"""Starts a bot polling the given stand-in, for as long as the context lasts."""


async def measure(start: Bot, count: int) -> float:
    """Updates a second through the bot ``start`` runs, after a warm-up, on a fresh stand-in."""
    async with stand_in() as server, start(server):
        await rate(server, WARM_UP)
        return await rate(server, count)


@asynccontextmanager
async def capx_bot(server: BotApiServer, directory: Path) -> AsyncIterator[None]:
    engine = make_engine(str(directory / "capx.db"))
    migrate.upgrade(engine)
    with unit_of_work(engine) as session:
        seed_reference(session)
        seed_demo(session)
    core = Core(engine, limits=Limits(commands_burst=10**9, needs_per_room_per_hour=10**9))
    settings = TelegramSettings(
        token=TOKEN, api_url=server.url, overall_max_rate=0, group_max_rate=0
    )
    task = asyncio.create_task(TelegramAdapter(core, settings).run())
    await server.wait_for(lambda s: bool(s.sent("deleteWebhook")) or task.done())
    settle()  # as ``capx-bot run`` does once started
    try:
        yield
    finally:
        gc.unfreeze()  # the bare bot, measured next, starts as it would on its own
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        core.close()
        engine.dispose()


@asynccontextmanager
async def echo_bot(server: BotApiServer) -> AsyncIterator[None]:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(update.message.text)

    application = Application.builder().token(TOKEN).base_url(server.url).build()
    application.add_handler(MessageHandler(filters.TEXT, echo))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=30)
        try:
            yield
        finally:
            await application.updater.stop()
            await application.stop()


async def main(count: int) -> dict:
    with tempfile.TemporaryDirectory() as directory:
        ours = await measure(lambda server: capx_bot(server, Path(directory)), count)
    echo = await measure(echo_bot, count)
    return {"updates": count, "ours_per_s": round(ours, 1), "echo_per_s": round(echo, 1)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=2000, help="updates to time per bot")
    figures = asyncio.run(main(parser.parse_args().updates))
    figures["ratio"] = round(figures["ours_per_s"] / figures["echo_per_s"], 3)
    figures["goal"] = GOAL
    print(f"capx-bot full path: {figures['ours_per_s']:.0f} updates/s")
    print(f"bare PTB echo bot:  {figures['echo_per_s']:.0f} updates/s")
    print(f"ratio: {figures['ratio']:.2f} (goal: at least {GOAL})")
    print(json.dumps(figures))
