"""The Discord adapter through unmodified discord.py, against the local gateway and REST
stand-in (``tests/discord_server.py``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

import pytest

from adapters.base import AdapterStopped
from adapters.discord import DiscordAdapter, DiscordSettings
from adapters.discord import adapter as discord_adapter
from bots.router import Router
from core.services import outbox
from core.types import Reply, Target, Unreachable
from storage.db import unit_of_work
from tests.chat import Chat, queued
from tests.discord_server import (
    ADMIN,
    CHANNEL_ID,
    GUILD_ID,
    MEMBER,
    TOKEN,
    DiscordServer,
    DiscordUser,
    Failure,
    point_discord_py_at,
    slash_command,
)

RUI = DiscordUser(1300000000000000301, "rui", "Rui", locale="pt-BR")


@pytest.fixture
async def server() -> AsyncIterator[DiscordServer]:
    server = DiscordServer()
    await server.start()
    server.add_user(RUI)
    with point_discord_py_at(server):
        yield server
    await server.stop()


@asynccontextmanager
async def running(core, server: DiscordServer) -> AsyncIterator[DiscordAdapter]:
    adapter = DiscordAdapter(
        core, DiscordSettings(token=TOKEN, guilds=(GUILD_ID,), guild_ready_timeout=0.05)
    )
    task = asyncio.create_task(adapter.run())
    try:
        async with asyncio.timeout(10):
            while not adapter.ready:
                await asyncio.sleep(0.01)
        yield adapter
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def answered(server: DiscordServer, dispatched):
    """The record of an interaction, once the bot has answered it."""
    record = await dispatched
    await server.wait_answer(record)
    return record


def text_of(record) -> str:
    data = record.response_data
    embeds = data.get("embeds") or [{}]
    return (
        " ".join(
            str(part or "")
            for part in (data.get("content"), embeds[0].get("title"), embeds[0].get("description"))
        )
        .replace("\u2068", "")
        .replace("\u2069", "")
    )


async def test_the_registry_is_registered_once_with_types_and_translations(core, server):
    async with running(core, server):
        tree = server.registered(GUILD_ID)
    find = tree["find"]
    capacity = next(o for o in find["options"] if o["name"] == "capacity")
    assert capacity["type"] == 3 and capacity["autocomplete"] and capacity["required"]
    assert find["description_localizations"]["pt-BR"].startswith("encontrar")
    need = next(o for o in tree["helpwith"]["options"] if o["name"] == "need")
    assert need["type"] == 4 and need["min_value"] == 1
    assert tree["reminders"]["default_member_permissions"] == "32"
    puts = len(server.calls_to("PUT", "/applications/"))
    async with running(core, server):  # the same tree: not synced again
        pass
    assert len(server.calls_to("PUT", "/applications/")) == puts


async def test_a_slash_command_is_answered_and_a_private_one_is_ephemeral(core, server):
    async with running(core, server):
        public = await answered(server, server.slash("capacities", {}))
        private = await answered(server, server.slash("profile", {}))
    assert public.response_type == 4 and not public.ephemeral
    assert "communication" in text_of(public)
    assert private.ephemeral and "You have no profile yet" in text_of(private)


async def test_autocomplete_answers_in_the_readers_language(core, server):
    async with running(core, server):
        record = await answered(server, server.complete("find", "capacity", "orat", user=RUI))
    assert record.response_type == 8
    assert record.choices[0] == {"name": "oratória", "value": "46"}


async def test_an_admin_command_is_refused_to_a_member(core, server):
    async with running(core, server):
        refused = await answered(server, server.slash("reminders", {"what": "on"}, force=True))
        allowed = await answered(server, server.slash("reminders", {"what": "on"}, user=ADMIN))
        with pytest.raises(PermissionError):  # Discord's client does not offer it to members
            await server.slash("reminders", {"what": "on"})
    assert "Only an admin" in text_of(refused)
    assert "This room is reminded" in text_of(allowed)


async def test_a_reminder_is_posted_to_a_channel_with_its_nonce(core, server):
    async with running(core, server) as adapter:
        reply = Reply(title="Reminder: Clinic", paragraphs=("in 1 hour",))
        target = Target("discord", room_id=str(CHANNEL_ID))
        first = await adapter.send(target, reply, key="capx-outbox-7")
        again = await adapter.send(target, reply, key="capx-outbox-7")
    assert first.message_id == again.message_id  # Discord took it once
    [posted] = server.channel_messages(CHANNEL_ID)
    assert posted["embeds"][0]["title"] == "Reminder: Clinic"


async def test_a_cross_platform_answer_reaches_a_discord_user_privately(core, server):
    async with running(core, server) as adapter:
        router = asyncio.create_task(Router(core, [adapter]).run())
        try:
            with unit_of_work(core.engine) as session:
                note = Reply(paragraphs=("Dora accepted your request.",), private=True)
                outbox.enqueue(
                    session,
                    Target("discord", account_id=str(MEMBER.id)),
                    note,
                    key="x1",
                    now=core.clock(),
                )
            await server.wait_for(lambda s: bool(s.calls_to("POST", "/channels/")))
        finally:
            router.cancel()
            with suppress(asyncio.CancelledError):
                await router
    [call] = server.calls_to("POST", "/channels/")
    assert "Dora accepted" in call.json["embeds"][0]["description"]


def custom_ids(message: dict) -> dict[str, str]:
    """The buttons of a message: label -> custom id."""
    return {
        part["label"]: part["custom_id"]
        for row in message.get("components", [])
        for part in row.get("components", [])
        if "custom_id" in part
    }


async def test_a_button_works_for_its_owner_only_and_says_when_it_expired(core, server):
    async with running(core, server):
        await answered(server, server.slash("offer", {"capacities": "communication"}))
        asked = await answered(server, server.slash("forget", {}))
        buttons = custom_ids(asked.original)
        erase = buttons["Yes, erase everything"]
        assert erase.startswith("b:") and asked.ephemeral
        others = await answered(server, server.press(asked.original, erase, user=ADMIN))
        assert others.ephemeral and "This button is not yours" in text_of(others)
        later = core.clock() + timedelta(minutes=11)
        core.clock = lambda: later
        stale = await answered(server, server.press(asked.original, erase, user=MEMBER))
    assert "This button has expired" in text_of(stale)


async def test_a_button_still_works_after_a_restart(core, server):
    async with running(core, server):
        listed = await answered(server, server.slash("capacities", {}))
    async with running(core, server):
        first = next(iter(custom_ids(listed.original).values()))
        pressed = await answered(server, server.press(listed.original, first, user=RUI))
    assert pressed.response_type == 4 and text_of(pressed).strip()


async def test_no_view_is_kept_for_the_messages_sent(core, server):
    """Presses reach the adapter whatever view sent the button: discord.py must not keep a
    view of every message (they would pile up for as long as the bot runs)."""
    async with running(core, server) as adapter:
        listed = await answered(server, server.slash("capacities", {}))
        await answered(server, server.slash("offer", {"capacities": "communication"}))
        asked = await answered(server, server.slash("forget", {}))  # ephemeral, one-time
        assert custom_ids(listed.original) and custom_ids(asked.original)
        assert adapter.client is not None and list(adapter.client.persistent_views) == []


async def test_a_long_list_is_paged_in_place_and_its_pages_expire_with_a_restart(core, server):
    async with running(core, server):
        listed = await answered(server, server.slash("help", {}))
        first_page = text_of(listed)
        turns = custom_ids(listed.original)
        [counter] = [label for label in turns if label.startswith("1/")]
        pages = int(counter.removeprefix("1/"))
        turned = await answered(server, server.press(listed.original, turns["›"], user=RUI))
        shown = server.messages[int(listed.original["id"])]
        assert turned.response_type == 7  # the message itself changed
        assert f"2/{pages}" in custom_ids(shown) and shown["embeds"][0]["description"]
        assert shown["embeds"][0]["description"] not in first_page
    assert pages >= 2 and "‹" in custom_ids(shown)
    async with running(core, server):
        stale = await answered(server, server.press(shown, custom_ids(shown)["‹"], user=RUI))
    assert stale.ephemeral and "Este botão expirou" in text_of(stale)  # in his language


async def test_a_slow_answer_is_deferred_then_followed_up(core, server, monkeypatch):
    """The core's answer is held back until the deferral has reached Discord."""
    monkeypatch.setattr(discord_adapter, "DEFER_AFTER", 0.0)
    deferred = threading.Event()
    handle = core.handle

    def slow(incoming):
        deferred.wait(timeout=10)
        return handle(incoming)

    monkeypatch.setattr(core, "handle", slow)
    async with running(core, server):
        record = await server.slash("capacities", {})
        await server.wait_answer(record, count=1)
        deferred.set()
        await server.wait_answer(record, count=2)
    assert record.response_type == 5
    assert "communication" in str(record.original)


async def test_an_expired_interaction_is_logged_briefly_and_the_next_one_answered(
    core, server, caplog
):
    async with running(core, server):
        server.fail_next(Failure.unknown_interaction())
        await server.slash("capacities", {})
        await server.wait_calls(1, "POST", "/interactions/")
        again = await answered(server, server.slash("capacities", {}))
    assert again.response_type == 4
    assert "Traceback" not in caplog.text


async def test_a_rejected_token_stops_the_adapter_with_one_clear_reason(core, server):
    adapter = DiscordAdapter(core, DiscordSettings(token="wrong", guild_ready_timeout=0.05))
    with pytest.raises(
        AdapterStopped, match="Discord rejected the bot token in CAPX_DISCORD_TOKEN"
    ):
        async with asyncio.timeout(10):
            await adapter.run()
    with pytest.raises(AdapterStopped, match="no bot token"):
        await DiscordAdapter(core, DiscordSettings(token="")).run()


async def test_an_introduction_asked_on_telegram_reaches_a_discord_user_who_accepts(core, server):
    dora = Chat(core, "Dora", platform="telegram")
    async with running(core, server) as adapter:
        router = asyncio.create_task(Router(core, [adapter]).run())
        try:
            await answered(server, server.slash("offer", {"capacities": "communication"}))
            await answered(server, server.slash("visible", {"on": "on"}))
            assert "I have asked" in dora.ask("contact Ana about communication")
            await server.wait_for(lambda s: bool(s.calls_to("POST", "/channels/")))
            [request] = server.calls_to("POST", "/channels/")
            message = server.messages[int(request.result["id"])]
            accept = custom_ids(message)["Accept"]
            accepted = await answered(server, server.press(message, accept, user=MEMBER))
        finally:
            router.cancel()
            with suppress(asyncio.CancelledError):
                await router
    assert "Dora would like to learn communication from you." in plain(
        request.json["embeds"][0]["description"]
    )
    assert "@dora on Telegram" in text_of(accepted)
    told = [reply for target, reply in queued(core) if target.platform == "telegram"]
    assert "Ana accepted your request" in plain(told[-1].paragraphs[0])
    assert "@ana on Discord" in plain(" ".join(told[-1].paragraphs))


async def test_a_channel_the_bot_cannot_reach_is_unreachable_not_retried(core, server):
    async with running(core, server) as adapter:
        server.fail_next(Failure.missing_permissions("POST", "/channels/"))
        outcome = await adapter.send(
            Target("discord", room_id=str(CHANNEL_ID)), Reply(paragraphs=("hi",)), key="k-1"
        )
        gone = await adapter.send(
            Target("discord", room_id="12"), Reply(paragraphs=("hi",)), key="k2"
        )
        bad = await adapter.send(Target("discord", room_id="#general"), Reply(), key="k3")
    assert isinstance(outcome, Unreachable) and isinstance(gone, Unreachable)
    assert isinstance(bad, Unreachable)


def plain(value) -> str:
    return str(value).replace("\u2068", "").replace("\u2069", "")


async def test_an_unknown_or_outdated_command_is_answered_briefly(core, server, caplog):
    async with running(core, server):
        gone = await answered(
            server,
            server.dispatch_interaction(slash_command("oldcommand", {}, command_guild_id=GUILD_ID)),
        )
        changed = await answered(
            server,
            server.dispatch_interaction(
                slash_command("find", {"colour": "blue"}, command_guild_id=GUILD_ID)
            ),
        )
    for record in (gone, changed):
        assert record.ephemeral and "That command has changed" in text_of(record)
    assert "Traceback" not in caplog.text


async def test_without_guilds_the_tree_is_synced_globally(core, server):
    adapter = DiscordAdapter(core, DiscordSettings(token=TOKEN, guild_ready_timeout=0.05))
    task = asyncio.create_task(adapter.run())
    try:
        async with asyncio.timeout(10):
            while not adapter.ready:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
    assert "find" in server.registered(None) and server.registered(GUILD_ID) == {}


async def test_a_language_the_bot_does_not_speak_falls_back_to_the_servers(core, server):
    german = DiscordUser(1300000000000000302, "jonas", "Jonas", locale="de")
    server.add_user(german)
    server.guilds[0].preferred_locale = "pt-BR"
    async with running(core, server):
        record = await answered(server, server.complete("find", "capacity", "orat", user=german))
    assert record.choices[0]["name"] == "oratória"


async def test_a_command_from_a_server_that_removed_the_bot_is_answered(core, server, caplog):
    """After GUILD_DELETE, discord.py no longer knows the server; an interaction already on its
    way from it (or from the app installed there) is answered all the same, without a crash."""
    async with running(core, server):
        await server.dispatch("GUILD_DELETE", {"id": str(GUILD_ID), "unavailable": False})
        record = await answered(
            server, server.dispatch_interaction(slash_command("help", command_guild_id=GUILD_ID))
        )
    assert record.response_type == 4 and "What I can do" in text_of(record)
    assert "Traceback" not in caplog.text
