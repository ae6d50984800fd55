"""Events: when they are (local times read in a time zone, daylight saving included), which
capacities they are about, who is going, and the upcoming ones a reader asks for.

Times are stored in UTC. A local time that a daylight-saving change makes happen twice is
not guessed: :class:`AmbiguousTime` gives both moments, for the person to choose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import delete
from sqlmodel import Session, select

from storage.models import Event, EventCapacity, EventStatus, Rsvp

MAX_LENGTH = timedelta(days=31)
"""The longest an event may last."""
DEFAULT_LENGTH = timedelta(hours=1)
_DURATION = re.compile(r"(?:(\d{1,3})d)?(?:(\d{1,4})h)?(?:(\d{1,5})m(?:in)?)?", re.IGNORECASE)
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?:([+-])(\d{2}):?(\d{2}))?")


class TimeProblem(ValueError):
    """A date, time or zone that names no single moment."""


class UnknownZone(TimeProblem):
    def __init__(self, name: str) -> None:
        super().__init__("unknown time zone")
        self.name = name


class NoSuchTime(TimeProblem):
    """The local time is skipped by a daylight-saving change (clocks go forward past it)."""


class WrongOffset(TimeProblem):
    """An explicit UTC offset that the zone never has at that local time."""


class AmbiguousTime(TimeProblem):
    """The local time happens twice (clocks go back): ``moments`` are both, earlier first."""

    def __init__(self, moments: tuple[datetime, datetime]) -> None:
        super().__init__("ambiguous local time")
        self.moments = moments


@cache
def _zones_by_folded_name() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (any letter case; ``UTC`` too); :class:`UnknownZone`."""
    canonical = _zones_by_folded_name().get(name.strip().casefold())
    if canonical is None:
        raise UnknownZone(name)
    try:
        return ZoneInfo(canonical)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise UnknownZone(name) from error


def is_zone(name: str) -> bool:
    return name.strip().casefold() in _zones_by_folded_name()


def parse_date(text: str) -> date:
    """``YYYY-MM-DD``; ``ValueError`` otherwise."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError("not a date")
    return date.fromisoformat(text)


def parse_clock(text: str) -> tuple[time, timedelta | None]:
    """``HH:MM``, perhaps with the UTC offset that decides an ambiguous time (``01:30-03:00``);
    ``ValueError`` otherwise."""
    found = _CLOCK.fullmatch(text)
    if found is None:
        raise ValueError("not a time")
    hour, minute, sign, offset_hours, offset_minutes = found.groups()
    clock = time(int(hour), int(minute))  # ValueError past 23:59
    if sign is None:
        return clock, None
    offset = timedelta(hours=int(offset_hours), minutes=int(offset_minutes))
    return clock, -offset if sign == "-" else offset


def parse_duration(text: str) -> timedelta | None:
    """``90m``, ``2h``, ``1h30m``, ``1d``; None when ``text`` is not a duration."""
    found = _DURATION.fullmatch(text)
    if found is None or not any(found.groups()):
        return None
    days, hours, minutes = (int(part or 0) for part in found.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def moment(day: date, clock: time, where: ZoneInfo, offset: timedelta | None = None) -> datetime:
    """The UTC moment of a local date and time in ``where``. Raises :class:`NoSuchTime` for
    a time skipped by a daylight-saving change, :class:`AmbiguousTime` for one that happens
    twice (unless ``offset`` says which), :class:`WrongOffset` for an offset the zone does
    not have then."""
    local = datetime.combine(day, clock)
    candidates = []
    for fold in (0, 1):
        aware = local.replace(tzinfo=where, fold=fold)
        back = aware.astimezone(UTC).astimezone(where).replace(tzinfo=None)
        if back == local and aware.astimezone(UTC) not in candidates:
            candidates.append(aware.astimezone(UTC))
    if not candidates:
        raise NoSuchTime("skipped local time")
    if offset is not None:
        matching = [c for c in candidates if c.astimezone(where).utcoffset() == offset]
        if not matching:
            raise WrongOffset("offset not used there then")
        return matching[0]
    if len(candidates) == 2:
        raise AmbiguousTime((candidates[0], candidates[1]))
    return candidates[0]


def offset_text(when: datetime, where: ZoneInfo) -> str:
    """The UTC offset ``where`` has at ``when``, as ``-03:00``."""
    offset = when.astimezone(where).utcoffset() or timedelta()
    sign = "-" if offset < timedelta() else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Window:
    """Events overlapping ``start`` .. ``end`` (UTC)."""

    start: datetime
    end: datetime


def upcoming(
    session: Session,
    now: datetime,
    *,
    codes: list[int] | None = None,
    going: int | None = None,
    window: Window | None = None,
    limit: int = 10,
) -> list[Event]:
    """Scheduled events not yet over, soonest first: only those about ``codes``, those
    person ``going`` is going to, or those overlapping ``window``, when given."""
    query = select(Event).where(Event.status == EventStatus.SCHEDULED, Event.ends_at > now)
    if codes is not None:
        about = select(EventCapacity.event_id).where(EventCapacity.capacity_code.in_(codes))
        query = query.where(Event.id.in_(about))
    if going is not None:
        query = query.where(Event.id.in_(select(Rsvp.event_id).where(Rsvp.person_id == going)))
    if window is not None:
        query = query.where(Event.starts_at < window.end, Event.ends_at > window.start)
    return list(session.exec(query.order_by(Event.starts_at, Event.id).limit(limit)))


def capacities_of(session: Session, event_id: int) -> list[int]:
    query = select(EventCapacity.capacity_code).where(EventCapacity.event_id == event_id)
    return sorted(session.exec(query))


def set_capacities(session: Session, event_id: int, codes: list[int]) -> None:
    session.execute(delete(EventCapacity).where(EventCapacity.event_id == event_id))
    for code in dict.fromkeys(codes):
        session.add(EventCapacity(event_id=event_id, capacity_code=code))


def going(session: Session, event_id: int) -> list[Rsvp]:
    query = select(Rsvp).where(Rsvp.event_id == event_id).order_by(Rsvp.created_at)
    return list(session.exec(query))
