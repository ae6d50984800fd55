"""The outbox: what the bot says on its own is kept until delivered, once, by the adapter of
its platform; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from bots.router import Router
from core.dispatch import Core
from core.services import outbox
from core.types import Later, Outcome, Reply, Sent, Target, Unreachable
from storage.db import make_engine, unit_of_work
from storage.models import OutboxMessage, OutboxState
from tests.chat import Chat, queued
from tests.conftest import NOW, UNLIMITED

ANA = Target("test", account_id="ana")


def reply(text: str) -> Reply:
    return Reply(paragraphs=(text,), private=True)


def states(engine) -> list[str]:
    with Session(engine) as session:
        return [m.state for m in session.exec(select(OutboxMessage).order_by(OutboxMessage.id))]


def test_a_message_is_queued_once_per_cause(engine):
    with unit_of_work(engine) as session:
        assert outbox.enqueue(session, ANA, reply("hello"), key="k1", now=NOW)
        assert not outbox.enqueue(session, ANA, reply("hello again"), key="k1", now=NOW)
    assert states(engine) == ["pending"]


def test_a_claim_is_leased_then_taken_over_when_its_sender_never_finished(engine):
    with unit_of_work(engine) as session:
        outbox.enqueue(session, ANA, reply("hello"), key="k1", now=NOW)
    with unit_of_work(engine) as session:
        [claimed] = outbox.claim(session, "test", NOW)
        assert claimed.reply.paragraphs == ("hello",) and claimed.target == ANA
    with unit_of_work(engine) as session:
        assert outbox.claim(session, "test", NOW + timedelta(seconds=30)) == []
        assert outbox.claim(session, "other", NOW + timedelta(minutes=5)) == []
        [again] = outbox.claim(session, "test", NOW + timedelta(minutes=5))  # crashed sender
        assert again.id == claimed.id and again.key == claimed.key


def test_outcomes_are_recorded_and_later_waits(engine):
    with unit_of_work(engine) as session:
        for key in ("sent", "gone", "later"):
            outbox.enqueue(session, ANA, reply(key), key=key, now=NOW)
    with unit_of_work(engine) as session:
        sent, gone, later = outbox.claim(session, "test", NOW)
        outbox.record(session, sent.id, Sent("m-1"), NOW)
        outbox.record(session, gone.id, Unreachable("blocked"), NOW)
        outbox.record(session, later.id, Later(120), NOW)
    with unit_of_work(engine) as session:
        assert outbox.claim(session, "test", NOW + timedelta(seconds=60)) == []
        [retried] = outbox.claim(session, "test", NOW + timedelta(seconds=121))
        assert retried.id == later.id
    assert states(engine) == ["sent", "unreachable", "pending"]
    with Session(engine) as session:
        assert session.get(OutboxMessage, sent.id).message_id == "m-1"


def test_a_message_past_its_expiry_is_dropped_not_sent_late(engine):
    with unit_of_work(engine) as session:
        outbox.enqueue(session, ANA, reply("old"), key="old", now=NOW, kept_for=timedelta(hours=1))
    with unit_of_work(engine) as session:
        assert outbox.claim(session, "test", NOW + timedelta(hours=2)) == []
    assert states(engine) == [OutboxState.EXPIRED]


def test_two_senders_never_claim_the_same_message(engine, database_url):
    if engine.dialect.name != "postgresql":
        pytest.skip("several senders share PostgreSQL; SQLite serves one process")
    with unit_of_work(engine) as session:
        for n in range(30):
            outbox.enqueue(session, ANA, reply(str(n)), key=f"k{n}", now=NOW)
    other = make_engine(database_url)
    try:
        with unit_of_work(engine) as first, unit_of_work(other) as second:
            mine = outbox.claim(first, "test", NOW, limit=20)
            theirs = outbox.claim(second, "test", NOW, limit=20)  # while mine are locked
            assert {m.id for m in mine}.isdisjoint(m.id for m in theirs)
            assert len(mine) + len(theirs) == 30
    finally:
        other.dispose()


def test_a_helper_for_a_need_queues_the_authors_message_once(core):
    Chat(core, "Ana", room="r").say("need finance a budget")
    helper = Chat(core, "Bia", room="r")
    incoming = helper.incoming("helpwith 1")
    core.handle(incoming)
    core.handle(incoming)  # the platform delivered the same command twice
    [(target, to_author)] = queued(core)
    assert target == Target("test", account_id="ana") and "Bia" in to_author.paragraphs[0]


def test_forget_withdraws_the_messages_kept_for_the_person(core):
    Chat(core, "Ana", room="r").say("need finance a budget")
    Chat(core, "Bia", room="r").say("helpwith 1")
    assert len(queued(core)) == 1
    ana = Chat(core, "Ana")
    [_, export] = ana.say("mydata")
    assert b"messages_to_send" in export.attachment.data and b"Bia" in export.attachment.data
    ana.say("forget")
    ana.say("yes")
    assert queued(core) == []


@dataclass
class Recorder:
    """An adapter that records what it is asked to send, and answers as told."""

    name: str = "test"
    ready: bool = True
    answers: list[Outcome | Exception] = field(default_factory=list)
    sent: list[tuple[Target, Reply, str]] = field(default_factory=list)

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def send(self, target: Target, reply: Reply, *, key: str) -> Outcome:
        self.sent.append((target, reply, key))
        answer = self.answers.pop(0) if self.answers else Sent("ok")
        if isinstance(answer, Exception):
            raise answer
        return answer


async def test_the_router_hands_each_message_to_its_platform_once(core):
    Chat(core, "Ana", room="r").say("need finance a budget")
    Chat(core, "Bia", room="r").say("helpwith 1")
    asleep = Recorder(name="matrix", ready=False)
    test = Recorder(answers=[RuntimeError("a bug in the adapter")])
    router = Router(core, [test, asleep])
    assert await router.deliver_due() == 1  # the adapter failed: tried again later
    assert await router.deliver_due() == 0
    with unit_of_work(core.engine) as session:
        session.exec(select(OutboxMessage)).one().not_before = NOW
    assert await router.deliver_due() == 1
    assert await router.deliver_due() == 0
    assert [target for target, _, _ in test.sent] == [Target("test", account_id="ana")] * 2
    assert test.sent[0][2] == test.sent[1][2]  # the same key: an idempotent retry
    assert asleep.sent == []
    assert states(core.engine) == ["sent"]


async def test_a_queued_message_wakes_the_router(core):
    test = Recorder()
    router = asyncio.create_task(Router(core, [test]).run())
    try:
        await core.handle_async(Chat(core, "Ana", room="r").incoming("need finance a budget"))
        await core.handle_async(Chat(core, "Bia", room="r").incoming("helpwith 1"))
        for _ in range(100):
            if test.sent:
                break
            await asyncio.sleep(0.01)
        assert len(test.sent) == 1
    finally:
        router.cancel()
        with pytest.raises(asyncio.CancelledError):
            await router


def test_a_core_on_another_process_delivers_what_this_one_queued(core, tmp_path):
    Chat(core, "Ana", room="r").say("need finance a budget")
    Chat(core, "Bia", room="r").say("helpwith 1")
    other = Core(core.engine, clock=lambda: NOW, limits=UNLIMITED)
    got: list[Reply] = []
    try:
        assert other.deliver_to(ANA, lambda m: got.append(m.reply) or Sent()) == 1
        assert other.deliver_to(ANA, lambda m: got.append(m.reply) or Sent()) == 0
    finally:
        other.close()
    assert len(got) == 1 and "Bia" in got[0].paragraphs[0]
