"""The contract between the core and every adapter.

An adapter turns a platform update into an :class:`Incoming`, hands it to the core, and
renders each :class:`Reply` it gets back in the platform's own way (HTML, embeds, plain
text). A reply is structured content, never a pre-rendered string, so that user-made text
is escaped by the renderer and buttons degrade to numbered choices where a platform has
none.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Actor:
    """Who spoke: an account on a platform. The security subject is the person it resolves to."""

    platform: str
    account_id: str
    display_name: str
    handle: str | None = None
    """A public name others can use to reach this account (``@ana``, ``@ana:example.org``)."""
    locale_hint: str | None = None
    """The language the platform reports for this account, if any."""
    is_room_admin: bool = False
    is_anonymous: bool = False
    """Not a person: a group's anonymous admin, a channel, an automatic forward. Such an actor
    may look things up but never acts as, or for, a person."""


@dataclass(frozen=True)
class Conversation:
    """Where it was said: a room on a platform, direct (one-to-one) or a group."""

    platform: str
    room_id: str
    is_direct: bool
    thread_id: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class Incoming:
    """One command said by an actor in a conversation.

    ``command`` is the word after the platform's prefix (``/find@bot``, ``!capx find``), lower
    case; ``arguments`` is the raw rest of the line. ``event_id`` lets an adapter drop
    duplicates.
    """

    actor: Actor
    conversation: Conversation
    command: str
    arguments: str = ""
    event_id: str | None = None
    timestamp: datetime | None = None
    pressed: str | None = None
    """The token of the button the actor pressed (see :class:`Button`); ``command`` and
    ``arguments`` are then empty, and the core runs what the button stands for."""
    options: dict[str, str] | None = None
    """The parameters' values by name, where the platform has typed options (a Discord slash
    command): the core reads them instead of ``arguments``."""


@dataclass(frozen=True)
class Choice:
    """A completion of what someone is typing: ``label`` to show, ``value`` to fill in."""

    label: str
    value: str


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Button:
    """A choice. Handlers make it with the ``command`` line it runs; the core hands adapters
    either that line (a look-up anyone may run, short enough for any platform: run it as if
    its presser had typed it) or, instead, a ``token`` for :attr:`Incoming.pressed` (a button
    that works only for the person it was shown to, or a line too long to carry)."""

    label: str
    command: str = ""
    token: str | None = None
    confirms: bool = False
    """A one-time confirmation of a destructive command: only a press of this button, by
    its owner, within minutes, runs ``command`` confirmed; no typed line can."""
    for_anyone: bool = False
    """Offered to everyone who sees it ("I can help" under a need): it runs as its presser
    whoever that is, so its line is the bot's own and never carries a person's words."""


@dataclass(frozen=True)
class Item:
    """One entry of a list: a line, with an optional explanation under it."""

    text: str
    detail: str | None = None


@dataclass(frozen=True)
class Attachment:
    """A file sent with a reply (such as the ``mydata`` export)."""

    filename: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class Recipient:
    """An account on a platform that should get a reply privately."""

    platform: str
    account_id: str


@dataclass(frozen=True)
class Reply:
    """What the bot says, as structure. Every string is plain text, already translated.

    ``private`` replies go to a direct chat with the actor, or with ``recipient`` when set
    (another person, such as the author of a need someone offers to help with). In a group, an
    adapter that moves a reply to a private chat tells the room so.
    """

    title: str | None = None
    paragraphs: tuple[str, ...] = ()
    items: tuple[Item, ...] = ()
    links: tuple[Link, ...] = ()
    buttons: tuple[Button, ...] = ()
    attachment: Attachment | None = None
    private: bool = False
    recipient: Recipient | None = None
    locale: str = "en"
    """The locale the text is in; renderers use it for direction and quotes."""
    is_error: bool = False
    private_notice: bool = False
    """This reply only tells a group that the answers went to a private chat. An adapter may
    add a way to get there (a deep link), or drop it where private answers show in place."""
    ephemeral: bool = False
    """A short answer to a button press meant for the presser alone (a toast, an ephemeral
    message) where the platform has such a thing; elsewhere an ordinary reply."""


@dataclass(frozen=True)
class Target:
    """Where the bot sends a message on its own: a room (``room_id``, perhaps in a thread or
    forum topic) or a person's account (``account_id``: their private chat with the bot)."""

    platform: str
    room_id: str | None = None
    account_id: str | None = None
    thread_id: str | None = None


@dataclass(frozen=True)
class Sent:
    """Delivered; ``message_id`` is the platform's id of the (last) message."""

    message_id: str = ""


@dataclass(frozen=True)
class Unreachable:
    """The target cannot be reached (blocked the bot, gone): recorded, never tried again."""

    reason: str


@dataclass(frozen=True)
class Later:
    """Not now (a rate limit, a server away, a person who never opened a chat): try again in
    ``seconds``, until the message expires."""

    seconds: float
    reason: str = ""


Outcome = Sent | Unreachable | Later


@dataclass(frozen=True)
class Outgoing:
    """A message of the outbox for an adapter to send: ``key`` is unique to it, for platforms
    with an idempotency key (a Matrix transaction id), so that a retry never posts twice."""

    id: int
    target: Target
    reply: Reply
    key: str


def replies_to_json(replies: list[Reply]) -> str:
    """``replies`` as JSON text, for keeping them in the database."""

    def encode(value: Any) -> Any:
        if isinstance(value, bytes):
            return {"base64": base64.b64encode(value).decode("ascii")}
        raise TypeError(f"cannot store {type(value).__name__} in a reply")

    return json.dumps([asdict(reply) for reply in replies], default=encode, ensure_ascii=False)


def replies_from_json(text: str) -> list[Reply]:
    """The replies :func:`replies_to_json` stored."""
    replies = []
    for data in json.loads(text):
        attachment = data.pop("attachment")
        recipient = data.pop("recipient")
        replies.append(
            Reply(
                **{key: value for key, value in data.items() if key not in _NESTED},
                items=tuple(Item(**item) for item in data["items"]),
                links=tuple(Link(**link) for link in data["links"]),
                buttons=tuple(Button(**button) for button in data["buttons"]),
                paragraphs=tuple(data["paragraphs"]),
                attachment=attachment
                and Attachment(
                    attachment["filename"],
                    attachment["media_type"],
                    base64.b64decode(attachment["data"]["base64"]),
                ),
                recipient=recipient and Recipient(**recipient),
            )
        )
    return replies


_NESTED = {"items", "links", "buttons", "paragraphs"}
