"""The Matrix adapter against a real Synapse, driven by real matrix-nio clients as people."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    RoomCreateResponse,
    RoomMessageNotice,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
)
from sqlmodel import Session, select

from adapters.base import AdapterStopped
from adapters.matrix import MatrixAdapter, MatrixSettings
from bots.cli import QUIET_LIBRARIES, configure_logging
from bots.router import Router
from core.dispatch import Core
from core.i18n import Translator, negotiate
from storage import chats
from storage.models import ChatIdentity, PersonCapacity, Room
from tests import synapse_server
from tests.synapse_server import Synapse

synapse = synapse_server.synapse
synapse_default_limits = synapse_server.synapse_default_limits
_names = itertools.count(1)
EN = Translator("en")
MEGOLM = {"algorithm": "m.megolm.v1.aes-sha2"}
ANSWERED_PRIVATELY = EN("I have answered you in a private message.")


class Person:
    """Someone on the homeserver, with a real nio client, who says things and reads notices."""

    def __init__(self, server: Synapse, name: str, store: Path | None = None) -> None:
        """``store``: a folder for encryption keys, to talk in encrypted rooms."""
        self.name = f"{name}{next(_names)}"
        self.password = f"{self.name}-password"
        self.user_id = server.register(self.name, self.password)
        if store is not None:
            store.mkdir(parents=True, exist_ok=True)
        config = AsyncClientConfig(encryption_enabled=store is not None, store_sync_tokens=False)
        self.client = AsyncClient(
            server.url, self.user_id, store_path=str(store or ""), config=config
        )
        self.since: str | None = None
        self.notices: list[RoomMessageNotice] = []

    async def __aenter__(self) -> Person:
        await self.client.login(self.password)
        await self._sync(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()

    async def _sync(self, timeout_ms: int) -> None:
        response = await self.client.sync(
            timeout=timeout_ms, since=self.since, sync_filter={"room": {"timeline": {"limit": 100}}}
        )
        assert isinstance(response, SyncResponse), response
        self.since = response.next_batch
        if self.client.olm is not None:
            if self.client.should_upload_keys:
                await self.client.keys_upload()
            if self.client.should_query_keys:
                await self.client.keys_query()
            if self.client.should_claim_keys:
                await self.client.keys_claim(self.client.get_users_for_key_claiming())
            await self.client.send_to_device_messages()
        for room_id, joined in response.rooms.join.items():
            for event in joined.timeline.events:
                if isinstance(event, RoomMessageNotice):
                    event.source["room_id"] = room_id
                    self.notices.append(event)
        for room_id in response.rooms.invite:
            await self.client.join(room_id)

    async def room_with(self, bot_id: str, *guests: Person, encrypted: bool = False) -> str:
        """A new room with the bot and ``guests``, once all of them have joined it."""
        everyone = {bot_id, *(guest.user_id for guest in guests)}
        encryption = {"type": "m.room.encryption", "state_key": "", "content": MEGOLM}
        created = await self.client.room_create(
            invite=sorted(everyone), initial_state=[encryption] if encrypted else []
        )
        assert isinstance(created, RoomCreateResponse), created
        for guest in guests:
            await guest.until(lambda guest=guest: created.room_id in guest.client.rooms)
        await self.until(lambda: everyone <= self.joined(created.room_id))
        return created.room_id

    async def room_with_people(self, *guests: Person) -> str:
        """A new room with ``guests`` only, once they have joined it."""
        created = await self.client.room_create(invite=[guest.user_id for guest in guests])
        assert isinstance(created, RoomCreateResponse), created
        for guest in guests:
            await guest.until(lambda guest=guest: created.room_id in guest.client.rooms)
        return created.room_id

    async def direct_room_with(
        self, bot_id: str, *others: str, preset: RoomPreset = RoomPreset.trusted_private_chat
    ) -> str:
        """A new room made as direct (as Element makes one), inviting the bot and ``others``,
        once the bot has joined it. (With ``trusted_private_chat``, room version 12 makes
        everyone invited a creator too.)"""
        created = await self.client.room_create(
            is_direct=True, preset=preset, invite=[bot_id, *others]
        )
        assert isinstance(created, RoomCreateResponse), created
        await self.until(lambda: bot_id in self.joined(created.room_id))
        return created.room_id

    def joined(self, room_id: str) -> set[str]:
        room = self.client.rooms.get(room_id)
        return set(room.users) - set(room.invited_users) if room else set()

    def elsewhere(self, room_id: str) -> list[RoomMessageNotice]:
        """The notices this person got in rooms other than ``room_id``."""
        return [n for n in self.notices if n.source["room_id"] != room_id]

    async def say(self, room_id: str, body: str, *, thread: str | None = None) -> str:
        """Say ``body``; in ``thread`` as Element does (falling back to a reply to the thread's
        latest event, here its root)."""
        content: dict[str, Any] = {"msgtype": "m.text", "body": body}
        if thread:
            content["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": thread,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": thread},
            }
        return await self.send(room_id, content)

    async def send(self, room_id: str, content: dict[str, Any]) -> str:
        """Send an ``m.room.message`` of any shape; its event id."""
        sent = await self.client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=True
        )
        assert isinstance(sent, RoomSendResponse), sent
        return sent.event_id

    async def until(self, condition, timeout: float = 20) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                await self._sync(500)

    async def answer_to(self, event_id: str, timeout: float = 20) -> RoomMessageNotice:
        """The bot's notice that replies to ``event_id``."""
        await self.until(lambda: self._reply_to(event_id) is not None, timeout)
        found = self._reply_to(event_id)
        assert found is not None
        return found

    def _reply_to(self, event_id: str) -> RoomMessageNotice | None:
        for notice in self.notices:
            relation = notice.source["content"].get("m.relates_to", {})
            if relation.get("m.in_reply_to", {}).get("event_id") == event_id:
                return notice
        return None

    async def ask(
        self, room_id: str, body: str, *, thread: str | None = None, timeout: float = 20
    ) -> RoomMessageNotice:
        return await self.answer_to(await self.say(room_id, body, thread=thread), timeout)


@asynccontextmanager
async def running_bot(
    core: Core, server: Synapse, bot: tuple[str, str], store: Path | None = None
) -> AsyncIterator[None]:
    """The bot, running; with encryption when ``store`` (its keys' folder) is given."""
    name, password = bot
    settings = MatrixSettings(
        homeserver=server.url,
        user_id=server.user_id(name),
        password=password,
        invite_servers=("localhost",),
        sync_timeout_ms=1000,
        encryption=store is not None,
        store_path=str(store),
    )
    adapter = MatrixAdapter(core, settings)
    task = asyncio.create_task(adapter.run())
    delivering = asyncio.create_task(Router(core, [adapter]).run())
    try:
        yield
    finally:
        for each in (delivering, task):
            each.cancel()
            with suppress(asyncio.CancelledError):
                await each


@asynccontextmanager
async def group_room(
    core: Core,
    server: Synapse,
    bot: tuple[str, str],
    *,
    encrypted: bool = False,
    bot_store: Path | None = None,
    ana_store: Path | None = None,
) -> AsyncIterator[tuple[Person, Person, str]]:
    """The bot running, and Ana and Ben with it in a new room Ana made (three members: not
    direct); ``encrypted`` rooms need ``ana_store``."""
    async with (
        running_bot(core, server, bot, store=bot_store),
        Person(server, "ana", store=ana_store) as ana,
        Person(server, "ben") as ben,
    ):
        room = await ana.room_with(server.user_id(bot[0]), ben, encrypted=encrypted)
        yield ana, ben, room


@pytest.fixture
def bot(synapse: Synapse) -> tuple[str, str]:
    name = f"capxbot{next(_names)}"
    synapse.register(name, "bot-password")
    return name, "bot-password"


async def test_help_and_find_in_a_room_are_notices_that_reply(core, synapse, bot):
    async with group_room(core, synapse, bot) as (ana, _, room):
        asked = await ana.say(room, "!capx help")
        helped = await ana.answer_to(asked)
        found = await ana.ask(room, "!capx find communication")
        ignored = await ana.say(room, "just chatting, not for the bot")
    assert helped.body.startswith(EN("What I can do"))
    content = helped.source["content"]
    assert content["msgtype"] == "m.notice" and content["format"] == "org.matrix.custom.html"
    assert "<b>" in content["formatted_body"]
    assert "communication" in found.body.lower()
    assert ana._reply_to(ignored) is None


async def test_a_command_in_a_thread_is_answered_in_the_thread(core, synapse, bot):
    async with running_bot(core, synapse, bot), Person(synapse, "ana") as ana:
        room = await ana.room_with(synapse.user_id(bot[0]))
        root = await ana.say(room, "a thread about capacities")
        answer = await ana.ask(room, "!capx capacities", thread=root)
    relation = answer.source["content"]["m.relates_to"]
    assert relation["rel_type"] == "m.thread" and relation["event_id"] == root


async def test_a_need_posted_in_a_room_is_answered_by_someone_else(core, synapse, bot):
    async with group_room(core, synapse, bot) as (ana, ben, room):
        posted = await ana.ask(room, '!capx need communication "a workshop" for students')
        listed = await ben.ask(room, "!capx needs")
        await ben.say(room, "!capx helpwith 1")
        # Both get each other's contact in a direct room with the bot.
        await ana.until(lambda: any(ben.user_id in n.body for n in ana.notices))
        await ben.until(lambda: any(ana.user_id in n.body for n in ben.notices))
    assert "#1" in posted.body and "#1" in listed.body


async def test_a_room_admin_command_is_refused_to_others(core, synapse, bot):
    async with group_room(core, synapse, bot) as (ana, ben, room):  # Ana made it: she is its admin
        refused = await ben.ask(room, "!capx roomlanguage pt-br")
        done = await ana.ask(room, "!capx roomlanguage pt-br")
    assert EN("Only an admin of this room may use “{command}”.", command="roomlanguage") in (
        refused.body
    )
    assert "Only an admin" not in done.body


async def test_a_profile_edit_in_a_room_is_answered_in_a_direct_room(core, synapse, bot):
    async with group_room(core, synapse, bot) as (ana, _, room):
        notice = await ana.ask(room, "!capx offer communication")
        await ana.until(lambda: any(n.source["room_id"] != room for n in ana.notices))
        direct = next(n for n in ana.notices if n.source["room_id"] != room)
        # In the direct room, plain commands work.
        profile = await ana.ask(direct.source["room_id"], "profile")
    assert "communication" in direct.body.lower()
    assert "communication" in profile.body.lower()
    assert notice.body == EN("I have answered you in a private message.")
    with Session(core.engine) as session:
        [identity] = session.exec(select(ChatIdentity)).all()
        assert identity.account_id == ana.user_id
        assert session.exec(select(PersonCapacity)).all()


async def test_a_restart_of_the_bot_neither_repeats_nor_misses_a_command(core, synapse, bot):
    async with Person(synapse, "ana") as ana:
        async with running_bot(core, synapse, bot):
            room = await ana.room_with(synapse.user_id(bot[0]))
            first = await ana.say(room, "!capx privacy")
            await ana.answer_to(first)
        missed = await ana.say(room, "!capx capacities")  # said while the bot is down
        async with running_bot(core, synapse, bot):
            await ana.answer_to(missed)
            last = await ana.say(room, "!capx help")
            await ana.answer_to(last)
    replies = [n for n in ana.notices if n.source["room_id"] == room]
    assert len(replies) == 3


async def test_synapse_restarting_mid_conversation_is_survived(core, synapse, bot):
    async with running_bot(core, synapse, bot), Person(synapse, "ana") as ana:
        room = await ana.room_with(synapse.user_id(bot[0]))
        await ana.ask(room, "!capx privacy")
        synapse.stop()
        await asyncio.sleep(0.5)
        synapse.start()
        answer = await ana.ask(room, "!capx capacities", timeout=60)
    assert answer.body.startswith(EN("Capacities"))


async def test_default_rate_limits_slow_the_bot_down_but_every_answer_comes(
    core, synapse_default_limits, bot_on_default_limits
):
    server = synapse_default_limits
    async with (
        running_bot(core, server, bot_on_default_limits),
        Person(server, "ana") as ana,
    ):
        room = await ana.room_with(server.user_id(bot_on_default_limits[0]))
        said = [await ana.say(room, f"!capx help {name}") for name in ("find", "need", "offer")]
        said += [await ana.say(room, "!capx privacy") for _ in range(9)]
        for event_id in said:
            await ana.answer_to(event_id, timeout=120)
    assert len([n for n in ana.notices if n.source["room_id"] == room]) == len(said)


@pytest.fixture
def bot_on_default_limits(synapse_default_limits: Synapse) -> tuple[str, str]:
    name = f"capxbot{next(_names)}"
    synapse_default_limits.register(name, "bot-password")
    return name, "bot-password"


async def test_history_from_before_the_first_start_is_not_answered(core, synapse, bot):
    async with Person(synapse, "ana") as ana, Person(synapse, "ben") as ben:
        room = await ana.room_with_people(ben)
        old = await ana.say(room, "!capx privacy")  # before the bot ever ran
        await ana.client.room_invite(room, synapse.user_id(bot[0]))
        async with running_bot(core, synapse, bot):
            await ana.until(lambda: synapse.user_id(bot[0]) in ana.joined(room))
            new = await ana.ask(room, "!capx help")
    assert new.body.startswith(EN("What I can do"))
    assert ana._reply_to(old) is None


async def test_a_numbered_answer_picks_a_choice(core, synapse, bot):
    async with group_room(core, synapse, bot) as (ana, _, room):
        offered = await ana.ask(room, "!capx hlep")
        picked = await ana.ask(room, "!capx 1")
    assert "[1] help" in offered.body
    assert picked.body.startswith(EN("What I can do"))


async def test_notices_edits_odd_events_long_messages_and_broken_html_do_no_harm(
    core, synapse, bot
):
    async with group_room(core, synapse, bot) as (ana, _, room):
        notice = await ana.client.room_send(
            room, "m.room.message", {"msgtype": "m.notice", "body": "!capx help"}
        )
        edit = await ana.client.room_send(
            room,
            "m.room.message",
            {
                "msgtype": "m.text",
                "body": "* !capx help",
                "m.new_content": {"msgtype": "m.text", "body": "!capx help"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": notice.event_id},
            },
        )
        odd = await ana.client.room_send(room, "org.example.poll", {"body": "!capx help"})
        long = await ana.ask(room, "!capx find " + "x" * 5000)
        broken_html = {
            "msgtype": "m.text",
            "body": "!capx capacities",
            "format": "org.matrix.custom.html",
            "formatted_body": "<b><i>!capx help</b",
        }
        sent = await ana.client.room_send(room, "m.room.message", broken_html)
        read_body = await ana.answer_to(sent.event_id)
        after = await ana.ask(room, "!capx privacy")
    unanswered = (notice.event_id, edit.event_id, odd.event_id)
    assert [ana._reply_to(event_id) for event_id in unanswered] == [None, None, None]
    assert len(long.body) < 200
    assert read_body.body.startswith(EN("Capacities"))  # the plain body, not the HTML
    assert after.body.startswith(EN("Your data and this bot"))


async def test_invites_from_other_homeservers_are_declined(core, synapse, bot):
    name, password = bot
    settings = MatrixSettings(
        homeserver=synapse.url,
        user_id=synapse.user_id(name),
        password=password,
        invite_servers=("wikimedia.example",),
        sync_timeout_ms=500,
    )
    task = asyncio.create_task(MatrixAdapter(core, settings).run())
    try:
        async with Person(synapse, "ana") as ana:
            created = await ana.client.room_create(invite=[settings.user_id])
            assert isinstance(created, RoomCreateResponse)

            def declined() -> bool:
                room = ana.client.rooms.get(created.room_id)
                return room is not None and settings.user_id not in room.invited_users

            await ana.until(declined)
            assert settings.user_id not in ana.joined(created.room_id)
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def test_a_rejected_password_or_token_stops_the_adapter_with_its_reason(core, synapse, bot):
    name, _ = bot
    wrong_password = MatrixSettings(
        homeserver=synapse.url, user_id=synapse.user_id(name), password="not-it"
    )
    with pytest.raises(AdapterStopped, match="refused the password login: M_FORBIDDEN"):
        await MatrixAdapter(core, wrong_password).run()
    revoked = MatrixSettings(
        homeserver=synapse.url, user_id=synapse.user_id(name), access_token="syt_revoked"
    )
    with pytest.raises(AdapterStopped, match="rejected the access token in CAPX_MATRIX_TOKEN"):
        await MatrixAdapter(core, revoked).run()


async def test_a_restart_is_the_same_device(core, synapse, bot):
    async with Person(synapse, "ana") as ana:
        async with running_bot(core, synapse, bot):
            room = await ana.room_with(synapse.user_id(bot[0]))
            await ana.ask(room, "!capx privacy")
        first = _devices(synapse, bot)
        async with running_bot(core, synapse, bot):
            await ana.ask(room, "!capx privacy")
        assert _devices(synapse, bot) == first  # no new device (registering made one)


def _devices(server: Synapse, bot: tuple[str, str]) -> set[str]:
    token, device = server.login(*bot)  # a login of its own, to look: left out, then ended
    found = server.request("GET", "/_matrix/client/v3/devices", token=token)["devices"]
    server.request("POST", "/_matrix/client/v3/logout", {}, token=token)
    return {each["device_id"] for each in found} - {device}


async def test_in_an_encrypted_room_the_bot_answers_when_encryption_is_on(
    core, synapse, bot, tmp_path
):
    async with group_room(
        core, synapse, bot, encrypted=True, bot_store=tmp_path / "bot", ana_store=tmp_path / "ana"
    ) as (ana, _, room):
        answer = await ana.ask(room, "!capx help", timeout=40)
    assert answer.decrypted  # it came encrypted, and Ana's client could read it
    assert answer.body.startswith(EN("What I can do"))


async def test_in_an_encrypted_room_the_bot_says_it_cannot_read_when_encryption_is_off(
    core, synapse, bot, tmp_path
):
    keys = tmp_path / "ana"
    async with group_room(core, synapse, bot, encrypted=True, ana_store=keys) as (ana, _, room):
        with Session(core.engine) as session:  # the room's language, set before encryption
            session.add(Room(platform="matrix", room_id=room, locale="pt-br"))
            session.commit()
        await ana.say(room, "!capx help")
        t = Translator(negotiate(["pt-br"]))
        cannot = t("I cannot read encrypted messages. Talk to me in a room without encryption.")
        await ana.until(lambda: any(n.body == cannot for n in ana.notices))
    assert cannot != EN(
        "I cannot read encrypted messages. Talk to me in a room without encryption."
    )


def _state(server: Synapse, person: Person, room_id: str) -> dict[str, dict[str, Any]]:
    """The room's state events as ``person`` may read them, by ``type`` (and state key)."""
    path = f"/_matrix/client/v3/rooms/{quote(room_id)}/state"
    events = server.request("GET", path, token=person.client.access_token)
    return {f"{e['type']}|{e['state_key']}": e for e in events}


def _direct_rooms(core: Core, account_id: str) -> list[str]:
    with Session(core.engine) as session:
        return chats.direct_rooms_of(session, "matrix", account_id)


async def test_a_room_an_attacker_emptied_never_gets_private_answers(core, synapse, bot):
    bot_id = synapse.user_id(bot[0])
    async with (
        running_bot(core, synapse, bot),
        Person(synapse, "mallory") as mallory,
        Person(synapse, "victim") as victim,
    ):
        # A public room "as direct" for the bot and the victim, which the attacker then leaves.
        created = await mallory.client.room_create(
            preset=RoomPreset.public_chat, is_direct=True, invite=[bot_id, victim.user_id]
        )
        assert isinstance(created, RoomCreateResponse)
        room = created.room_id
        await victim.until(lambda: room in victim.client.rooms)  # the victim accepts
        await mallory.until(lambda: {bot_id, victim.user_id} <= mallory.joined(room))
        await mallory.client.room_leave(room)
        await victim.until(lambda: victim.joined(room) == {bot_id, victim.user_id})
        ignored = await victim.say(room, "mydata")  # not a direct room: plain is not a command
        edited = await victim.ask(room, "!capx offer communication")
        exported = await victim.ask(room, "!capx mydata")
        await victim.until(lambda: len(victim.elsewhere(room)) >= 3)  # 1 + 2 private answers
        # The attacker comes back and reads the whole history.
        await mallory.client.join(room)
        path = f"/_matrix/client/v3/rooms/{quote(room)}/messages?dir=b&limit=100"
        history = synapse.request("GET", path, token=mallory.client.access_token)["chunk"]
    assert victim._reply_to(ignored) is None
    assert edited.body == exported.body == ANSWERED_PRIVATELY
    said_by_bot = [
        e["content"].get("body")
        for e in history
        if e["sender"] == bot_id and e["type"] == "m.room.message"
    ]
    assert said_by_bot and set(said_by_bot) == {ANSWERED_PRIVATELY}
    [direct] = {n.source["room_id"] for n in victim.elsewhere(room)}
    assert any(
        n.body.startswith(EN("Everything I keep about you, as JSON:"))
        for n in victim.elsewhere(room)
    )
    assert _direct_rooms(core, victim.user_id) == [direct]
    state = _state(synapse, victim, direct)
    assert state["m.room.create|"]["sender"] == bot_id
    assert state["m.room.join_rules|"]["content"]["join_rule"] == "invite"
    assert state["m.room.history_visibility|"]["content"]["history_visibility"] == "invited"


async def test_a_direct_room_a_person_made_takes_plain_commands_even_after_a_restart(
    core, synapse, bot
):
    bot_id = synapse.user_id(bot[0])
    async with Person(synapse, "ana") as ana:
        async with running_bot(core, synapse, bot):
            room = await ana.direct_room_with(bot_id)
            helped = await ana.ask(room, "help")
            edited = await ana.ask(room, "offer communication")  # private: answered in place
        async with running_bot(core, synapse, bot):
            shown = await ana.ask(room, "profile")
            # Two members, but not made as direct: it needs the prefix, and private answers
            # go to the direct room.
            other = await ana.room_with(bot_id)
            ignored = await ana.say(other, "help")
            moved = await ana.ask(other, "!capx learn budgeting")
            await ana.until(lambda: any("budget" in n.body.lower() for n in ana.elsewhere(other)))
    assert helped.body.startswith(EN("What I can do"))
    assert "communication" in edited.body.lower() and "communication" in shown.body.lower()
    assert ana._reply_to(ignored) is None and moved.body == ANSWERED_PRIVATELY
    assert {n.source["room_id"] for n in ana.elsewhere(other)} == {room}
    assert _direct_rooms(core, ana.user_id) == [room]


async def test_a_room_with_someone_else_invited_is_not_direct(core, synapse, bot):
    bot_id = synapse.user_id(bot[0])
    carol = synapse.register(f"carol{next(_names)}", "carol-password")  # never answers
    async with running_bot(core, synapse, bot), Person(synapse, "ana") as ana:
        crowded = await ana.direct_room_with(bot_id, carol, preset=RoomPreset.private_chat)
        ignored = await ana.say(crowded, "help")
        moved = await ana.ask(crowded, "!capx offer communication")
        await ana.until(lambda: bool(ana.elsewhere(crowded)))
        made = ana.elsewhere(crowded)[0].source["room_id"]  # the bot made it for the answer
        # A direct room Ana made stops being one when someone else is invited to it.
        room = await ana.direct_room_with(bot_id)
        await ana.ask(room, "help")
        await ana.client.room_invite(room, carol)
        await ana.until(lambda: carol in ana.client.rooms[room].invited_users)
        unanswered = await ana.say(room, "privacy")
        again = await ana.ask(room, "!capx mydata")
        await ana.until(lambda: len([n for n in ana.notices if n.source["room_id"] == made]) >= 2)
        # The room Ana made as direct with Carol becomes direct once Carol's invite is gone.
        await ana.client.room_kick(crowded, carol)
        await ana.until(lambda: carol not in ana.client.rooms[crowded].invited_users)
        later = await ana.ask(crowded, "help")
    assert ana._reply_to(ignored) is None and ana._reply_to(unanswered) is None
    assert moved.body == again.body == ANSWERED_PRIVATELY
    assert later.body.startswith(EN("What I can do"))
    assert made not in (crowded, room)
    assert _direct_rooms(core, ana.user_id) == [made, crowded]


async def test_a_command_in_a_reply_with_its_quoted_fallback_is_read(core, synapse, bot):
    bot_id = synapse.user_id(bot[0])
    async with group_room(core, synapse, bot) as (ana, ben, room):
        question = await ben.say(room, "is the bot here?")
        quoted = await ana.answer_to(
            await ana.send(room, _reply(ben.user_id, question, "is the bot here?", "!capx help"))
        )
        direct = await ana.direct_room_with(bot_id)
        first = await ana.ask(direct, "capacities")
        quoted_here = await ana.answer_to(
            await ana.send(direct, _reply(bot_id, first.event_id, first.body, "privacy"))
        )
    assert quoted.body.startswith(EN("What I can do"))
    assert quoted_here.body.startswith(EN("Your data and this bot"))


def _reply(sender: str, event_id: str, quoted: str, text: str) -> dict[str, Any]:
    """A reply as Element sends it, with the quoted fallback in ``body`` and in the HTML."""
    lines = quoted.splitlines() or [""]
    fallback = "\n".join([f"> <{sender}> {lines[0]}", *(f"> {line}" for line in lines[1:])])
    html = (
        f'<mx-reply><blockquote><a href="https://matrix.to/#/{sender}">{sender}</a><br>'
        f"{lines[0]}</blockquote></mx-reply>{text}"
    )
    return {
        "msgtype": "m.text",
        "body": f"{fallback}\n\n{text}",
        "format": "org.matrix.custom.html",
        "formatted_body": html,
        "m.relates_to": {"m.in_reply_to": {"event_id": event_id}},
    }


async def test_a_mention_of_the_bot_is_its_prefix_and_its_answers_mention_nobody(
    core, synapse, bot
):
    name, _ = bot
    bot_id = synapse.user_id(name)  # its display name is its localpart
    async with group_room(core, synapse, bot) as (ana, _, room):
        pill = {
            "msgtype": "m.text",
            "body": f"{name}: find communication",
            "format": "org.matrix.custom.html",
            "formatted_body": f'<a href="https://matrix.to/#/{bot_id}">{name}</a>: find '
            "communication",
            "m.mentions": {"user_ids": [bot_id]},
        }
        found = await ana.answer_to(await ana.send(room, pill))
    assert "communication" in found.body.lower()
    assert found.source["content"]["m.mentions"] == {}


async def test_a_number_presses_its_button_by_token_and_after_a_restart_reaches_the_core(
    core, synapse, bot
):
    bot_id = synapse.user_id(bot[0])
    async with Person(synapse, "ana") as ana:
        async with running_bot(core, synapse, bot):
            room = await ana.direct_room_with(bot_id)
            await ana.ask(room, "offer communication")
            asked = await ana.ask(room, "forget")
        async with running_bot(core, synapse, bot):
            stale = await ana.ask(room, "1")  # the bot forgot its choices; the core says so
            await ana.ask(room, "forget")
            erased = await ana.ask(room, "1")  # the confirmation: a token, pressed by its owner
    assert "[1] " + EN("Yes, erase everything") in asked.body
    assert stale.body == EN("That choice is no longer there. Please send the command again.")
    assert erased.body == EN("Done: I have erased everything I kept about you.")
    with Session(core.engine) as session:
        assert session.exec(select(ChatIdentity)).all() == []
    assert _direct_rooms(core, ana.user_id) == []  # erased with the rest


async def test_debug_logs_show_neither_the_token_nor_the_password_nor_what_people_say(
    core, synapse, caplog
):
    name, password = f"capxbot{next(_names)}", f"pw-{secrets.token_hex(8)}"
    bot_id = synapse.register(name, password)
    secret = f"zz-hunter2-{secrets.token_hex(4)}"
    login_key = f"matrix:{bot_id}:login"

    async def converse() -> str:
        """A conversation from a password login; the bot's access token."""
        with Session(core.engine) as session:  # no kept login: the password is used
            chats.write_cursor(session, login_key, "", core.clock())
            session.commit()
        async with running_bot(core, synapse, (name, password)), Person(synapse, "ana") as ana:
            room = await ana.room_with(bot_id)
            await ana.ask(room, "!capx help")
            await ana.ask(room, f"!capx find {secret}")
            await ana.ask(room, f"!capx about {secret}")
        with Session(core.engine) as session:
            return json.loads(chats.read_cursor(session, login_key) or "{}")["access_token"]

    levels = {library: logging.getLogger(library).level for library in QUIET_LIBRARIES}
    try:
        with caplog.at_level(logging.DEBUG):
            configure_logging("DEBUG")  # as `capx-bot run` does
            token = await converse()
            floored = caplog.text
            caplog.clear()
            for library in QUIET_LIBRARIES:  # the control: the libraries left at DEBUG leak
                logging.getLogger(library).setLevel(logging.NOTSET)
            leaked_token = await converse()
            leaky = caplog.text
    finally:
        for library, level in levels.items():
            logging.getLogger(library).setLevel(level)
    assert token not in floored and password not in floored and secret not in floored
    assert leaked_token in leaky and secret in leaky
