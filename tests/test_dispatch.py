"""The core's entry: crashes become apologies, writes are all-or-nothing, async adapters."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from core.commands import build_registry
from core.dispatch import Core
from core.i18n import N_, Translator
from core.registry import Command, Kind, Param
from storage.models import Person
from tests.chat import Chat


def _write_then_crash(ctx, args):
    ctx.me()
    raise RuntimeError("boom")


def test_a_crash_rolls_back_answers_politely_and_logs_no_message_text(core, caplog):
    registry = build_registry()
    registry.add(
        Command(
            "crash",
            N_("crash"),
            N_("crash"),
            _write_then_crash,
            params=(Param("text", Kind.TEXT, N_("text")),),
        )
    )
    crashing = Core(core.engine, registry=registry)
    caplog.set_level(logging.ERROR)

    [reply] = Chat(crashing, "Ana", locale="pt-br").say("crash secret words")

    assert reply.is_error and reply.locale == "pt_BR"
    assert reply.paragraphs == (
        Translator("pt_BR")("Sorry, something went wrong. Please try again later."),
    )
    with Session(core.engine) as session:
        assert session.exec(select(Person)).all() == []
    assert "'crash'" in caplog.text and "secret" not in caplog.text


def test_handle_async_gives_the_same_replies_off_the_event_loop(core):
    chat = Chat(core, "Ana")
    chat.say("offer finance")

    async def both():
        incoming = chat.incoming("profile")
        return await core.handle_async(incoming), core.handle(incoming)

    from_loop, direct = asyncio.run(both())
    assert from_loop == direct and "finance" in from_loop[0].items[0].text


def test_a_quick_answer_comes_back_before_the_loop_runs_anything_else(core):
    """The loop waits for the database thread, blocked, instead of running beside it."""

    async def run() -> tuple[str, list[str]]:
        await core.in_database(lambda session: None)  # the thread and its connection made
        ran: list[str] = []
        asyncio.get_running_loop().call_soon(ran.append, "other work")
        answer = await core.in_database(lambda session: "answer")
        return answer, list(ran)  # a copy: the loop runs what is left once the test ends

    assert asyncio.run(run()) == ("answer", [])


def test_the_loop_goes_on_with_its_work_while_a_slow_answer_is_under_way(core):
    """Here the work can only end once the loop has run another task meanwhile."""
    loop_ran = threading.Event()

    def slow(session) -> str:
        return "answer" if loop_ran.wait(timeout=10) else "the loop stayed blocked"

    async def release() -> None:
        loop_ran.set()

    async def run() -> str:
        other = asyncio.create_task(release())
        answer = await core.in_database(slow)
        await other
        return answer

    assert asyncio.run(run()) == "answer"


def test_a_cancelled_caller_still_waits_for_the_work_under_way(core):
    """What the work writes is written before the caller's own clean-up goes on."""
    started, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def work(session) -> None:
        started.set()
        release.wait(timeout=10)
        finished.append(True)

    async def run() -> tuple[bool, list[bool]]:
        caller = asyncio.create_task(core.in_database(work))
        await asyncio.to_thread(started.wait, 10)
        caller.cancel()
        for _ in range(5):
            await asyncio.sleep(0)
        gave_up = caller.done()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await caller
        return gave_up, finished

    assert asyncio.run(run()) == (False, [True])


def test_a_look_up_writes_nothing_and_activity_is_written_at_most_hourly(core):
    """Every command reads its person and room; only an hour's staleness makes it write."""
    ana = Chat(core, "Ana")
    ana.say("offer communication")
    written: list[str] = []

    def record(_connection, _cursor, statement, *_rest) -> None:
        verb, table = statement.split()[:2]
        if verb.upper() in ("INSERT", "UPDATE", "DELETE"):
            written.append(f"{verb} {table}")

    def activity() -> datetime:
        with Session(core.engine) as session:
            return session.exec(select(Person.last_active_at)).one()

    started = core.clock()
    event.listen(core.engine, "before_cursor_execute", record)
    try:
        core.clock = lambda: started + timedelta(minutes=30)
        ana.say("help")
        soon = list(written)
        core.clock = lambda: started + timedelta(hours=2)
        ana.say("help")
    finally:
        event.remove(core.engine, "before_cursor_execute", record)

    assert soon == []
    assert written == ["UPDATE person"]
    assert activity() == started + timedelta(hours=2)


def test_commands_run_on_one_kept_connection_not_one_from_the_pool_each(core):
    chat = Chat(core, "Ana")
    chat.say("help")  # the first command also loads the reference data
    checkouts = []
    event.listen(core.engine, "checkout", lambda *_: checkouts.append(1))

    for line in ("help", "offer finance", "nonsense", "profile", "find finance"):
        chat.say(line)
    asked = chat.incoming("find")
    completed = core.complete(asked.actor, asked.conversation, "find", "capacity", "financ")

    assert checkouts == [] and completed


def test_a_connection_the_database_server_dropped_is_replaced_before_it_is_used(
    core_on_every_backend,
):
    """The adapters' own records have no second try: on a server, each unit of work takes a
    connection the pool has checked."""
    core = core_on_every_backend
    if core.engine.dialect.name != "postgresql":
        pytest.skip("only a database server drops a connection")
    Chat(core, "Ana").say("offer finance")

    def names(session: Session) -> list[str]:
        return list(session.exec(select(Person.display_name)))

    before = asyncio.run(core.in_database(names))
    others = "pid <> pg_backend_pid() AND datname = current_database()"
    with core.engine.connect() as connection:
        dropped = connection.exec_driver_sql(
            f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE {others}"
        ).scalar_one()
    after = asyncio.run(core.in_database(names))

    assert dropped >= 1 and before == after == ["Ana"]
