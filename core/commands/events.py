"""Events and reminders: listing and adding events, going to them, and a room's reminders.

``event add`` reads one line: a title (quoted when it has several words), a date and a time
of day, then in any order a time zone, a duration, a link, how it is held, and ``capacity``
followed by capacities. The time is read in the zone given, else the room's, else UTC; a
time that a daylight-saving change makes happen twice is asked about, with a button for
each moment.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale

from core.arguments import is_word, means, resolve_capacity
from core.context import Context
from core.i18n import N_
from core.parsing import Token, normalize, split_list, tokenize, tokens_text
from core.registry import Command, Kind, Param, Where, Who
from core.services import events, reminders
from core.services.events import AmbiguousTime, NoSuchTime, UnknownZone, WrongOffset
from core.types import Button, Item, Link, Reply, Target
from storage import chats
from storage.models import Event, EventMode, EventStatus, Person, Room, Rsvp

ADD, EDIT, CANCEL = N_("add"), N_("edit"), N_("cancel")
MINE, TODAY, WEEK = N_("mine"), N_("today"), N_("week")
STATUS, AT = N_("status"), N_("at")
ON, OFF = N_("on"), N_("off")
CAPACITY_WORDS = (N_("capacity"), N_("capacities"))
MODE_WORDS = {
    EventMode.ONLINE: (N_("online"),),
    EventMode.IN_PERSON: (N_("in-person"), N_("inperson")),
    EventMode.HYBRID: (N_("hybrid"),),
}
MAX_TITLE = 255
MAX_LINK = 1000
MAX_LISTED = 10


def reader_zone(ctx: Context) -> ZoneInfo | None:
    """The time zone the speaker reads times in here: the room's in a group, their own in a
    private chat; None when unset (each event is then shown in its own)."""
    conversation = ctx.incoming.conversation
    if conversation.is_direct:
        name = ctx.person.timezone if ctx.person else None
    else:
        room = chats.room(ctx.session, conversation.platform, conversation.room_id)
        name = room.timezone if room else None
    return events.zone(name) if name else None


def _when(ctx: Context, event: Event, zone: ZoneInfo | None) -> str:
    return ctx.t.moment(event.starts_at, zone or events.zone(event.timezone))


def _capacity_names(ctx: Context, event: Event) -> str:
    return ctx.t.list([ctx.capacity_name(c) for c in events.capacities_of(ctx.session, event.id)])


# --- listing -------------------------------------------------------------------------------


def events_list(ctx: Context, args: dict[str, Any]) -> Reply:
    t = ctx.t
    wanted = args.get("filter")
    zone = reader_zone(ctx)
    local_now = ctx.now.astimezone(zone or UTC)
    found: list[Event]
    if wanted is None:
        found = events.upcoming(ctx.session, ctx.now, limit=MAX_LISTED)
    elif is_word(ctx, wanted, MINE):
        going = ctx.person.id if ctx.person else -1
        found = events.upcoming(ctx.session, ctx.now, going=going, limit=MAX_LISTED)
    elif (window := _window(ctx, wanted, local_now)) is not None:
        found = events.upcoming(ctx.session, ctx.now, window=window, limit=MAX_LISTED)
    else:
        code = resolve_capacity(ctx, wanted, lambda choice: f"events {choice}")
        codes = [code, *ctx.taxonomy.descendants(code)]
        found = events.upcoming(ctx.session, ctx.now, codes=codes, limit=MAX_LISTED)
    if not found:
        return ctx.reply(paragraphs=[t("No upcoming events found.")])
    items = []
    for event in found:
        detail = _when(ctx, event, zone)
        if names := _capacity_names(ctx, event):
            detail += " · " + names
        items.append(Item(f"#{event.id} · {t.user_text(event.title)}", detail))
    return ctx.reply(
        title=t("Upcoming events"),
        items=items,
        buttons=[Button(f"#{event.id}", f"event {event.id}") for event in found],
    )


def _window(ctx: Context, text: str, local_now: datetime) -> events.Window | None:
    """``today``, ``week`` (the next seven days) or a month (a name in the reader's language
    or English, or ``2027-03``) as a window in the reader's time zone; None for anything
    else."""
    midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    if is_word(ctx, text, TODAY):
        return events.Window(midnight, midnight + timedelta(days=1))
    if is_word(ctx, text, WEEK):
        return events.Window(local_now, local_now + timedelta(days=7))
    month = _month(ctx, text)
    if month is None:
        return None
    year, number = month
    if number < local_now.month and year is None:
        year = local_now.year + 1
    start = midnight.replace(year=year or local_now.year, month=number, day=1)
    days = calendar.monthrange(start.year, number)[1]
    return events.Window(start, start + timedelta(days=days))


def _month(ctx: Context, text: str) -> tuple[int | None, int] | None:
    """(year or None, month) for ``2027-03``, or a month's name (wide or abbreviated)."""
    text = normalize(text).rstrip(".")
    if len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit():
        year, month = int(text[:4]), int(text[5:])
        return (year, month) if 1 <= month <= 12 else None
    for locale in {ctx.t.cldr, Locale.parse("en")}:
        for width in ("wide", "abbreviated"):
            for number, name in locale.months["format"][width].items():
                if normalize(name).rstrip(".") == text:
                    return None, number
    return None


def show(ctx: Context, event: Event) -> Reply:
    t = ctx.t
    zone = reader_zone(ctx)
    paragraphs = [_when(ctx, event, zone)]
    length = event.ends_at - event.starts_at
    paragraphs.append(
        t.plural("Lasts {n} minute.", "Lasts {n} minutes.", int(length.total_seconds()) // 60)
    )
    paragraphs.append(t(reminders.MODES[EventMode(event.mode)]))
    if names := _capacity_names(ctx, event):
        paragraphs.append(t("About: {capacities}", capacities=names))
    if event.description:
        paragraphs.append(event.description[:500])
    organizer = ctx.session.get(Person, event.organizer_id) if event.organizer_id else None
    if organizer is not None:
        paragraphs.append(t("Organized by {name}", name=t.user_text(organizer.display_name)))
    if event.status == EventStatus.CANCELLED:
        paragraphs.insert(0, t("This event is cancelled."))
    going = len(events.going(ctx.session, event.id))
    if going:
        paragraphs.append(t.plural("{n} person is going.", "{n} people are going.", going))
    return ctx.reply(
        title=f"#{event.id} · {t.user_text(event.title)}",
        paragraphs=paragraphs,
        links=[Link(t("Event page"), event.link)] if event.link else [],
        buttons=[Button(t("I'm going"), f"going {event.id}", for_anyone=True)]
        if event.status == EventStatus.SCHEDULED
        else [],
    )


def _event(ctx: Context, text: str) -> Event:
    digits = text.strip().lstrip("#")
    found = None
    if digits.isascii() and digits.isdigit() and 0 < int(digits) < 2**31:
        found = ctx.session.get(Event, int(digits))
    if found is None:
        ctx.fail(ctx.t("There is no event #{number}.", number=ctx.t.user_text(digits[:12])))
    return found


# --- adding and changing -------------------------------------------------------------------


@dataclass
class Form:
    """What a line of ``event add`` or ``event edit`` said; None where it said nothing."""

    title: str | None = None
    day: str | None = None
    clock: Token | None = None
    zone: ZoneInfo | None = None
    length: timedelta | None = None
    link: str | None = None
    mode: EventMode | None = None
    capacities: list[int] | None = None
    rest: list[Token] = field(default_factory=list)


def _read_form(
    ctx: Context, source: str, tokens: list[Token], line: str, *, bare_title: bool
) -> Form:
    """The parts of an event form, each recognized by its shape; a failure for a word that
    is none of them. A title comes first, quoted (or, with ``bare_title``, as the words
    before the date). ``line`` is the whole command line, for the buttons of a question."""
    form = Form()
    if tokens and (tokens[0].quoted or (bare_title and not _is_date(tokens[0].text))):
        title_end = next((i for i, tok in enumerate(tokens) if _is_date(tok.text)), len(tokens))
        title_end = 1 if tokens[0].quoted else title_end
        form.title = tokens_text(source, tokens[:title_end])[: MAX_TITLE + 1]
        tokens = tokens[title_end:]
    index = 0
    while index < len(tokens):
        token = tokens[index]
        text = token.text
        if _is_date(text) and form.day is None:
            form.day = text
            if index + 1 < len(tokens):
                form.clock = tokens[index + 1]
                index += 1
        elif events.is_zone(text):
            form.zone = events.zone(text)
        elif "/" in text and not text.startswith(("http://", "https://")):
            ctx.fail(
                ctx.t("I do not know the time zone “{zone}”.", zone=ctx.t.user_text(text[:64]))
            )
        elif (length := events.parse_duration(text)) is not None:
            form.length = length
        elif text.startswith(("http://", "https://")):
            if len(text) > MAX_LINK:
                ctx.fail(ctx.t("That link is too long."))
            form.link = text
        elif (mode := _mode(ctx, text)) is not None:
            form.mode = mode
        elif any(means(ctx.t, text, word) for word in CAPACITY_WORDS):
            names = tokens_text(source, tokens[index + 1 :]) if index + 1 < len(tokens) else ""
            form.capacities = [
                resolve_capacity(ctx, name, lambda choice, n=name: line.replace(n, choice, 1))
                for name in split_list(names)
            ]
            break
        else:
            ctx.fail(
                ctx.t("I do not understand “{word}” in this event.", word=ctx.t.user_text(text))
            )
        index += 1
    return form


def _is_date(text: str) -> bool:
    """Whether ``text`` has a date's shape (``2027-01-14``); whether it is one is checked
    with the time."""
    return re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) is not None


def _mode(ctx: Context, text: str) -> EventMode | None:
    for mode, words in MODE_WORDS.items():
        if any(means(ctx.t, text, word) for word in words):
            return mode
    return None


def _start(ctx: Context, form: Form, zone: ZoneInfo, line: str) -> datetime:
    """The moment the form's date and time name in ``zone``; a failure (with a choice for an
    ambiguous time) otherwise."""
    t = ctx.t
    if form.clock is None:
        ctx.fail(t("Give the time of day after the date, such as 18:00."))
    try:
        clock, offset = events.parse_clock(form.clock.text)
        return events.moment(events.parse_date(form.day or ""), clock, zone, offset)
    except AmbiguousTime as twice:
        choices = []
        for moment in twice.moments:
            written = f"{form.clock.text}{events.offset_text(moment, zone)}"
            label = t(
                "{time} (UTC{offset})",
                time=form.clock.text,
                offset=events.offset_text(moment, zone),
            )
            choices.append(
                Button(label, line[: form.clock.start] + written + line[form.clock.end :])
            )
        ctx.fail(
            t(
                "{time} happens twice that day in {zone}, when the clocks go back. Which one "
                "do you mean?",
                time=form.clock.text,
                zone=str(zone),
            ),
            buttons=choices,
        )
    except NoSuchTime:
        ctx.fail(
            t(
                "{time} does not exist that day in {zone}: the clocks skip it.",
                time=form.clock.text,
                zone=str(zone),
            )
        )
    except WrongOffset:
        ctx.fail(t("That UTC offset does not match {zone} at that time.", zone=str(zone)))
    except ValueError:
        ctx.fail(t("Write the date as 2027-01-14 and the time as 18:00."))


def _room_zone(ctx: Context) -> ZoneInfo:
    return reader_zone(ctx) or events.zone("UTC")


def add(ctx: Context, source: str, tokens: list[Token]) -> Reply:
    t = ctx.t
    conversation = ctx.incoming.conversation
    if conversation.is_direct or not ctx.incoming.actor.is_room_admin:
        ctx.fail(t("Only an admin of a group room may add events, in that room."))
    if not tokens:
        return ctx.reply(
            paragraphs=[
                t("Write the event on one line, for example:"),
                'event add "Commons upload clinic" 2027-01-14 18:00 America/Sao_Paulo 90m '
                "https://meta.wikimedia.org/wiki/Event online capacity commons",
                t("Or write only its title: I then offer the days and the times as buttons."),
            ]
        )
    line = f"event {source}"
    form = _read_form(ctx, line, [_shifted(tok, 6) for tok in tokens], line, bare_title=True)
    if not form.title:
        ctx.fail(t("Give a title, then the date and the time, such as: “Clinic” 2027-01-14 18:00"))
    if len(form.title) > MAX_TITLE:
        ctx.fail(
            t.plural(
                "Keep the title under {n} character.",
                "Keep the title under {n} characters.",
                MAX_TITLE,
            )
        )
    zone = form.zone or _room_zone(ctx)
    if form.day is None or form.clock is None:
        return _next_step(ctx, form, zone, line)
    starts = _start(ctx, form, zone, line)
    length = events.DEFAULT_LENGTH if form.length is None else form.length
    _check_times(ctx, starts, length)
    event = Event(
        title=form.title,
        starts_at=starts,
        ends_at=starts + length,
        timezone=str(zone),
        mode=form.mode or (EventMode.ONLINE if form.link else EventMode.IN_PERSON),
        link=form.link,
        organizer_id=ctx.me().id,
        platform=conversation.platform,
        room_id=conversation.room_id,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.session.add(event)
    ctx.session.flush()
    events.set_capacities(ctx.session, event.id, form.capacities or [])
    ctx.session.flush()
    reminders.plan(ctx.session, ctx.taxonomy, event, ctx.now)
    return _said_first(show(ctx, event), t("Added event #{number}.", number=event.id))


GUIDED_DAYS = 7
GUIDED_TIMES = ("09:00", "12:00", "15:00", "18:00", "19:00", "20:00")


def _next_step(ctx: Context, form: Form, zone: ZoneInfo, line: str) -> Reply:
    """The guided form: for a line without its date, the next days to choose from; without
    its time of day, common times. Each button runs the line with the choice written in."""
    t = ctx.t
    if form.day is None:
        today = ctx.now.astimezone(zone).date()
        days = [today + timedelta(days=n) for n in range(GUIDED_DAYS)]
        choices = [Button(t.date(day), f"{line} {day.isoformat()}") for day in days]
        question = t("On which day is “{title}”?", title=t.user_text(form.title or ""))
    else:
        choices = [Button(clock, f"{line} {clock}") for clock in GUIDED_TIMES]
        question = t("At what time ({zone})? Or write it, such as 18:30.", zone=str(zone))
    return ctx.reply(paragraphs=[question], buttons=choices)


def _shifted(token: Token, by: int) -> Token:
    return Token(token.text, token.start + by, token.end + by, token.quoted)


def _check_times(ctx: Context, starts: datetime, length: timedelta) -> None:
    if starts <= ctx.now:
        ctx.fail(ctx.t("That start is in the past."))
    if length <= timedelta(0):
        ctx.fail(ctx.t("The end must come after the start."))
    if length > events.MAX_LENGTH:
        ctx.fail(ctx.t("An event may last at most 31 days."))


def _may_change(ctx: Context, event: Event) -> None:
    conversation = ctx.incoming.conversation
    room_admin = ctx.incoming.actor.is_room_admin and (
        conversation.platform,
        conversation.room_id,
    ) == (
        event.platform,
        event.room_id,
    )
    organizer = ctx.person is not None and ctx.person.id == event.organizer_id
    if event.source != "manual" or not (room_admin or organizer):
        ctx.fail(
            ctx.t(
                "Only the organizer of event #{number} or an admin of the room it was added in "
                "may change it.",
                number=event.id,
            )
        )
    if event.status == EventStatus.CANCELLED:
        ctx.fail(ctx.t("Event #{number} is cancelled.", number=event.id))


def edit(ctx: Context, source: str, tokens: list[Token]) -> Reply:
    t = ctx.t
    if not tokens:
        ctx.fail(t("Usage: {usage}", usage="event edit <#> …"))
    event = _event(ctx, tokens[0].text)
    _may_change(ctx, event)
    line = f"event {source}"
    form = _read_form(ctx, line, [_shifted(tok, 6) for tok in tokens[1:]], line, bare_title=False)
    zone = form.zone or events.zone(event.timezone)
    if form.title:
        event.title = form.title[:MAX_TITLE]
    length = (event.ends_at - event.starts_at) if form.length is None else form.length
    if form.day is not None:
        event.starts_at = _start(ctx, form, zone, line)
        event.timezone = str(zone)
    if form.day is not None or form.length is not None:
        _check_times(ctx, event.starts_at, length)
        event.ends_at = event.starts_at + length
    event.link = form.link or event.link
    event.mode = form.mode or event.mode
    if form.capacities is not None:
        events.set_capacities(ctx.session, event.id, form.capacities)
    event.updated_at = ctx.now
    ctx.session.flush()
    reminders.plan(ctx.session, ctx.taxonomy, event, ctx.now)
    return _said_first(show(ctx, event), t("Changed event #{number}.", number=event.id))


def _said_first(reply: Reply, paragraph: str) -> Reply:
    return replace(reply, paragraphs=(paragraph, *reply.paragraphs))


def cancel(ctx: Context, tokens: list[Token]) -> Reply:
    t = ctx.t
    if len(tokens) != 1:
        ctx.fail(t("Usage: {usage}", usage="event cancel <#>"))
    event = _event(ctx, tokens[0].text)
    _may_change(ctx, event)
    event.status, event.updated_at = EventStatus.CANCELLED, ctx.now
    reminders.plan(ctx.session, ctx.taxonomy, event, ctx.now)
    return ctx.reply(
        paragraphs=[
            t(
                "Event #{number} is cancelled. Those already reminded of it are told.",
                number=event.id,
            )
        ]
    )


def event_command(ctx: Context, args: dict[str, Any]) -> Reply:
    source = args["what"]
    tokens = tokenize(source)
    word = tokens[0].text
    rest = tokens[1:]
    if is_word(ctx, word, ADD):
        return add(ctx, source, rest)
    if is_word(ctx, word, EDIT):
        return edit(ctx, source, rest)
    if is_word(ctx, word, CANCEL):
        return cancel(ctx, rest)
    if len(tokens) != 1:
        ctx.fail(ctx.t("Usage: {usage}", usage=ctx.command.usage(ctx.t)))
    return show(ctx, _event(ctx, word))


# --- going ---------------------------------------------------------------------------------


def going(ctx: Context, args: dict[str, Any]) -> Reply:
    t = ctx.t
    event = _event(ctx, str(args["event"]))
    if event.status != EventStatus.SCHEDULED or event.starts_at <= ctx.now:
        ctx.fail(t("Event #{number} is not coming up.", number=event.id))
    me = ctx.me()
    actor = ctx.incoming.actor
    here = Target(actor.platform, account_id=actor.account_id)
    rsvp = ctx.session.get(Rsvp, (event.id, me.id))
    moved_from = None
    if rsvp is None:
        rsvp = Rsvp(event_id=event.id, person_id=me.id, created_at=ctx.now)
        ctx.session.add(rsvp)
    elif (rsvp.platform, rsvp.account_id) != (actor.platform, actor.account_id):
        moved_from = Target(rsvp.platform, account_id=rsvp.account_id)
    rsvp.platform, rsvp.account_id = actor.platform, actor.account_id
    ctx.session.flush()
    for target in (here, moved_from):  # only this person's reminders change
        if target is not None:
            reminders.plan(ctx.session, ctx.taxonomy, event, ctx.now, only=target)
    return ctx.reply(
        paragraphs=[
            t(
                "You are going to {title}, {when}. I will remind you here a day and an hour "
                "before.",
                title=t.user_text(event.title),
                when=_when(ctx, event, reader_zone(ctx)),
            )
        ],
        buttons=[Button(t("Not going"), f"notgoing {event.id}")],
    )


def not_going(ctx: Context, args: dict[str, Any]) -> Reply:
    t = ctx.t
    event = _event(ctx, str(args["event"]))
    rsvp = ctx.session.get(Rsvp, (event.id, ctx.person.id)) if ctx.person else None
    if rsvp is None:
        return ctx.reply(paragraphs=[t("You were not going to event #{number}.", number=event.id)])
    ctx.session.delete(rsvp)
    ctx.session.flush()
    reminders.plan(
        ctx.session,
        ctx.taxonomy,
        event,
        ctx.now,
        only=Target(rsvp.platform, account_id=rsvp.account_id),
    )
    return ctx.reply(
        paragraphs=[t("All right: no reminders of event #{number} for you.", number=event.id)]
    )


# --- a room's reminders and time zones -----------------------------------------------------


def reminders_command(ctx: Context, args: dict[str, Any]) -> Reply:
    t = ctx.t
    conversation = ctx.incoming.conversation
    room = chats.ensure_room(
        ctx.session, conversation.platform, conversation.room_id, conversation.title
    )
    text = args.get("what") or ""
    tokens = tokenize(text)
    word = tokens[0].text if tokens else STATUS
    rest = tokens_text(text, tokens[1:]) if len(tokens) > 1 else ""
    if is_word(ctx, word, ON):
        room.reminders_on = True
        codes = None
        if rest:
            codes = [
                resolve_capacity(
                    ctx, name, lambda choice, n=name: f"reminders {text.replace(n, choice, 1)}"
                )
                for name in split_list(rest)
            ]
        room.reminder_capacities = ",".join(map(str, codes)) if codes else None
    elif is_word(ctx, word, OFF):
        room.reminders_on = False
    elif is_word(ctx, word, AT):
        try:
            room.reminder_offsets = ",".join(map(str, reminders.parse_offsets(rest)))
        except ValueError:
            ctx.fail(
                t(
                    "Give up to four times before the event, each at most 7 days, such as: "
                    "reminders at 1d,1h"
                )
            )
    elif not is_word(ctx, word, STATUS):
        ctx.fail(t("Usage: {usage}", usage=ctx.command.usage(t)))
    ctx.session.flush()
    reminders.plan_room(ctx.session, ctx.taxonomy, room, ctx.now)
    return ctx.reply(paragraphs=[_reminder_state(ctx, room)])


def _reminder_state(ctx: Context, room: Room) -> str:
    t = ctx.t
    if not room.reminders_on:
        return t("Reminders are off in this room. Say “reminders on” to get them.")
    offsets = reminders.offsets_text(reminders.room_offsets(room))
    codes = reminders.room_codes(room)
    if codes is None:
        return t("This room is reminded of every event, {offsets} before.", offsets=offsets)
    return t(
        "This room is reminded of events about {capacities}, {offsets} before.",
        capacities=t.list([ctx.capacity_name(code) for code in codes]),
        offsets=offsets,
    )


def timezone(ctx: Context, args: dict[str, Any]) -> Reply:
    t = ctx.t
    conversation = ctx.incoming.conversation
    name = args.get("zone")
    room = None
    if not conversation.is_direct:
        room = chats.ensure_room(
            ctx.session, conversation.platform, conversation.room_id, conversation.title
        )
    if name is not None:
        try:
            chosen = str(events.zone(name))
        except UnknownZone:
            ctx.fail(
                t(
                    "I do not know the time zone “{zone}”. Use a name such as America/Sao_Paulo "
                    "or Africa/Lagos.",
                    zone=t.user_text(name[:64]),
                )
            )
        if room is not None:
            if not ctx.incoming.actor.is_room_admin:
                ctx.fail(t("Only an admin of this room may use “{command}”.", command="timezone"))
            room.timezone = chosen
            ctx.session.flush()
            reminders.plan_room(ctx.session, ctx.taxonomy, room, ctx.now)
        else:
            ctx.me().timezone = chosen
    current = room.timezone if room is not None else (ctx.person.timezone if ctx.person else None)
    if current is None:
        return ctx.reply(paragraphs=[t("No time zone is set: I show each event in its own.")])
    return ctx.reply(
        paragraphs=[
            t(
                "Times are shown in {zone}: it is now {time}.",
                zone=current,
                time=t.moment(ctx.now, events.zone(current)),
            )
        ]
    )


EVENT = Param("event", Kind.NUMBER, N_("event number"))

COMMANDS = [
    Command(
        "events",
        summary=N_("list upcoming events"),
        help=N_(
            "Lists upcoming events: all of them, those about a capacity, yours (“mine”), "
            "“today”, this “week”, or a month."
        ),
        handler=events_list,
        params=(
            Param("filter", Kind.TEXT, N_("capacity, mine, today, week or month"), required=False),
        ),
        read_only=True,
        examples=("events", "events communication", "events week", "events march"),
    ),
    Command(
        "event",
        summary=N_("show, add, change or cancel an event"),
        help=N_(
            "“event 12” shows an event. Room admins add one with “event add”, on one line: a "
            "title in quotes, the date, the time, then a time zone, a duration, a link, "
            "online, in-person or hybrid, and “capacity” with capacities. “event edit 12” "
            "followed by any of these changes it; “event cancel 12” cancels it."
        ),
        handler=event_command,
        params=(Param("what", Kind.TEXT, N_("number, or add, edit or cancel")),),
        examples=(
            'event add "Commons upload clinic" 2027-01-14 18:00 America/Sao_Paulo 90m '
            "https://meta.wikimedia.org/wiki/Clinic capacity commons",
            "event 12",
            "event edit 12 2027-01-15 19:00",
            "event cancel 12",
        ),
    ),
    Command(
        "going",
        summary=N_("get reminded of an event you are going to"),
        help=N_("Says you are going to an event: I remind you privately a day and an hour before."),
        handler=going,
        params=(EVENT,),
        where=Where.PRIVATE,
        examples=("going 12",),
    ),
    Command(
        "notgoing",
        summary=N_("stop the reminders of an event"),
        help=N_("Says you are no longer going to an event: its reminders to you stop."),
        handler=not_going,
        params=(EVENT,),
        where=Where.PRIVATE,
        examples=("notgoing 12",),
    ),
    Command(
        "reminders",
        summary=N_("choose this room's event reminders (room admins)"),
        help=N_(
            "“reminders on” reminds this room of every event, or with capacities of events "
            "about them; “reminders at 1d,1h” chooses when; “reminders off” stops them; "
            "“reminders status” tells what is set."
        ),
        handler=reminders_command,
        params=(Param("what", Kind.TEXT, N_("on, off, at or status"), required=False),),
        where=Where.GROUP,
        who=Who.ROOM_ADMIN,
        examples=("reminders on communication, commons", "reminders at 1d,1h", "reminders off"),
    ),
    Command(
        "timezone",
        summary=N_("choose the time zone times are shown in"),
        help=N_(
            "In a group, an admin sets the room's time zone (for event times and reminders); "
            "in a private chat, you set your own."
        ),
        handler=timezone,
        params=(Param("zone", Kind.WORD, N_("time zone"), required=False),),
        examples=("timezone America/Sao_Paulo",),
    ),
]
