"""Reminders of events: planned into the outbox, one message per event × target × offset.

:func:`plan` makes an event's messages in the outbox match what should be sent: a room with
reminders on (for the event's capacities) gets a post at each of its offsets, a person going
gets a private one at :data:`PERSONAL_OFFSETS`. It is safe to run any number of times: a key
(event, start, offset, target) never queues twice; a message no longer wanted (the room
turned reminders off, the person is no longer going, the start moved) is withdrawn while it
is pending; where reminders already went out for a start that changed or an event that was
cancelled, the change is told there. Only events starting within :data:`HORIZON` are
planned; the periodic job (:func:`plan_due`) plans each when it comes within it.

Day offsets keep the local time of day across a daylight-saving change (the reminder "1 day
before" an 18:00 event comes at 18:00 the day before); hour and minute offsets are exact.
A reminder not sent within :data:`LATE_BY` of its time is dropped by the outbox, never sent
late in a burst.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlmodel import Session, select

from core.i18n import N_, Translator, negotiate
from core.services import events, outbox
from core.services.taxonomy import Taxonomy
from core.types import Button, Link, Reply, Target, replies_from_json
from storage.models import (
    ChatIdentity,
    Event,
    EventMode,
    EventStatus,
    OutboxMessage,
    OutboxState,
    Person,
    Room,
    Rsvp,
)

HORIZON = timedelta(days=8)
MAX_OFFSET = timedelta(days=7)
MAX_OFFSETS = 4
PERSONAL_OFFSETS = (1440, 60)
"""Minutes before an event at which a person going to it is reminded."""
LATE_BY = timedelta(minutes=15)
MINUTES_PER = {"d": 1440, "h": 60, "m": 1}


def parse_offsets(text: str) -> list[int]:
    """``1d,1h,30m`` as minutes, largest first; ``ValueError`` for anything else (an offset
    beyond :data:`MAX_OFFSET`, more than :data:`MAX_OFFSETS`)."""
    minutes = set()
    for part in text.replace(" ", "").lower().split(","):
        if not part:
            continue
        duration = events.parse_duration(part)
        if duration is None or not timedelta(0) < duration <= MAX_OFFSET:
            raise ValueError(part)
        minutes.add(int(duration.total_seconds()) // 60)
    if not minutes or len(minutes) > MAX_OFFSETS:
        raise ValueError(text)
    return sorted(minutes, reverse=True)


def offsets_text(minutes: list[int]) -> str:
    """``[1440, 90]`` as ``1d, 1h30m``."""
    shown = []
    for total in minutes:
        parts = []
        for unit, size in MINUTES_PER.items():
            if total >= size:
                parts.append(f"{total // size}{unit}")
                total %= size
        shown.append("".join(parts))
    return ", ".join(shown)


def room_offsets(room: Room) -> list[int]:
    return [int(part) for part in room.reminder_offsets.split(",") if part]


def room_codes(room: Room) -> list[int] | None:
    """The capacities a room is reminded of, or None for all."""
    if room.reminder_capacities is None:
        return None
    return [int(part) for part in room.reminder_capacities.split(",") if part]


@dataclass(frozen=True)
class Delivery:
    """One wanted reminder: who, when, and in which language and time zone."""

    target: Target
    offset: int
    at: datetime
    locale: str | None
    zone: ZoneInfo
    for_room: bool


def remind_at(event: Event, offset: int) -> datetime:
    """When the reminder ``offset`` minutes before ``event`` is due (see the module's note
    on days)."""
    days, minutes = divmod(offset, 1440)
    local = event.starts_at.astimezone(events.zone(event.timezone))
    # Arithmetic on an aware datetime is on its wall clock: the same time of day, days before.
    return (local - timedelta(days=days)).astimezone(UTC) - timedelta(minutes=minutes)


def _key(event: Event, delivery: Delivery) -> str:
    target = delivery.target
    where = "\0".join(
        [target.platform, target.room_id or "", target.account_id or "", target.thread_id or ""]
    )
    digest = hashlib.sha256(where.encode()).hexdigest()[:32]
    return f"remind:{event.id}:{_start(event)}:{delivery.offset}:{digest}"


def _start(event: Event) -> int:
    return int(event.starts_at.timestamp())


def wanted(session: Session, taxonomy: Taxonomy, event: Event, now: datetime) -> list[Delivery]:
    """Every reminder ``event`` should have from now on (none once it is cancelled, started
    or beyond the horizon)."""
    if event.status != EventStatus.SCHEDULED or not now < event.starts_at <= now + HORIZON:
        return []
    codes = set(events.capacities_of(session, event.id))
    own_zone = events.zone(event.timezone)
    found = []
    for room in session.exec(select(Room).where(Room.reminders_on.is_(True)).order_by(Room.id)):
        filter_codes = room_codes(room)
        if filter_codes is not None and not codes & _with_narrower(taxonomy, filter_codes):
            continue
        target = Target(room.platform, room_id=room.room_id)
        zone = events.zone(room.timezone) if room.timezone else own_zone
        for offset in room_offsets(room):
            found.append(
                Delivery(target, offset, remind_at(event, offset), room.locale, zone, True)
            )
    going = select(Rsvp, Person).join(Person).where(Rsvp.event_id == event.id)
    for rsvp, person in session.exec(going.order_by(Rsvp.created_at)):
        target = Target(rsvp.platform, account_id=rsvp.account_id)
        zone = events.zone(person.timezone) if person.timezone else own_zone
        for offset in PERSONAL_OFFSETS:
            at = remind_at(event, offset)
            found.append(Delivery(target, offset, at, person.locale, zone, False))
    return [d for d in found if d.at + LATE_BY > now]


def _with_narrower(taxonomy: Taxonomy, codes: list[int]) -> set[int]:
    return {narrower for code in codes for narrower in (code, *taxonomy.descendants(code))}


def plan(
    session: Session, taxonomy: Taxonomy, event: Event, now: datetime, only: Target | None = None
) -> int:
    """Make ``event``'s reminders in the outbox what they should be (only those for the room
    or account ``only``, when given); how many messages were queued."""
    deliveries = wanted(session, taxonomy, event, now)
    if only is not None:
        deliveries = [d for d in deliveries if _same_place(d.target, only)]
    planned = {_key(event, delivery): delivery for delivery in deliveries}
    existing = select(OutboxMessage).where(OutboxMessage.event_id == event.id)
    if only is not None:
        existing = existing.where(OutboxMessage.platform == only.platform)
        if only.room_id is not None:
            existing = existing.where(OutboxMessage.room_id == only.room_id)
        else:
            existing = existing.where(OutboxMessage.account_id == only.account_id)
    messages = list(session.exec(existing))
    withdrawn = [
        m.id
        for m in messages
        if m.state == OutboxState.PENDING
        and m.dedupe_key.startswith("remind:")
        and m.dedupe_key not in planned
    ]
    if withdrawn:
        session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(withdrawn)))
    known = {m.dedupe_key for m in messages}
    queued = 0
    for key, delivery in planned.items():
        if key not in known:
            reply = reminder(taxonomy, event, delivery)
            session.add(
                outbox.new_message(
                    delivery.target,
                    reply,
                    key=key,
                    now=now,
                    not_before=max(delivery.at, now),
                    kept_for=LATE_BY,
                    event_id=event.id,
                )
            )
            queued += 1
    queued += _tell_changes(session, event, messages, now)
    if only is None:
        event.planned_at = now if event.starts_at <= now + HORIZON else None
    return queued


def _same_place(target: Target, other: Target) -> bool:
    return target.platform == other.platform and (
        (target.room_id, target.account_id) == (other.room_id, other.account_id)
    )


def _tell_changes(
    session: Session, event: Event, messages: list[OutboxMessage], now: datetime
) -> int:
    """Where a reminder of ``event`` went out for another start, or before it was
    cancelled, a message saying so (once per place and change)."""
    current = f"remind:{event.id}:{_start(event)}:"
    cancelled = event.status == EventStatus.CANCELLED
    told = 0
    places = {}
    for message in messages:
        reminded = message.state == OutboxState.SENT and message.dedupe_key.startswith("remind:")
        if reminded and (cancelled or not message.dedupe_key.startswith(current)):
            target = Target(
                message.platform, message.room_id, message.account_id, message.thread_id
            )
            places[target] = message
    for target, message in places.items():
        change = "cancelled" if cancelled else f"moved:{_start(event)}"
        key = f"{change}:{event.id}:{message.dedupe_key.rsplit(':', 1)[1]}"
        [sent] = replies_from_json(message.content)
        note = change_notice(
            event, Translator(sent.locale), cancelled, _zone_of(session, event, target)
        )
        if outbox.enqueue(session, target, note, key=key, now=now, event_id=event.id):
            told += 1
    return told


def _zone_of(session: Session, event: Event, target: Target) -> ZoneInfo:
    """The time zone a room or a person reads ``event``'s times in."""
    if target.room_id is not None:
        found = session.exec(
            select(Room.timezone).where(
                Room.platform == target.platform, Room.room_id == target.room_id
            )
        ).first()
    else:
        found = session.exec(
            select(Person.timezone)
            .join(ChatIdentity)
            .where(
                ChatIdentity.platform == target.platform,
                ChatIdentity.account_id == target.account_id,
            )
        ).first()
    return events.zone(found or event.timezone)


MODES = {
    EventMode.ONLINE: N_("Online"),
    EventMode.IN_PERSON: N_("In person"),
    EventMode.HYBRID: N_("Online and in person"),
}


def reminder(taxonomy: Taxonomy, event: Event, delivery: Delivery) -> Reply:
    """The reminder of ``event`` for ``delivery``: its local time and how soon, with a
    "going" button for a room (it runs as whoever presses it, and its line is short, so it
    needs no stored token)."""
    t = Translator(negotiate([delivery.locale]))
    when = t.moment(event.starts_at, delivery.zone)
    soon = t.relative(event.starts_at - delivery.at)
    paragraphs = [t("{when}, {soon}.", when=when, soon=soon), t(MODES[EventMode(event.mode)])]
    buttons = ()
    if delivery.for_room:
        buttons = (Button(t("I'm going"), f"going {event.id}", for_anyone=True),)
    return Reply(
        title=t("Reminder: {title}", title=t.user_text(event.title)),
        paragraphs=tuple(paragraphs),
        links=(Link(t("Event page"), event.link),) if event.link else (),
        buttons=buttons,
        locale=t.locale,
        private=not delivery.for_room,
    )


def change_notice(event: Event, t: Translator, cancelled: bool, zone: ZoneInfo) -> Reply:
    """What a room or person already reminded of ``event`` is told when it changes."""
    title = t.user_text(event.title)
    if cancelled:
        text = t("{title} is cancelled.", title=title)
    else:
        text = t(
            "{title} has moved: it now starts {when}.",
            title=title,
            when=t.moment(event.starts_at, zone),
        )
    return Reply(paragraphs=(text,), locale=t.locale)


def plan_due(session: Session, taxonomy: Taxonomy, now: datetime, limit: int = 200) -> int:
    """Plan the events that have come within the horizon since they were last planned; how
    many messages were queued. For the periodic job: safe to run twice at once (a key never
    queues twice)."""
    query = (
        select(Event)
        .where(
            Event.status == EventStatus.SCHEDULED,
            Event.planned_at.is_(None),
            Event.starts_at > now,
            Event.starts_at <= now + HORIZON,
        )
        .order_by(Event.starts_at)
        .limit(limit)
    )
    return sum(plan(session, taxonomy, event, now) for event in session.exec(query))


def plan_room(session: Session, taxonomy: Taxonomy, room: Room, now: datetime) -> int:
    """Re-plan the room's reminders of every event within the horizon, after its settings
    changed."""
    soon = events.Window(now, now + HORIZON)
    target = Target(room.platform, room_id=room.room_id)
    upcoming = events.upcoming(session, now, window=soon, limit=10_000)
    return sum(plan(session, taxonomy, event, now, only=target) for event in upcoming)
