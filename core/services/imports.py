"""Events imported from elsewhere (an iCalendar feed, CapX's directory), kept in step with
their source: :func:`sync` adds what is new, changes what changed and cancels what is gone,
and re-plans the reminders of each event it touched."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from core.services import events, reminders
from core.services.taxonomy import Taxonomy
from storage.models import Event, EventMode, EventStatus


@dataclass(frozen=True)
class Occurrence:
    """One event (or one repeat of one) as its source gives it. Its capacities are
    ``capacities`` and those the taxonomy names exactly in ``categories``."""

    source_id: str
    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    link: str | None
    mode: EventMode
    description: str | None
    categories: tuple[str, ...] = ()
    capacities: tuple[int, ...] = ()
    organizer_id: int | None = None


@dataclass(frozen=True)
class Synced:
    added: int
    changed: int
    removed: int
    skipped: int

    def __str__(self) -> str:
        return f"events added: {self.added}, changed: {self.changed}, removed: {self.removed}" + (
            f", skipped (unreadable): {self.skipped}" if self.skipped else ""
        )


def sync(
    session: Session,
    taxonomy: Taxonomy,
    source: str,
    prefix: str,
    occurrences: Iterable[Occurrence],
    now: datetime,
    skipped: int = 0,
) -> Synced:
    """Make the events of ``source`` whose ids begin with ``prefix`` match ``occurrences``
    (whose ids are then ``prefix`` + theirs): new ones added, changed ones changed, those
    no longer given (still to come) cancelled; their reminders re-planned."""
    known = {
        event.source_id: event
        for event in session.exec(
            select(Event).where(Event.source == source, Event.source_id.startswith(prefix))
        )
    }
    added = changed = 0
    seen = set()
    for each in occurrences:
        source_id = prefix + each.source_id
        if source_id in seen:
            continue
        seen.add(source_id)
        event = known.get(source_id)
        fields = {
            "title": each.title,
            "starts_at": each.starts_at,
            "ends_at": each.ends_at,
            "timezone": each.timezone,
            "link": each.link,
            "mode": each.mode,
            "description": each.description,
            "organizer_id": each.organizer_id,
            "status": EventStatus.SCHEDULED,
        }
        named = (taxonomy.exact(name) for name in each.categories)
        codes = sorted({*each.capacities, *(code for code in named if code is not None)})
        if event is None:
            event = Event(
                source=source, source_id=source_id, created_at=now, updated_at=now, **fields
            )
            session.add(event)
            session.flush()
            events.set_capacities(session, event.id, codes)
            added += 1
        elif any(getattr(event, name) != value for name, value in fields.items()) or codes != (
            events.capacities_of(session, event.id)
        ):
            for name, value in fields.items():
                setattr(event, name, value)
            event.updated_at = now
            events.set_capacities(session, event.id, codes)
            changed += 1
        else:
            continue
        session.flush()
        reminders.plan(session, taxonomy, event, now)
    removed = 0
    for source_id, event in known.items():
        gone = source_id not in seen and event.status == EventStatus.SCHEDULED
        if gone and event.ends_at > now:
            event.status, event.updated_at = EventStatus.CANCELLED, now
            reminders.plan(session, taxonomy, event, now)
            removed += 1
    return Synced(added, changed, removed, skipped)
