"""A local stand-in for Discord's gateway and REST API, for tests.

Unmodified discord.py 2.x talks to it. :func:`point_discord_py_at` sets the two addresses
discord.py has (``discord.http.Route.BASE`` for REST, ``DiscordWebSocket.DEFAULT_GATEWAY``
for the gateway) and restores them afterwards; nothing else of discord.py is touched.

The gateway speaks the real protocol: HELLO, IDENTIFY (with its intents, refused with close
code 4014 when they ask for a privileged intent the application does not have), READY,
GUILD_CREATE for each guild, heartbeat ACKs, RESUME (events missed while away are replayed,
then RESUMED; an unknown session gets INVALID_SESSION), and ``zlib-stream`` (or
``zstd-stream``) transport compression as discord.py asks for it. Events are dispatched to
each session its intents allow, and a message's content is blanked as Discord does for an
application without the MESSAGE_CONTENT intent.

REST answers the routes a bot calls, with Discord's payload shapes and error codes. Every
call is recorded as a :class:`Call`; failures (404 10062 Unknown interaction, 403 50007,
429 with ``retry_after`` and the rate-limit headers discord.py reads) can be scripted for the
next matching call. Discord's rules that bite bots are kept: an interaction must be answered
once and within ``callback_deadline`` seconds, follow-ups need an acknowledged interaction
and the first one after a deferral fills the "thinking" message, ``nonce`` with
``enforce_nonce`` returns the first message again, command trees are validated (names,
lengths, locales) with Discord's 50035 errors.

Use it from a test (pytest-asyncio)::

    server = DiscordServer()
    await server.start()
    with point_discord_py_at(server):
        client = discord.Client(intents=intents, guild_ready_timeout=0.05)
        ...  # client.start(TOKEN) in a task, then client.wait_until_ready()
        record = await server.slash("find", {"skill": "Python"}, locale="pt-BR")
        (callback,) = await server.wait_answer(record)
        await client.close()
    await server.stop()

Payload builders (:func:`slash_command`, :func:`autocomplete`, :func:`component`,
:func:`user_message`) make real gateway shapes; the server's :meth:`DiscordServer.slash`,
:meth:`~DiscordServer.complete`, :meth:`~DiscordServer.press` and :meth:`~DiscordServer.say`
build them from what the bot registered and sent, and dispatch them.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import secrets
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.local_server import serve_locally

# -- identifiers ----------------------------------------------------------------------------

DISCORD_EPOCH_MS = 1_420_070_400_000


class _Snowflakes:
    """Increasing snowflakes made from the clock, as Discord makes them (so ``created_at`` of
    everything the stand-in creates is now)."""

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> int:
        now = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(now, self._last + 1)
        return self._last


snowflake = _Snowflakes()

TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMQ.test.stand-in-bot-token"
"""The bot token the stand-in accepts by default."""

APPLICATION_ID = 1300000000000000001
"""The application's id, which is also its bot user's id (as for every bot made since 2020)."""
GUILD_ID = 1300000000000000100
CHANNEL_ID = 1300000000000000101
"""The default guild's text channel, ``#general``."""
ORGANISERS_ROLE_ID = 1300000000000000102
"""A role with MANAGE_GUILD in the default guild: its members are guild admins."""
BOT_ROLE_ID = 1300000000000000103

# Permission bits (https://discord.com/developers/docs/topics/permissions).
CREATE_INSTANT_INVITE = 1 << 0
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
CONNECT = 1 << 20
SPEAK = 1 << 21
CHANGE_NICKNAME = 1 << 26
USE_APPLICATION_COMMANDS = 1 << 31
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
SEND_VOICE_MESSAGES = 1 << 46
SEND_POLLS = 1 << 49
USE_EXTERNAL_APPS = 1 << 50
ALL_PERMISSIONS = (1 << 51) - 1

EVERYONE_PERMISSIONS = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | CONNECT
    | SPEAK
    | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
    | SEND_VOICE_MESSAGES
    | SEND_POLLS
    | USE_EXTERNAL_APPS
)
"""What ``@everyone`` may do in a new guild."""
DM_APP_PERMISSIONS = (
    ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | MENTION_EVERYONE
    | USE_EXTERNAL_EMOJIS
)
"""``app_permissions`` of an interaction in a DM with the bot."""

# Gateway intents (https://discord.com/developers/docs/events/gateway#gateway-intents).
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT

# Message flags.
SUPPRESS_EMBEDS = 1 << 2
EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_NOTIFICATIONS = 1 << 12
IS_COMPONENTS_V2 = 1 << 15
SENDABLE_FLAGS = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2
"""The flags a bot may set on a channel message (and with EPHEMERAL, on an interaction's)."""

# Interaction types and interaction callback types.
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, APPLICATION_COMMAND_AUTOCOMPLETE, MODAL_SUBMIT = (
    1,
    2,
    3,
    4,
    5,
)
PONG = 1
CHANNEL_MESSAGE_WITH_SOURCE = 4
DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
APPLICATION_COMMAND_AUTOCOMPLETE_RESULT = 8
MODAL = 9
ALLOWED_CALLBACKS = {
    PING: {PONG},
    APPLICATION_COMMAND: {CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE, MODAL},
    MESSAGE_COMPONENT: {
        CHANNEL_MESSAGE_WITH_SOURCE,
        DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
        DEFERRED_UPDATE_MESSAGE,
        UPDATE_MESSAGE,
        MODAL,
    },
    APPLICATION_COMMAND_AUTOCOMPLETE: {APPLICATION_COMMAND_AUTOCOMPLETE_RESULT},
    MODAL_SUBMIT: {
        CHANNEL_MESSAGE_WITH_SOURCE,
        DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
        DEFERRED_UPDATE_MESSAGE,
        UPDATE_MESSAGE,
    },
}

# Application command option types.
SUB_COMMAND, SUB_COMMAND_GROUP, STRING, INTEGER, BOOLEAN, USER = 1, 2, 3, 4, 5, 6
CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 7, 8, 9, 10, 11

LOCALES = frozenset(
    {
        *("id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu"),
        *("nl", "no", "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru"),
        *("uk", "hi", "th", "zh-CN", "ja", "zh-TW", "ko"),
    }
)
"""The locales Discord knows (``locale`` of interactions, keys of ``*_localizations``)."""

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


def _iso(moment: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if moment is None else moment, UTC).isoformat()


# -- the world: users, guilds, channels ------------------------------------------------------


@dataclass(frozen=True)
class DiscordUser:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    locale: str = "en-US"
    """The language of this user's Discord client: it arrives as each interaction's
    ``locale`` (Discord sends no language with messages)."""

    def json(self) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "avatar_decoration_data": None,
            "banner": None,
            "accent_color": None,
            "public_flags": 0,
            "flags": 0,
            "collectibles": None,
            "primary_guild": None,
        }
        if self.bot:
            user["bot"] = True
        return user


BOT = DiscordUser(APPLICATION_ID, "capx-test", "CapX", bot=True)
OWNER = DiscordUser(1300000000000000201, "olga", "Olga")
"""The default guild's owner (every permission)."""
MEMBER = DiscordUser(1300000000000000202, "ana", "Ana")
"""A plain member of the default guild."""
ADMIN = DiscordUser(1300000000000000203, "bruno", "Bruno")
"""A member of the default guild with MANAGE_GUILD (the Organisers role)."""
DM_USER = DiscordUser(1300000000000000204, "carla", "Carla")
"""A user who shares no guild with the bot here and talks to it in a DM."""


@dataclass(frozen=True)
class Role:
    id: int
    name: str
    permissions: int
    position: int = 0
    bot_id: int | None = None
    """The bot this role is managed for (the role a bot gets when it joins)."""

    def json(self) -> dict[str, Any]:
        role: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "managed": self.bot_id is not None,
            "mentionable": False,
            "flags": 0,
        }
        if self.bot_id is not None:
            role["tags"] = {"bot_id": str(self.bot_id)}
        return role


@dataclass(frozen=True)
class Channel:
    """A guild text channel."""

    id: int
    name: str
    position: int = 0
    topic: str | None = None
    type: int = 0

    def json(self, guild_id: int) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(guild_id),
            "name": self.name,
            "position": self.position,
            "topic": self.topic,
            "nsfw": False,
            "parent_id": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "permission_overwrites": [],
            "flags": 0,
        }


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    channels: list[Channel]
    roles: list[Role]
    """Every role but ``@everyone``."""
    members: dict[int, list[int]]
    """Member user ids and the ids of their roles (``@everyone`` aside). The bot is one."""
    everyone_permissions: int = EVERYONE_PERMISSIONS
    preferred_locale: str = "en-US"
    """Arrives as ``guild_locale`` of interactions in this guild."""

    def permissions(self, user_id: int) -> int:
        """Guild-wide permissions of a member (no channel overwrites are modelled)."""
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        value = self.everyone_permissions
        held = set(self.members.get(user_id, ()))
        for role in self.roles:
            if role.id in held:
                value |= role.permissions
        return ALL_PERMISSIONS if value & ADMINISTRATOR else value

    def channel(self, channel_id: int) -> Channel | None:
        return next((each for each in self.channels if each.id == channel_id), None)

    def member_json(self, user: DiscordUser | None, user_id: int | None = None) -> dict[str, Any]:
        """A guild member object; with ``user`` included unless it is None (gateway
        MESSAGE_CREATE members come without it)."""
        user_id = user.id if user is not None else user_id
        member: dict[str, Any] = {
            "roles": [str(role) for role in self.members.get(user_id or 0, [])],
            "joined_at": _iso(1_700_000_000),
            "premium_since": None,
            "nick": None,
            "avatar": None,
            "banner": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
            "unusual_dm_activity_until": None,
        }
        if user is not None:
            member["user"] = user.json()
        return member

    def create_event(self, bot: DiscordUser) -> dict[str, Any]:
        """The GUILD_CREATE payload, as a bot without the GUILD_MEMBERS intent gets it (its
        own member only)."""
        everyone = Role(self.id, "@everyone", self.everyone_permissions)
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "preferred_locale": self.preferred_locale,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "system_channel_id": str(self.channels[0].id) if self.channels else None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "features": [],
            "max_members": 500000,
            "max_video_channel_users": 25,
            "application_id": None,
            "incidents_data": None,
            "roles": [everyone.json()] + [role.json() for role in self.roles],
            "emojis": [],
            "stickers": [],
            "joined_at": _iso(1_700_000_000),
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "members": [self.member_json(bot)],
            "channels": [channel.json(self.id) for channel in self.channels],
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "lazy": True,
        }


def default_guild() -> Guild:
    """A new copy of the default guild, "Wikimedia Test": ``#general``, an Organisers role
    with MANAGE_GUILD (held by :data:`ADMIN`), :data:`MEMBER`, its owner :data:`OWNER`, and
    the bot with its managed role."""
    return Guild(
        id=GUILD_ID,
        name="Wikimedia Test",
        owner_id=OWNER.id,
        channels=[Channel(CHANNEL_ID, "general", topic="Say hello")],
        roles=[
            Role(ORGANISERS_ROLE_ID, "Organisers", MANAGE_GUILD, position=2),
            Role(BOT_ROLE_ID, "CapX", EVERYONE_PERMISSIONS, position=1, bot_id=APPLICATION_ID),
        ],
        members={
            OWNER.id: [],
            MEMBER.id: [],
            ADMIN.id: [ORGANISERS_ROLE_ID],
            APPLICATION_ID: [BOT_ROLE_ID],
        },
    )


GUILD = default_guild()
"""The default guild, for the module-level builders (do not change it: give the server its
own :func:`default_guild` copy, as it does by default)."""

_dm_channels: dict[int, int] = {}


def dm_channel_id(user_id: int) -> int:
    """The id of the bot's DM channel with a user: stable for the process, as Discord keeps one
    DM channel per pair of users."""
    if user_id not in _dm_channels:
        _dm_channels[user_id] = snowflake()
    return _dm_channels[user_id]


def dm_channel(user: DiscordUser) -> dict[str, Any]:
    return {
        "id": str(dm_channel_id(user.id)),
        "type": 1,
        "last_message_id": None,
        "flags": 0,
        "recipients": [user.json()],
    }


# -- payload builders -----------------------------------------------------------------------


def option(name: str, value: Any, type: int | None = None, *, focused: bool = False) -> dict:
    """An interaction data option; ``type`` found from ``value`` when not given (str 3,
    bool 5, int 4, float 10, a :class:`DiscordUser` 6)."""
    if type is None:
        type = _option_type(value)
    if isinstance(value, DiscordUser):
        value = str(value.id)
    result: dict[str, Any] = {"name": name, "type": type, "value": value}
    if focused:
        result["focused"] = True
    return result


def _option_type(value: Any) -> int:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER
    if isinstance(value, DiscordUser):
        return USER
    return STRING


def _options(options: Mapping[str, Any] | Sequence[dict] | None) -> list[dict]:
    if not options:
        return []
    if isinstance(options, Mapping):
        return [option(name, value) for name, value in options.items()]
    return list(options)


def interaction(
    kind: int,
    data: dict[str, Any] | None,
    *,
    user: DiscordUser = MEMBER,
    guild: Guild | None = GUILD,
    channel_id: int | None = None,
    locale: str | None = None,
    message: dict[str, Any] | None = None,
    application_id: int = APPLICATION_ID,
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload of type ``kind`` from ``user``: in ``guild`` (its first
    channel unless ``channel_id``), or in the user's DM with the bot when ``guild`` is None.
    ``locale`` is the user's client language (``user.locale`` by default)."""
    interaction_id = snowflake()
    payload: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(application_id),
        "type": kind,
        "token": "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(96),
        "version": 1,
        "locale": locale or user.locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if data is not None:
        payload["data"] = data
    if guild is not None:
        channel = guild.channel(channel_id) if channel_id else guild.channels[0]
        assert channel is not None, f"no channel {channel_id} in guild {guild.id}"
        permissions = str(guild.permissions(user.id))
        payload |= {
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": guild.preferred_locale, "features": []},
            "guild_locale": guild.preferred_locale,
            "channel_id": str(channel.id),
            "channel": channel.json(guild.id) | {"permissions": permissions},
            "member": guild.member_json(user) | {"permissions": permissions},
            "app_permissions": str(guild.permissions(application_id)),
            "context": 0,
            "authorizing_integration_owners": {"0": str(guild.id)},
        }
    else:
        channel_json = dm_channel(user)
        payload |= {
            "channel_id": channel_json["id"],
            "channel": channel_json,
            "user": user.json(),
            "app_permissions": str(DM_APP_PERMISSIONS),
            "context": 1,
            "authorizing_integration_owners": {"0": "0"},
        }
    if message is not None:
        payload["message"] = message
    return payload


def resolved_users(users: Sequence[DiscordUser], guild: Guild | None) -> dict[str, Any]:
    """The ``resolved`` data of user options: the users, and their members in ``guild``."""
    resolved: dict[str, Any] = {"users": {str(each.id): each.json() for each in users}}
    if guild is not None:
        resolved["members"] = {
            str(each.id): guild.member_json(None, each.id)
            | {"permissions": str(guild.permissions(each.id))}
            for each in users
            if each.id in guild.members
        }
    return resolved


def slash_command(
    name: str,
    options: Mapping[str, Any] | Sequence[dict] | None = None,
    *,
    command_id: int | None = None,
    command_guild_id: int | None = None,
    resolved: dict[str, Any] | None = None,
    **context: Any,
) -> dict[str, Any]:
    """A slash command (type 2 APPLICATION_COMMAND) invoked with ``options`` (a mapping of
    name to value, or :func:`option` dicts, nested for subcommands). ``command_guild_id``
    is the guild the command was registered in, for a guild command: discord.py looks guild
    commands up by it and answers CommandNotFound without it. ``context`` as for
    :func:`interaction`."""
    data: dict[str, Any] = {"id": str(command_id or snowflake()), "name": name, "type": 1}
    listed = _options(options)
    if listed:
        data["options"] = listed
    if resolved is None and isinstance(options, Mapping):
        users = [value for value in options.values() if isinstance(value, DiscordUser)]
        resolved = resolved_users(users, context.get("guild", GUILD)) if users else None
    if resolved:
        data["resolved"] = resolved
    if command_guild_id is not None:
        data["guild_id"] = str(command_guild_id)
    return interaction(APPLICATION_COMMAND, data, **context)


def autocomplete(
    name: str,
    focused: str,
    typed: str,
    options: Mapping[str, Any] | Sequence[dict] | None = None,
    *,
    focused_type: int = STRING,
    command_id: int | None = None,
    command_guild_id: int | None = None,
    **context: Any,
) -> dict[str, Any]:
    """An autocomplete request (type 4): the user is typing ``typed`` into option
    ``focused`` (sent with ``focused: true``; the other ``options`` as filled so far)."""
    listed = [each for each in _options(options) if each["name"] != focused]
    listed.append(option(focused, typed, focused_type, focused=True))
    payload = slash_command(
        name, listed, command_id=command_id, command_guild_id=command_guild_id, **context
    )
    payload["type"] = APPLICATION_COMMAND_AUTOCOMPLETE
    return payload


def component(
    message: dict[str, Any],
    custom_id: str,
    *,
    component_type: int = 2,
    values: Sequence[str] | None = None,
    **context: Any,
) -> dict[str, Any]:
    """A component press (type 3 MESSAGE_COMPONENT) on ``message`` (the bot's message, as
    the stand-in answered it): a button (``component_type`` 2) with ``custom_id``, or a
    select menu (3) with the chosen ``values``."""
    data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
    if values is not None:
        data["values"] = list(values)
    context.setdefault("channel_id", int(message["channel_id"]))
    return interaction(MESSAGE_COMPONENT, data, message=copy.deepcopy(message), **context)


def user_message(
    user: DiscordUser,
    content: str,
    *,
    guild: Guild | None = GUILD,
    channel_id: int | None = None,
    mentions: Sequence[DiscordUser] = (),
) -> dict[str, Any]:
    """A MESSAGE_CREATE payload: ``user`` wrote ``content`` in ``guild`` (its first channel
    unless ``channel_id``), or in their DM with the bot when ``guild`` is None."""
    channel_id = (channel_id or guild.channels[0].id) if guild else dm_channel_id(user.id)
    message: dict[str, Any] = {
        "id": str(snowflake()),
        "channel_id": str(channel_id),
        "type": 0,
        "content": content,
        "author": user.json(),
        "timestamp": _iso(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [each.json() for each in mentions],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "components": [],
        "pinned": False,
        "flags": 0,
    }
    if guild is not None:
        message["guild_id"] = str(guild.id)
        message["member"] = guild.member_json(None, user.id)
    return message


# -- what the bot did ------------------------------------------------------------------------


@dataclass
class UploadedFile:
    field: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Call:
    """One REST call the bot made."""

    method: str
    path: str
    """After ``/api/v10``: ``/channels/123/messages``."""
    json: Any = None
    """The JSON body; for a multipart body, its ``payload_json`` part."""
    query: dict[str, str] = field(default_factory=dict)
    files: list[UploadedFile] = field(default_factory=list)
    authorization: str | None = None
    status: int = 0
    result: Any = None
    """What the stand-in answered (the JSON body; None for 204)."""
    at: float = 0.0
    """When it arrived, by the event loop's clock."""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content(self) -> str | None:
        """The message content it sent: of ``json`` or, for an interaction callback, of its
        ``data``."""
        body = self.json if isinstance(self.json, dict) else {}
        if self.path.endswith("/callback"):
            body = body.get("data") or {}
        return body.get("content")


@dataclass
class GatewayFrame:
    """A gateway payload a client sent."""

    op: int
    d: Any
    session_id: str | None


@dataclass
class InteractionRecord:
    """An interaction the stand-in dispatched, and what the bot answered on its token."""

    payload: dict[str, Any]
    sent_at: float
    calls: list[Call] = field(default_factory=list)
    """The callback and every webhook call on this interaction's token, answered or not."""
    acknowledged: bool = False
    expired: bool = False
    original: dict[str, Any] | None = None
    """The message ``@original`` names: the response message, or for a component
    interaction answered with type 6 or 7, the message the component is on."""
    followups: list[dict[str, Any]] = field(default_factory=list)
    deferred: bool = False
    """Answered with type 5 and no follow-up or edit has filled the loading message yet."""

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def token(self) -> str:
        return self.payload["token"]

    @property
    def type(self) -> int:
        return self.payload["type"]

    @property
    def callback(self) -> Call | None:
        """The interaction callback that was accepted."""
        return next((c for c in self.calls if c.path.endswith("/callback") and c.ok), None)

    @property
    def response_type(self) -> int | None:
        callback = self.callback
        return callback.json["type"] if callback is not None else None

    @property
    def response_data(self) -> dict[str, Any]:
        callback = self.callback
        return (callback.json.get("data") or {}) if callback is not None else {}

    @property
    def content(self) -> str | None:
        """What the user sees as the answer: the response message's content now."""
        if self.original is not None:
            return self.original.get("content")
        return self.response_data.get("content")

    @property
    def ephemeral(self) -> bool:
        return bool(self.response_data.get("flags", 0) & EPHEMERAL)

    @property
    def choices(self) -> list[dict[str, Any]]:
        """The autocomplete choices answered (type 8)."""
        return self.response_data.get("choices", [])


@dataclass
class Failure:
    """A scripted failure for the next ``times`` calls matching ``method`` (any when None)
    and whose path starts with ``path``."""

    status: int
    code: int
    message: str
    method: str | None = None
    path: str = ""
    retry_after: float | None = None
    is_global: bool = False
    times: int = 1

    def matches(self, call: Call) -> bool:
        method_ok = self.method is None or self.method == call.method
        return method_ok and call.path.startswith(self.path)

    @classmethod
    def unknown_interaction(cls, path: str = "/interactions/") -> Failure:
        """404 10062: the interaction's token is no longer valid (expired, or answered after
        three seconds)."""
        return cls(404, 10062, "Unknown interaction", "POST", path)

    @classmethod
    def cannot_message_user(cls, path: str = "/channels/") -> Failure:
        """403 50007: the user closed DMs from the guild's members, or blocked the bot."""
        return cls(403, 50007, "Cannot send messages to this user", "POST", path)

    @classmethod
    def missing_permissions(cls, method: str | None = None, path: str = "") -> Failure:
        return cls(403, 50013, "Missing Permissions", method, path)

    @classmethod
    def rate_limited(
        cls,
        retry_after: float = 0.05,
        method: str | None = None,
        path: str = "",
        *,
        is_global: bool = False,
    ) -> Failure:
        """429 with ``retry_after`` (seconds) in the body and Discord's rate-limit headers
        (discord.py waits that long and retries)."""
        return cls(429, 0, "You are being rate limited.", method, path, retry_after, is_global)


class ApiError(Exception):
    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


def _form_error(errors: dict[str, Any]) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body", errors)


def _field_error(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


# -- the gateway's side ----------------------------------------------------------------------


class _Compressor:
    """Transport compression of one connection: ``zlib-stream`` (one zlib context, each
    message flushed with Z_SYNC_FLUSH, so it ends in 00 00 ff ff) or ``zstd-stream`` (one
    zstd frame, each message a flushed block)."""

    def __init__(self, kind: str | None) -> None:
        self.kind = kind
        self._zlib = zlib.compressobj() if kind == "zlib-stream" else None
        self._zstd: Any = None
        if kind == "zstd-stream":
            try:
                import zstandard  # type: ignore[import-not-found]

                compressor = zstandard.ZstdCompressor().compressobj()
                flush = zstandard.COMPRESSOBJ_FLUSH_BLOCK
                self._zstd = lambda data: compressor.compress(data) + compressor.flush(flush)
            except ImportError:
                try:
                    from compression import zstd  # type: ignore[import-not-found]
                except ImportError as error:
                    raise ValueError("zstd-stream needs zstandard or compression.zstd") from error
                compressor = zstd.ZstdCompressor()
                block = zstd.ZstdCompressor.FLUSH_BLOCK
                self._zstd = lambda data: compressor.compress(data, mode=block)
        elif kind not in (None, "zlib-stream"):
            raise ValueError(f"unknown gateway compression {kind!r}")

    def __call__(self, data: bytes) -> bytes | None:
        if self._zlib is not None:
            return self._zlib.compress(data) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
        if self._zstd is not None:
            return self._zstd(data)
        return None


class GatewayConnection:
    """One websocket connection to the gateway."""

    def __init__(self, ws: web.WebSocketResponse, path: str, query: Mapping[str, str]) -> None:
        self.ws = ws
        self.path = path
        self.query = dict(query)
        self.compression = query.get("compress")
        self._compress = _Compressor(self.compression)
        self.session: GatewaySession | None = None
        self.heartbeats = 0
        self._lock = asyncio.Lock()

    @property
    def open(self) -> bool:
        return not self.ws.closed

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload)
        async with self._lock:
            if self.ws.closed:
                return
            packed = self._compress(text.encode())
            if packed is None:
                await self.ws.send_str(text)
            else:
                await self.ws.send_bytes(packed)

    async def close(self, code: int, reason: str = "") -> None:
        await self.ws.close(code=code, message=reason.encode())


@dataclass
class GatewaySession:
    id: str
    intents: int
    identify: dict[str, Any]
    seq: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    """Every dispatch sent in this session, for RESUME to replay what a client missed."""
    connection: GatewayConnection | None = None
    ready: bool = False
    """READY and every GUILD_CREATE have been sent."""
    resumed: int = 0

    def wants(self, event: str, data: dict[str, Any]) -> bool:
        """Whether this session's intents subscribe it to ``event``."""
        if event.startswith(("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE", "CHANNEL_")):
            return bool(self.intents & GUILDS)
        if event.startswith("GUILD_MEMBER"):
            return bool(self.intents & GUILD_MEMBERS)
        if event.startswith("MESSAGE_"):
            wanted = GUILD_MESSAGES if data.get("guild_id") else DIRECT_MESSAGES
            return bool(self.intents & wanted)
        return True


# -- the stand-in ----------------------------------------------------------------------------

_FIRST_GUILD: Any = object()
"""Default of the server's builders: its first guild. (Pass None for a DM.)"""

NAME_PATTERN = re.compile(r"^[-_'\w\u0900-\u097f\u0e00-\u0e7f]{1,32}$")


@dataclass(repr=False)
class DiscordServer:
    """The stand-in. ``await start()``; point discord.py at it with
    :func:`point_discord_py_at`; ``await stop()``."""

    token: str = TOKEN
    bot: DiscordUser = BOT
    guilds: list[Guild] = field(default_factory=lambda: [default_guild()])
    users: dict[int, DiscordUser] = field(
        default_factory=lambda: {each.id: each for each in (BOT, OWNER, MEMBER, ADMIN, DM_USER)}
    )
    privileged_intents: int = 0
    """The privileged intents the application has been granted in the developer portal; an
    IDENTIFY asking for others is closed with 4014."""
    heartbeat_interval: int = 41250
    """Milliseconds, as HELLO says it."""
    callback_deadline: float | None = 3.0
    """Seconds an interaction can wait for its callback (Discord's three seconds): a later
    callback gets 404 10062 Unknown interaction. None for no limit."""
    token_lifetime: float = 15 * 60
    """Seconds an interaction token serves follow-ups and edits (then 401 50027)."""
    nonce_window: float = 5 * 60
    """Seconds during which ``enforce_nonce`` finds an earlier message with the same nonce."""
    nonce_scope: str = "channel"
    """``channel``: a nonce is looked up in the message's channel; ``author``: across every
    channel (Discord's documentation says "by the same author")."""
    closed_dms: set[int] = field(default_factory=set)
    """Users whose DMs are closed to the bot: sending there fails with 403 50007."""
    echo_own_messages: bool = True
    """Dispatch MESSAGE_CREATE/UPDATE for the bot's own messages, as Discord does."""

    calls: list[Call] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    commands: dict[int | None, list[dict[str, Any]]] = field(default_factory=dict)
    """The registered command tree of each scope: a guild id, or None for global commands,
    as the stand-in answered it (with ids, ``application_id``, ``version``...)."""
    interactions: dict[int, InteractionRecord] = field(default_factory=dict)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Every message in a channel by id (the bot's and those pushed with :meth:`say`)."""
    ephemeral: dict[int, dict[str, Any]] = field(default_factory=dict)
    """The bot's ephemeral messages by id (only the user they answered sees them)."""
    errors: list[BaseException] = field(default_factory=list)
    """Bugs of the stand-in met while answering (each answered as a 400 naming it)."""
    sessions: dict[str, GatewaySession] = field(default_factory=dict)
    connections: list[GatewayConnection] = field(default_factory=list)
    """Every gateway connection made, open or closed, in order."""
    received: list[GatewayFrame] = field(default_factory=list)
    """Every gateway payload clients sent."""
    url: str = ""
    _nonces: dict[tuple[Any, str], tuple[float, int]] = field(default_factory=dict)
    _dm_recipients: dict[int, int] = field(default_factory=dict)
    _changed: asyncio.Condition | None = None
    _runner: web.AppRunner | None = None
    _routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"<DiscordServer {self.url or 'not started'}: {len(self.calls)} calls>"

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._changed = asyncio.Condition()
        self._routes = self._route_table()
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/gateway-resume", self._gateway)
        app.router.add_route("*", "/api/v{version:\\d+}{path:/.*}", self._rest)
        self._runner, self.url = await serve_locally(app)

    async def stop(self) -> None:
        for connection in self.connections:
            if connection.open:
                await connection.close(1001, "going away")
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        """What ``discord.http.Route.BASE`` must be."""
        return self.url + "/api/v10"

    @property
    def gateway_url(self) -> str:
        """What ``/gateway/bot`` answers and ``DiscordWebSocket.DEFAULT_GATEWAY`` must be."""
        return self.url.replace("http://", "ws://") + "/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/gateway-resume"

    # -- the test's side: reading --------------------------------------------------------

    def calls_to(self, method: str | None = None, path_prefix: str = "") -> list[Call]:
        return [
            call
            for call in self.calls
            if (method is None or call.method == method) and call.path.startswith(path_prefix)
        ]

    async def wait_for(
        self, predicate: Callable[[DiscordServer], bool], timeout: float = 5
    ) -> None:
        """Wait until ``predicate(self)`` holds, checking after every call and gateway event."""
        assert self._changed is not None
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self)), timeout)

    async def wait_calls(
        self, count: int, method: str | None = None, path_prefix: str = "", timeout: float = 5
    ) -> list[Call]:
        """The first ``count`` answered calls of ``method`` to paths under ``path_prefix``."""
        await self.wait_for(
            lambda server: len(server.calls_to(method, path_prefix)) >= count, timeout
        )
        return self.calls_to(method, path_prefix)[:count]

    async def wait_ready(self, count: int = 1, timeout: float = 5) -> list[GatewaySession]:
        """Sessions with a live connection that have had READY and every GUILD_CREATE."""
        await self.wait_for(lambda server: len(server.live_sessions) >= count, timeout)
        return self.live_sessions

    @property
    def live_sessions(self) -> list[GatewaySession]:
        return [
            session
            for session in self.sessions.values()
            if session.ready and session.connection is not None and session.connection.open
        ]

    async def wait_answer(
        self, record: InteractionRecord, count: int = 1, timeout: float = 5
    ) -> list[Call]:
        """The first ``count`` successful calls the bot made on an interaction's token (its
        callback first)."""

        def answered(server: DiscordServer) -> bool:
            return len([call for call in record.calls if call.ok]) >= count

        await self.wait_for(answered, timeout)
        return [call for call in record.calls if call.ok][:count]

    def registered(self, guild_id: int | None = None) -> dict[str, dict[str, Any]]:
        """The commands registered in a scope (a guild, or None for global), by name."""
        return {command["name"]: command for command in self.commands.get(guild_id, [])}

    def channel_messages(self, channel_id: int) -> list[dict[str, Any]]:
        return [m for m in self.messages.values() if int(m["channel_id"]) == channel_id]

    # -- the test's side: scripting --------------------------------------------------------

    def fail_next(self, failure: Failure) -> None:
        self.failures.append(failure)

    def expire(self, record: InteractionRecord) -> None:
        """Make an interaction's token invalid, as after fifteen minutes."""
        record.expired = True

    def add_user(self, user: DiscordUser) -> DiscordUser:
        self.users[user.id] = user
        return user

    # -- the test's side: dispatching -------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any]) -> int:
        """Dispatch a gateway event to every session subscribed to it; how many live
        connections it was sent to. A session without a live connection keeps it for RESUME."""
        sent = 0
        for session in list(self.sessions.values()):
            if not session.wants(event, data):
                continue
            delivered = self._visible(session, event, data)
            if await self._send_dispatch(session, event, delivered):
                sent += 1
        await self._notify()
        return sent

    async def dispatch_interaction(self, payload: dict[str, Any]) -> InteractionRecord:
        """Dispatch an INTERACTION_CREATE; the record of what the bot answers to it."""
        loop = asyncio.get_running_loop()
        record = InteractionRecord(payload, sent_at=loop.time())
        self.interactions[record.id] = record
        channel = payload.get("channel") or {}
        if channel.get("type") == 1:
            self._dm_recipients[int(channel["id"])] = int(payload["user"]["id"])
        user = payload.get("user") or payload.get("member", {}).get("user")
        if user is not None:
            self._learn_user(user)
        await self.dispatch("INTERACTION_CREATE", payload)
        return record

    async def slash(
        self,
        name: str,
        options: Mapping[str, Any] | Sequence[dict] | None = None,
        *,
        user: DiscordUser = MEMBER,
        guild: Guild | None = _FIRST_GUILD,
        force: bool = False,
        **context: Any,
    ) -> InteractionRecord:
        """Invoke a registered slash command as ``user`` in ``guild`` (None: in their DM with
        the bot), with ``options`` given as name → value: the command's id, its guild, and the
        option types are those the bot registered.

        What Discord's client would not let the user do is refused: LookupError for a command
        not registered where the user is (or not allowed in DMs by its ``contexts``),
        PermissionError when the user lacks its ``default_member_permissions``. ``force``
        skips those checks (as when a guild's admins override the command's permissions)."""
        guild = self._guild_arg(guild)
        command, scope = self._registered_command(name, guild, user, force=force)
        listed = self._typed_options(command, options)
        users = (
            [v for v in (options or {}).values() if isinstance(v, DiscordUser)]
            if (isinstance(options, Mapping))
            else []
        )
        payload = slash_command(
            name,
            listed,
            command_id=int(command["id"]),
            command_guild_id=scope,
            resolved=resolved_users(users, guild) if users else None,
            user=user,
            guild=guild,
            **context,
        )
        return await self.dispatch_interaction(payload)

    async def complete(
        self,
        name: str,
        focused: str,
        typed: str,
        options: Mapping[str, Any] | None = None,
        *,
        user: DiscordUser = MEMBER,
        guild: Guild | None = _FIRST_GUILD,
        force: bool = False,
        **context: Any,
    ) -> InteractionRecord:
        """Ask a registered command's autocomplete: ``user`` has typed ``typed`` into option
        ``focused`` (checked as for :meth:`slash`)."""
        guild = self._guild_arg(guild)
        command, scope = self._registered_command(name, guild, user, force=force)
        listed = self._typed_options(command, options)
        kinds = {each["name"]: each["type"] for each in _leaf_options(command)}
        if focused not in kinds:
            raise LookupError(f"/{name} has no option {focused!r}")
        payload = autocomplete(
            name,
            focused,
            typed,
            listed,
            focused_type=kinds[focused],
            command_id=int(command["id"]),
            command_guild_id=scope,
            user=user,
            guild=guild,
            **context,
        )
        return await self.dispatch_interaction(payload)

    async def press(
        self,
        message: dict[str, Any] | int,
        custom_id: str,
        *,
        user: DiscordUser = MEMBER,
        component_type: int = 2,
        values: Sequence[str] | None = None,
        **context: Any,
    ) -> InteractionRecord:
        """Press a component of one of the bot's messages (a message object or its id; it
        must carry a component with ``custom_id``)."""
        if isinstance(message, int):
            message = self.messages.get(message) or self.ephemeral[message]
        custom_ids = set(_custom_ids(message.get("components", [])))
        if custom_id not in custom_ids:
            raise LookupError(f"no component {custom_id!r} on the message (has {custom_ids})")
        channel_id = int(message["channel_id"])
        guild = self._guild_of(channel_id)
        if channel_id in self._dm_recipients:
            user = self.users.get(self._dm_recipients[channel_id], user)
        elif guild is None:
            raise LookupError(f"the message is in no known channel ({channel_id})")
        payload = component(
            message,
            custom_id,
            component_type=component_type,
            values=values,
            user=user,
            guild=guild,
            **context,
        )
        return await self.dispatch_interaction(payload)

    async def say(
        self,
        user: DiscordUser,
        content: str,
        *,
        guild: Guild | None = _FIRST_GUILD,
        channel_id: int | None = None,
        mentions: Sequence[DiscordUser] = (),
    ) -> dict[str, Any]:
        """``user`` writes a message (in ``guild``, or in their DM with the bot when None);
        it is dispatched as MESSAGE_CREATE."""
        guild = self._guild_arg(guild)
        message = user_message(user, content, guild=guild, channel_id=channel_id, mentions=mentions)
        if guild is None:
            self._dm_recipients[int(message["channel_id"])] = user.id
        self._learn_user(user.json())
        self.messages[int(message["id"])] = message
        await self.dispatch("MESSAGE_CREATE", message)
        return message

    async def request_reconnect(self) -> None:
        """Send RECONNECT (op 7) to every live connection: clients reconnect to
        ``resume_gateway_url`` and RESUME."""
        for connection in self.connections:
            if connection.open:
                await connection.send({"op": 7, "d": None, "s": None, "t": None})

    def _guild_arg(self, guild: Guild | None) -> Guild | None:
        return self.guilds[0] if guild is _FIRST_GUILD else guild

    def _registered_command(
        self, name: str, guild: Guild | None, user: DiscordUser, *, force: bool
    ) -> tuple[dict[str, Any], int | None]:
        scopes = ([guild.id] if guild is not None else []) + [None]
        for scope in scopes:
            command = self.registered(scope).get(name)
            if command is None:
                continue
            if force:
                return command, scope
            if guild is None:
                contexts = command.get("contexts")
                if not command.get("dm_permission", True) or (contexts and 1 not in contexts):
                    raise LookupError(f"/{name} is not available in DMs")
                return command, scope
            needed = int(command.get("default_member_permissions") or 0)
            if needed & ~guild.permissions(user.id):
                raise PermissionError(f"{user.username} lacks the permissions /{name} needs")
            return command, scope
        raise LookupError(f"/{name} is not registered for guild {guild and guild.id} or globally")

    def _typed_options(
        self, command: dict[str, Any], options: Mapping[str, Any] | Sequence[dict] | None
    ) -> list[dict[str, Any]]:
        if not isinstance(options, Mapping):
            return _options(options)
        kinds = {each["name"]: each["type"] for each in _leaf_options(command)}
        unknown = set(options) - set(kinds)
        if unknown:
            raise LookupError(f"/{command['name']} has no options {sorted(unknown)}")
        return [option(name, value, kinds[name]) for name, value in options.items()]

    def _learn_user(self, data: dict[str, Any]) -> None:
        user_id = int(data["id"])
        if user_id not in self.users:
            self.users[user_id] = DiscordUser(
                user_id, data["username"], data.get("global_name"), data.get("bot", False)
            )

    # -- gateway -------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False, max_msg_size=0, autoping=True)
        await ws.prepare(request)
        try:
            connection = GatewayConnection(ws, request.path, request.query)
        except ValueError as error:
            await ws.close(code=4000, message=str(error).encode())
            return ws
        self.connections.append(connection)
        try:
            if request.query.get("encoding", "json") != "json":
                await connection.close(4002, "Error while decoding payload.")
                return ws
            hello = {"heartbeat_interval": self.heartbeat_interval, "_trace": ["stand-in"]}
            await connection.send({"op": 10, "d": hello, "s": None, "t": None})
            async for frame in ws:
                if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                try:
                    payload = json.loads(frame.data)
                except ValueError:
                    await connection.close(4002, "Error while decoding payload.")
                    break
                await self._on_frame(connection, payload)
        finally:
            session = connection.session
            if session is not None and session.connection is connection:
                session.connection = None
                # Closing with 1000 or 1001 ends the session: it cannot be resumed.
                if ws.close_code in (1000, 1001):
                    self.sessions.pop(session.id, None)
            await self._notify()
        return ws

    async def _on_frame(self, connection: GatewayConnection, payload: dict[str, Any]) -> None:
        op, data = payload.get("op"), payload.get("d")
        session = connection.session
        self.received.append(GatewayFrame(op, data, session.id if session else None))
        if op == 1:
            connection.heartbeats += 1
            await connection.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            await self._identify(connection, data or {})
        elif op == 6:
            await self._resume(connection, data or {})
        elif op in (3, 4, 8):
            if session is None:
                await connection.close(4003, "Not authenticated.")
        else:
            await connection.close(4001, "Unknown opcode.")
        await self._notify()

    async def _identify(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        if connection.session is not None:
            await connection.close(4005, "Already authenticated.")
            return
        if data.get("token") != self.token:
            await connection.close(4004, "Authentication failed.")
            return
        if "intents" not in data:
            await connection.close(4013, "Invalid intent(s).")
            return
        intents = int(data["intents"])
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await connection.close(4014, "Disallowed intent(s).")
            return
        shard = data.get("shard")
        if shard is not None and not 0 <= shard[0] < shard[1]:
            await connection.close(4010, "Invalid shard.")
            return
        session = GatewaySession(secrets.token_hex(16), intents, data, connection=connection)
        connection.session = session
        self.sessions[session.id] = session
        ready = {
            "v": 10,
            "user": self.bot.json()
            | {"verified": True, "mfa_enabled": False, "email": None, "bot": True},
            "guilds": [{"id": str(guild.id), "unavailable": True} for guild in self.guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url,
            "application": {"id": str(APPLICATION_ID), "flags": self._application_flags()},
            "private_channels": [],
            "presences": [],
            "relationships": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["local"],
            "auth": {},
            "user_settings": {},
            "_trace": ["stand-in"],
        }
        if shard is not None:
            ready["shard"] = shard
        await self._send_dispatch(session, "READY", ready)
        if intents & GUILDS:
            for guild in self.guilds:
                await self._send_dispatch(session, "GUILD_CREATE", guild.create_event(self.bot))
        session.ready = True

    async def _resume(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        session = self.sessions.get(data.get("session_id", ""))
        if session is None or data.get("token") != self.token:
            await connection.send({"op": 9, "d": False, "s": None, "t": None})
            return
        old = session.connection
        if old is not None and old is not connection and old.open:
            await old.close(4009, "Session timed out.")
        session.connection = connection
        connection.session = session
        seen = data.get("seq") or 0
        for frame in session.history:
            if frame["s"] > seen:
                await connection.send(frame)
        session.resumed += 1
        await self._send_dispatch(session, "RESUMED", {"_trace": ["stand-in"]})

    async def _send_dispatch(self, session: GatewaySession, event: str, data: Any) -> bool:
        session.seq += 1
        frame = {"op": 0, "s": session.seq, "t": event, "d": copy.deepcopy(data)}
        session.history.append(frame)
        del session.history[:-1000]
        connection = session.connection
        if connection is None or not connection.open:
            return False
        await connection.send(frame)
        return True

    def _visible(self, session: GatewaySession, event: str, data: dict[str, Any]) -> dict:
        """``data`` as this session may see it: without MESSAGE_CONTENT, a message in a guild
        from someone else that does not mention the bot comes without its content."""
        if not event.startswith("MESSAGE_") or session.intents & MESSAGE_CONTENT:
            return data
        if "guild_id" not in data or "author" not in data:
            return data
        if int(data["author"]["id"]) == self.bot.id:
            return data
        if any(int(each["id"]) == self.bot.id for each in data.get("mentions", [])):
            return data
        hidden = dict(data)
        hidden.update(content="", embeds=[], attachments=[], components=[])
        hidden.pop("poll", None)
        return hidden

    def _application_flags(self) -> int:
        flags = 0
        if self.privileged_intents & GUILD_PRESENCES:
            flags |= 1 << 13
        if self.privileged_intents & GUILD_MEMBERS:
            flags |= 1 << 15
        if self.privileged_intents & MESSAGE_CONTENT:
            flags |= 1 << 19
        return flags

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    # -- REST ----------------------------------------------------------------------------

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Callable[..., Any]]]:
        snowflake_ = r"(?P<{}>\d+)"
        token = r"(?P<token>[^/]+)"
        table = [
            ("GET", "/users/@me", self._get_me),
            ("GET", "/users/{user_id}", self._get_user),
            ("POST", "/users/@me/channels", self._create_dm),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/applications/@me", self._get_application),
            ("GET", "/gateway", self._get_gateway),
            ("GET", "/gateway/bot", self._get_gateway_bot),
            ("GET", "/applications/{app_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/commands", self._put_commands),
            ("POST", "/applications/{app_id}/commands", self._post_command),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self._put_commands),
            ("POST", "/applications/{app_id}/guilds/{guild_id}/commands", self._post_command),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._callback),
            ("POST", "/webhooks/{app_id}/{token}", self._followup),
            ("GET", "/webhooks/{app_id}/{token}/messages/@original", self._get_original),
            ("PATCH", "/webhooks/{app_id}/{token}/messages/@original", self._edit_original),
            ("DELETE", "/webhooks/{app_id}/{token}/messages/@original", self._delete_original),
            ("GET", "/webhooks/{app_id}/{token}/messages/{message_id}", self._get_followup),
            ("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}", self._edit_followup),
            ("DELETE", "/webhooks/{app_id}/{token}/messages/{message_id}", self._delete_followup),
            ("GET", "/channels/{channel_id}", self._get_channel),
            ("POST", "/channels/{channel_id}/messages", self._create_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_message),
            ("POST", "/channels/{channel_id}/typing", self._typing),
        ]
        routes = []
        for method, template, handler in table:
            pattern = re.escape(template).replace(r"\{token\}", token)
            pattern = re.sub(r"\\\{(\w+)\\\}", lambda m: snowflake_.format(m.group(1)), pattern)
            routes.append((method, re.compile(f"^{pattern}$"), handler))
        return routes

    async def _rest(self, request: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        call = Call(
            request.method,
            request.match_info["path"],
            query=dict(request.query),
            authorization=request.headers.get("Authorization"),
            at=loop.time(),
        )
        try:
            await self._read_body(request, call)
            handler, params = self._route(call)
            public = call.path.startswith(("/interactions/", "/webhooks/"))
            if not public and call.authorization != f"Bot {self.token}":
                raise ApiError(401, 0, "401: Unauthorized")
            failure = self._take_failure(call)
            if failure is not None:
                return await self._answer(call, *self._failure_response(failure))
            status, body = await handler(call, **params)
        except ApiError as error:
            return await self._answer(call, error.status, error.body())
        except Exception as error:
            # Not a 500: discord.py retries those for 25 s. A 400 fails the bot's call at once.
            self.errors.append(error)
            return await self._answer(call, 400, {"message": f"stand-in bug: {error!r}", "code": 0})
        return await self._answer(call, status, body)

    async def _read_body(self, request: web.Request, call: Call) -> None:
        if request.content_type == "application/json":
            text = await request.text()
            call.json = json.loads(text) if text else None
        elif request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":  # type: ignore[union-attr]
                    call.json = json.loads(await part.text())  # type: ignore[union-attr]
                else:
                    call.files.append(
                        UploadedFile(
                            part.name or "",  # type: ignore[union-attr]
                            part.filename,  # type: ignore[union-attr]
                            part.headers.get("Content-Type"),
                            bytes(await part.read()),  # type: ignore[union-attr]
                        )
                    )

    def _route(self, call: Call) -> tuple[Callable[..., Any], dict[str, str]]:
        allowed = False
        for method, pattern, handler in self._routes:
            match = pattern.match(call.path)
            if match is None:
                continue
            if method == call.method:
                return handler, match.groupdict()
            allowed = True
        if allowed:
            raise ApiError(405, 0, "405: Method Not Allowed")
        raise ApiError(404, 0, "404: Not Found")

    def _take_failure(self, call: Call) -> Failure | None:
        for failure in self.failures:
            if failure.matches(call):
                failure.times -= 1
                if failure.times <= 0:
                    self.failures.remove(failure)
                return failure
        return None

    def _failure_response(self, failure: Failure) -> tuple[int, dict[str, Any], dict[str, str]]:
        if failure.status != 429:
            return failure.status, {"message": failure.message, "code": failure.code}, {}
        retry_after = failure.retry_after or 0.05
        body = {"message": failure.message, "retry_after": retry_after, "global": failure.is_global}
        headers = {
            "Retry-After": str(max(1, round(retry_after))),
            "X-RateLimit-Scope": "global" if failure.is_global else "user",
        }
        if failure.is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers |= {
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Bucket": "stand-in-" + failure.path.strip("/").replace("/", "-"),
            }
        return 429, body, headers

    async def _answer(
        self, call: Call, status: int, body: Any, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        # A snapshot: the stand-in's messages change with later edits, what it answered not.
        call.status, call.result = status, copy.deepcopy(body)
        self.calls.append(call)
        record = self._record_for(call.path)
        if record is not None:
            record.calls.append(call)
        await self._notify()
        # Discord answers through Google's load balancer: discord.py treats a 429 without a
        # Via header as a Cloudflare ban.
        all_headers = {"Via": "1.1 google", **(headers or {})}
        if body is None:
            return web.Response(status=status, headers=all_headers)
        # Exactly "application/json": discord.py decodes nothing else (no charset suffix).
        return web.Response(
            status=status,
            body=json.dumps(body).encode(),
            content_type="application/json",
            headers=all_headers,
        )

    def _record_for(self, path: str) -> InteractionRecord | None:
        parts = path.split("/")
        if path.startswith("/interactions/") and len(parts) > 3 and parts[2].isdigit():
            record = self.interactions.get(int(parts[2]))
            return record if record is not None and record.token == parts[3] else None
        if path.startswith("/webhooks/") and len(parts) > 3:
            return self._by_token(parts[3])
        return None

    def _by_token(self, token: str) -> InteractionRecord | None:
        return next((r for r in self.interactions.values() if r.token == token), None)

    # users, application, gateway

    async def _get_me(self, call: Call) -> tuple[int, Any]:
        return 200, self.bot.json() | {
            "verified": True,
            "mfa_enabled": False,
            "email": None,
            "locale": "en-US",
            "bot": True,
        }

    async def _get_user(self, call: Call, user_id: str) -> tuple[int, Any]:
        user = self.users.get(int(user_id))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return 200, user.json()

    async def _get_application(self, call: Call) -> tuple[int, Any]:
        return 200, {
            "id": str(APPLICATION_ID),
            "name": self.bot.global_name or self.bot.username,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": self._application_flags(),
            "owner": OWNER.json(),
            "team": None,
            "bot": self.bot.json(),
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "tags": [],
            "install_params": {"scopes": ["bot", "applications.commands"], "permissions": "0"},
            "integration_types_config": {"0": {}},
            "approximate_guild_count": len(self.guilds),
            "approximate_user_install_count": 0,
            "hook": True,
            "is_monetized": False,
        }

    async def _get_gateway(self, call: Call) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url}

    async def _get_gateway_bot(self, call: Call) -> tuple[int, Any]:
        limit = {"total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1}
        return 200, {"url": self.gateway_url, "shards": 1, "session_start_limit": limit}

    async def _create_dm(self, call: Call) -> tuple[int, Any]:
        recipient = int((call.json or {}).get("recipient_id", 0))
        user = self.users.get(recipient)
        if user is None:
            raise ApiError(400, 50033, "Invalid Recipient(s)")
        channel = dm_channel(user)
        self._dm_recipients[int(channel["id"])] = user.id
        return 200, channel

    # application commands

    def _scope(self, app_id: str, guild_id: str | None) -> int | None:
        if int(app_id) != APPLICATION_ID:
            raise ApiError(403, 50001, "Missing Access")
        if guild_id is None:
            return None
        if not any(guild.id == int(guild_id) for guild in self.guilds):
            raise ApiError(403, 50001, "Missing Access")
        return int(guild_id)

    async def _get_commands(
        self, call: Call, app_id: str, guild_id: str | None = None
    ) -> tuple[int, Any]:
        return 200, self.commands.get(self._scope(app_id, guild_id), [])

    async def _put_commands(
        self, call: Call, app_id: str, guild_id: str | None = None
    ) -> tuple[int, Any]:
        scope = self._scope(app_id, guild_id)
        sent = call.json if isinstance(call.json, list) else []
        _validate_commands(sent)
        earlier = {(c["name"], c.get("type", 1)): c for c in self.commands.get(scope, [])}
        self.commands[scope] = [
            self._stored_command(command, scope, earlier.get((command["name"], _kind(command))))
            for command in sent
        ]
        return 200, self.commands[scope]

    async def _post_command(
        self, call: Call, app_id: str, guild_id: str | None = None
    ) -> tuple[int, Any]:
        scope = self._scope(app_id, guild_id)
        command = call.json or {}
        others = [
            c
            for c in self.commands.get(scope, [])
            if (c["name"], c["type"]) != (command.get("name"), _kind(command))
        ]
        earlier = [c for c in self.commands.get(scope, []) if c not in others]
        _validate_commands([*others, command])
        stored = self._stored_command(command, scope, earlier[0] if earlier else None)
        self.commands[scope] = [*others, stored]
        return (200 if earlier else 201), stored

    def _stored_command(
        self, command: dict[str, Any], scope: int | None, earlier: dict[str, Any] | None
    ) -> dict[str, Any]:
        permissions = command.get("default_member_permissions")
        stored = {
            "id": earlier["id"] if earlier else str(snowflake()),
            "application_id": str(APPLICATION_ID),
            "version": str(snowflake()),
            "type": _kind(command),
            "name": command["name"],
            "name_localizations": command.get("name_localizations") or None,
            "description": command.get("description", ""),
            "description_localizations": command.get("description_localizations") or None,
            "default_member_permissions": None if permissions is None else str(permissions),
            "dm_permission": command.get("dm_permission", True),
            "contexts": command.get("contexts"),
            "integration_types": command.get("integration_types") or [0],
            "nsfw": command.get("nsfw", False),
        }
        if command.get("options"):
            stored["options"] = command["options"]
        if scope is not None:
            stored["guild_id"] = str(scope)
        return stored

    # interactions

    async def _callback(self, call: Call, interaction_id: str, token: str) -> tuple[int, Any]:
        record = self.interactions.get(int(interaction_id))
        loop = asyncio.get_running_loop()
        if record is None or record.token != token or record.expired:
            raise ApiError(404, 10062, "Unknown interaction")
        if record.acknowledged:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        deadline = self.callback_deadline
        if deadline is not None and loop.time() - record.sent_at > deadline:
            raise ApiError(404, 10062, "Unknown interaction")
        body = call.json or {}
        kind = body.get("type")
        data = body.get("data") or {}
        if kind not in ALLOWED_CALLBACKS.get(record.type, set()):
            error = _field_error("INTERACTION_RESPONSE_TYPE_INVALID", "Invalid response type.")
            raise _form_error({"type": error})
        if kind == APPLICATION_COMMAND_AUTOCOMPLETE_RESULT:
            _validate_choices(data.get("choices", []), "data.choices")
        resource: dict[str, Any] = {"type": kind}
        if kind in (CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE):
            if kind == CHANNEL_MESSAGE_WITH_SOURCE:
                _validate_message(data, call.files)
                flags = data.get("flags", 0) & (EPHEMERAL | SENDABLE_FLAGS)
                message = self._new_message(record, data, call.files, flags)
            else:
                flags = (data.get("flags", 0) & EPHEMERAL) | LOADING
                message = self._new_message(record, {"content": ""}, [], flags)
                record.deferred = True
            record.original = message
            resource["message"] = message
            await self._store_and_echo(message, "MESSAGE_CREATE")
        elif kind in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE):
            message = self._component_message(record)
            if kind == UPDATE_MESSAGE:
                _apply_edit(message, data, call.files)
                resource["message"] = message
                await self._store_and_echo(message, "MESSAGE_UPDATE")
            record.original = message
        record.acknowledged = True
        if call.query.get("with_response", "").lower() not in ("1", "true"):
            return 204, None
        summary: dict[str, Any] = {"id": str(record.id), "type": record.type}
        if record.original is not None and kind in (4, 5):
            summary |= {
                "response_message_id": record.original["id"],
                "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
                "response_message_ephemeral": bool(record.original["flags"] & EPHEMERAL),
            }
        return 200, {"interaction": summary, "resource": resource}

    def _component_message(self, record: InteractionRecord) -> dict[str, Any]:
        sent = record.payload.get("message") or {}
        message_id = int(sent.get("id", 0))
        return self.messages.get(message_id) or self.ephemeral.get(message_id) or sent

    def _interaction_for_webhook(self, app_id: str, token: str) -> InteractionRecord:
        record = self._by_token(token)
        if int(app_id) != APPLICATION_ID or record is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        loop = asyncio.get_running_loop()
        if record.expired or loop.time() - record.sent_at > self.token_lifetime:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        if not record.acknowledged:
            raise ApiError(404, 10015, "Unknown Webhook")
        return record

    async def _followup(self, call: Call, app_id: str, token: str) -> tuple[int, Any]:
        record = self._interaction_for_webhook(app_id, token)
        data = call.json or {}
        _validate_message(data, call.files)
        if record.deferred and record.original is not None:
            # The first follow-up after a deferral fills the "thinking" message, which keeps
            # the ephemerality chosen when deferring.
            message = record.original
            message["flags"] &= ~LOADING
            _apply_edit(message, data, call.files, mark_edited=False)
            record.deferred = False
            await self._store_and_echo(message, "MESSAGE_UPDATE")
        else:
            flags = data.get("flags", 0) & (EPHEMERAL | SENDABLE_FLAGS)
            message = self._new_message(record, data, call.files, flags)
            await self._store_and_echo(message, "MESSAGE_CREATE")
        record.followups.append(message)
        if call.query.get("wait", "").lower() not in ("1", "true"):
            return 204, None
        return 200, message

    def _original(self, app_id: str, token: str) -> tuple[InteractionRecord, dict[str, Any]]:
        record = self._interaction_for_webhook(app_id, token)
        if record.original is None:
            raise ApiError(404, 10008, "Unknown Message")
        return record, record.original

    async def _get_original(self, call: Call, app_id: str, token: str) -> tuple[int, Any]:
        return 200, self._original(app_id, token)[1]

    async def _edit_original(self, call: Call, app_id: str, token: str) -> tuple[int, Any]:
        record, message = self._original(app_id, token)
        loading = bool(message["flags"] & LOADING)
        message["flags"] &= ~LOADING
        _apply_edit(message, call.json or {}, call.files, mark_edited=not loading)
        record.deferred = False
        await self._store_and_echo(message, "MESSAGE_UPDATE")
        return 200, message

    async def _delete_original(self, call: Call, app_id: str, token: str) -> tuple[int, Any]:
        record, message = self._original(app_id, token)
        self.messages.pop(int(message["id"]), None)
        self.ephemeral.pop(int(message["id"]), None)
        record.original = None
        return 204, None

    def _followup_message(
        self, app_id: str, token: str, message_id: str
    ) -> tuple[InteractionRecord, dict[str, Any]]:
        record = self._interaction_for_webhook(app_id, token)
        candidates = [*record.followups, *([record.original] if record.original else [])]
        found = next((m for m in candidates if m["id"] == message_id), None)
        if found is None:
            raise ApiError(404, 10008, "Unknown Message")
        return record, found

    async def _get_followup(
        self, call: Call, app_id: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        return 200, self._followup_message(app_id, token, message_id)[1]

    async def _edit_followup(
        self, call: Call, app_id: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        _, message = self._followup_message(app_id, token, message_id)
        _apply_edit(message, call.json or {}, call.files)
        await self._store_and_echo(message, "MESSAGE_UPDATE")
        return 200, message

    async def _delete_followup(
        self, call: Call, app_id: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        record, message = self._followup_message(app_id, token, message_id)
        self.messages.pop(int(message["id"]), None)
        self.ephemeral.pop(int(message["id"]), None)
        record.followups.remove(message)
        return 204, None

    # channels and messages

    def _channel_json(self, channel_id: int) -> dict[str, Any]:
        for guild in self.guilds:
            channel = guild.channel(channel_id)
            if channel is not None:
                return channel.json(guild.id)
        if channel_id in self._dm_recipients:
            user = self.users[self._dm_recipients[channel_id]]
            return dm_channel(user)
        raise ApiError(404, 10003, "Unknown Channel")

    def _guild_of(self, channel_id: int) -> Guild | None:
        return next((g for g in self.guilds if g.channel(channel_id) is not None), None)

    async def _get_channel(self, call: Call, channel_id: str) -> tuple[int, Any]:
        return 200, self._channel_json(int(channel_id))

    async def _create_message(self, call: Call, channel_id: str) -> tuple[int, Any]:
        channel = int(channel_id)
        self._channel_json(channel)
        guild = self._guild_of(channel)
        if guild is not None and not guild.permissions(self.bot.id) & SEND_MESSAGES:
            raise ApiError(403, 50013, "Missing Permissions")
        if guild is None and self._dm_recipients.get(channel) in self.closed_dms:
            raise ApiError(403, 50007, "Cannot send messages to this user")
        data = call.json or {}
        _validate_message(data, call.files)
        nonce = data.get("nonce")
        loop = asyncio.get_running_loop()
        key = ("author" if self.nonce_scope == "author" else channel, str(nonce))
        if nonce is not None and data.get("enforce_nonce"):
            earlier = self._nonces.get(key)
            if earlier is not None and loop.time() - earlier[0] < self.nonce_window:
                message = self.messages.get(earlier[1])
                if message is not None:
                    return 200, message
        flags = data.get("flags", 0) & SENDABLE_FLAGS
        message = self._message_json(channel, data, call.files, flags=flags)
        if nonce is not None:
            message["nonce"] = nonce
            self._nonces[key] = (loop.time(), int(message["id"]))
        await self._store_and_echo(message, "MESSAGE_CREATE")
        return 200, message

    def _own_message(self, channel_id: str, message_id: str) -> dict[str, Any]:
        message = self.messages.get(int(message_id))
        if message is None or message["channel_id"] != channel_id:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    async def _get_message(self, call: Call, channel_id: str, message_id: str) -> tuple[int, Any]:
        return 200, self._own_message(channel_id, message_id)

    async def _edit_message(self, call: Call, channel_id: str, message_id: str) -> tuple[int, Any]:
        message = self._own_message(channel_id, message_id)
        if int(message["author"]["id"]) != self.bot.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        _apply_edit(message, call.json or {}, call.files)
        await self._store_and_echo(message, "MESSAGE_UPDATE")
        return 200, message

    async def _delete_message(
        self, call: Call, channel_id: str, message_id: str
    ) -> tuple[int, Any]:
        self._own_message(channel_id, message_id)
        del self.messages[int(message_id)]
        guild = self._guild_of(int(channel_id))
        deleted = {"id": message_id, "channel_id": channel_id}
        if guild is not None:
            deleted["guild_id"] = str(guild.id)
        await self.dispatch("MESSAGE_DELETE", deleted)
        return 204, None

    async def _typing(self, call: Call, channel_id: str) -> tuple[int, Any]:
        self._channel_json(int(channel_id))
        return 204, None

    def _new_message(
        self,
        record: InteractionRecord,
        data: dict[str, Any],
        files: list[UploadedFile],
        flags: int,
    ) -> dict[str, Any]:
        """A message the bot sends through an interaction (a webhook message)."""
        payload = record.payload
        message = self._message_json(int(payload["channel_id"]), data, files, flags=flags)
        user = payload.get("member", {}).get("user") or payload.get("user")
        message |= {
            "type": 20 if record.type == APPLICATION_COMMAND else 0,
            "webhook_id": str(APPLICATION_ID),
            "application_id": str(APPLICATION_ID),
            "interaction_metadata": {
                "id": str(record.id),
                "type": record.type,
                "user": user,
                "authorizing_integration_owners": payload.get("authorizing_integration_owners", {}),
            },
        }
        if record.type == MESSAGE_COMPONENT and "message" in payload:
            message["interaction_metadata"]["interacted_message_id"] = payload["message"]["id"]
        if record.type == APPLICATION_COMMAND:
            message["interaction"] = {
                "id": str(record.id),
                "type": record.type,
                "name": payload["data"]["name"],
                "user": user,
            }
        return message

    def _message_json(
        self, channel_id: int, data: dict[str, Any], files: list[UploadedFile], *, flags: int
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "id": str(snowflake()),
            "channel_id": str(channel_id),
            "type": 19 if data.get("message_reference") else 0,
            "content": data.get("content") or "",
            "author": self.bot.json(),
            "timestamp": _iso(),
            "edited_timestamp": None,
            "tts": bool(data.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": _attachments(data, files),
            "embeds": data.get("embeds") or [],
            "components": data.get("components") or [],
            "pinned": False,
            "flags": flags & (EPHEMERAL | SENDABLE_FLAGS | LOADING),
        }
        if data.get("message_reference"):
            message["message_reference"] = {"type": 0, **data["message_reference"]}
        if data.get("poll"):
            message["poll"] = data["poll"]
        return message

    async def _store_and_echo(self, message: dict[str, Any], event: str) -> None:
        if message["flags"] & EPHEMERAL:
            self.ephemeral[int(message["id"])] = message
            return
        self.messages[int(message["id"])] = message
        if not self.echo_own_messages:
            return
        echoed = dict(message)
        guild = self._guild_of(int(message["channel_id"]))
        if guild is not None:
            echoed |= {"guild_id": str(guild.id), "member": guild.member_json(None, self.bot.id)}
        await self.dispatch(event, echoed)


# -- helpers ---------------------------------------------------------------------------------


def _kind(command: dict[str, Any]) -> int:
    return command.get("type", 1)


def _leaf_options(command: dict[str, Any]) -> list[dict[str, Any]]:
    """The options of a command that take values (those under subcommands too)."""
    found = []
    for each in command.get("options") or []:
        if each["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP):
            found.extend(_leaf_options(each))
        else:
            found.append(each)
    return found


def _custom_ids(components: list[dict[str, Any]]) -> Iterator[str]:
    for each in components:
        if "custom_id" in each:
            yield each["custom_id"]
        yield from _custom_ids(each.get("components", []))
        if "accessory" in each:
            yield from _custom_ids([each["accessory"]])


def _attachments(data: dict[str, Any], files: list[UploadedFile]) -> list[dict[str, Any]]:
    attachments = []
    for index, upload in enumerate(files):
        described = next(
            (a for a in data.get("attachments", []) if str(a.get("id")) == str(index)), {}
        )
        attachment_id = snowflake()
        filename = described.get("filename") or upload.filename or "file"
        url = f"https://cdn.discordapp.com/attachments/0/{attachment_id}/{filename}"
        attachments.append(
            {
                "id": str(attachment_id),
                "filename": filename,
                "size": len(upload.data),
                "url": url,
                "proxy_url": url.replace("cdn.discordapp.com", "media.discordapp.net"),
                "content_type": upload.content_type,
                "description": described.get("description"),
            }
        )
    return attachments


def _apply_edit(
    message: dict[str, Any],
    data: dict[str, Any],
    files: list[UploadedFile],
    *,
    mark_edited: bool = True,
) -> None:
    if "content" in data and data["content"] is not None and len(data["content"]) > 2000:
        error = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        raise _form_error({"content": error})
    for key in ("content", "embeds", "components"):
        if key in data:
            message[key] = data[key] if data[key] is not None else ([] if key != "content" else "")
    if files or "attachments" in data:
        kept = [
            a
            for a in message.get("attachments", [])
            if any(str(b.get("id")) == a["id"] for b in data.get("attachments", []))
        ]
        message["attachments"] = kept + _attachments(data, files)
    if "flags" in data and data["flags"] is not None:
        kept_flags = message["flags"] & ~SUPPRESS_EMBEDS
        message["flags"] = kept_flags | (data["flags"] & SUPPRESS_EMBEDS)
    if mark_edited:
        message["edited_timestamp"] = _iso()


def _validate_message(data: dict[str, Any], files: list[UploadedFile]) -> None:
    content = data.get("content") or ""
    if len(content) > 2000:
        error = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        raise _form_error({"content": error})
    if len(data.get("embeds") or []) > 10:
        error = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        raise _form_error({"embeds": error})
    parts = ("embeds", "components", "sticker_ids", "poll", "attachments")
    if not content and not files and not any(data.get(key) for key in parts):
        raise ApiError(400, 50006, "Cannot send an empty message")


def _validate_choices(choices: list[dict[str, Any]], where: str) -> None:
    errors: dict[str, Any] = {}
    if len(choices) > 25:
        errors[where] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    for index, choice in enumerate(choices):
        name = str(choice.get("name", ""))
        if not 1 <= len(name) <= 100:
            errors[f"{where}.{index}.name"] = _field_error(
                "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        if isinstance(choice.get("value"), str) and len(choice["value"]) > 100:
            errors[f"{where}.{index}.value"] = _field_error(
                "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."
            )
    if errors:
        raise _form_error(errors)


def _validate_commands(commands: list[dict[str, Any]]) -> None:
    """Discord's checks of a command tree, answered as its 50035 errors (keys as the paths of
    the fields at fault)."""
    errors: dict[str, Any] = {}
    chat_input = [c for c in commands if _kind(c) == 1]
    if len(chat_input) > 100:
        errors["_errors"] = [
            {"code": "APPLICATION_COMMANDS_MAX", "message": "Too many application commands."}
        ]
    seen: set[tuple[str, int]] = set()
    for index, command in enumerate(commands):
        key = (command.get("name", ""), _kind(command))
        if key in seen:
            errors[f"{index}.name"] = _field_error(
                "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique"
            )
        seen.add(key)
        _check_entity(command, str(index), errors, slash=_kind(command) == 1)
    if errors:
        raise _form_error(errors)


def _check_entity(entity: dict[str, Any], where: str, errors: dict, *, slash: bool) -> None:
    """Check a command's or option's name, description, localizations and options."""
    name = entity.get("name", "")
    if not _valid_name(name, slash=slash):
        errors[f"{where}.name"] = _field_error(
            "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
        )
    for locale, localized in (entity.get("name_localizations") or {}).items():
        if locale not in LOCALES:
            errors[f"{where}.name_localizations.{locale}"] = _field_error(
                "LOCALE_INVALID", f"Invalid locale {locale}"
            )
        elif not _valid_name(localized, slash=slash):
            errors[f"{where}.name_localizations.{locale}"] = _field_error(
                "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
            )
    description = entity.get("description", "")
    if slash and not 1 <= len(description) <= 100:
        errors[f"{where}.description"] = _field_error(
            "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
        )
    for locale, localized in (entity.get("description_localizations") or {}).items():
        if locale not in LOCALES:
            errors[f"{where}.description_localizations.{locale}"] = _field_error(
                "LOCALE_INVALID", f"Invalid locale {locale}"
            )
        elif not 1 <= len(localized) <= 100:
            errors[f"{where}.description_localizations.{locale}"] = _field_error(
                "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
    options = entity.get("options") or []
    if len(options) > 25:
        errors[f"{where}.options"] = _field_error(
            "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
        )
    optional_seen = False
    names: set[str] = set()
    for index, each in enumerate(options):
        at = f"{where}.options.{index}"
        if each.get("name") in names:
            errors[f"{at}.name"] = _field_error(
                "APPLICATION_COMMAND_OPTIONS_DUPLICATE_NAME", "Option names must be unique"
            )
        names.add(each.get("name"))
        if each.get("type") not in (SUB_COMMAND, SUB_COMMAND_GROUP):
            if each.get("required") and optional_seen:
                errors[f"{at}.required"] = _field_error(
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
            optional_seen = optional_seen or not each.get("required")
        if each.get("autocomplete") and each.get("choices"):
            errors[f"{at}.autocomplete"] = _field_error(
                "AUTOCOMPLETE_CHOICES_CONFLICT", "Autocomplete and choices cannot both be set"
            )
        if each.get("choices"):
            _validate_choices_into(each["choices"], f"{at}.choices", errors)
        _check_entity(each, at, errors, slash=True)


def _validate_choices_into(choices: list[dict[str, Any]], where: str, errors: dict) -> None:
    try:
        _validate_choices(choices, where)
    except ApiError as error:
        errors.update(error.errors or {})


def _valid_name(name: str, *, slash: bool) -> bool:
    if not slash:
        return 1 <= len(name) <= 32
    return bool(NAME_PATTERN.match(name)) and name == name.lower()


# -- pointing discord.py at it ---------------------------------------------------------------


@contextmanager
def point_discord_py_at(server: DiscordServer) -> Iterator[None]:
    """Make discord.py (every client made in this process meanwhile) talk to ``server``:
    REST through ``discord.http.Route.BASE`` (what ``discord.http._set_api_version`` sets;
    webhooks and interaction callbacks use it too), the gateway through
    ``DiscordWebSocket.DEFAULT_GATEWAY`` (``discord.Client`` connects there first; READY's
    ``resume_gateway_url`` points back at the server for resumes). Both restored after."""
    import yarl
    from discord import http
    from discord.gateway import DiscordWebSocket

    saved = http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    http.Route.BASE = server.api_url
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(server.gateway_url)
    try:
        yield
    finally:
        http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved
