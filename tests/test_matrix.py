"""The Matrix adapter against a real Synapse, driven by real matrix-nio clients as people."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    RoomCreateResponse,
    RoomMessageNotice,
    RoomSendResponse,
    SyncResponse,
)
from sqlmodel import Session, select

from adapters.base import AdapterStopped
from adapters.matrix import MatrixAdapter, MatrixSettings
from core.dispatch import Core
from core.i18n import Translator
from storage.models import ChatIdentity, PersonCapacity
from tests import synapse_server
from tests.synapse_server import Synapse

synapse = synapse_server.synapse
synapse_default_limits = synapse_server.synapse_default_limits
_names = itertools.count(1)
EN = Translator("en")
MEGOLM = {"algorithm": "m.megolm.v1.aes-sha2"}


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

    def joined(self, room_id: str) -> set[str]:
        room = self.client.rooms.get(room_id)
        return set(room.users) - set(room.invited_users) if room else set()

    async def say(self, room_id: str, body: str, *, thread: str | None = None) -> str:
        content: dict[str, Any] = {"msgtype": "m.text", "body": body}
        if thread:
            content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread}
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
    task = asyncio.create_task(MatrixAdapter(core, settings).run())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


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
        await ana.say(room, "!capx help")
        cannot = EN("I cannot read encrypted messages. Talk to me in a room without encryption.")
        await ana.until(lambda: any(n.body == cannot for n in ana.notices))
