"""The outbound path across platforms, through the real peers: a need posted in a Matrix room
(a real Synapse) and answered on Telegram (the Bot API stand-in) reaches its author in Matrix."""

from __future__ import annotations

import asyncio
from contextlib import suppress

from adapters.matrix import MatrixAdapter, MatrixSettings
from adapters.telegram import TelegramAdapter
from bots.router import Router
from core.types import Reply, Sent, Target
from tests import test_matrix, test_telegram
from tests.telegram_server import TelegramUser, message
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


async def test_a_matrix_retry_with_the_same_key_posts_once(core, synapse, bot):
    name, password = bot
    adapter = MatrixAdapter(
        core,
        MatrixSettings(
            homeserver=synapse.url,
            user_id=synapse.user_id(name),
            password=password,
            invite_servers=("localhost",),
            sync_timeout_ms=1000,
        ),
    )
    task = asyncio.create_task(adapter.run())
    try:
        async with Person(synapse, "ana") as ana:
            for _ in range(200):
                if adapter.ready:
                    break
                await asyncio.sleep(0.05)
            target = Target("matrix", account_id=ana.user_id)
            once = Reply(paragraphs=("only once, please",), private=True)
            first = await adapter.send(target, once, key="capx-outbox-test-1")
            again = await adapter.send(target, once, key="capx-outbox-test-1")
            assert isinstance(first, Sent) and isinstance(again, Sent)
            assert first.message_id == again.message_id  # the homeserver took it once
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


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
