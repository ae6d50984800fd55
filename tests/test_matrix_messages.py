"""What the Matrix adapter reads in the shapes real clients send, and which rooms it trusts as
private: the pure functions of ``adapters.matrix.messages`` and ``adapters.matrix.rooms``."""

from __future__ import annotations

from typing import Any

import pytest
from nio import MatrixRoom

from adapters.matrix import messages, rooms
from core.types import Button, Reply

BOT = "@capxbot:localhost"
ANA = "@ana:localhost"
BEN = "@ben:localhost"
HTML = "org.matrix.custom.html"
QUOTE = "<mx-reply><blockquote><a href='https://matrix.to/#/!r:localhost/$e'>In reply to</a> "
QUOTE += "<a href='https://matrix.to/#/@ben:localhost'>@ben:localhost</a><br>is it on?"
QUOTE += "</blockquote></mx-reply>"
REPLY = {"m.relates_to": {"m.in_reply_to": {"event_id": "$earlier"}}}
THREAD = {
    "m.relates_to": {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": "$latest"},
    }
}
THREAD_REPLY = {
    "m.relates_to": {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": False,
        "m.in_reply_to": {"event_id": "$earlier"},
    }
}
PILL = '<a href="https://matrix.to/#/@capxbot:localhost">CapX Bot</a>'
MENTIONS = {"m.mentions": {"user_ids": [BOT]}}


def text(body: str, html: str | None = None, **extra: Any) -> dict[str, Any]:
    """An ``m.text`` content as a client sends it."""
    content: dict[str, Any] = {"msgtype": "m.text", "body": body, **extra}
    if html is not None:
        content |= {"format": HTML, "formatted_body": html}
    return content


SHAPES = [
    # (what, content, direct, command line)
    ("plain prefix", text("!capx find communication"), False, "find communication"),
    ("prefix in any case", text("!CAPX help"), False, "help"),
    ("bare prefix", text("!capx"), False, "help"),
    ("chat in a room", text("just chatting"), False, None),
    ("plain in a direct room", text("profile"), True, "profile"),
    ("empty body", text("  "), True, None),
    ("no body", {"msgtype": "m.text"}, True, None),
    (
        "Element reply fallback, prefix",
        text("> <@ben:localhost> is it on?\n\n!capx help", QUOTE + "!capx help", **REPLY),
        False,
        "help",
    ),
    (
        "multi-line fallback, direct",
        text("> <@capxbot:localhost> [1] help\n> [2] find\n\n2", QUOTE + "2", **REPLY),
        True,
        "2",
    ),
    (
        "fallback of an emote",
        text("> * <@ben:localhost> waves\n\n!capx privacy", **REPLY),
        False,
        "privacy",
    ),
    (
        "reply fallback, no prefix, room",
        text("> <@ben:localhost> hi\n\nhello", **REPLY),
        False,
        None,
    ),
    ("reply without a fallback (Matrix 1.13+)", text("!capx help", **REPLY), False, "help"),
    (
        "quote only, no blank line: the text itself",
        text("> quoted\n> only", **REPLY),
        True,
        "> quoted\n> only",
    ),
    ("a quote that is not a reply", text("> <@ben:localhost> x\n\n!capx help"), False, None),
    ("thread, falling back", text("!capx capacities", **THREAD), False, "capacities"),
    (
        "thread, falling back: quotes are the text",
        text("> a quote\n\nhelp", **THREAD),
        True,
        "> a quote\n\nhelp",
    ),
    (
        "thread, explicit reply with fallback",
        text("> <@ben:localhost> x\n\n!capx help", **THREAD_REPLY),
        False,
        "help",
    ),
    ("pill and mentions", text("CapX Bot: help", PILL + ": help", **MENTIONS), False, "help"),
    ("pill, no m.mentions", text("CapX Bot: find x", PILL + ": find x"), False, "find x"),
    ("pill in a paragraph", text("CapX Bot, help", f"<p>{PILL}, help</p>"), False, "help"),
    (
        "pill, then the prefix",
        text("CapX Bot: !capx find x", PILL + ": !capx find x", **MENTIONS),
        False,
        "find x",
    ),
    ("bare pill", text("CapX Bot", PILL, **MENTIONS), False, "help"),
    (
        "encoded pill",
        text("capx: help", '<a href="https://matrix.to/#/%40capxbot%3Alocalhost">capx</a>: help'),
        False,
        "help",
    ),
    (
        "pill of someone else",
        text("Ben: help", '<a href="https://matrix.to/#/@ben:localhost">Ben</a>: help'),
        False,
        None,
    ),
    (
        "reply and pill",
        text(
            "> <@ben:localhost> is it on?\n\nCapX Bot: privacy",
            QUOTE + PILL + ": privacy",
            **REPLY,
            **MENTIONS,
        ),
        False,
        "privacy",
    ),
    ("mentions, user id", text("@capxbot:localhost find x", **MENTIONS), False, "find x"),
    ("mentions, localpart", text("capxbot, help", **MENTIONS), False, "help"),
    ("mentions, display name", text("capx bot: help", **MENTIONS), False, "help"),
    ("mentions, not at the start", text("thanks capxbot", **MENTIONS), False, None),
    ("mentions, name inside a word", text("capxbotter help", **MENTIONS), False, None),
    ("a name without a mention", text("CapX Bot: help"), False, None),
    (
        "mentions of others",
        text("capxbot: help", **{"m.mentions": {"user_ids": [BEN]}}),
        False,
        None,
    ),
]


@pytest.mark.parametrize(
    ("content", "direct", "expected"),
    [shape[1:] for shape in SHAPES],
    ids=[shape[0] for shape in SHAPES],
)
def test_the_command_line_in_shapes_real_clients_send(content, direct, expected):
    line = messages.command_line(
        content, prefix="!capx", bot_id=BOT, bot_name="CapX Bot", direct=direct
    )
    assert line == expected


def test_a_reply_is_a_notice_that_mentions_nobody_and_stays_in_its_thread():
    reply = Reply(paragraphs=("@room look",), buttons=(Button("help", "help"),))
    plain = messages.notice(reply, in_reply_to="$command")
    threaded = messages.notice(reply, in_reply_to="$command", thread_root="$root")
    assert plain["m.mentions"] == {} and threaded["m.mentions"] == {}
    assert plain["msgtype"] == "m.notice" and "[1] help" in plain["body"]
    assert plain["m.relates_to"] == {"m.in_reply_to": {"event_id": "$command"}}
    assert threaded["m.relates_to"] == {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": False,
        "m.in_reply_to": {"event_id": "$command"},
    }
    assert "m.relates_to" not in messages.notice(reply)


def test_replies_threads_and_edits_are_told_apart():
    assert messages.is_reply(REPLY) and messages.is_reply(THREAD_REPLY)
    assert not messages.is_reply(THREAD) and not messages.is_reply({})
    assert messages.thread_of(THREAD) == "$root" and messages.thread_of(REPLY) is None
    assert messages.is_edit({"m.relates_to": {"rel_type": "m.replace", "event_id": "$e"}})
    assert not messages.is_edit(REPLY)


def room(
    joined: tuple[str, ...] = (BOT, ANA),
    invited: tuple[str, ...] = (),
    *,
    join_rule: str = "invite",
    history: str = "shared",
) -> MatrixRoom:
    made = MatrixRoom("!dm:localhost", BOT)
    for user in joined:
        made.add_member(user, None, None)
    for user in invited:
        made.add_member(user, None, None, invited=True)
    made.join_rule = join_rule
    made.history_visibility = history
    return made


@pytest.mark.parametrize(
    ("what", "shape", "private"),
    [
        ("the bot and Ana", room(), True),
        ("Ana only invited (a room the bot made)", room((BOT,), (ANA,)), True),
        ("history for members only", room(history="invited"), True),
        ("a third person joined", room((BOT, ANA, BEN)), False),
        ("a third person invited", room((BOT, ANA), (BEN,)), False),
        ("Ana gone", room((BOT,)), False),
        ("the bot only invited", room((ANA,), (BOT,)), False),
        ("someone else with the bot", room((BOT, BEN)), False),
        ("public", room(join_rule="public"), False),
        ("knock", room(join_rule="knock"), False),
        ("world-readable history", room(history="world_readable"), False),
        ("no room", None, False),
    ],
)
def test_a_room_is_private_only_to_the_bot_and_one_person_invite_only(what, shape, private):
    assert rooms.private_to(shape, BOT, ANA) is private, what


def test_a_room_made_as_direct_counts_only_when_its_inviter_made_it_and_joined():
    assert rooms.made_direct_by(room(), BOT, ANA, (ANA,))
    assert rooms.made_direct_by(room(), BOT, ANA, (ANA, BOT))  # version 12, trusted private
    assert not rooms.made_direct_by(room(), BOT, ANA, (BEN,))  # Ben made it, then left
    assert not rooms.made_direct_by(room(), BOT, ANA, (BEN, ANA))
    assert not rooms.made_direct_by(room(), BOT, ANA, (ANA, BEN))  # Ben is a creator too
    assert not rooms.made_direct_by(room(), BOT, ANA, ())
    assert not rooms.made_direct_by(room((BOT,), (ANA,)), BOT, ANA, (ANA,))
    assert not rooms.made_direct_by(room((BOT, ANA), (BEN,)), BOT, ANA, (ANA,))
    assert not rooms.made_direct_by(room(join_rule="public"), BOT, ANA, (ANA,))
    assert rooms.invited_as_direct({"membership": "invite", "is_direct": True})
    assert not rooms.invited_as_direct({"membership": "invite", "is_direct": "yes"})
    assert rooms.creators(ANA, {"additional_creators": [BEN, 3, ANA]}) == (ANA, BEN)
    assert rooms.creators(ANA, {"additional_creators": "@x:y"}) == (ANA,)
