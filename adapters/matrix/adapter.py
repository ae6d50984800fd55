"""The Matrix adapter: matrix-nio in front of the core.

The adapter logs in once and keeps the device and token in our database, so a restart is the
same device. It syncs in a loop; after each batch is handled, ``next_batch`` is saved, so a
restart neither misses nor repeats a command, and on the very first start the rooms' history
is skipped. Commands are ``!capx <command>`` (or a mention of the bot) in rooms, and plain in
direct rooms; replies are ``m.notice`` events (see :mod:`adapters.matrix.messages`).

A direct room is one recorded in the database as private to the bot and one person (the bot
made it for them, or they made it as direct and it proved private) that is still private now
(:mod:`adapters.matrix.rooms`). Private answers go only to such a room; a record that no longer
qualifies is dropped, and the bot makes a new room instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from weakref import WeakValueDictionary

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    LoginResponse,
    MatrixRoom,
    MegolmEvent,
    RoomCreateEvent,
    RoomCreateResponse,
    RoomMemberEvent,
    RoomMessageText,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
    WhoamiResponse,
)

from adapters.base import AdapterStopped, Backoff
from adapters.matrix import messages, rooms
from core.dispatch import Core
from core.i18n import Translator, negotiate
from core.logs import describe
from core.parsing import split_command_line
from core.types import (
    Actor,
    Button,
    Conversation,
    Incoming,
    Later,
    Outcome,
    Reply,
    Sent,
    Target,
    Unreachable,
)
from storage import chats

log = logging.getLogger(__name__)

PLATFORM = "matrix"
UNKNOWN_TOKEN = "M_UNKNOWN_TOKEN"
REMEMBERED_EVENTS = 4096
RETRY_SECONDS = 30.0
"""How long a message waits when no room to its person could be made."""
SENDS_IN_FLIGHT = 4
"""Events sent at once, each on a kept-alive connection of nio's one aiohttp session; the
others wait their turn (the router hands over up to 32 messages at a time)."""
SYNC_FILTER = {"room": {"timeline": {"limit": 200}}}
"""Up to 200 new events a room in one batch (Synapse's default is 10, and a busier room would
leave a gap of commands never seen)."""
PRIVATE_HISTORY = {
    "type": "m.room.history_visibility",
    "state_key": "",
    "content": {"history_visibility": "invited"},
}
"""In rooms the bot makes, someone invited later does not read what was said before."""


@dataclass(frozen=True)
class MatrixSettings:
    """The ``[matrix]`` section of the configuration, with the secrets read from the
    environment variables it names."""

    homeserver: str
    user_id: str
    access_token: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    token_env: str = "CAPX_MATRIX_TOKEN"
    password_env: str = "CAPX_MATRIX_PASSWORD"
    device_name: str = "capx-bot"
    prefix: str = "!capx"
    invite_servers: tuple[str, ...] = ()
    """Invites from users of these homeservers are accepted; others are declined."""
    sync_timeout_ms: int = 30_000
    encryption: bool = False
    """Read and answer in encrypted rooms (needs ``matrix-nio[e2e]``); the keys are kept under
    ``store_path``."""
    store_path: str = "var/matrix-store"

    @classmethod
    def from_config(cls, section: Mapping[str, Any], environ: Mapping[str, str]) -> MatrixSettings:
        token_env = str(section.get("access_token_env", cls.token_env))
        password_env = str(section.get("password_env", cls.password_env))
        user_id = str(section.get("user_id", ""))
        return cls(
            homeserver=str(section.get("homeserver", "")),
            user_id=user_id,
            access_token=environ.get(token_env, "").strip(),
            password=environ.get(password_env, ""),
            token_env=token_env,
            password_env=password_env,
            device_name=str(section.get("device_name", cls.device_name)),
            prefix=str(section.get("prefix", cls.prefix)),
            invite_servers=tuple(
                section.get("invite_homeservers", [user_id.partition(":")[2]] if user_id else [])
            ),
            encryption=bool(section.get("encryption", False)),
            store_path=str(section.get("store_path", cls.store_path)),
        )


class MatrixAdapter:
    name = PLATFORM

    def __init__(self, core: Core, settings: MatrixSettings) -> None:
        self.core = core
        self.settings = settings
        if settings.encryption:
            Path(settings.store_path).mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(
            settings.homeserver,
            settings.user_id,
            store_path=settings.store_path if settings.encryption else "",
            config=AsyncClientConfig(
                max_limit_exceeded=None,  # wait out every 429
                max_timeouts=None,  # and every outage, with nio's growing delay
                max_timeout_retry_wait_time=30,
                request_timeout=settings.sync_timeout_ms / 1000 + 30,
                store_sync_tokens=False,
                encryption_enabled=settings.encryption,
            ),
        )
        self._handled: OrderedDict[str, None] = OrderedDict()
        self._choices: dict[tuple[str, str], tuple[Button, ...]] = {}
        self._offered: dict[str, str] = {}
        """Rooms the bot was invited to as direct and joined, not yet proved private: room id
        -> who invited."""
        self._made: set[str] = set()
        """Direct rooms the bot has just made, which no sync has shown yet."""
        self._told_encrypted: set[str] = set()
        self._creators: dict[str, tuple[str, ...]] = {}
        self._known_rooms: set[str] = set()
        self._saving: asyncio.Future[None] | None = None
        self._sending = asyncio.Semaphore(SENDS_IN_FLIGHT)
        self._opening: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()
        """Per person, held while their private room is found or made (kept only while in
        use)."""
        self._ready = False

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._ready

    async def run(self) -> None:
        """Serve Matrix until cancelled; :class:`AdapterStopped` when the homeserver refuses
        the login or, later, the token."""
        settings = self.settings
        if not (settings.homeserver and settings.user_id):
            raise AdapterStopped("set homeserver and user_id in [matrix]")
        try:
            await self._log_in()
            await self._exchange_keys()
            since = await self.core.in_database(chats.read_cursor, self._key("next_batch"))
            await self._sync_forever(since)
        finally:
            self._ready = False
            if self._saving is not None:
                await asyncio.shield(self._saving)
            await self.client.close()

    def _key(self, what: str) -> str:
        return f"matrix:{self.settings.user_id}:{what}"

    async def _log_in(self) -> None:
        """Restore the kept login (or the configured token); else log in with the password
        and keep the new device and token."""
        settings, client = self.settings, self.client
        kept = await self.core.in_database(chats.read_cursor, self._key("login"))
        login = json.loads(kept) if kept else {}
        token = settings.access_token or login.get("access_token")
        if token:
            client.access_token = token
            who = await client.whoami()
            if isinstance(who, WhoamiResponse):
                device = who.device_id or login.get("device_id", "")
                client.restore_login(settings.user_id, device, token)
                return
            if who.status_code != UNKNOWN_TOKEN:
                raise AdapterStopped(f"the homeserver refused whoami: {who.status_code}")
            if settings.access_token:
                raise AdapterStopped(
                    f"the homeserver rejected the access token in {settings.token_env}"
                )
        if not settings.password:
            raise AdapterStopped(f"no login: set {settings.token_env} or {settings.password_env}")
        client.device_id = login.get("device_id", "")
        response = await client.login(settings.password, device_name=settings.device_name)
        if not isinstance(response, LoginResponse):
            raise AdapterStopped(
                f"the homeserver refused the password login: {response.status_code}"
            )
        kept = json.dumps({"device_id": response.device_id, "access_token": response.access_token})
        await self.core.in_database(chats.write_cursor, self._key("login"), kept, self.core.clock())

    async def _sync_forever(self, since: str | None) -> None:
        backoff = Backoff(cap=60)
        first = True
        while True:
            response = await self.client.sync(
                timeout=0 if first else self.settings.sync_timeout_ms,
                sync_filter=SYNC_FILTER,
                since=since,
                full_state=first,
            )
            if not isinstance(response, SyncResponse):
                if response.status_code == UNKNOWN_TOKEN:
                    raise AdapterStopped("the homeserver no longer accepts the access token")
                delay = backoff.next_delay()
                log.warning("sync failed (%s); trying again in %.0f s", response.status_code, delay)
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            await self._exchange_keys()
            await self._on_sync(response, history=since is None)
            self._ready = True  # the rooms are known: private rooms can be found
            since = response.next_batch
            await self._save(since)
            first = False

    async def _exchange_keys(self) -> None:
        """With encryption on: publish our keys, learn the others', and send what is queued."""
        client = self.client
        if not self.settings.encryption:
            return
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()

    async def _save(self, next_batch: str) -> None:
        """Save ``next_batch`` while the next sync is already waiting; the save before it has
        finished first, and :meth:`run` waits for the last one when the adapter stops."""
        if self._saving is not None:
            await self._saving
        key = self._key("next_batch")
        self._saving = asyncio.ensure_future(
            self.core.in_database(chats.write_cursor, key, next_batch, self.core.clock())
        )

    # -- events ----------------------------------------------------------------------------

    async def _on_sync(self, response: SyncResponse, *, history: bool) -> None:
        """Answer the invites and the commands in one sync batch; ``history`` (the very first
        sync) only answers invites."""
        for room_id, invite in response.rooms.invite.items():
            await self._on_invite(room_id, invite.invite_state)
        for room_id in response.rooms.leave:
            self.client.rooms.pop(room_id, None)  # nio would keep showing the bot in it
            self._offered.pop(room_id, None)
        for room_id, joined in response.rooms.join.items():
            room = self.client.rooms.get(room_id)
            if room is None:
                continue
            for event in [*joined.state, *joined.timeline.events]:
                if isinstance(event, RoomCreateEvent):
                    content = event.source.get("content", {})
                    self._creators[room_id] = rooms.creators(event.sender, content)
            self._made.discard(room_id)
            await self._record_if_direct(room)
            if history:
                continue
            if joined.timeline.limited and room_id in self._known_rooms:
                log.warning("more events in %s than one sync holds; some were skipped", room_id)
            self._known_rooms.add(room_id)
            for event in _since_joining(joined.timeline.events, self.settings.user_id):
                try:
                    await self._on_event(room, event)
                except Exception as error:
                    log.error(
                        "event %s failed: %s", getattr(event, "event_id", "?"), describe(error)
                    )

    async def _on_invite(self, room_id: str, state: list[Any]) -> None:
        """Join when invited by someone of an accepted homeserver, noting an invite marked
        direct; else decline."""
        invite = next(
            (
                event
                for event in state
                if isinstance(event, InviteMemberEvent)
                and event.state_key == self.settings.user_id
                and event.membership == "invite"
            ),
            None,
        )
        if invite is None:
            return
        inviter = invite.sender
        if inviter.partition(":")[2] in self.settings.invite_servers:
            if rooms.invited_as_direct(invite.content):
                self._offered[room_id] = inviter
            await self.client.join(room_id)
        else:
            log.info("declined an invite to %s from another homeserver", room_id)
            await self.client.room_leave(room_id)

    async def _record_if_direct(self, room: MatrixRoom) -> None:
        """Record ``room`` as direct once its inviter made it as direct and it is private (at
        once, or later: when the others invited have declined or left)."""
        inviter = self._offered.get(room.room_id)
        creators = self._creators.get(room.room_id, ())
        if inviter and rooms.made_direct_by(room, self.client.user_id, inviter, creators):
            del self._offered[room.room_id]
            await self.core.in_database(
                chats.add_direct_room, PLATFORM, room.room_id, inviter, self.core.clock()
            )

    async def _is_direct(self, room: MatrixRoom, sender: str) -> bool:
        """Whether ``room`` is recorded as ``sender``'s direct room and is still private to
        them. A record of a room that is no longer private to its person is dropped (here, or
        when :meth:`_private_room` next looks at it)."""
        if len(room.users) > 2:  # private to nobody: no need to ask the database
            return False
        owner = await self.core.in_database(chats.direct_room_account, PLATFORM, room.room_id)
        if owner is None:
            return False
        if rooms.private_to(room, self.client.user_id, owner):
            return owner == sender
        await self.core.in_database(chats.remove_direct_room, PLATFORM, room.room_id)
        return False

    async def _on_event(self, room: MatrixRoom, event: Any) -> None:
        event_id = getattr(event, "event_id", None)
        if not event_id or event_id in self._handled or event.sender == self.client.user_id:
            return
        self._handled[event_id] = None
        while len(self._handled) > REMEMBERED_EVENTS:
            self._handled.popitem(last=False)
        if isinstance(event, MegolmEvent):  # a message nio could not decrypt
            if self.settings.encryption:
                log.info("could not decrypt event %s in %s", event_id, room.room_id)
            else:
                await self._cannot_decrypt(room)
            return
        if not isinstance(event, RoomMessageText):
            return  # notices from bots, edits' targets, redactions, other event types
        content = event.source.get("content", {})
        if messages.is_edit(content):
            return
        bot_id = self.client.user_id
        me = room.users.get(bot_id)
        direct = await self._is_direct(room, event.sender)
        line = messages.command_line(
            content,
            prefix=self.settings.prefix,
            bot_id=bot_id,
            bot_name=me.display_name if me else None,
            direct=direct,
        )
        if line is None:
            return
        command, arguments = split_command_line(line)
        pressed = None
        chosen = self._choice(room.room_id, event.sender, command, arguments)
        if chosen is not None and chosen.token is not None:
            command, arguments, pressed = "", "", chosen.token
        elif chosen is not None:
            command, arguments = split_command_line(chosen.command)
        thread = messages.thread_of(content)
        actor = Actor(
            platform=PLATFORM,
            account_id=event.sender,
            display_name=room.user_name(event.sender) or event.sender,
            handle=event.sender,
            is_room_admin=direct
            or event.sender in self._creators.get(room.room_id, ())
            or _reaches_state_level(room, event.sender),
        )
        conversation = Conversation(
            PLATFORM, room.room_id, is_direct=direct, thread_id=thread, title=room.display_name
        )
        incoming = Incoming(
            actor, conversation, command, arguments, event_id=event_id, pressed=pressed
        )
        replies = await self.core.handle_async(incoming)
        await self._deliver(replies, room, event, direct, thread)

    def _choice(self, room_id: str, sender: str, command: str, arguments: str) -> Button | None:
        """Choice number ``command`` of the last reply to ``sender`` here, if it is one. A number
        with no such choice (after a restart, say) goes to the core as it is, which says so."""
        offered = self._choices.get((room_id, sender), ())
        if command.isdigit() and not arguments and 1 <= int(command) <= len(offered):
            return offered[int(command) - 1]
        return None

    async def _cannot_decrypt(self, room: MatrixRoom) -> None:
        """Tell an encrypted room once, in its language, that the bot cannot read it."""
        if room.room_id in self._told_encrypted:
            return
        self._told_encrypted.add(room.room_id)
        known = await self.core.in_database(chats.room, PLATFORM, room.room_id)
        t = Translator(negotiate([known.locale if known else None]))
        text = t("I cannot read encrypted messages. Talk to me in a room without encryption.")
        await self._send(room.room_id, messages.notice(Reply(paragraphs=(text,), locale=t.locale)))

    # -- sending ---------------------------------------------------------------------------

    async def _deliver(
        self, replies: list[Reply], room: MatrixRoom, event: Any, direct: bool, thread: str | None
    ) -> None:
        """Send ``replies`` to a command ``event`` in ``room``: in place, in reply (and in its
        thread), unless private outside a direct room or for another person: then to a room
        private to that person."""
        for reply in replies:
            if reply.private and not direct:
                target = await self._private_room(event.sender)
                content = messages.notice(reply)
            else:
                target = room.room_id
                content = messages.notice(reply, in_reply_to=event.event_id, thread_root=thread)
            self._offer(target, event.sender, reply)
            await self._send(target, content)

    def _offer(self, room_id: str, user_id: str, reply: Reply) -> None:
        """Remember ``reply``'s choices, for a number ``user_id`` sends in ``room_id`` next."""
        if reply.buttons:
            self._choices[(room_id, user_id)] = reply.buttons

    async def _private_room(self, user_id: str) -> str:
        """A room private to the bot and ``user_id``: a recorded one that still is (records of
        rooms that no longer are are dropped), else a new one the bot makes and records."""
        # Two messages for one person make one room; those for others do not wait for it.
        async with self._opening.setdefault(user_id, asyncio.Lock()):
            bot_id, found = self.client.user_id, None
            for room_id in await self.core.in_database(chats.direct_rooms_of, PLATFORM, user_id):
                if room_id in self._made or rooms.private_to(
                    self.client.rooms.get(room_id), bot_id, user_id
                ):
                    found = found or room_id
                else:
                    await self.core.in_database(chats.remove_direct_room, PLATFORM, room_id)
            if found:
                return found
            created = await self.client.room_create(
                is_direct=True,
                invite=[user_id],
                preset=RoomPreset.trusted_private_chat,
                initial_state=[PRIVATE_HISTORY],
            )
            if not isinstance(created, RoomCreateResponse):
                log.warning("could not open a direct room: %s", created.status_code)
                raise RuntimeError("could not open a direct room")
            self._made.add(created.room_id)
            await self.core.in_database(
                chats.add_direct_room, PLATFORM, created.room_id, user_id, self.core.clock()
            )
            return created.room_id

    async def send(self, target: Target, reply: Reply, *, key: str) -> Outcome:
        """To a room, or to a room private to a person's account; ``key`` is the Matrix
        transaction id, so that the homeserver takes a retried message once."""
        if target.account_id is not None:
            try:
                room_id = await self._private_room(target.account_id)
            except RuntimeError:
                return Later(RETRY_SECONDS, "no direct room")
            self._offer(room_id, target.account_id, reply)
        elif target.room_id is not None:
            room_id = target.room_id
        else:
            return Unreachable("no target")
        thread = target.thread_id
        return await self._send(room_id, messages.notice(reply, thread_root=thread), tx_id=key)

    async def _send(
        self, room_id: str, content: dict[str, Any], *, tx_id: str | None = None
    ) -> Outcome:
        async with self._sending:
            response = await self.client.room_send(
                room_id, "m.room.message", content, tx_id=tx_id, ignore_unverified_devices=True
            )
        if isinstance(response, RoomSendResponse):
            return Sent(response.event_id)
        log.warning("could not send to %s: %s", room_id, response.status_code)
        await self.core.in_database(
            chats.mark_unreachable,
            PLATFORM,
            room_id,
            str(response.status_code),
            self.core.clock(),
        )
        return Unreachable(str(response.status_code))


def _since_joining(events: list[Any], user_id: str) -> list[Any]:
    """``events``, without those before the bot's own join when it is among them: the history
    of a room the bot has just joined is not for it."""
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if (
            isinstance(event, RoomMemberEvent)
            and event.state_key == user_id
            and event.membership == "join"
            and event.prev_membership != "join"
        ):
            return events[index + 1 :]
    return events


def _reaches_state_level(room: MatrixRoom, user_id: str) -> bool:
    levels = room.power_levels
    return levels.get_user_level(user_id) >= levels.defaults.state_default
