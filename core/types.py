"""The contract between the core and every adapter.

An adapter turns a platform update into an :class:`Incoming`, hands it to the core, and
renders each :class:`Reply` it gets back in the platform's own way (HTML, embeds, plain
text). A reply is structured content, never a pre-rendered string, so that user-made text
is escaped by the renderer and buttons degrade to numbered choices where a platform has
none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Button:
    """A choice. Choosing it runs ``command`` as if its chooser had typed it."""

    label: str
    command: str


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
