"""iCalendar feeds: their events (each repeat of a recurring one on its own) kept in step with
the feed. :func:`read` turns a feed's text into :class:`Occurrence` values, skipping (and
counting) what it cannot read; :func:`sync` adds, changes and cancels the feed's events here
so that they match, and re-plans their reminders.

A feed is bounded: one of more than :data:`MAX_EVENTS` events is refused before it is
parsed (reading 50,000 takes a quarter of a minute); of the others, only occurrences from
now to :data:`AHEAD` are kept, at most :data:`MAX_OCCURRENCES` of them, soonest first.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import icalendar
import recurring_ical_events
from sqlmodel import Session

from core.services import events, imports
from core.services.imports import Occurrence, Synced
from core.services.taxonomy import Taxonomy
from storage.models import EventMode

log = logging.getLogger(__name__)

AHEAD = timedelta(days=365)
MAX_EVENTS = 20_000
MAX_OCCURRENCES = 5_000
SOURCE = "ical"


class FeedError(ValueError):
    """The text is not an iCalendar feed."""


@dataclass
class Feed:
    occurrences: list[Occurrence] = field(default_factory=list)
    skipped: int = 0
    """Events that could not be read (no start, no title, a broken time)."""


def feed_id(address: str) -> str:
    """A short stable name for a feed, from its address, that prefixes its events' ids."""
    return hashlib.sha256(address.encode()).hexdigest()[:12]


def read(text: bytes | str, now: datetime) -> Feed:
    """The occurrences of a feed from ``now`` to :data:`AHEAD`; a :class:`FeedError` when it
    is not iCalendar at all, or too large."""
    raw = text.encode() if isinstance(text, str) else text
    if raw.count(b"BEGIN:VEVENT") > MAX_EVENTS:
        raise FeedError(f"it has more than {MAX_EVENTS:,} events")
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except (ValueError, IndexError, KeyError) as error:
        raise FeedError("not an iCalendar feed") from error
    recurring = {
        str(component.get("UID"))
        for component in calendar.walk("VEVENT")
        if "RRULE" in component or "RDATE" in component
    }
    feed = Feed()
    try:
        found = recurring_ical_events.of(calendar).between(now, now + AHEAD)
    except Exception as error:  # the library's own errors for broken rules have no base class
        raise FeedError(f"cannot expand its repeats ({type(error).__name__})") from error
    for component in found:
        try:
            feed.occurrences.append(_occurrence(component, recurring))
        except (ValueError, TypeError, AttributeError, KeyError):
            feed.skipped += 1
    feed.occurrences.sort(key=lambda each: each.starts_at)
    if len(feed.occurrences) > MAX_OCCURRENCES:
        feed.skipped += len(feed.occurrences) - MAX_OCCURRENCES
        del feed.occurrences[MAX_OCCURRENCES:]
    return feed


def _as_utc(value: date | datetime) -> datetime:
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _occurrence(component: icalendar.Event, recurring: set[str]) -> Occurrence:
    uid = str(component["UID"])
    title = str(component["SUMMARY"]).strip()
    if not title:
        raise ValueError("no title")
    start_value = component["DTSTART"].dt
    starts = _as_utc(start_value)
    end = component.get("DTEND")
    ends = _as_utc(end.dt) if end is not None else starts + events.DEFAULT_LENGTH
    if ends <= starts:
        ends = starts + events.DEFAULT_LENGTH
    zone = getattr(getattr(start_value, "tzinfo", None), "key", None) or "UTC"
    if not events.is_zone(zone):
        zone = "UTC"
    url = str(component.get("URL") or "").strip() or None
    location = str(component.get("LOCATION") or "").strip()
    if url is None and location.startswith(("http://", "https://")):
        url, location = location, ""
    if url is not None and not url.startswith(("http://", "https://")):
        url = None
    mode = (
        EventMode.HYBRID if url and location else EventMode.ONLINE if url else EventMode.IN_PERSON
    )
    source_id = uid if uid not in recurring else f"{uid}@{starts.isoformat()}"
    if "RECURRENCE-ID" in component and uid in recurring:
        source_id = f"{uid}@{_as_utc(component['RECURRENCE-ID'].dt).isoformat()}"
    if len(source_id) > 200:
        source_id = hashlib.sha256(source_id.encode()).hexdigest()
    description = str(component.get("DESCRIPTION") or "").strip() or None
    return Occurrence(
        source_id=source_id,
        title=title[:255],
        starts_at=starts,
        ends_at=min(ends, starts + events.MAX_LENGTH),
        timezone=zone,
        link=url[:1000] if url else None,
        mode=mode,
        description=description[:2000] if description else None,
        categories=tuple(_categories(component)),
    )


def _categories(component: icalendar.Event) -> list[str]:
    found = component.get("CATEGORIES")
    if found is None:
        return []
    lists = found if isinstance(found, list) else [found]
    return [str(name).strip() for each in lists for name in getattr(each, "cats", [])]


def sync(session: Session, taxonomy: Taxonomy, address: str, feed: Feed, now: datetime) -> Synced:
    """Make the events of the feed at ``address`` match ``feed`` (see :func:`imports.sync`)."""
    if feed.skipped:
        log.warning("a feed had %d events that could not be read (skipped)", feed.skipped)
    prefix = feed_id(address) + ":"
    return imports.sync(session, taxonomy, SOURCE, prefix, feed.occurrences, now, feed.skipped)
