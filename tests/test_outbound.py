"""The outbound path across platforms, through the real peers (a real Synapse, the Bot API
stand-in): a need posted in a Matrix room and answered on Telegram reaches its author in
Matrix; an introduction asked on one platform is answered on the other; reminders reach
rooms on both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

from adapters.matrix import MatrixAdapter, MatrixSettings
from adapters.matrix.adapter import SENDS_IN_FLIGHT
from adapters.telegram import TelegramAdapter
from bots.router import Router
from core.types import Reply, Sent, Target
from storage import chats
from tests import test_matrix, test_telegram
from tests.telegram_server import TelegramUser, message, press
from tests.telegram_server import buttons as shown_buttons
from tests.test_matrix import Person, group_room
from tests.test_telegram import settings

# The fixtures of both platforms' tests: a real Synapse and a bot account on it, and the Bot
# API stand-in.
synapse = test_matrix.synapse
bot = test_matrix.bot
server = test_telegram.server

DORA = TelegramUser(201, "Dora", "dora_helps", "en")


async def test_a_need_posted_on_matrix_and_answered_on_telegram_reaches_both(
    core, synapse, bot, server
):
    async with group_room(core, synapse, bot) as (ana, _ben, room):
        await ana.ask(room, "!capx roomneeds public")  # Ana made the room: she is its admin
        posted = await ana.ask(room, '!capx need communication "a workshop" for students')
        telegram = TelegramAdapter(core, settings(server))
        tasks = [asyncio.create_task(telegram.run())]
        tasks.append(asyncio.create_task(Router(core, [telegram]).run()))
        try:
            await server.push(message(DORA, "/helpwith 1"))
            [to_helper] = await server.wait_sent(1, chat_id=DORA.id)
            # The author hears of it in Matrix, in a room private to her and the bot.
            await ana.until(lambda: any("Dora" in n.body for n in ana.elsewhere(room)), 30)
        finally:
            for task in tasks:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
    assert "#1" in posted.body
    assert "Thank you!" in to_helper.fields["text"] and ana.user_id in to_helper.fields["text"]
    [notice] = [n for n in ana.elsewhere(room) if "Dora" in n.body]
    assert "@dora_helps on Telegram" in notice.body.replace("\u2068", "").replace("\u2069", "")


@asynccontextmanager
async def matrix_adapter(
    core, synapse, bot, homeserver: str | None = None
) -> AsyncIterator[MatrixAdapter]:
    """A Matrix adapter logged in as ``bot``, once ready, reaching Synapse at ``homeserver``
    (by default its own address)."""
    name, password = bot
    adapter = MatrixAdapter(
        core,
        MatrixSettings(
            homeserver=homeserver or synapse.url,
            user_id=synapse.user_id(name),
            password=password,
            invite_servers=("localhost",),
            sync_timeout_ms=1000,
        ),
    )
    task = asyncio.create_task(adapter.run())
    try:
        async with asyncio.timeout(10):
            while not adapter.ready:
                assert not task.done(), task.exception()
                await asyncio.sleep(0.05)
        yield adapter
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def test_a_matrix_retry_with_the_same_key_posts_once(core, synapse, bot):
    async with matrix_adapter(core, synapse, bot) as adapter, Person(synapse, "ana") as ana:
        target = Target("matrix", account_id=ana.user_id)
        once = Reply(paragraphs=("only once, please",), private=True)
        first = await adapter.send(target, once, key="capx-outbox-test-1")
        again = await adapter.send(target, once, key="capx-outbox-test-1")
    assert isinstance(first, Sent) and isinstance(again, Sent)
    assert first.message_id == again.message_id  # the homeserver took it once


async def test_two_messages_for_a_person_without_a_private_room_make_one(core, synapse, bot):
    async with matrix_adapter(core, synapse, bot) as adapter, Person(synapse, "ana") as ana:
        target = Target("matrix", account_id=ana.user_id)
        sent = await asyncio.gather(
            *(
                adapter.send(target, Reply(paragraphs=(text,), private=True), key=f"one-{text}")
                for text in ("first", "second")
            )
        )
        await ana.until(lambda: sum(n.body in ("first", "second") for n in ana.notices) == 2)
    assert all(isinstance(outcome, Sent) for outcome in sent)
    assert len({n.source["room_id"] for n in ana.notices}) == 1
    assert len(await core.in_database(chats.direct_rooms_of, "matrix", ana.user_id)) == 1


class Relay:
    """A TCP relay to a local ``port`` that counts the connections made through it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = ""
        self.opened = 0
        self.open = 0
        self.most_open = 0

    async def __aenter__(self) -> Relay:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *_: object) -> None:
        self._server.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.opened += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.port)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self.open -= 1
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


async def test_matrix_sends_a_few_at_once_on_kept_alive_connections(core, synapse, bot):
    async with (
        Relay(synapse.port) as relay,
        matrix_adapter(core, synapse, bot, relay.url) as adapter,
        Person(synapse, "ana") as ana,
    ):
        room = await ana.room_with(synapse.user_id(bot[0]))
        before = relay.opened
        target = Target("matrix", room_id=room)
        sent = await asyncio.gather(
            *(
                adapter.send(target, Reply(paragraphs=(f"note {n}",)), key=f"relay-{n}")
                for n in range(20)
            )
        )
        await ana.until(lambda: sum(n.body.startswith("note ") for n in ana.notices) == 20)
    assert all(isinstance(outcome, Sent) for outcome in sent)
    # The long poll and at most SENDS_IN_FLIGHT sends; the connections are kept for later.
    assert 2 < relay.most_open <= SENDS_IN_FLIGHT + 1
    assert relay.opened - before <= SENDS_IN_FLIGHT


async def test_an_author_who_never_opened_a_chat_gets_the_message_when_next_seen(core, server):
    author = TelegramUser(301, "Eva", "eva_w", "en")
    helper = TelegramUser(302, "Finn", "finn_w", "en")
    group = test_telegram.GROUP
    telegram = TelegramAdapter(core, settings(server))
    tasks = [asyncio.create_task(telegram.run())]
    tasks.append(asyncio.create_task(Router(core, [telegram]).run()))
    try:
        await server.push(message(author, "/need@CapxTestBot communication a workshop", group))
        await server.wait_sent(1, chat_id=group["id"])
        server.never_opened.add(author.id)
        await server.push(message(helper, "/helpwith@CapxTestBot 1", group))
        await server.wait_sent(1, chat_id=helper.id)
        await server.wait_sent(1, chat_id=author.id)
        [refused] = server.sent(chat_id=author.id)
        assert refused.result is None  # Telegram refused: she never opened a chat
        await server.push(message(author, "/start"))  # she opens one
        await server.wait_for(lambda s: len(delivered(s, author)) >= 2)
        arrived = delivered(server, author)
    finally:
        for task in tasks:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
    assert [call.fields["text"].count("Finn") > 0 for call in arrived].count(True) == 1


def delivered(server, user: TelegramUser) -> list:
    """The messages Telegram took for ``user``."""
    return [call for call in server.sent(chat_id=user.id) if call.result is not None]


def plain(text: str) -> str:
    return text.replace("\u2068", "").replace("\u2069", "")


@asynccontextmanager
async def telegram_delivering(core, server) -> AsyncIterator[TelegramAdapter]:
    """The Telegram adapter on the stand-in, with a router delivering its outbox."""
    telegram = TelegramAdapter(core, settings(server))
    tasks = [
        asyncio.create_task(telegram.run()),
        asyncio.create_task(Router(core, [telegram]).run()),
    ]
    try:
        yield telegram
    finally:
        for task in tasks:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


async def test_an_introduction_asked_on_telegram_is_accepted_on_matrix(core, synapse, bot, server):
    async with group_room(core, synapse, bot) as (ana, _ben, room):
        await ana.ask(room, "!capx offer communication")
        await ana.ask(room, "!capx visible on")
        async with telegram_delivering(core, server):
            await server.push(message(DORA, f"/contact {ana.name} about communication Hi!"))
            [asked] = await server.wait_sent(1, chat_id=DORA.id)
            await ana.until(lambda: any("Request #1" in n.body for n in ana.elsewhere(room)), 30)
            [request] = [n for n in ana.elsewhere(room) if "Request #1" in n.body]
            assert "Dora would like to learn communication from you." in plain(request.body)
            assert "Hi!" in request.body and "dora_helps" not in request.body
            private = request.source["room_id"]
            accepted = await ana.ask(private, "accept 1")
            told = await server.wait_sent(2, chat_id=DORA.id)
    assert "I have asked" in plain(asked.fields["text"])
    assert "@dora_helps on Telegram" in plain(accepted.body)
    assert "accepted your request" in plain(told[1].fields["text"])
    assert ana.user_id in told[1].fields["text"]


async def test_an_unanswered_introduction_is_told_after_a_week_and_a_hidden_person_refused(
    core, synapse, bot, server
):
    async with group_room(core, synapse, bot) as (ana, ben, room):
        await ana.ask(room, "!capx offer communication")
        await ana.ask(room, "!capx visible on")
        await ben.ask(room, "!capx offer communication")  # Ben stays hidden
        async with telegram_delivering(core, server):
            await server.push(message(DORA, f"/contact {ben.name}"))
            [refused] = await server.wait_sent(1, chat_id=DORA.id)
            await server.push(message(DORA, f"/contact {ana.name}"))
            await server.wait_sent(2, chat_id=DORA.id)
            later = core.clock() + timedelta(days=7)
            core.clock = lambda: later
            await core.housekeeping()
            told = await server.wait_sent(3, chat_id=DORA.id)
    assert "I know no visible profile called" in plain(refused.fields["text"])
    assert "has not been able to answer your request this week" in plain(told[2].fields["text"])


def reminders_in(server, chat_id: int) -> list:
    return [call for call in server.sent(chat_id=chat_id) if "Reminder:" in call.fields["text"]]


async def test_a_room_reminder_arrives_on_telegram_and_its_button_subscribes_the_presser(
    core, server
):
    group = test_telegram.GROUP
    admin = TelegramUser(401, "Gia", "gia_w", "en")
    server.statuses[(group["id"], admin.id)] = "administrator"
    start = core.clock() + timedelta(minutes=65)
    when = start.strftime("%Y-%m-%d %H:%M")
    async with telegram_delivering(core, server):
        await server.push(message(admin, "/reminders@CapxTestBot at 1h", group))
        await server.push(message(admin, "/reminders@CapxTestBot on", group))
        await server.push(message(admin, f'/event@CapxTestBot add "Clinic" {when} UTC', group))
        await server.wait_sent(3, chat_id=group["id"])
        soon = start - timedelta(hours=1)
        core.clock = lambda: soon
        await server.wait_for(lambda s: reminders_in(s, group["id"]))
        [reminder] = reminders_in(server, group["id"])
        [(label, data)] = shown_buttons(reminder)
        await server.push(press(DORA, reminder, data))
        await server.wait_for(lambda s: reminders_in(s, DORA.id))
        personal = reminders_in(server, DORA.id)
    assert label == "I'm going" and "in 1 hour" in reminder.fields["text"]
    assert "Clinic" in personal[0].fields["text"]


async def test_a_room_reminder_arrives_in_a_matrix_room(core, synapse, bot):
    start = core.clock() + timedelta(minutes=65)
    when = start.strftime("%Y-%m-%d %H:%M")
    async with group_room(core, synapse, bot) as (ana, ben, room):
        await ana.ask(room, "!capx reminders at 1h")
        await ana.ask(room, "!capx reminders on")
        await ana.ask(room, f'!capx event add "Clinic" {when} UTC')
        soon = start - timedelta(hours=1)
        core.clock = lambda: soon
        await ben.until(lambda: any("Reminder:" in n.body for n in ben.notices), 30)
    [reminder] = [n for n in ben.notices if "Reminder:" in n.body]
    assert reminder.source["room_id"] == room and "in 1 hour" in reminder.body
