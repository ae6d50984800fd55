"""The CapX mirror: the real client (httpx) against a local stand-in of CapX's backend that
answers with the real shapes (``tests/capx_server.py``), into a real database, then the
core answering from what was mirrored."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import sys
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select, text
from sqlmodel import Session

from bots import capx as capx_sync
from bots.capx import CapxProblem, CapxSettings, Jobs, Mirror
from bots.scheduler import Scheduler
from core.services import capx
from storage.models import (
    CapacityName,
    Event,
    EventCapacity,
    EventStatus,
    Organization,
    Person,
    PersonCapacity,
    PersonLanguage,
)
from tests.capx_server import CapxServer, sample_directory
from tests.chat import Chat
from tests.conftest import NOW

ADDRESS = "hidden.person@example.org"

core = pytest.fixture(lambda core_on_every_backend: core_on_every_backend)
"""These tests run on SQLite and PostgreSQL."""


@pytest.fixture
async def server() -> AsyncIterator[CapxServer]:
    async with CapxServer() as running:
        sample_directory(running)
        yield running


def settings_for(server: CapxServer, **changes) -> CapxSettings:
    """Small pages (so that every list has several), quick retries."""
    base = CapxSettings(
        base_url=server.url,
        translations_url=server.sparql_url,
        contact="ops@capx-bot.example",
        page_size=2,
        timeout_seconds=2.0,
        retries=2,
        backoff_seconds=0.01,
    )
    return dataclasses.replace(base, **changes)


def add_people(server: CapxServer, n: int) -> list[dict]:
    return [
        server.add_profile(
            f"Person {i}",
            display_name=f"Person {i}",
            territory=[next(iter(server.territories))],
            skills_known=[37],
            skills_available=[37],
            language=[{"id": 3, "proficiency": "n"}],
        )
        for i in range(n)
    ]


def mirrored(core) -> dict[int, Person]:
    with Session(core.engine) as session:
        people = session.exec(select(Person).where(Person.source == capx.SOURCE)).scalars()
        return {person.capx_id: person for person in people}


def every_text(core, leave_out: tuple[str, ...] = ()) -> str:
    """Every value of every row of every table (but the columns ``leave_out``), as text."""
    lines = []
    with Session(core.engine) as session:
        for table in inspect(core.engine).get_table_names():
            for row in session.execute(text(f"SELECT * FROM {table}")).mappings():
                kept = {k: v for k, v in row.items() if k not in leave_out}
                lines.append(f"{table} {kept!r}")
    return "\n".join(lines)


async def test_a_sync_mirrors_profiles_with_their_capacities_languages_and_places(core, server):
    ana = server.add_profile(
        "Ana Example",
        display_name="Ana",
        about="I teach public speaking.",
        territory=[_code_of(server, "br")],
        affiliation=[_organization_with_acronym(server)],
        language=[{"id": 1, "proficiency": "n"}, {"id": 3, "proficiency": 3}],
        skills_known=[11, 37],
        skills_available=[37],
        skills_wanted=[51],
    )
    add_people(server, 4)
    done = await Mirror(core, settings_for(server)).sync()
    assert set(done) == set(capx_sync.PHASES)
    people = mirrored(core)
    assert len(people) == 5
    person = people[ana["id"]]
    assert (person.username, person.display_name, person.territory_code) == (
        "Ana Example",
        "Ana",
        "br",
    )
    assert person.discoverable and person.organization_id is not None
    with Session(core.engine) as session:
        held = set(
            session.exec(
                select(PersonCapacity.capacity_code, PersonCapacity.relation).where(
                    PersonCapacity.person_id == person.id
                )
            ).all()
        )
        spoken = set(
            session.exec(
                select(PersonLanguage.lang, PersonLanguage.level).where(
                    PersonLanguage.person_id == person.id
                )
            ).all()
        )
    assert held == {(11, "known"), (37, "known"), (37, "available"), (51, "wanted")}
    assert spoken == {("pt-br", "n"), ("en", "3")}
    seeker = Chat(core, "Seeker")
    found = seeker.ask("find 37")
    assert "Ana" in found and "on the Capacity Exchange, not yet in chat" in found
    assert "https://capx.toolforge.org/profile/Ana_Example" in found
    shown = seeker.ask('profile "Ana Example"')
    assert "From the Capacity Exchange; not in chat yet." in shown
    assert "https://capx.toolforge.org/profile/Ana_Example" in shown
    asked = seeker.ask('contact "Ana Example"')
    assert "not in chat yet" in asked and "capx.toolforge.org/profile/Ana_Example" in asked


async def test_no_email_address_is_kept_shown_or_logged(core, server, caplog):
    caplog.set_level(logging.DEBUG)
    server.add_profile(
        "Hidden Person",
        about=f"Write to me at {ADDRESS} any time",
        contact=[
            {"display_name": "E-mail", "value": ADDRESS},
            {"display_name": "Mail link", "value": f"mailto:{ADDRESS}"},
            {"display_name": "Form", "value": f"https://example.org/form?to={ADDRESS}"},
            {
                "display_name": f"Talk ({ADDRESS})",
                "value": "https://meta.wikimedia.org/wiki/User_talk:Hidden",
            },
        ],
        user={
            "id": 901,
            "username": "Hidden Person",
            "email": ADDRESS,
            "is_staff": False,
            "is_active": True,
            "date_joined": "2026-01-01T00:00:00Z",
        },
    )
    await Mirror(core, settings_for(server)).sync()
    assert "example.org" not in every_text(core).replace("meta.wikimedia.org", "")
    shown = Chat(core, "Reader").ask('profile "Hidden Person"')
    assert "@" not in shown.replace("@reader", "")
    assert "https://meta.wikimedia.org/wiki/User_talk:Hidden" in shown
    assert "any time" in shown
    assert ADDRESS not in caplog.text and "hidden.person" not in caplog.text


async def test_a_second_sync_changes_nothing(core, server):
    add_people(server, 5)
    settings = settings_for(server)
    await Mirror(core, settings).sync()
    bookkeeping = ("capx_seen_at", "updated_at", "value")  # when it was seen; sync_state
    before = every_text(core, bookkeeping)
    again = await Mirror(core, settings).sync(full=True)
    assert "0 written" in again["profiles"] and "5 unchanged" in again["profiles"]
    quick = await Mirror(core, settings).sync(("profiles",))
    assert "0 written" in quick["profiles"]
    assert every_text(core, bookkeeping) == before


async def test_an_incremental_sync_reads_only_what_changed(core, server):
    people = add_people(server, 9)
    settings = settings_for(server)
    await Mirror(core, settings).sync()
    server.touch(people[3]["id"], display_name="Renamed Person")
    server.requests.clear()
    done = await Mirror(core, settings).sync(("profiles",))
    assert "1 written" in done["profiles"]
    assert mirrored(core)[people[3]["id"]].display_name == "Renamed Person"
    pages = [seen for seen in server.requests if seen.path == "/users/"]
    assert len(pages) == 1 and pages[0].query["ordering"] == "-last_update"


async def test_a_reconcile_removes_what_vanished_and_nothing_else(core, server):
    people = add_people(server, 6)
    settings = settings_for(server)
    await Mirror(core, settings).sync()
    chat_person = Chat(core, "Person 2")
    chat_person.say("offer 37")
    server.remove(people[2]["id"])
    newcomer = server.add_profile("Newcomer")
    done = await Mirror(core, settings).sync(("profiles",))
    # No change tells of a closed account; CapX's count, below what is mirrored, does.
    assert "fewer profiles" in done["profiles"] and "1 removed" in done["profiles"]
    assert set(mirrored(core)) == {p["id"] for p in people} - {people[2]["id"]} | {newcomer["id"]}
    assert "Person 2" in chat_person.ask("profile"), "the chat-made namesake stays"
    server.remove(people[4]["id"])
    done = await Mirror(core, settings).sync(("profiles",), full=True)
    assert "1 removed" in done["profiles"] and people[4]["id"] not in mirrored(core)


async def test_forget_erases_the_chat_person_and_never_the_capx_one(core, server):
    ana = server.add_profile(
        "Ana Example", display_name="Ana", skills_available=[37], skills_known=[37]
    )
    await Mirror(core, settings_for(server)).sync()
    chat_ana = Chat(core, "Ana")
    chat_ana.say("offer 37")
    chat_ana.say("forget")
    chat_ana.press("Yes, erase everything")
    assert "I keep nothing about you." in chat_ana.ask("forget")
    assert ana["id"] in mirrored(core)


async def test_an_interrupted_reconcile_goes_on_where_it_stopped(core, server):
    add_people(server, 9)
    settings = settings_for(server, retries=0)
    server.fail_next("/users/", 500, after=2)
    with pytest.raises(CapxProblem):
        await Mirror(core, settings).sync(("profiles",))
    assert len(mirrored(core)) == 4, "two pages of two were written before the failure"
    server.requests.clear()
    await Mirror(core, settings).sync(("profiles",))
    assert len(mirrored(core)) == 9
    offsets = [int(seen.query["offset"]) for seen in server.requests if seen.path == "/users/"]
    assert offsets[0] == 4, "it went on from the third page"


async def test_retries_wait_as_the_server_asks_then_succeed(core, server):
    server.fail_next("/skill/", 429, retry_after=0)
    server.fail_next("/territory/", 503, times=2)
    await Mirror(core, settings_for(server)).sync(("capacities", "territories"))
    tries = [seen.path for seen in server.requests if seen.query.get("offset") == "0"]
    assert tries.count("/skill/") == 2 and tries.count("/territory/") == 3
    agent = server.requests[0].user_agent
    assert agent.startswith("capx-bot/") and "(ops@capx-bot.example)" in agent


async def test_a_server_that_keeps_failing_is_a_bounded_failure_and_keeps_what_was_synced(
    core, server
):
    add_people(server, 3)
    settings = settings_for(server)
    await Mirror(core, settings).sync()
    server.fail_next("/users/", 500, times=100)
    with pytest.raises(CapxProblem, match=r"answered 500 \(3 tries\)"):
        await Mirror(core, settings).sync(("profiles",), full=True)
    assert len(mirrored(core)) == 3
    assert "Person 1" in Chat(core, "Reader").ask("find 37")


async def test_a_timeout_fails_the_sync_and_the_next_one_succeeds(core, server):
    add_people(server, 3)
    settings = settings_for(server, timeout_seconds=0.2, retries=0)
    server.hang_next("/users/", 2.0)
    with pytest.raises(CapxProblem, match="did not answer in time"):
        await Mirror(core, settings).sync(("profiles",))
    await Mirror(core, settings).sync(("profiles",))
    assert len(mirrored(core)) == 3


@pytest.mark.parametrize("body", ["not json{", '{"count": 1, "results": "none"}'])
async def test_an_answer_of_the_wrong_shape_changes_nothing(core, server, body):
    add_people(server, 3)
    server.fail_next("/users/", 200, body=body)
    with pytest.raises(CapxProblem):
        await Mirror(core, settings_for(server)).sync(("profiles",))
    assert mirrored(core) == {}


async def test_a_list_that_never_ends_is_refused(core, server):
    add_people(server, 3)
    server.endless("/users/")
    with pytest.raises(CapxProblem, match="never ends"):
        await Mirror(core, settings_for(server, page_size=50)).sync(("profiles",))


async def test_records_of_the_wrong_shape_are_skipped_and_the_rest_read(core, server):
    good = server.add_profile("Good Shape", skills_known=[37], extra_field={"new": "thing"})
    odd = server.add_profile(
        "Odd Types",
        territory="br",
        language=[{"id": 3, "proficiency": "x"}, {"id": "3"}],
        skills_known="37",
        contact="not a list",
        about=None,
    )
    unknown = server.add_profile(
        "Unknown Ids", territory=[9999], skills_known=[37, 99999], language=[{"id": 777}]
    )
    bare = server.add_profile("Bare")
    for optional in ("display_name", "about", "contact", "language", "territory", "skills_known"):
        del bare[optional]
    broken = server.add_profile("Broken")
    broken["id"] = "abc"
    done = await Mirror(core, settings_for(server)).sync()
    assert "1 unreadable" in done["profiles"]
    assert "1 unknown capacity ids" in done["profiles"]
    assert "1 unknown territory ids" in done["profiles"]
    people = mirrored(core)
    assert set(people) == {good["id"], odd["id"], unknown["id"], bare["id"]}
    assert people[odd["id"]].territory_code is None and people[odd["id"]].about is None
    assert (
        people[bare["id"]].display_name == "Bare" and people[unknown["id"]].territory_code is None
    )
    with Session(core.engine) as session:
        held = session.exec(
            select(PersonCapacity.capacity_code).where(
                PersonCapacity.person_id == people[unknown["id"]].id
            )
        ).scalars()
        assert set(held) == {37}


async def test_a_giant_page_is_read(core, server):
    add_people(server, 3000)
    done = await Mirror(core, settings_for(server, page_size=1000)).sync(("profiles",))
    assert "3000 written" in done["profiles"]


async def test_capacity_names_come_from_the_translation_source_or_stay_as_shipped(core, server):
    qid = server.skills[37]["skill_wikidata_item"]
    server.labels[qid] = {"pt-br": ("Oratória pública", "Falar bem em público")}
    await Mirror(core, settings_for(server)).sync(("capacities",))
    assert core.taxonomy.name(37, "pt_BR") == "Oratória pública"
    with Session(core.engine) as session:
        row = session.get(CapacityName, (37, "pt-br"))
        assert row.source == "capx"
    server.labels.clear()
    server.fail_next("/sparql", 500, times=10)
    done = await Mirror(core, settings_for(server)).sync(("capacities",))
    assert "the shipped ones" in done["capacities"]
    assert core.taxonomy.name(37, "pt_BR") == "Oratória pública", "what was synced stays"


async def test_events_come_with_their_capacities_and_are_cancelled_when_gone(core, server):
    start = NOW + timedelta(days=3)
    event = server.add_event(
        "Public speaking clinic",
        start.isoformat().replace("+00:00", "Z"),
        (start + timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
        related_skills=[37, 99999],
        type_of_location="virtual",
        url="https://meta.wikimedia.org/wiki/Event:Clinic",
    )
    server.add_event("Long past", "2020-01-01T10:00:00Z", "2020-01-01T11:00:00Z")
    await Mirror(core, settings_for(server)).sync()
    with Session(core.engine) as session:
        stored = session.exec(select(Event).where(Event.source == "capx")).scalars().all()
        assert [e.title for e in stored] == ["Public speaking clinic"]
        codes = session.exec(
            select(EventCapacity.capacity_code).where(EventCapacity.event_id == stored[0].id)
        ).scalars()
        assert list(codes) == [37]
    assert "Public speaking clinic" in Chat(core, "Reader").ask("events")
    del server.events[event["id"]]
    await Mirror(core, settings_for(server)).sync(("events",))
    with Session(core.engine) as session:
        assert (
            session.exec(select(Event.status).where(Event.source == "capx")).scalar_one()
            == EventStatus.CANCELLED
        )


async def test_organizations_are_found_by_acronym_or_by_name_and_keep_their_capx_id(core, server):
    done = await Mirror(core, settings_for(server)).sync(("organizations",))
    with Session(core.engine) as session:
        found = session.exec(select(Organization).where(Organization.capx_id.is_not(None)))
        named = {o.capx_id: o for o in found.scalars()}
    listed = {i: o for i, o in server.organizations.items() if o["managers"]}
    assert {i: named[i].acronym for i in listed} == {i: o["acronym"] for i, o in listed.items()}
    # Wikigrannies has no manager, so CapX lists it only by name: it is ours of that name.
    assert (
        named[143].name == "Wikigrannies User Group"
        and "by name alone: 1 written" in (done["organizations"])
    )


async def test_an_account_made_again_under_its_old_username_takes_the_name_over(core, server):
    old = server.add_profile("Made Again", skills_known=[37])
    settings = settings_for(server)
    await Mirror(core, settings).sync()
    server.remove(old["id"])
    new = server.add_profile("Made Again", skills_known=[38])
    done = await Mirror(core, settings).sync(("profiles",))
    assert "1 written" in done["profiles"]
    assert mirrored(core)[new["id"]].username == "Made Again"
    await Mirror(core, settings).sync(("profiles",), full=True)
    assert set(mirrored(core)) == {new["id"]}


async def test_the_command_line_syncs_and_says_how_fresh_the_mirror_is(
    reference_db, tmp_path, server
):
    database = tmp_path / "capx.db"
    database.write_bytes(reference_db.read_bytes())
    add_people(server, 3)
    config = tmp_path / "capx.toml"
    config.write_text(
        f'[capx]\nbase_url = "{server.url}"\ntranslations_url = ""\n'
        'contact = "ops@capx-bot.example"\npage_size = 2\n',
        encoding="utf-8",
    )

    async def run(*args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots.cli",
            "--config",
            str(config),
            "--db",
            str(database),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        return process.returncode, out.decode(), err.decode()

    status, out, err = await run("capx", "status")
    assert status == 0 and "profiles: never synced" in out and "profiles mirrored: 0" in out
    status, out, err = await run("capx", "sync")
    assert status == 0, err
    assert "profiles: 3 written" in out and "requests to" in out
    status, out, _ = await run("capx", "status")
    assert "profiles mirrored: 3" in out and "profiles: synced 0 min ago" in out
    status, _, err = await run("capx", "sync", "people")
    assert status == 2 and "no phase 'people'" in err
    config.write_text(f'[capx]\nbase_url = "{server.url}"\n', encoding="utf-8")
    status, _, err = await run("capx", "sync")
    assert status == 2 and "needs [capx] contact" in err
    config.write_text(
        f'[capx]\nbase_url = "{server.url}"\ntranslations_url = ""\ncontact = "ops"\n',
        encoding="utf-8",
    )
    server.fail_next("/skill/", 500, times=100)
    status, _, err = await run("capx", "sync", "capacities")
    assert status == 1 and "cannot sync from CapX" in err and "Traceback" not in err


def _code_of(server: CapxServer, acronym: str) -> int:
    return next(i for i, t in server.territories.items() if t["territory_acronym"] == acronym)


def _organization_with_acronym(server: CapxServer) -> int:
    return next(i for i, o in server.organizations.items() if o.get("acronym"))


async def test_the_scheduler_syncs_at_start_when_no_full_sync_was_ever_made(core, server):
    add_people(server, 3)
    settings = settings_for(server, enabled=True)
    task = asyncio.create_task(Scheduler(core, [], 60, settings).run())
    try:
        for _ in range(200):
            if len(mirrored(core)) == 3:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert len(mirrored(core)) == 3


async def test_after_a_failure_the_jobs_wait_before_trying_again(core, server):
    jobs = Jobs(core, settings_for(server, retries=0))
    server.fail_next("/users/", 500)
    await jobs.reconcile()
    assert jobs.failures == 1 and jobs.not_before is not None
    asked = len(server.requests)
    await jobs.incremental()
    assert len(server.requests) == asked, "no request while it waits"
    jobs.not_before = None
    await jobs.reconcile()
    assert jobs.failures == 0 and jobs.not_before is None


async def test_a_username_taken_here_by_someone_else_skips_that_profile_only(core, server):
    with Session(core.engine) as session:
        session.add(Person(display_name="Verified here", username="Taken Name"))
        session.commit()
    server.add_profile("Taken Name", skills_known=[37])
    add_people(server, 2)
    done = await Mirror(core, settings_for(server)).sync(("profiles",))
    assert "2 written" in done["profiles"] and "1 skipped (their username" in done["profiles"]
    with Session(core.engine) as session:
        holder = session.exec(select(Person).where(Person.username == "Taken Name")).scalar_one()
    assert holder.source == "chat" and holder.display_name == "Verified here"


async def test_a_capx_username_never_hides_a_chat_handle(core, server):
    victim = Chat(core, "Victim")
    victim.say("offer 37")
    victim.say("visible on")
    server.add_profile("victim", display_name="Not the victim", skills_known=[37])
    await Mirror(core, settings_for(server)).sync(("profiles",))
    reader = Chat(core, "Reader")
    assert "Not the victim" not in reader.ask("profile @victim")
    assert "Not the victim" in reader.ask("profile victim")
