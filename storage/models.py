"""The tables, in CapX's own vocabulary so that a later sync is lossless.

Capacity codes are CapX skill ids. A person's relation to a capacity is one of
``known | available | wanted`` (available implies known); a language level is
``0..5`` or ``n`` (native). Every change to these classes needs an Alembic
migration in ``storage/migrations/versions``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text, UniqueConstraint, false, true
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (SQLModel stores and returns it as UTC)."""
    return datetime.now(UTC)


class Relation(StrEnum):
    """How a person relates to a capacity (CapX: skills known, available, wanted)."""

    KNOWN = "known"
    AVAILABLE = "available"
    WANTED = "wanted"


LANGUAGE_LEVELS = ("0", "1", "2", "3", "4", "5", "n")
"""CapX proficiency levels, lowest first; ``n`` is a native speaker."""

USABLE_LEVELS = ("2", "3", "4", "5", "n")
"""Levels at which two people can work together in a language."""


class Person(SQLModel, table=True):
    """A volunteer. Identities on chat platforms point here; the ACL subject is this row."""

    # Matching reads the people of a country, of an affiliate, or of both, in id order, and
    # stops at the tenth match: each index lists them so, with every column such a read
    # filters on, so that none of it visits the table (see docs/design.md, "Matching").
    __table_args__ = (
        Index(
            "ix_person_territory_read",
            "territory_code",
            "id",
            "discoverable",
            "last_active_at",
            "organization_id",
        ),
        Index(
            "ix_person_organization_read",
            "organization_id",
            "id",
            "discoverable",
            "last_active_at",
            "territory_code",
        ),
        Index(
            "ix_person_territory_organization_read",
            "territory_code",
            "organization_id",
            "id",
            "discoverable",
            "last_active_at",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str | None = Field(default=None, max_length=255, unique=True)
    """Wikimedia username, set only from a verified source (OAuth, CapX sync, demo seed)."""
    display_name: str = Field(max_length=255)
    about: str | None = Field(default=None, max_length=500)
    territory_code: str | None = Field(default=None, foreign_key="territory.code", max_length=8)
    organization_id: int | None = Field(default=None, foreign_key="organization.id")
    discoverable: bool = Field(default=False)
    locale: str | None = Field(default=None, max_length=16)
    """The language the bot speaks to this person, when they chose one."""
    source: str = Field(default="chat", max_length=8)
    """Where the profile was made: ``chat``, ``capx`` or ``demo``."""
    timezone: str | None = Field(default=None, max_length=64)
    """The IANA time zone the person chose for times shown to them privately."""
    contacts_open: bool = Field(default=True, sa_column_kwargs={"server_default": true()})
    """Whether others may ask the bot to introduce them (``contacts on|off``)."""
    capx_id: int | None = Field(default=None, unique=True)
    """The CapX profile id of a profile mirrored from CapX (``source='capx'``)."""
    capx_updated_at: datetime | None = None
    """CapX's ``last_update`` of the mirrored profile, as last read."""
    capx_seen_at: datetime | None = None
    """The start of the last full reconcile that found the profile still listed at CapX."""
    contact_links: str | None = Field(default=None, sa_column=Column(Text))
    """A CapX profile's public contact links, as JSON ``[[label, url], ...]``: web
    addresses only, never an e-mail address."""
    created_at: datetime = Field(default_factory=utcnow)
    last_active_at: datetime = Field(default_factory=utcnow)


class ChatIdentity(SQLModel, table=True):
    """One account on one platform, owned by one person."""

    __tablename__ = "chat_identity"
    __table_args__ = (UniqueConstraint("platform", "account_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    account_id: str = Field(max_length=255)
    person_id: int = Field(foreign_key="person.id", index=True)
    handle: str | None = Field(default=None, max_length=255)
    """The public name others use to reach this account on its platform, only when the
    platform says it is the account's own (a Telegram username, a Matrix user id); never a
    display name, which anyone can choose."""


class Capacity(SQLModel, table=True):
    """A node of the CapX capacity tree."""

    code: int = Field(primary_key=True)
    parent_code: int | None = Field(default=None, foreign_key="capacity.code", index=True)
    root_code: int
    depth: int
    wikidata_qid: str | None = Field(default=None, max_length=16)


class CapacityName(SQLModel, table=True):
    """A capacity's name and description in one language."""

    __tablename__ = "capacity_name"

    code: int = Field(foreign_key="capacity.code", primary_key=True)
    lang: str = Field(primary_key=True, max_length=16)
    name: str = Field(max_length=255)
    description: str | None = Field(default=None, sa_column=Column(Text))
    source: str = Field(default="capx", max_length=16, sa_column_kwargs={"server_default": "capx"})
    """Who wrote the name: ``capx`` (CapX's own data) or ``capx-bot`` (the bot's translation,
    which CapX's replaces when it has one)."""


class PersonCapacity(SQLModel, table=True):
    """One relation of a person to a capacity."""

    __tablename__ = "person_capacity"
    __table_args__ = (Index("ix_person_capacity_match", "capacity_code", "relation", "person_id"),)

    person_id: int = Field(foreign_key="person.id", primary_key=True)
    capacity_code: int = Field(foreign_key="capacity.code", primary_key=True)
    relation: str = Field(primary_key=True, max_length=9)


class PersonLanguage(SQLModel, table=True):
    """A language a person speaks, with a CapX proficiency level."""

    __tablename__ = "person_language"
    __table_args__ = (Index("ix_person_language_match", "lang", "level", "person_id"),)

    person_id: int = Field(foreign_key="person.id", primary_key=True)
    lang: str = Field(primary_key=True, max_length=16)
    level: str = Field(max_length=1)


class Language(SQLModel, table=True):
    """A language known to CLDR, with its English name and its own name."""

    code: str = Field(primary_key=True, max_length=16)
    name_en: str = Field(max_length=255)
    autonym: str | None = Field(default=None, max_length=255)


class Territory(SQLModel, table=True):
    """A Wikimedia region (``kind='region'``) or a country inside one."""

    code: str = Field(primary_key=True, max_length=8)
    """Region id (``LAC``) or lower-case ISO 3166-1 alpha-2 (``br``)."""
    kind: str = Field(max_length=8)
    name_en: str = Field(max_length=255)
    parent_code: str | None = Field(default=None, foreign_key="territory.code", index=True)


class Organization(SQLModel, table=True):
    """A Wikimedia affiliate (chapter, user group, thematic organization)."""

    id: int | None = Field(default=None, primary_key=True)
    acronym: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=255)
    kind: str = Field(max_length=32)
    capx_id: int | None = Field(default=None, unique=True)
    """The organization's id at CapX, once a sync has found it there."""


class NeedStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Need(SQLModel, table=True):
    """A request for help with a capacity, posted in a room. Its number (``id``) is given by
    :func:`core.services.needs.next_number`, never twice."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    capacity_code: int = Field(foreign_key="capacity.code", index=True)
    text: str = Field(max_length=1000)
    platform: str = Field(max_length=16)
    room_id: str = Field(max_length=255)
    status: str = Field(default=NeedStatus.OPEN, max_length=8, index=True)
    created_at: datetime = Field(default_factory=utcnow)


class NeedResponse(SQLModel, table=True):
    """Someone's offer to help with a need; both sides have consented to share contacts."""

    __tablename__ = "need_response"
    __table_args__ = (
        UniqueConstraint("need_id", "person_id"),
        Index("ix_need_response_load", "person_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    need_id: int = Field(foreign_key="need.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow)


class Room(SQLModel, table=True):
    """A group chat or direct chat the bot is in, with its settings."""

    __table_args__ = (UniqueConstraint("platform", "room_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    room_id: str = Field(max_length=255)
    locale: str | None = Field(default=None, max_length=16)
    timezone: str | None = Field(default=None, max_length=64)
    title: str | None = Field(default=None, max_length=255)
    """The room's name as the platform last told it, to say where a need was posted."""
    needs_public: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    """Whether the room's needs are also listed in private chats (``roomneeds public``)."""
    reminders_on: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    reminder_offsets: str = Field(
        default="1440,60", max_length=64, sa_column_kwargs={"server_default": "1440,60"}
    )
    """Minutes before an event at which the room is reminded, comma-separated."""
    reminder_capacities: str | None = Field(default=None, sa_column=Column(Text))
    """The capacity codes whose events the room is reminded of, comma-separated (and their
    narrower capacities); None for every event."""


class SyncState(SQLModel, table=True):
    """A named cursor kept across restarts (Matrix next_batch, Telegram offset, CapX sync)."""

    __tablename__ = "sync_state"

    key: str = Field(primary_key=True, max_length=128)
    value: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class UnreachableChat(SQLModel, table=True):
    """A chat the bot cannot deliver to (the person blocked the bot, the group is gone), so
    that it is recorded once instead of retried; cleared when the chat speaks again."""

    __tablename__ = "unreachable_chat"
    __table_args__ = (UniqueConstraint("platform", "chat_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=255)
    reason: str = Field(max_length=64)
    since: datetime = Field(default_factory=utcnow)


class StoredButton(SQLModel, table=True):
    """A button whose command runs only for its owner, or whose command line is too long
    for the platform's button: the platform carries only ``token``."""

    __tablename__ = "button"
    __table_args__ = (Index("ix_button_owner", "owner_platform", "owner_account"),)

    token: str = Field(primary_key=True, max_length=32)
    owner_platform: str | None = Field(default=None, max_length=16)
    owner_account: str | None = Field(default=None, max_length=255)
    """The account the button was shown to; None when anyone may press it."""
    command: str = Field(sa_column=Column(Text, nullable=False))
    """The command line the press runs, as its owner."""
    confirms: bool = Field(default=False)
    """A one-time confirmation of a destructive command (``forget``)."""
    expires_at: datetime = Field(index=True)


class DirectRoom(SQLModel, table=True):
    """A room known to be private to the bot and one account (a Matrix direct room), the only
    kind of room a private answer may go to."""

    __tablename__ = "direct_room"
    __table_args__ = (UniqueConstraint("platform", "room_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    room_id: str = Field(max_length=255)
    account_id: str = Field(max_length=255, index=True)
    created_at: datetime = Field(default_factory=utcnow)


class OutboxState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    UNREACHABLE = "unreachable"
    EXPIRED = "expired"


class OutboxMessage(SQLModel, table=True):
    """A message the bot sends on its own (to a person on any platform, to a room), kept
    until its platform's adapter has delivered it: written in the same transaction as the
    change that caused it, so that nothing is lost on a restart and nothing goes twice."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "platform", "state", "not_before"),
        Index("ix_outbox_account", "platform", "account_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    room_id: str | None = Field(default=None, max_length=255)
    account_id: str | None = Field(default=None, max_length=255)
    thread_id: str | None = Field(default=None, max_length=255)
    content: str = Field(sa_column=Column(Text, nullable=False))
    """One reply, as JSON (see :func:`core.types.replies_to_json`)."""
    dedupe_key: str = Field(max_length=255, unique=True)
    """What caused it, so that the same cause never queues it twice."""
    state: str = Field(default=OutboxState.PENDING, max_length=12)
    not_before: datetime
    expires_at: datetime
    attempts: int = Field(default=0)
    lease_until: datetime | None = None
    """A sender's claim: until then no other sender takes it; after, a crashed sender's
    claim is taken over."""
    message_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    event_id: int | None = Field(default=None, index=True)
    """The event a reminder is about, so that a change to the event finds its reminders."""


class EventMode(StrEnum):
    ONLINE = "online"
    IN_PERSON = "in_person"
    HYBRID = "hybrid"


class EventStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class Event(SQLModel, table=True):
    """A capacity-related event. Times are stored in UTC; ``timezone`` is the organizer's,
    in which the event is shown where the reader has none. An imported event is found again
    by its ``source`` and ``source_id``."""

    __table_args__ = (
        UniqueConstraint("source", "source_id"),
        Index("ix_event_upcoming", "status", "starts_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=255)
    description: str | None = Field(default=None, sa_column=Column(Text))
    starts_at: datetime
    ends_at: datetime
    timezone: str = Field(max_length=64)
    mode: str = Field(default=EventMode.ONLINE, max_length=12)
    link: str | None = Field(default=None, max_length=1000)
    organizer_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    platform: str | None = Field(default=None, max_length=16)
    room_id: str | None = Field(default=None, max_length=255)
    """The room it was added in, whose admins may change it."""
    source: str = Field(default="manual", max_length=8)
    """``manual``, ``ical`` or ``capx``."""
    source_id: str | None = Field(default=None, max_length=255)
    status: str = Field(default=EventStatus.SCHEDULED, max_length=12)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    planned_at: datetime | None = None
    """When its reminders were last planned; None while it is beyond the planning horizon
    (see :mod:`core.services.reminders`)."""


class EventCapacity(SQLModel, table=True):
    __tablename__ = "event_capacity"

    event_id: int = Field(foreign_key="event.id", primary_key=True)
    capacity_code: int = Field(foreign_key="capacity.code", primary_key=True, index=True)


class Rsvp(SQLModel, table=True):
    """A person going to an event, reminded privately on the account they said it from."""

    event_id: int = Field(foreign_key="event.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True, index=True)
    platform: str = Field(max_length=16)
    account_id: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)


class RequestState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"


class ContactRequest(SQLModel, table=True):
    """One person asking to be introduced to another; contacts are shared only on accept."""

    __tablename__ = "contact_request"
    __table_args__ = (
        Index("ix_contact_request_asked", "person_id", "created_at"),
        Index("ix_contact_request_open", "state", "expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    asker_id: int = Field(foreign_key="person.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    capacity_code: int | None = Field(default=None, foreign_key="capacity.code")
    message: str | None = Field(default=None, max_length=300)
    state: str = Field(default=RequestState.PENDING, max_length=10)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    answered_at: datetime | None = None
