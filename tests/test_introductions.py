"""Introductions with consent: asked privately on the other person's platform, contacts
shared only on accept, a kind word on a decline or after a week of silence, and limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from core.services import introductions
from storage.models import ContactRequest, RequestState
from tests.chat import Chat, line_of, queued
from tests.conftest import NOW

core = pytest.fixture(lambda core_on_every_backend: core_on_every_backend)


def plain(text: str) -> str:
    return text.replace("\u2068", "").replace("\u2069", "")


@pytest.fixture
def ana(core) -> Chat:
    """A mentor on Matrix who offers communication and can be found."""
    ana = Chat(core, "Ana", platform="matrix")
    ana.say("offer communication")
    ana.say("visible on")
    return ana


@pytest.fixture
def dora(core) -> Chat:
    return Chat(core, "Dora", platform="telegram")


def test_a_request_asks_the_other_person_privately_on_their_platform(core, ana, dora):
    answer = dora.ask("contact Ana about communication Hello! Could you help our group?")
    assert "I have asked" in answer
    [(target, question)] = queued(core)
    assert (target.platform, target.account_id) == ("matrix", "ana")
    text = plain(" ".join(question.paragraphs))
    assert "Dora would like to learn communication from you." in text
    assert "Their message: Hello! Could you help our group?" in text
    assert [b.label for b in question.buttons] == ["Accept", "Decline"]
    assert "@dora" not in text  # no contact before consent


def test_only_the_person_asked_can_accept_and_then_both_get_contacts(core, ana, dora):
    dora.say("contact Ana about communication")
    [(_, question)] = queued(core)
    accept = question.buttons[0]
    assert line_of(core, accept) == "accept 1"
    assert "not yours" in plain(
        Chat(core, "Eve", platform="matrix").press_button(accept)[0].paragraphs[0]
    )
    assert "There is no request #1 for you." in dora.ask("accept 1")
    ana.replies = [question]
    [to_ana] = ana.press("Accept")
    assert "You can reach Dora here:" in plain(" ".join(to_ana.paragraphs))
    assert "@dora on Telegram" in plain(" ".join(to_ana.paragraphs))
    told = [r for t, r in queued(core) if t.account_id == "dora"]
    assert len(told) == 1 and "Ana accepted your request" in plain(told[0].paragraphs[0])
    assert "@ana on Matrix" in plain(" ".join(told[0].paragraphs))
    assert "already answered" in ana.ask("accept 1")


def test_a_decline_tells_the_asker_kindly_without_detail(core, ana, dora):
    dora.say("contact Ana")
    assert "All right" in ana.ask("decline 1")
    [told] = [r for t, r in queued(core) if t.account_id == "dora"]
    text = plain(told.paragraphs[0])
    assert "Ana cannot take your request right now" in text and "@ana" not in text


async def test_a_request_unanswered_for_a_week_expires_and_the_asker_hears_kindly(core, ana, dora):
    dora.say("contact Ana about communication")
    core.clock = lambda: NOW + timedelta(days=6)
    assert (await core.housekeeping())["requests expired"] == 0
    core.clock = lambda: NOW + introductions.ANSWER_WITHIN
    assert (await core.housekeeping())["requests expired"] == 1
    assert (await core.housekeeping())["requests expired"] == 0  # told once
    [told] = [r for t, r in queued(core) if t.account_id == "dora"]
    assert "has not been able to answer your request this week" in plain(told.paragraphs[0])
    assert "has expired" in ana.ask("accept 1")


def test_bad_requests_are_refused_and_nothing_is_kept(core, ana, dora):
    hidden = Chat(core, "Hugo", platform="matrix")
    hidden.say("offer communication")  # never says "visible on"
    assert "I know no visible profile called" in dora.ask("contact Hugo")
    assert "That is you" in ana.ask("contact Ana")
    ana.say("contacts off")
    assert "Ana does not take contact requests." in plain(dora.ask("contact Ana"))
    with Session(core.engine) as session:
        assert session.exec(select(ContactRequest)).all() == []
    assert queued(core) == []


def test_a_long_message_is_refused(core, ana, dora):
    assert "under 300 characters" in dora.ask("contact Ana " + "x" * 400)
    assert queued(core) == []


def test_limits_on_open_requests_and_on_requests_a_person_receives(core, dora):
    mentors = []
    for name in ("Ana", "Bo", "Cy", "Di", "Ed", "Fa"):
        mentor = Chat(core, name, platform="matrix")
        mentor.say("offer communication")
        mentor.say("visible on")
        mentors.append(mentor)
    for mentor in mentors[:5]:
        assert "I have asked" in dora.ask(f"contact {mentor.name}")
    assert "You already asked" in dora.ask("contact Ana")
    assert "You have 5 requests waiting" in dora.ask("contact Fa")
    for asker in ("Gil", "Hal"):
        assert "I have asked" in Chat(core, asker).ask("contact Fa")
    Chat(core, "Ivy").say("contact Fa")
    assert "many requests today" in Chat(core, "Jo").ask("contact Fa")


def test_mydata_shows_requests_and_forget_erases_them(core, ana, dora):
    dora.say("contact Ana about communication")
    assert '"direction": "made"' in dora.ask("mydata")
    assert '"direction": "received"' in ana.ask("mydata")
    dora.say("forget")
    dora.press("Yes, erase everything")
    with Session(core.engine) as session:
        assert session.exec(select(ContactRequest)).all() == []


def test_a_find_result_offers_to_ask_for_an_introduction(core, ana, dora):
    ana.say("languages en")
    dora.say("languages en")
    dora.say("find communication")
    ask = dora.button("Ask Ana")
    assert line_of(core, ask).startswith("contact @ana about ")
    dora.press_button(ask)
    with Session(core.engine) as session:
        [request] = session.exec(select(ContactRequest)).all()
    assert request.state == RequestState.PENDING and request.capacity_code is not None
