"""iCalendar feeds: their events and repeats imported, changed and removed with the feed, with
their reminders following; bad feeds refused with nothing changed."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bots import feeds
from core.services import ical
from storage.models import Event, EventStatus, OutboxMessage, OutboxState
from tests.chat import Chat
from tests.process import capx_bot

NOW = datetime(2027, 2, 26, 12, 0, tzinfo=UTC)


def calendar(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\nDTSTAMP:20270101T000000Z\r\n{e}END:VEVENT\r\n" for e in events)
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//capx-bot tests//EN\r\n{body}END:VCALENDAR\r\n"
    )


WEEKLY = (
    "UID:weekly@example.org\r\nSUMMARY:Commons office hour\r\n"
    "DTSTART;TZID=Europe/Berlin:20270301T180000\r\nDTEND;TZID=Europe/Berlin:20270301T190000\r\n"
    "RRULE:FREQ=WEEKLY;COUNT=3\r\nCATEGORIES:Wikimedia Commons\r\n"
)
ONCE = (
    "UID:once@example.org\r\nSUMMARY:Wikidata clinic\r\nDTSTART:20270302T100000Z\r\n"
    "DURATION:PT90M\r\nURL:https://meta.wikimedia.org/wiki/Clinic\r\nLOCATION:Lagos\r\n"
)


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def events(core) -> list[Event]:
    with Session(core.engine) as session:
        return list(session.exec(select(Event).order_by(Event.starts_at)))


def pending(core) -> list[OutboxMessage]:
    with Session(core.engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.state == OutboxState.PENDING)
        return list(session.exec(query.order_by(OutboxMessage.not_before)))


@pytest.fixture
def room(core):
    core.clock = lambda: NOW
    admin = Chat(core, "Ana", room="clinic", admin=True)
    admin.say("reminders at 1h")
    admin.say("reminders on")
    return admin


async def test_a_feed_brings_its_events_and_each_repeat_with_reminders(core, room, tmp_path):
    feed = write(tmp_path / "feed.ics", calendar(WEEKLY, ONCE))
    synced = await feeds.import_feed(core, feed)
    assert (synced.added, synced.changed, synced.removed) == (4, 0, 0)
    found = events(core)
    assert [e.title for e in found] == [
        "Commons office hour",
        "Wikidata clinic",
        "Commons office hour",
        "Commons office hour",
    ]
    assert found[0].starts_at == datetime(2027, 3, 1, 17, 0, tzinfo=UTC)
    assert found[0].timezone == "Europe/Berlin" and found[1].mode == "hybrid"
    assert found[1].ends_at - found[1].starts_at == timedelta(minutes=90)
    assert "Wikimedia Commons" in room.ask(f"event {found[0].id}")
    # Within the horizon (8 days): the first two; the later repeats come in with time.
    assert [m.event_id for m in pending(core)] == [found[0].id, found[1].id]
    again = await feeds.import_feed(core, feed)
    assert (again.added, again.changed, again.removed) == (0, 0, 0)
    assert len(pending(core)) == 2


async def test_a_change_at_the_source_changes_here_and_a_removal_cancels(core, room, tmp_path):
    feed = tmp_path / "feed.ics"
    await feeds.import_feed(core, write(feed, calendar(WEEKLY, ONCE)))
    clinic = next(e for e in events(core) if e.title == "Wikidata clinic")
    moved = ONCE.replace("20270302T100000Z", "20270303T120000Z")
    without_second = WEEKLY.replace(
        "COUNT=3\r\n", "COUNT=3\r\nEXDATE;TZID=Europe/Berlin:20270308T180000\r\n"
    )
    synced = await feeds.import_feed(core, write(feed, calendar(without_second, moved)))
    assert (synced.added, synced.changed, synced.removed) == (0, 1, 1)
    by_id = {e.id: e for e in events(core)}
    assert by_id[clinic.id].starts_at == datetime(2027, 3, 3, 12, 0, tzinfo=UTC)
    assert [e.status for e in events(core)].count(EventStatus.CANCELLED) == 1
    [reminder] = [m for m in pending(core) if m.event_id == clinic.id]
    assert reminder.not_before == datetime(2027, 3, 3, 11, 0, tzinfo=UTC)  # re-planned
    synced = await feeds.import_feed(core, write(feed, calendar(without_second)))
    assert synced.removed == 1
    assert by_id[clinic.id].id not in {m.event_id for m in pending(core)}
    assert "No upcoming events" not in room.ask("events")
    assert "Wikidata clinic" not in room.ask("events")


@pytest.mark.parametrize(
    "text",
    [
        "this is not a calendar",
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2027\r\n",  # cut off
    ],
)
async def test_a_malformed_feed_is_refused_and_changes_nothing(core, room, tmp_path, text):
    await feeds.import_feed(core, write(tmp_path / "good.ics", calendar(ONCE)))
    with pytest.raises(feeds.FeedProblem):
        await feeds.import_feed(core, write(tmp_path / "bad.ics", text))
    assert [e.title for e in events(core)] == ["Wikidata clinic"]


async def test_an_event_the_feed_cannot_describe_is_skipped_and_the_rest_imported(core, tmp_path):
    core.clock = lambda: NOW
    broken = "UID:broken@example.org\r\nDTSTART:20270302T100000Z\r\n"  # no title
    synced = await feeds.import_feed(core, write(tmp_path / "f.ics", calendar(broken, ONCE)))
    assert (synced.added, synced.skipped) == (1, 1)


async def test_an_unreachable_feed_and_a_huge_one_are_refused(core, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(feeds.FeedProblem, match="cannot reach it"):
        await feeds.import_feed(core, f"http://127.0.0.1:{port}/feed.ics")
    with pytest.raises(feeds.FeedProblem):
        await feeds.import_feed(core, str(tmp_path / "missing.ics"))
    one = "UID:e{n}@x\r\nSUMMARY:E\r\nDTSTART:20270302T100000Z\r\n"
    huge = calendar(*(one.format(n=n) for n in range(50_000)))
    with pytest.raises(feeds.FeedProblem, match="more than 20,000 events"):
        await feeds.import_feed(core, write(tmp_path / "huge.ics", huge))
    assert events(core) == []


def test_a_feed_keeps_at_most_its_bound_of_occurrences():
    daily = "UID:d@x\r\nSUMMARY:Daily\r\nDTSTART:20270101T100000Z\r\nRRULE:FREQ=HOURLY\r\n"
    feed = ical.read(calendar(daily), NOW)
    assert len(feed.occurrences) == ical.MAX_OCCURRENCES
    assert feed.occurrences[0].starts_at == datetime(2027, 2, 26, 12, 0, tzinfo=UTC)


def test_the_command_line_imports_a_feed(reference_db, tmp_path):
    database = tmp_path / "capx.db"
    database.write_bytes(Path(reference_db).read_bytes())
    soon = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y%m%dT100000Z")
    later = ONCE.replace("20270302T100000Z", soon)
    feed = write(tmp_path / "feed.ics", calendar(later))
    done = capx_bot("--db", str(database), "events", "import", feed)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "events added: 1, changed: 0, removed: 0"
    broken = capx_bot("--db", str(database), "events", "import", str(tmp_path / "nothing.ics"))
    assert broken.returncode == 1
    assert broken.stderr.startswith("capx-bot: cannot import") and "Traceback" not in broken.stderr
