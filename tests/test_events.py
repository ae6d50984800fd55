"""Events and their reminders, with a clock the test moves: offsets, time zones, daylight
saving, edits, cancellations, repeats and downtime; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from core.services import outbox, reminders
from core.types import Sent
from storage.db import unit_of_work
from storage.models import Event, OutboxMessage, OutboxState, Room
from tests.chat import Chat, line_of

core = pytest.fixture(lambda core_on_every_backend: core_on_every_backend)

START = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
CLINIC = 'event add "Commons upload clinic" 2027-01-14 18:00 America/Sao_Paulo 90m'


@pytest.fixture
def clock(core):
    """The core's clock, at :data:`START`; set ``clock.now`` to move it."""

    class Clock:
        now = START

    core.clock = lambda: Clock.now
    return Clock


def admin(core) -> Chat:
    return Chat(core, "Ana", room="clinic", admin=True)


def messages(core) -> list[OutboxMessage]:
    with Session(core.engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.not_before)))


def pending(core) -> list[OutboxMessage]:
    return [m for m in messages(core) if m.state == OutboxState.PENDING]


def text_of(message: OutboxMessage) -> str:
    return message.content.replace("\u2068", "").replace("\u2069", "")


def send_due(core, platform: str = "test") -> list[OutboxMessage]:
    """Claim what is due now and record it sent, as a router would; what was sent."""
    with unit_of_work(core.engine) as session:
        due = outbox.claim(session, platform, core.clock(), limit=1000)
        for message in due:
            outbox.record(session, message.id, Sent(f"m{message.id}"), core.clock())
    ids = {message.id for message in due}
    return [m for m in messages(core) if m.id in ids]


def event(core, number: int = 1) -> Event:
    with Session(core.engine) as session:
        found = session.get(Event, number)
        assert found is not None
        return found


def test_an_event_added_in_a_time_zone_is_kept_in_utc_and_shown_in_it(core, clock):
    answer = admin(core).ask(CLINIC + " https://meta.wikimedia.org/wiki/Clinic capacity commons")
    added = event(core)
    assert "Added event #1." in answer and "Jan 14, 2027 at 18:00" in answer
    assert added.starts_at == datetime(2027, 1, 14, 21, 0, tzinfo=UTC)
    assert added.ends_at - added.starts_at == timedelta(minutes=90)
    assert added.timezone == "America/Sao_Paulo" and added.mode == "online"
    listed = Chat(core, "Bia").ask("events commons")
    assert "#1 · \u2068Commons upload clinic\u2069" in listed and "Wikimedia Commons" in listed
    assert "No upcoming events" in Chat(core, "Bia").ask("events communication")
    assert "#1" in Chat(core, "Bia").ask("events january")
    assert "No upcoming events" in Chat(core, "Bia").ask("events february")


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('event add "Old" 2026-01-14 18:00 UTC', "That start is in the past."),
        ('event add "Far" 2027-01-14 18:00 Mars/Olympus', "I do not know the time zone"),
        ('event add "Skip" 2027-03-14 02:30 America/New_York', "the clocks skip it"),
        ('event add "None" 2027-01-14 18:00 UTC 0m', "The end must come after the start."),
        ('event add "Odd" 2027-01-14 18:00 UTC banana', "I do not understand"),
        ('event add "Bad" 2027-02-30 18:00 UTC', "Write the date as 2027-01-14"),
        ('event add "Late" 2027-01-14 25:00 UTC', "Write the date as 2027-01-14"),
    ],
)
def test_a_bad_event_is_refused_and_nothing_is_kept(core, clock, line, says):
    assert says in admin(core).ask(line)
    with Session(core.engine) as session:
        assert session.exec(select(Event)).all() == []


def test_only_a_room_admin_adds_events(core, clock):
    member = Chat(core, "Bia", room="clinic")
    assert "Only an admin of a group room may add events" in member.ask(CLINIC)
    assert "Only an admin of this room" in member.ask("reminders on")
    assert "Only an admin of a group room" in Chat(core, "Bia").ask(CLINIC)  # in private


def test_an_ambiguous_local_time_is_asked_and_each_choice_is_its_own_moment(core, clock):
    ana = admin(core)
    question = ana.ask('event add "Night owls" 2027-11-07 01:30 America/New_York')
    assert "happens twice" in question
    earlier, later = (b for r in ana.replies for b in r.buttons)
    assert "-04:00" in earlier.label and "-05:00" in later.label
    assert "2027-11-07 01:30-05:00 America/New_York" in line_of(core, later)
    ana.press_button(later)
    assert event(core).starts_at == datetime(2027, 11, 7, 6, 30, tzinfo=UTC)  # EST, the 2nd


def test_a_room_is_reminded_at_its_offsets_in_its_language_and_time_zone(core, clock):
    ana = admin(core)
    ana.ask("timezone Africa/Lagos")
    ana.ask("reminders on")
    ana.ask(CLINIC)
    day, hour = pending(core)
    start = datetime(2027, 1, 14, 21, 0, tzinfo=UTC)
    assert (day.not_before, hour.not_before) == (
        start - timedelta(days=1),
        start - timedelta(hours=1),
    )
    assert day.room_id == "room:clinic" and day.account_id is None
    assert "at 22:00 (West Africa Time), in 1 day." in text_of(day)
    assert "in 1 hour." in text_of(hour)
    assert '"command": "going 1"' in day.content  # a button anyone in the room may press
    ana.ask("reminders at 2h,30m")
    assert [m.not_before for m in pending(core)] == [
        start - timedelta(hours=2),
        start - timedelta(minutes=30),
    ]
    ana.ask("reminders off")
    assert pending(core) == []


def test_a_room_reminded_of_some_capacities_gets_only_their_events(core, clock):
    ana = admin(core)
    ana.ask("reminders on communication")  # and every narrower capacity
    ana.ask(CLINIC + " capacity commons")
    ana.ask('event add "Speaking" 2027-01-14 10:00 UTC capacity public speaking')
    assert {m.event_id for m in pending(core)} == {2}
    assert "events about" in ana.ask("reminders status")


def test_a_day_offset_keeps_the_time_of_day_across_a_daylight_saving_change(core, clock):
    clock.now = datetime(2027, 3, 25, 12, 0, tzinfo=UTC)  # Berlin is on CET (+1)
    ana = admin(core)
    ana.ask("reminders on")
    ana.ask('event add "Spring" 2027-03-28 18:00 Europe/Berlin')  # CEST (+2) by then
    day, hour = pending(core)
    assert event(core).starts_at == datetime(2027, 3, 28, 16, 0, tzinfo=UTC)
    assert day.not_before == datetime(2027, 3, 27, 17, 0, tzinfo=UTC)  # 18:00 CET
    assert hour.not_before == datetime(2027, 3, 28, 15, 0, tzinfo=UTC)
    clock.now = hour.not_before  # after the change: the text still says 18:00
    [sent] = [m for m in send_due(core) if m.id == hour.id]
    assert "Mar 28, 2027 at 18:00 (Central European Summer Time)" in text_of(sent)


def test_an_edited_start_replans_and_tells_where_it_was_already_announced(core, clock):
    ana = admin(core)
    ana.ask("reminders on")
    ana.ask(CLINIC)
    clock.now = datetime(2027, 1, 13, 21, 0, tzinfo=UTC)
    [announced] = send_due(core)  # the day-before reminder went out
    ana.ask("event edit 1 2027-01-15 19:00")
    waiting = pending(core)
    moved = [m for m in waiting if "has moved" in text_of(m)]
    assert len(moved) == 1 and "Jan 15, 2027 at 19:00" in text_of(moved[0])
    new_start = datetime(2027, 1, 15, 22, 0, tzinfo=UTC)
    reminders_left = [m.not_before for m in waiting if m.dedupe_key.startswith("remind:")]
    assert reminders_left == [new_start - timedelta(days=1), new_start - timedelta(hours=1)]
    assert announced.id not in {m.id for m in waiting}


def test_a_cancellation_withdraws_what_is_pending_and_tells_who_was_reminded(core, clock):
    ana = admin(core)
    ana.ask("reminders on")
    ana.ask(CLINIC)
    Chat(core, "Bia").ask("going 1")
    clock.now = datetime(2027, 1, 13, 21, 0, tzinfo=UTC)
    sent = send_due(core)
    assert {(m.room_id, m.account_id) for m in sent} == {("room:clinic", None), (None, "bia")}
    assert "Only the organizer" in Chat(core, "Cid", room="other", admin=True).ask("event cancel 1")
    ana.ask("event cancel 1")
    left = pending(core)
    assert all("is cancelled" in text_of(m) for m in left)
    assert {(m.room_id, m.account_id) for m in left} == {("room:clinic", None), (None, "bia")}
    assert "No upcoming events" in Chat(core, "Bia").ask("events")


def test_going_plans_personal_reminders_and_not_going_withdraws_them(core, clock):
    admin(core).ask(CLINIC)
    bia = Chat(core, "Bia")
    assert "You are going to" in bia.ask("going 1")
    assert [m.account_id for m in pending(core)] == ["bia", "bia"]
    assert "#1" in bia.ask("events mine")
    bia.ask("notgoing 1")
    assert pending(core) == []
    assert "There is no event #" in bia.ask("going 99")


def test_a_reminder_overdue_after_downtime_is_dropped_not_sent_late(core, clock):
    ana = admin(core)
    ana.ask("reminders on")
    ana.ask(CLINIC)
    clock.now = datetime(2027, 1, 14, 20, 10, tzinfo=UTC)  # the bot was down for a day
    sent = send_due(core)
    assert [m.not_before for m in sent] == [datetime(2027, 1, 14, 20, 0, tzinfo=UTC)]
    states = [m.state for m in messages(core)]
    assert states == [OutboxState.EXPIRED, OutboxState.SENT]


async def test_an_event_beyond_the_horizon_is_planned_when_it_comes_within_it(core, clock):
    ana = admin(core)
    ana.ask("reminders on")
    ana.ask('event add "Later" 2027-03-01 18:00 UTC')
    assert pending(core) == []
    assert (await core.housekeeping())["reminders planned"] == 0
    clock.now = datetime(2027, 2, 25, 12, 0, tzinfo=UTC)
    assert (await core.housekeeping())["reminders planned"] == 2
    assert (await core.housekeeping())["reminders planned"] == 0  # safe to run again
    assert len(pending(core)) == 2


def test_offsets_are_read_and_bounded():
    assert reminders.parse_offsets("1d, 1h,30m") == [1440, 60, 30]
    assert reminders.offsets_text([1440, 90]) == "1d, 1h30m"
    for bad in ("", "8d", "0m", "soon", "1h,2h,3h,4h,5h"):
        with pytest.raises(ValueError):
            reminders.parse_offsets(bad)


def test_a_timezone_of_ones_own_is_kept_privately(core, clock):
    bia = Chat(core, "Bia")
    assert "I do not know the time zone" in bia.ask("timezone Atlantis/Capital")
    assert "America/Sao_Paulo" in bia.ask("timezone america/sao_paulo")
    admin(core).ask(CLINIC)
    assert "Jan 14, 2027 at 18:00" in bia.ask("event 1")
    with Session(core.engine) as session:
        assert "America/Sao_Paulo" not in session.exec(select(Room.timezone)).all()


def test_an_edit_changes_only_what_it_names(core, clock):
    ana = admin(core)
    ana.ask(CLINIC + " https://meta.wikimedia.org/wiki/Clinic")
    ana.ask("event edit 1 hybrid 2h")
    edited = event(core)
    assert (edited.title, edited.mode) == ("Commons upload clinic", "hybrid")
    assert edited.ends_at - edited.starts_at == timedelta(hours=2)
    ana.ask('event edit 1 "Upload clinic"')
    assert event(core).title == "Upload clinic"
    assert event(core).starts_at == datetime(2027, 1, 14, 21, 0, tzinfo=UTC)


def test_the_guided_form_offers_the_days_then_the_times_to_its_admin_only(core, clock):
    ana = admin(core)
    ana.ask('event add "Commons clinic"')
    days = [b for r in ana.replies for b in r.buttons]
    assert len(days) == 7 and days[0].label == "Jan 10, 2027" and days[0].token
    assert "not yours" in Chat(core, "Bia", room="clinic").press_button(days[3])[0].paragraphs[0]
    ana.press_button(days[3])
    times = [b for r in ana.replies for b in r.buttons]
    assert "At what time (UTC)?" in ana.replies[0].paragraphs[0]
    ana.press_button(next(b for b in times if b.label == "18:00"))
    assert "Added event #1." in ana.replies[0].paragraphs[0]
    assert event(core).starts_at == datetime(2027, 1, 13, 18, 0, tzinfo=UTC)


def test_one_rooms_change_leaves_the_other_rooms_and_people_reminded(core, clock):
    ana = admin(core)
    other = Chat(core, "Cid", room="library", admin=True)
    for room in (ana, other):
        room.ask("reminders on")
    ana.ask(CLINIC)
    Chat(core, "Bia").ask("going 1")
    ana.ask("reminders at 2h")
    places = sorted((m.room_id or m.account_id, m.not_before) for m in pending(core))
    start = datetime(2027, 1, 14, 21, 0, tzinfo=UTC)
    assert places == sorted(
        [
            ("bia", start - timedelta(days=1)),
            ("bia", start - timedelta(hours=1)),
            ("room:clinic", start - timedelta(hours=2)),
            ("room:library", start - timedelta(days=1)),
            ("room:library", start - timedelta(hours=1)),
        ]
    )
