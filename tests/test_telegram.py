"""The Telegram adapter, with python-telegram-bot talking HTTP to a local Bot API stand-in."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import replace

import aiohttp
import pytest
from sqlmodel import Session, select
from telegram.error import NetworkError, TimedOut

from adapters.base import AdapterStopped
from adapters.telegram import TelegramAdapter, TelegramSettings
from adapters.telegram.adapter import SECRET_HEADER, SENDS_IN_FLIGHT
from adapters.telegram.request import PooledRequest
from bots.cli import QUIET_LIBRARIES, configure_logging
from bots.router import Router
from bots.supervisor import run_adapters
from core.dispatch import Core
from core.i18n import Translator, negotiate
from core.registry import Where
from storage.models import (
    ChatIdentity,
    Need,
    OutboxMessage,
    Person,
    Room,
    SyncState,
    UnreachableChat,
)
from tests.telegram_server import (
    BOT_USERNAME,
    GROUP_ANONYMOUS_BOT,
    TELEGRAM_SERVICE,
    BotApiServer,
    Failure,
    TelegramUser,
    buttons,
    channel_chat,
    group_chat,
    membership,
    message,
    press,
)

ANA = TelegramUser(101, "Ana", "ana_wiki", "pt-br")
BEN = TelegramUser(102, "Ben", "ben", "en")
CARLA = TelegramUser(103, "Carla", None, None)  # Telegram tells no language: the room's counts
GROUP = group_chat(-1001, "Wiki Loves Capacities")
TOKEN = "42:test-token"


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    server = BotApiServer(tokens={TOKEN, "43:other-token"})
    await server.start()
    yield server
    await server.stop()


def settings(server: BotApiServer, **changes) -> TelegramSettings:
    base = TelegramSettings(token=TOKEN, api_url=server.url, poll_timeout=5)
    return replace(base, **changes)


@asynccontextmanager
async def running(core: Core, server: BotApiServer, **changes) -> AsyncIterator[TelegramAdapter]:
    """The adapter, polling the stand-in, from its first getUpdates until the block ends."""
    adapter = TelegramAdapter(core, settings(server, **changes))
    menus_before = len(server.sent("setMyCommands"))
    task = asyncio.create_task(adapter.run())
    delivering = asyncio.create_task(Router(core, [adapter]).run())
    await server.wait_for(lambda s: len(s.sent("setMyCommands")) >= menus_before + 6 or task.done())
    if task.done():
        task.result()
    try:
        yield adapter
    finally:
        for each in (delivering, task):
            each.cancel()
            with suppress(asyncio.CancelledError):
                await each


async def say(server: BotApiServer, update: dict, chat_id: int, count: int = 1) -> list:
    """Push ``update`` and wait for ``count`` more messages to ``chat_id``; those messages."""
    before = len(server.sent(chat_id=chat_id))
    await server.push(update)
    sent = await server.wait_sent(before + count, chat_id=chat_id)
    return sent[before:]


async def test_help_in_a_private_chat_is_html_in_the_persons_language(core, server):
    async with running(core, server):
        [reply] = await say(server, message(ANA, "/help"), ANA.id)
    assert reply.fields["parse_mode"] == "HTML"
    assert "<b>" in reply.fields["text"]
    assert Translator("pt_BR")("What I can do") in reply.fields["text"]  # Ana's language_code


async def test_long_lists_are_paged_with_buttons_that_turn_the_page(core, server):
    async with running(core, server):
        [first] = await say(server, message(BEN, "/help"), BEN.id)
        labels = dict(buttons(first))
        assert labels["›"] == "p:1"
        first_page = first.fields["text"]
        await server.push(press(BEN, first, "p:1"))
        [edit] = await server.wait_sent(1, "editMessageText")
    assert edit.fields["text"] != first_page
    assert "p:0" in dict(buttons(edit)).values()
    shown = first_page.count("•") + edit.fields["text"].count("•")
    assert shown >= 11


async def test_commands_addressed_to_another_bot_are_ignored_in_groups(core, server):
    async with running(core, server):
        await server.push(message(BEN, "/help@SomeOtherBot", GROUP))
        await server.push(message(BEN, "/weather", GROUP))  # another bot's, unaddressed
        [reply] = await say(server, message(BEN, f"/capacities@{BOT_USERNAME}", GROUP), GROUP["id"])
    assert len(server.sent(chat_id=GROUP["id"])) == 1
    assert reply.fields["reply_parameters"]["message_id"] > 0
    assert Translator("en")("Capacities") in reply.fields["text"]


async def test_an_unknown_command_addressed_to_the_bot_gets_a_suggestion_button(core, server):
    async with running(core, server):
        [reply] = await say(server, message(BEN, f"/hlep@{BOT_USERNAME}", GROUP), GROUP["id"])
        assert ("help", "c:help") in buttons(reply)
        [answer] = await say(server, press(BEN, reply, "c:help"), GROUP["id"])
    assert "What I can do" in answer.fields["text"]
    assert len(server.sent("answerCallbackQuery")) == 1


async def test_menus_are_set_per_locale_and_scope_from_the_registry(core, server):
    async with running(core, server):
        pass
    menus = {
        (call.fields.get("language_code"), call.fields["scope"]["type"]): {
            command["command"]: command["description"] for command in call.fields["commands"]
        }
        for call in server.sent("setMyCommands")
    }
    assert set(menus) == {
        (code, scope)
        for code in (None, "pt", "ar")
        for scope in ("all_private_chats", "all_group_chats")
    }
    private, group = menus[(None, "all_private_chats")], menus[(None, "all_group_chats")]
    assert "offer" in private and "offer" not in group
    assert "roomlanguage" in group and "roomlanguage" not in private
    assert set(private) == {c.name for c in core.registry if c.where is not Where.GROUP}
    assert menus[("pt", "all_group_chats")]["find"] != group["find"]


async def test_a_private_command_in_a_group_answers_privately_with_a_link_there(core, server):
    async with running(core, server):
        await server.push(message(ANA, "/offer communication", GROUP))
        [private] = await server.wait_sent(1, chat_id=ANA.id)
        [notice] = await server.wait_sent(1, chat_id=GROUP["id"])
    assert "comunicação" in private.fields["text"].lower()  # Ana's language, capacities too
    label = Translator("pt_BR")("Open the private chat")
    assert buttons(notice) == [(label, f"https://t.me/{BOT_USERNAME}")]


async def held_link(server: BotApiServer, user: TelegramUser, command: str) -> str:
    """Send ``command`` in the group as ``user``, whom the bot cannot write to; the payload of
    the deep link the group gets."""
    server.never_opened.add(user.id)
    [notice] = await say(server, message(user, command, GROUP), GROUP["id"])
    [(_, link)] = buttons(notice)
    assert link.startswith(f"https://t.me/{BOT_USERNAME}?start=")
    return link.split("=", 1)[1]


async def test_held_answers_survive_a_restart_and_reach_only_their_person(core, server):
    async with running(core, server):
        payload = await held_link(server, ANA, "/mydata")
    assert payload == "answers"  # no secret, no command: Ana's own /start delivers them
    async with running(core, server):  # a new adapter, the same database
        before = len(server.sent(chat_id=ANA.id))
        # Someone else following the link gets the ordinary welcome, not Ana's answer.
        [welcome] = await say(server, message(BEN, f"/start {payload}"), BEN.id)
        assert "Welcome" in welcome.fields["text"]
        arrived = await say(server, message(ANA, f"/start {payload}"), ANA.id, count=2)
        [again] = await say(server, message(ANA, f"/start {payload}"), ANA.id)
    texts = [call.fields["text"] for call in arrived]
    assert any(Translator("pt_BR")("I keep nothing about you.") in text for text in texts)
    assert Translator("pt_BR")("Welcome to the Capacity Exchange!") in again.fields["text"]
    assert len(server.sent(chat_id=ANA.id)) == before + 3  # the answer came once
    assert queued(core, ANA) == ["sent"]


async def test_forget_leaves_nothing_kept_for_the_person(core, server):
    async with running(core, server):
        await say(server, message(ANA, "/offer communication"), ANA.id)
        await held_link(server, ANA, "/mydata")
        assert set(queued(core, ANA)) == {"pending"}  # her profile and her data
        await forget(server, ANA)
    assert queued(core, ANA) == []
    with Session(core.engine) as session:
        assert session.exec(select(ChatIdentity)).all() == []


def queued(core: Core, user: TelegramUser) -> list[str]:
    """The states of the outbox's messages for ``user``."""
    with Session(core.engine) as session:
        query = select(OutboxMessage.state).where(OutboxMessage.account_id == str(user.id))
        return list(session.exec(query))


async def forget(server: BotApiServer, user: TelegramUser) -> None:
    """``user`` says /forget in private and presses the confirmation button; until it is
    done (other messages for them may come meanwhile)."""
    t = Translator(negotiate([user.language_code]))
    yes, done = t("Yes, erase everything"), t("Done: I have erased everything I kept about you.")

    def asked(server: BotApiServer) -> list:
        sent = server.sent(chat_id=user.id)
        return [c for c in sent if any(label == yes for label, _ in buttons(c))]

    await server.push(message(user, "/forget"))
    await server.wait_for(lambda s: bool(asked(s)))
    [(_, data), _keep] = buttons(asked(server)[-1])
    assert data.startswith("b:")
    await server.push(press(user, asked(server)[-1], data))
    await server.wait_for(lambda s: any(done in c.fields["text"] for c in s.sent(chat_id=user.id)))


async def test_a_429_is_waited_out_and_the_message_still_goes(core, server):
    server.fail_next(
        Failure(
            "sendMessage", 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1}
        )
    )
    async with running(core, server):
        attempts = await say(server, message(BEN, "/privacy"), BEN.id, count=2)
        await server.push(message(BEN, "/help"))
        await server.wait_sent(3, chat_id=BEN.id)
    assert attempts[0].fields["text"] == attempts[1].fields["text"]
    assert len(server.sent(chat_id=BEN.id)) == 3  # the retried message went once


async def test_a_blocked_person_is_recorded_once_and_not_retried(core, server):
    async with running(core, server):
        # Ana, in a group, posts a need; Ben offers help, and Ana has blocked the bot.
        await say(
            server,
            message(ANA, "/need communication a workshop for our students", GROUP),
            GROUP["id"],
        )
        server.fail_next(
            Failure("sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=ANA.id)
        )
        await say(server, message(BEN, "/helpwith 1", GROUP), BEN.id)
        await server.push(message(BEN, "/privacy"))
        await server.wait_sent(2, chat_id=BEN.id)
    assert len(server.sent(chat_id=ANA.id)) == 1
    with Session(core.engine) as session:
        [record] = session.exec(select(UnreachableChat)).all()
    assert (record.platform, record.chat_id, record.reason) == (
        "telegram",
        str(ANA.id),
        "forbidden",
    )


async def test_room_admin_commands_check_the_member_status_once_in_a_while(core, server):
    async with running(core, server):
        [refused] = await say(server, message(BEN, "/roomlanguage pt-br", GROUP), GROUP["id"])
        server.statuses[(GROUP["id"], ANA.id)] = "administrator"
        [done] = await say(server, message(ANA, "/roomlanguage pt-br", GROUP), GROUP["id"])
        await say(server, message(ANA, "/roomlanguage ar", GROUP), GROUP["id"])
    assert "Only an admin" in refused.fields["text"]
    assert "Only an admin" not in done.fields["text"]
    checks = [(c.fields["chat_id"], c.fields["user_id"]) for c in server.sent("getChatMember")]
    assert sorted(checks) == [(str(GROUP["id"]), str(ANA.id)), (str(GROUP["id"]), str(BEN.id))]


async def test_joining_a_group_greets_once_in_its_language(core, server):
    with Session(core.engine) as session:
        session.add(Room(platform="telegram", room_id=str(GROUP["id"]), locale="ar"))
        session.commit()
    async with running(core, server):
        [greeting] = await say(server, membership(BEN, GROUP, "left", "member"), GROUP["id"])
        await server.push(membership(BEN, GROUP, "member", "administrator"))
        await say(server, message(BEN, f"/privacy@{BOT_USERNAME}", GROUP), GROUP["id"])
    greetings = [
        c for c in server.sent(chat_id=GROUP["id"]) if c.fields["text"] == greeting.fields["text"]
    ]
    assert len(greetings) == 1
    assert Translator("ar")("Welcome to the Capacity Exchange!") in greeting.fields["text"]


async def test_a_group_upgraded_to_a_supergroup_keeps_its_settings_and_needs(
    core_on_every_backend, server
):
    core = core_on_every_backend
    old = group_chat(-2002, "Small group", kind="group")
    new = group_chat(-1002002, "Small group", kind="supergroup")
    server.statuses[(old["id"], CARLA.id)] = "creator"
    async with running(core, server):
        await say(server, message(CARLA, "/roomlanguage pt-br", old), old["id"])
        await say(server, message(CARLA, "/need communication a workshop", old), old["id"])
        migrated = message(CARLA, "", old)
        del migrated["message"]["text"]
        migrated["message"]["migrate_to_chat_id"] = new["id"]
        await server.push(migrated)
        [reply] = await say(server, message(CARLA, "/needs", new), new["id"])
    assert "workshop" in reply.fields["text"]
    assert Translator("pt_BR")("Open needs") in reply.fields["text"]
    with Session(core.engine) as session:
        assert session.exec(select(Room.room_id)).all() == [str(new["id"])]
        assert session.exec(select(Need.room_id)).all() == [str(new["id"])]


async def test_a_restart_neither_loses_nor_repeats_an_update(core_on_every_backend, server):
    core = core_on_every_backend
    async with running(core, server):
        first = await server.push(message(BEN, "/privacy"))
        await server.wait_sent(1, chat_id=BEN.id)  # stopped at once, before saying more
    # As after a crash: Telegram offers the update again, and a new one has come meanwhile.
    await server.redeliver(first)
    await server.push(message(BEN, "/capacities"))
    async with running(core, server):
        await server.wait_sent(2, chat_id=BEN.id)
        await server.push(message(BEN, "/help"))
        await server.wait_sent(3, chat_id=BEN.id)
    texts = [call.fields["text"] for call in server.sent(chat_id=BEN.id)]
    assert len(texts) == 3 and len(set(texts)) == 3
    with Session(core.engine) as session:
        [offset] = session.exec(select(SyncState.value)).all()
    assert int(offset) == 4


async def test_buttons_from_before_a_restart_say_they_have_expired(core, server):
    async with running(core, server):
        [first] = await say(server, message(BEN, "/help"), BEN.id)
    async with running(core, server):
        await server.push(press(BEN, first, "p:1"))
        await server.push(press(BEN, first, "k:no-such-key"))  # a key of the adapters before
        await server.push(press(BEN, first, "b:no-such-token"))
        await server.push(press(BEN, first, "nonsense"))
        answers = await server.wait_sent(4, "answerCallbackQuery")
    assert all("expired" in a.fields["text"] for a in answers)
    assert server.sent("editMessageText") == []
    assert len(server.sent(chat_id=BEN.id)) == 1


def sticker_from(user: TelegramUser) -> dict:
    """A message update with a sticker and no text, from ``user`` in their private chat."""
    update = message(user, "")
    del update["message"]["text"]
    update["message"]["sticker"] = {
        "file_id": "s1",
        "file_unique_id": "s1u",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
    return update


async def test_odd_updates_are_ignored_or_get_a_hint_and_nothing_is_logged(core, server, caplog):
    sticker = sticker_from(BEN)
    photo_in_group = message(BEN, "", GROUP)
    del photo_in_group["message"]["text"]
    photo_in_group["message"]["photo"] = [
        {"file_id": "p", "file_unique_id": "pu", "width": 9, "height": 9}
    ]
    edited = message(BEN, "/forget confirm")
    edited = {"edited_message": {**edited["message"], "edit_date": 1}}
    malformed = {"message": {"message_id": 1, "text": "/help"}}  # no chat, no date
    with caplog.at_level(logging.WARNING):
        async with running(core, server):
            for update in (malformed, edited, photo_in_group, {"poll": {"id": "x"}}):
                await server.push(update)
            [hint] = await say(server, sticker, BEN.id)
            [after] = await say(server, message(BEN, "/privacy"), BEN.id)
    assert "/help" in hint.fields["text"]
    assert "<b>" in after.fields["text"]  # still answering after the odd ones
    assert server.sent(chat_id=GROUP["id"]) == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert not any(r.exc_info for r in caplog.records)


async def test_a_rejected_token_stops_only_that_adapter(core, server, caplog):
    good = TelegramAdapter(core, settings(server, token="43:other-token"))
    bad = TelegramAdapter(core, settings(server, token="666:revoked"))
    with caplog.at_level(logging.ERROR):
        task = asyncio.create_task(run_adapters([bad, good]))
        await server.wait_for(lambda s: len(s.sent("setMyCommands")) >= 6)
        [reply] = await say(server, message(BEN, "/privacy"), BEN.id)
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
    assert reply.token == "43:other-token"
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert (
        line == "telegram adapter stopped: Telegram rejected the bot token in CAPX_TELEGRAM_TOKEN"
    )
    assert "666" not in caplog.text


async def test_a_missing_token_is_one_clear_error(core, server):
    with pytest.raises(AdapterStopped, match="CAPX_TELEGRAM_TOKEN"):
        await TelegramAdapter(core, settings(server, token="")).run()


async def test_forget_is_confirmed_with_a_button_that_outlives_a_restart(core, server):
    async with running(core, server):
        await say(server, message(BEN, "/offer communication"), BEN.id)
        [question] = await say(server, message(BEN, "/forget"), BEN.id)
        (_, data), _keep = buttons(question)
    async with running(core, server):
        [done] = await say(server, press(BEN, question, data), BEN.id)
        [answer] = await server.wait_sent(1, "answerCallbackQuery")
    assert "erased everything" in done.fields["text"]
    assert "text" not in answer.fields  # a silent answer: the reply is in the chat
    with Session(core.engine) as session:
        assert session.exec(select(ChatIdentity)).all() == []


async def test_forget_confirm_typed_erases_nothing(core, server):
    async with running(core, server):
        await say(server, message(BEN, "/offer communication"), BEN.id)
        await say(server, message(BEN, "/forget confirm"), BEN.id)
        await say(server, message(BEN, f"/forget@{BOT_USERNAME} confirm", GROUP), BEN.id)
    with Session(core.engine) as session:
        assert len(session.exec(select(ChatIdentity)).all()) == 1


async def test_a_suggestion_button_works_only_for_the_person_it_was_shown_to(core, server):
    async with running(core, server):
        await say(server, message(ANA, "/offer communication"), ANA.id)
        await say(server, message(BEN, "/offer communication"), BEN.id)
        [suggestion] = await say(
            server, message(ANA, f"/forgte@{BOT_USERNAME} confirm", GROUP), GROUP["id"]
        )
        [(label, data)] = buttons(suggestion)
        assert label == "forget" and data.startswith("b:")
        in_group = len(server.sent(chat_id=GROUP["id"]))
        await server.push(press(BEN, suggestion, data))
        [refused] = await server.wait_sent(1, "answerCallbackQuery")
        assert len(server.sent(chat_id=GROUP["id"])) == in_group
        [question] = await say(server, press(ANA, suggestion, data), ANA.id)
        (_, confirm), _keep = buttons(question)
        await say(server, press(ANA, question, confirm), ANA.id)
    assert "not yours" in refused.fields["text"] and refused.fields["show_alert"] == "true"
    assert len(server.sent("answerCallbackQuery")) == 3  # each press answered once
    assert server.sent(chat_id=BEN.id)[1:] == []  # Ben was told nothing in a chat
    with Session(core.engine) as session:
        accounts = session.exec(select(ChatIdentity.account_id)).all()
    assert accounts == [str(BEN.id)]


def test_settings_come_from_the_config_and_the_environment():
    section = {"token_env": "MY_TOKEN", "mode": "webhook", "webhook_url": "https://x.org/tg"}
    made = TelegramSettings.from_config(
        section, {"MY_TOKEN": " 1:abc ", "CAPX_TELEGRAM_WEBHOOK_SECRET": "s3"}
    )
    assert (made.token, made.mode, made.webhook_secret) == ("1:abc", "webhook", "s3")
    assert "1:abc" not in repr(made) and "s3" not in repr(made)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_webhook_mode_checks_the_secret_and_skips_repeats(core, server):
    port = free_port()
    hook = f"http://127.0.0.1:{port}/telegram"
    update = {"update_id": 77, **message(BEN, "/privacy")}
    async with running(
        core,
        server,
        mode="webhook",
        webhook_url="https://bot.example.org/telegram",
        webhook_listen=f"127.0.0.1:{port}",
        webhook_secret="s3cret",
    ):
        [registered] = await server.wait_sent(1, "setWebhook")
        async with aiohttp.ClientSession() as http:
            forged = await http.post(hook, json=update, headers={SECRET_HEADER: "guess"})
            first = await http.post(hook, json=update, headers={SECRET_HEADER: "s3cret"})
            again = await http.post(hook, json=update, headers={SECRET_HEADER: "s3cret"})
    assert registered.fields["url"] == "https://bot.example.org/telegram"
    assert registered.fields["secret_token"] == "s3cret"
    assert (forged.status, first.status, again.status) == (403, 200, 200)
    assert len(server.sent(chat_id=BEN.id)) == 1
    assert server.sent("getUpdates") == []


async def test_debug_logs_show_neither_tokens_nor_what_people_say(
    core, server, caplog, monkeypatch
):
    said = "/find zzsecretwordzz"
    refused = 'Bad Request: can\'t parse entities: unsupported start tag "zzsecretwordzz"'

    async def crash(*args) -> None:
        raise RuntimeError("zzsecretwordzz")

    sticker = sticker_from(BEN)
    levels = {name: logging.getLogger(name).level for name in QUIET_LIBRARIES}
    try:
        for name in QUIET_LIBRARIES:
            logging.getLogger(name).setLevel(logging.NOTSET)
        with caplog.at_level(logging.DEBUG):
            async with running(core, server):  # the libraries left at DEBUG: both leak
                await say(server, message(BEN, said), BEN.id)
            assert TOKEN in caplog.text and "zzsecretwordzz" in caplog.text
            caplog.clear()
            configure_logging("DEBUG")  # as `capx-bot run` does
            async with running(core, server):
                [found] = await say(server, message(BEN, said), BEN.id)
                await say(server, press(BEN, found, "c:find zzsecretwordzz"), BEN.id)
                server.fail_next(Failure("sendMessage", 400, refused, chat_id=BEN.id))
                await say(server, message(BEN, said), BEN.id)
                monkeypatch.setattr(TelegramAdapter, "_hint", crash)
                await server.push(sticker)
                await say(server, message(BEN, "/privacy"), BEN.id)
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    assert TOKEN not in caplog.text and "zzsecretwordzz" not in caplog.text
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(line.startswith("Telegram refused a message") for line in problems)
    assert any(" failed: RuntimeError at tests/test_telegram.py:" in line for line in problems)
    assert not any(r.exc_info for r in caplog.records)


async def test_capx_bot_run_serves_telegram_until_sigterm(server, reference_db, tmp_path):
    database = tmp_path / "capx.db"
    shutil.copyfile(reference_db, database)
    config = tmp_path / "config.toml"
    config.write_text(f'[telegram]\nenabled = true\napi_url = "{server.url}"\n', encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.cli",
        "--config",
        str(config),
        "--db",
        str(database),
        "run",
        env={**os.environ, "CAPX_TELEGRAM_TOKEN": TOKEN},
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await server.wait_for(lambda s: len(s.sent("setMyCommands")) >= 6, timeout=30)
        [reply] = await say(server, message(BEN, "/capacities"), BEN.id)
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = await asyncio.wait_for(process.communicate(), 20)
    assert Translator("en")("Capacities") in reply.fields["text"]
    assert process.returncode == 0
    assert TOKEN.encode() not in errors and b"Traceback" not in errors


FORUM = group_chat(-1004, "Wiki forum", forum=True)


async def test_a_button_pressed_in_a_forum_topic_answers_in_that_topic(core, server):
    async with running(core, server):
        hlep = message(BEN, f"/hlep@{BOT_USERNAME}", FORUM, topic=12)
        [suggestion] = await say(server, hlep, FORUM["id"])
        [answer] = await say(server, press(BEN, suggestion, "c:help"), FORUM["id"])
        forgte = message(BEN, f"/forgte@{BOT_USERNAME}", FORUM, topic=12)
        [bound] = await say(server, forgte, FORUM["id"])
        [(_, data)] = buttons(bound)
        [notice] = await say(server, press(BEN, bound, data), FORUM["id"])
    for sent in (suggestion, answer, notice):
        assert sent.fields["message_thread_id"] == "12"
    assert answer.fields["reply_parameters"]["message_id"] == suggestion.result["message_id"]
    assert notice.fields["reply_parameters"]["message_id"] == bound.result["message_id"]
    assert "What I can do" in answer.fields["text"]
    [question] = server.sent(chat_id=BEN.id)
    assert "message_thread_id" not in question.fields


async def test_an_anonymous_admin_looks_things_up_but_is_no_person(core, server):
    def as_group(text: str) -> dict:
        return message(GROUP_ANONYMOUS_BOT, text, GROUP, sender_chat=GROUP)

    async with running(core, server):
        [refused] = await say(server, as_group(f"/offer@{BOT_USERNAME} 46"), GROUP["id"])
        [found] = await say(server, as_group(f"/capacities@{BOT_USERNAME}"), GROUP["id"])
        [done] = await say(server, as_group(f"/roomlanguage@{BOT_USERNAME} pt-br"), GROUP["id"])
    assert "Send this as yourself" in refused.fields["text"]
    assert Translator("en")("Capacities") in found.fields["text"]
    assert "Only an admin" not in done.fields["text"]
    assert server.sent("getChatMember") == []
    with Session(core.engine) as session:
        assert session.exec(select(Person)).all() == []
        assert session.exec(select(Room.locale)).all() == ["pt_BR"]


async def test_a_channel_is_no_person_and_no_admin_and_its_forwards_are_ignored(core, server):
    channel = channel_chat(-1005, "Wiki news")
    channel_bot = TelegramUser(136817688, "Channel", "Channel_Bot", None, is_bot=True)
    forwarded = message(TELEGRAM_SERVICE, f"/capacities@{BOT_USERNAME}", GROUP, sender_chat=channel)
    forwarded["message"]["is_automatic_forward"] = True
    async with running(core, server):
        await server.push(forwarded)
        as_channel = message(
            channel_bot, f"/roomlanguage@{BOT_USERNAME} ar", GROUP, sender_chat=channel
        )
        [refused] = await say(server, as_channel, GROUP["id"])
        offer = message(channel_bot, f"/offer@{BOT_USERNAME} 46", GROUP, sender_chat=channel)
        [yourself] = await say(server, offer, GROUP["id"])
    assert len(server.sent(chat_id=GROUP["id"])) == 2  # nothing for the forward
    assert "Only an admin" in refused.fields["text"]
    assert "Send this as yourself" in yourself.fields["text"]
    with Session(core.engine) as session:
        assert session.exec(select(Person)).all() == []


ISOLATES = re.compile("[\u2066-\u2069]")


async def test_a_name_that_looks_like_a_handle_is_never_shown_as_one(core, server):
    zed = TelegramUser(104, "@zed", None, "en")
    async with running(core, server):
        await say(server, message(zed, "/need communication a workshop", GROUP), GROUP["id"])
        [to_helper] = await say(server, message(BEN, "/helpwith 1", GROUP), BEN.id)
        [to_author] = await server.wait_sent(1, chat_id=zed.id)
    text = ISOLATES.sub("", to_helper.fields["text"])
    assert f'<a href="tg://user?id={zed.id}">@zed</a>' in text
    assert "@zed on Telegram" not in text
    assert "@ben on Telegram" in ISOLATES.sub("", to_author.fields["text"])  # a real handle
    with Session(core.engine) as session:
        handles = dict(session.exec(select(ChatIdentity.account_id, ChatIdentity.handle)).all())
    assert handles == {str(zed.id): None, str(BEN.id): "@ben"}


async def test_calls_go_as_json_a_few_at_once_on_connections_kept_alive(core, server):
    people = [TelegramUser(2000 + n, f"Person {n}", None, "en") for n in range(30)]
    async with running(core, server):
        server.answer_delay = 0.05  # a slow Telegram: answers would pile up without a bound
        server.connections.clear()
        for person in people:
            await server.push(message(person, "/help"))
        await server.wait_for(lambda s: all(s.sent(chat_id=p.id) for p in people), timeout=20)
    assert 1 < server.most_in_flight <= SENDS_IN_FLIGHT
    assert 1 < len(server.connections) <= SENDS_IN_FLIGHT
    assert {call.content_type for call in server.sent()} == {"application/json"}


async def test_a_call_without_an_answer_is_timed_out_and_an_unreachable_one_names_no_token(
    server,
):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{closed.getsockname()[1]}/bot"
    async with PooledRequest(1, timeout=0.2) as request:
        server.answer_delay = 1
        with pytest.raises(TimedOut):
            await request.post(f"{server.url}{TOKEN}/getMe")
        with pytest.raises(NetworkError) as unreachable:
            await request.post(f"{nobody}{TOKEN}/getMe")
    assert not isinstance(unreachable.value, TimedOut)
    assert TOKEN not in str(unreachable.value) and "127.0.0.1" not in str(unreachable.value)


async def test_a_large_mydata_is_one_document_with_a_one_line_caption(core, server):
    async with running(core, server):
        for n in range(8):
            need = f"/need communication {n} a workshop &<> " + "x&<>" * 200
            await say(server, message(BEN, need, GROUP), GROUP["id"])
        before = len(server.sent(chat_id=BEN.id))
        [profile] = await say(server, message(BEN, "/mydata"), BEN.id)
        [document] = await server.wait_sent(1, "sendDocument")
    assert len(server.sent(chat_id=BEN.id)) == before + 1  # the profile, then only the file
    assert "capx-mydata" not in profile.fields["text"]
    assert document.fields["caption"] == "Everything I keep about you, as JSON:"
    assert document.fields["parse_mode"] == "HTML"
    assert document.content_type == "multipart/form-data"
    exported = json.loads(document.fields["document"]["data"])
    assert len(exported["needs"]) == 8
