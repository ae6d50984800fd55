"""Safe in a real group: buttons belong to whom they were shown, needs to their room, identities
come from the platform, input is cleaned and rate-limited, and forget leaves nothing behind.
Each test plays the attacker (or the careless neighbour) through the core's single entry."""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import event, text
from sqlmodel import Session, SQLModel, select

from core.dispatch import Core
from core.limits import Limits
from core.services import outbox
from core.types import Actor, Conversation, Incoming, Reply, Target
from storage import chats
from storage.db import make_engine, unit_of_work
from storage.models import ChatIdentity, Need, Person, PersonCapacity
from tests.chat import Chat, isolated, line_of
from tests.conftest import NOW, UNLIMITED

FINANCE, PUBLIC_SPEAKING = 11, 46


def rows(core: Core, model) -> list:
    with Session(core.engine) as session:
        return list(session.exec(select(model)))


# buttons


def test_a_suggestion_pressed_by_someone_else_changes_nothing_of_theirs(core):
    bia = Chat(core, "Bia", room="r")
    bia.say("offer finance")
    ana = Chat(core, "Ana", room="r")
    [mistyped] = ana.say("forgte confirm")
    suggestion = mistyped.buttons[0]
    assert suggestion.label == "forget" and suggestion.token is not None

    [refused] = bia.press_button(suggestion)
    assert refused.is_error and refused.ephemeral
    assert refused.paragraphs == ("This button is not yours: send the command yourself.",)
    assert [p.display_name for p in rows(core, Person)] == ["Bia"]
    assert "finance" in bia.ask("profile")


def test_a_suggestion_carries_arguments_only_into_look_ups(core):
    chat = Chat(core, "Ana", room="r")
    [about] = chat.say("abuot I am the admin here, trust me")
    assert [line_of(core, b) for b in about.buttons] == ["about"]
    [capacities] = chat.say("capacitys 36")
    assert [b.command for b in capacities.buttons] == ["capacities 36"]  # anyone may press


def test_buttons_are_bound_unless_they_are_look_ups_or_offers_to_the_room(core):
    ana = Chat(core, "Ana", room="r")
    [privacy] = ana.say("privacy")
    assert all(b.token for b in privacy.buttons)  # mydata and forget: Ana's alone
    [posted] = ana.say("need finance a budget for 2027")
    [can_help] = posted.buttons
    assert can_help.command == "helpwith 1" and can_help.token is None  # for the whole room
    bia = Chat(core, "Bia", room="r")
    assert bia.press_button(can_help)[0].private  # Bia offers help, as herself
    [start] = bia.say("start")
    assert [b.command for b in start.buttons] == ["capacities", "profile", "help"]


def test_the_choices_of_a_question_are_bound_to_whom_it_was_asked(core):
    ana = Chat(core, "Ana", room="r")
    [question] = ana.say("offer management, budgeting")
    assert question.is_error and all(b.token for b in question.buttons)
    bia = Chat(core, "Bia", room="r")
    assert bia.press_button(question.buttons[0])[0].ephemeral  # not Bia's to press
    assert rows(core, Person) == []
    assert not ana.press_button(question.buttons[0])[0].is_error


def test_a_look_up_too_long_to_carry_is_kept_but_still_for_anyone(core):
    ana = Chat(core, "Ana", room="r")
    [question] = ana.say("find management in Brazilian Portuguese near Latin America")
    choice = question.buttons[0]
    assert choice.token is not None and len(line_of(core, choice).encode()) > 48
    [found] = Chat(core, "Bia", room="r").press_button(choice)
    assert not found.is_error and found.title.startswith("Who can help with")


def test_a_button_outlives_a_restart_then_says_it_expired(core):
    ana = Chat(core, "Ana")
    [question] = ana.say("language")
    button = question.buttons[0]
    restarted = Core(core.engine, clock=lambda: NOW, limits=UNLIMITED)
    try:
        assert not Chat(restarted, "Ana").press_button(button)[0].is_error
        later = Core(core.engine, clock=lambda: NOW + timedelta(days=31), limits=UNLIMITED)
        [expired] = Chat(later, "Ana").press_button(button)
        assert expired.paragraphs == ("This button has expired. Please send the command again.",)
        later.close()
    finally:
        restarted.close()


def test_the_forget_confirmation_works_once_for_minutes_and_only_for_its_owner(core):
    ana = Chat(core, "Ana")
    ana.say("offer finance")
    [question] = ana.say("forget")
    confirm, keep = question.buttons
    assert confirm.confirms and not keep.confirms and confirm.command == ""

    assert Chat(core, "Bia").press_button(confirm)[0].ephemeral
    late = Core(core.engine, clock=lambda: NOW + timedelta(minutes=11), limits=UNLIMITED)
    assert Chat(late, "Ana").press_button(confirm)[0].ephemeral
    late.close()
    assert len(rows(core, Person)) == 1

    assert not ana.press_button(confirm)[0].is_error
    assert rows(core, Person) == []
    assert ana.press_button(confirm)[0].ephemeral  # spent


def test_a_bare_number_after_a_restart_says_the_choice_is_gone(core):
    [reply] = Chat(core, "Ana").say("2")
    assert reply.is_error and "no longer there" in reply.paragraphs[0]


# needs belong to their room


def test_a_need_of_one_room_is_not_listed_in_another(core):
    Chat(core, "Ana", room="a").say("need finance a budget for 2027")
    stranger = Chat(core, "Bia", room="b")
    assert "No open needs" in stranger.ask("needs")
    assert stranger.say("helpwith 1")[0].paragraphs == ("There is no need #1.",)
    assert "No open needs" in Chat(core, "Bia").ask("needs")
    assert "a budget for 2027" in Chat(core, "Cai", room="a").ask("needs")


def test_a_private_chat_lists_ones_own_needs_and_the_published_ones(core):
    Chat(core, "Ana", room="a").say("need finance a budget for 2027")
    Chat(core, "Bia", room="b").say("need public speaking a trainer")
    [own] = Chat(core, "Ana").say("needs")
    assert [item.text for item in own.items] == ["#1 · finance"]
    assert "posted in a room on Test" in own.items[0].detail

    assert Chat(core, "Bia", room="b").say("roomneeds public")[0].is_error  # not an admin
    admin = Chat(core, "Dora", room="b", admin=True)
    assert "public" in admin.say("roomneeds public")[0].paragraphs[0]
    [published] = Chat(core, "Cai").say("needs")
    assert [item.text for item in published.items] == ["#2 · public speaking"]
    assert not Chat(core, "Cai").say("helpwith 2")[0].is_error
    assert Chat(core, "Cai").say("helpwith 1")[0].is_error
    admin.say("roomneeds private")
    assert "No open needs" in Chat(core, "Eva").ask("needs")


def test_a_listed_need_says_which_room_it_came_from(core):
    titled = Chat(core, "Ana", room="a")
    incoming = titled.incoming("need finance a budget")
    titled.core.handle(
        replace(incoming, conversation=replace(incoming.conversation, title="Lusofonia"))
    )
    [own] = Chat(core, "Ana").say("needs")
    assert f"posted in {isolated('Lusofonia')} on Test" in own.items[0].detail


def test_a_room_takes_only_so_many_new_needs_an_hour(core):
    limited = Core(core.engine, clock=lambda: NOW, limits=Limits(needs_per_room_per_hour=2))
    try:
        for n in range(2):
            assert not Chat(limited, f"P{n}", room="r").say(f"need finance help {n}")[0].is_error
        [refused] = Chat(limited, "Zed", room="r").say("need finance one more")
        assert refused.is_error and "slow down" in refused.paragraphs[0]
        assert not Chat(limited, "Zed", room="other").say("need finance elsewhere")[0].is_error
        assert len(rows(core, Need)) == 3
    finally:
        limited.close()


# identities


def actor(name: str, **fields) -> Actor:
    return Actor(
        platform="telegram", account_id=fields.pop("id", "42"), display_name=name, **fields
    )


def say_as(core: Core, who: Actor, line: str, room: str | None = None):
    conversation = Conversation(who.platform, room or f"direct:{who.account_id}", room is None)
    command, _, arguments = line.partition(" ")
    return core.handle(Incoming(who, conversation, command, arguments))


def test_a_display_name_is_never_shown_as_a_handle(core):
    zed = actor("@zed", id="1001")
    say_as(core, zed, "need finance a budget", room="g")
    replies = say_as(core, actor("Helper", id="1002", handle="@helper"), "helpwith 1", room="g")
    to_helper = replies[0]
    text = " ".join(to_helper.paragraphs)
    assert "@zed on Telegram" not in text.replace("\u2068", "").replace("\u2069", "")
    assert [link.url for link in to_helper.links] == ["tg://user?id=1001"]
    assert [i.handle for i in rows(core, ChatIdentity) if i.account_id == "1001"] == [None]


def test_handles_and_names_follow_what_the_platform_says(core):
    say_as(core, actor("Ana", handle="@ana_old"), "offer finance")
    say_as(core, actor("Ana Souza", handle="@ana"), "help")
    [identity] = rows(core, ChatIdentity)
    assert identity.handle == "@ana" and rows(core, Person)[0].display_name == "Ana Souza"
    say_as(core, actor("Ana Souza"), "help")
    assert rows(core, ChatIdentity)[0].handle is None


def test_an_anonymous_admin_is_not_a_person(core):
    anonymous = actor("Group", id="chat:-100", is_anonymous=True, is_room_admin=True)
    [refused] = say_as(core, anonymous, "offer finance", room="-100")
    assert refused.is_error and "Send this as yourself" in refused.paragraphs[0]
    assert rows(core, Person) == []
    assert not say_as(core, anonymous, "capacities", room="-100")[0].is_error
    assert not say_as(core, anonymous, "roomlanguage pt-br", room="-100")[0].is_error
    assert say_as(core, anonymous, "mydata", room="-100")[0].is_error


# input hygiene and load


def test_control_characters_and_bidi_overrides_are_removed(core):
    chat = Chat(core, "Ana\x00\u202e")
    chat.say("about I edit\x00 \x1b[2Jwikis \u202eevil\u2066\nand more")
    [person] = rows(core, Person)
    assert person.about == "I edit [2Jwikis evil\nand more"
    assert person.display_name == "Ana"


def test_user_text_is_isolated_in_left_to_right_locales_too(core):
    [reply] = Chat(core, "Ana").say("capacities zzzzqqq")
    assert isolated("zzzzqqq") in reply.paragraphs[0]


def test_the_26th_item_is_refused(core):
    chat = Chat(core, "Ana")
    twenty_six = ", ".join(["finance"] * 26)
    [refused] = chat.say(f"offer {twenty_six}")
    assert refused.is_error and "at most 25" in refused.paragraphs[0]
    assert rows(core, PersonCapacity) == []
    assert not chat.say(f"offer {', '.join(['finance'] * 25)}")[0].is_error
    languages = ", ".join(f"{code} 3" for code in ["en", "pt", "ar", "fr", "es"] * 6)
    assert "at most 25" in chat.say(f"languages {languages}")[0].paragraphs[0]


def test_a_huge_misspelt_list_is_an_answer_not_a_wait(core):
    [reply] = Chat(core, "Ana").say("offer " + "x" * 4000)
    assert reply.is_error and rows(core, Person) == []


def test_a_burst_from_one_person_is_slowed_while_another_is_answered(core):
    seconds = [0.0]
    limited = Core(
        core.engine,
        clock=lambda: NOW,
        limits=Limits(commands_burst=5, commands_per_minute=6),
        limiter_clock=lambda: seconds[0],
    )
    try:
        flooder, neighbour = Chat(limited, "Flood"), Chat(limited, "Calm")
        answers = [flooder.say(f"need finance spam {n}") for n in range(8)]
        assert [len(a) for a in answers] == [1] * 5 + [1, 0, 0]
        assert "too fast" in answers[5][0].paragraphs[0]
        assert not neighbour.say("help")[0].is_error
        seconds[0] += 10  # one command a minute per 10 s... six a minute: one token back
        assert not flooder.say("help")[0].is_error
    finally:
        limited.close()


# logs


def test_a_crash_logs_the_command_and_the_error_type_but_no_parameters(core, caplog, monkeypatch):
    caplog.set_level(logging.INFO)

    def broken(session, *_room):
        session.execute(
            text("INSERT INTO room (id, platform, room_id) VALUES (1, 'x', :secret)"),
            {"secret": "secret-words"},
        )
        session.execute(
            text("INSERT INTO room (id, platform, room_id) VALUES (1, 'x', :secret)"),
            {"secret": "secret-words"},
        )

    monkeypatch.setattr("storage.chats.ensure_room", broken)
    [reply] = Chat(core, "Ana", room="r").say("need finance secret-words")
    assert reply.is_error and "went wrong" in reply.paragraphs[0]
    assert "'need' failed: IntegrityError at" in caplog.text
    assert "secret" not in caplog.text and "parameters" not in caplog.text


# forget means forgotten


def test_after_forget_no_table_holds_the_persons_ids(core):
    ana = Actor(platform="telegram", account_id="777123", display_name="Ana Zyx", handle="@anazyx")
    say_as(core, ana, "offer finance")
    say_as(core, ana, "need finance a budget for 2027", room="g")
    say_as(core, actor("Bia", id="555"), "helpwith 1", room="g")
    with unit_of_work(core.engine) as session:
        chats.mark_unreachable(session, "telegram", "777123", "forbidden", NOW)
        chats.add_direct_room(session, "telegram", "dm-of-ana", "777123", NOW)
        chats.mark_unreachable(session, "telegram", "dm-of-ana", "gone", NOW)
        held = Reply(paragraphs=("kept for Ana",), private=True)
        target = Target("telegram", account_id="777123")
        outbox.enqueue(session, target, held, key="held:1", now=NOW, held=True)
    [question] = say_as(core, ana, "forget")
    assert say_as(core, ana, "mydata")[1].attachment.data.count(b"777123") >= 4
    conversation = Conversation("telegram", "direct:777123", True)
    [done] = core.handle(Incoming(ana, conversation, "", pressed=question.buttons[0].token))
    assert "erased" in done.paragraphs[0]

    leftovers = []
    with Session(core.engine) as session:
        for table in SQLModel.metadata.sorted_tables:
            for row in session.execute(table.select()):
                found = [
                    str(v)
                    for v in row
                    if v is not None
                    and ("777123" in str(v) or "Zyx" in str(v) or "dm-of-ana" in str(v))
                ]
                if found:
                    leftovers.append((table.name, found))
    assert leftovers == []
    assert "Bia" in [p.display_name for p in rows(core, Person)]


@pytest.fixture
def shared_database(database_url):
    """Two cores, as two processes would be, on one migrated, seeded database."""
    from storage import migrate
    from storage.seed import seed_reference

    engine = make_engine(database_url)
    migrate.upgrade(engine)
    with unit_of_work(engine) as session:
        seed_reference(session)
    other = make_engine(database_url)
    yield engine, other
    other.dispose()
    engine.dispose()


def test_two_processes_creating_the_same_person_both_succeed(shared_database, caplog):
    caplog.set_level(logging.INFO, logger="core.dispatch")
    engines = shared_database
    barrier = threading.Barrier(2, timeout=10)

    def wait_before_creating_the_person(conn, cursor, statement, parameters, context, many):
        if statement.lstrip().upper().startswith("INSERT INTO PERSON ") and not barrier.broken:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()

    for engine in engines:
        event.listen(engine, "before_cursor_execute", wait_before_creating_the_person)
    cores = [Core(engine, clock=lambda: NOW, limits=UNLIMITED) for engine in engines]
    results: list = [None, None]

    def first_command(index: int) -> None:
        results[index] = Chat(cores[index], "Ana").say(f"offer {FINANCE}")

    threads = [threading.Thread(target=first_command, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for core in cores:
        core.close()
    assert all(r is not None and not r[0].is_error for r in results), results
    assert "lost a race" in caplog.text  # the two really met
    with Session(engines[0]) as session:
        assert len(session.exec(select(ChatIdentity)).all()) == 1
        assert len(session.exec(select(Person)).all()) == 1
        assert len(session.exec(select(PersonCapacity)).all()) == 2
