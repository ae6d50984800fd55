"""Introductions: ``contact`` asks a person privately whether they would like to be put in
touch; only their "accept" shares contacts, both ways. See
:mod:`core.services.introductions` for the limits and the expiry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from core.commands.needs import reach
from core.commands.profile import capx_link, visible_person
from core.context import Context
from core.i18n import N_, Translator, negotiate
from core.registry import Command, Kind, Param, Where
from core.services import introductions
from core.services.capx import SOURCE as CAPX_SOURCE
from core.types import Button, Link, Recipient, Reply
from storage.demo import DEMO_SOURCE
from storage.models import ContactRequest, Person, RequestState

MAX_MESSAGE = 300


def contact(ctx: Context, args: dict[str, Any]) -> list[Reply]:
    t = ctx.t
    capacity = args.get("capacity")
    about = f" about {capacity}" if capacity is not None else ""
    person = visible_person(ctx, args["name"], lambda name: f"contact {name}{about}")
    me = ctx.me()
    name = t.user_text(person.display_name)
    if person.id == me.id:
        ctx.fail(t("That is you: I cannot introduce you to yourself."))
    if not person.contacts_open:
        ctx.fail(t("{name} does not take contact requests.", name=name))
    account = introductions.account_of(ctx.session, person.id)
    if account is None and person.source == CAPX_SOURCE and person.username:
        return [
            ctx.reply(
                paragraphs=[
                    t(
                        "{name} is on the Capacity Exchange but not in chat yet: you can "
                        "write to them from their profile there.",
                        name=name,
                    )
                ],
                links=[Link(t("Profile on the Capacity Exchange"), capx_link(person.username))],
            )
        ]
    if account is None:
        ctx.fail(t("{name} has no chat account I can reach.", name=name))
    message = args.get("message")
    if message is not None and len(message) > MAX_MESSAGE:
        ctx.fail(
            t.plural(
                "Please keep your message under {n} character.",
                "Please keep your message under {n} characters.",
                MAX_MESSAGE,
            )
        )
    if introductions.pending_between(ctx.session, me.id, person.id) is not None:
        ctx.fail(t("You already asked {name}; they have not answered yet.", name=name))
    if introductions.open_requests_of(ctx.session, me.id) >= introductions.MAX_OPEN_PER_ASKER:
        ctx.fail(
            t.plural(
                "You have {n} request waiting for an answer; please wait for one before you "
                "ask someone else.",
                "You have {n} requests waiting for an answer; please wait for one before you "
                "ask someone else.",
                introductions.MAX_OPEN_PER_ASKER,
            )
        )
    day_ago = ctx.now - timedelta(days=1)
    received = introductions.received_since(ctx.session, person.id, day_ago)
    if received >= introductions.MAX_PER_PERSON_PER_DAY:
        ctx.fail(t("{name} has had many requests today; please try again tomorrow.", name=name))
    request = ContactRequest(
        asker_id=me.id,
        person_id=person.id,
        capacity_code=capacity,
        message=message,
        created_at=ctx.now,
        expires_at=ctx.now + introductions.ANSWER_WITHIN,
    )
    ctx.session.add(request)
    ctx.session.flush()
    to_asker = ctx.reply(
        paragraphs=[
            t(
                "I have asked {name} privately. If they accept, you both get each other's "
                "contacts; I will tell you either way within a week.",
                name=name,
            )
        ]
    )
    return [
        to_asker,
        _ask(ctx, request, me, person, Recipient(account.platform, account.account_id)),
    ]


def _ask(
    ctx: Context, request: ContactRequest, asker: Person, person: Person, to: Recipient
) -> Reply:
    """The private question to the person asked, in their language."""
    t = Translator(negotiate([person.locale, ctx.locale]))
    name = t.user_text(asker.display_name)
    if request.capacity_code is not None:
        capacity = t.isolate(ctx.taxonomy.name(request.capacity_code, t.locale))
        question = t(
            "{name} would like to learn {capacity} from you.", name=name, capacity=capacity
        )
    else:
        question = t("{name} would like to get in touch with you.", name=name)
    paragraphs = [question]
    if request.message:
        paragraphs.append(t("Their message: {text}", text=t.user_text(request.message)))
    paragraphs.append(
        t(
            "If you accept, you both get each other's contacts. If you decline, I tell them "
            "only that you cannot right now."
        )
    )
    return Reply(
        title=t("Request #{number}", number=request.id),
        paragraphs=tuple(paragraphs),
        buttons=(
            Button(t("Accept"), f"accept {request.id}"),
            Button(t("Decline"), f"decline {request.id}"),
        ),
        private=True,
        recipient=to,
        locale=t.locale,
    )


def _request_to_me(ctx: Context, number: int) -> ContactRequest:
    """The pending request ``number`` made to the speaker; else a failure that says nothing
    of other people's requests."""
    request = ctx.session.get(ContactRequest, number) if 0 < number < 2**31 else None
    me = ctx.person
    if request is None or me is None or request.person_id != me.id:
        ctx.fail(ctx.t("There is no request #{number} for you.", number=number))
    if request.state == RequestState.EXPIRED:
        ctx.fail(ctx.t("Request #{number} has expired.", number=number))
    if request.state != RequestState.PENDING:
        ctx.fail(ctx.t("You have already answered request #{number}.", number=number))
    return request


def _contact_lines(ctx: Context, person: Person, t: Translator) -> tuple[list[str], list[Link]]:
    """How to reach ``person``, with their CapX profile where they have one."""
    text, links = reach(ctx, person, t)
    if person.username and person.source != DEMO_SOURCE:
        links.append(Link(t("Profile on the Capacity Exchange"), capx_link(person.username)))
    return [text], links


def _tell_asker(ctx: Context, asker: Person, message: Callable[[Translator], Reply]) -> list[Reply]:
    """``message`` for the asker, in their language, to their first chat account (none when
    they have none left)."""
    account = introductions.account_of(ctx.session, asker.id)
    if account is None:
        return []
    reply = message(Translator(negotiate([asker.locale, ctx.locale])))
    return [replace(reply, private=True, recipient=Recipient(account.platform, account.account_id))]


def accept(ctx: Context, args: dict[str, Any]) -> list[Reply]:
    t = ctx.t
    request = _request_to_me(ctx, args["request"])
    request.state, request.answered_at = RequestState.ACCEPTED, ctx.now
    me = ctx.me()
    asker = ctx.session.get(Person, request.asker_id)
    lines, links = _contact_lines(ctx, asker, t)
    to_me = ctx.reply(
        paragraphs=[
            t("Thank you! You can reach {name} here:", name=t.user_text(asker.display_name)),
            *lines,
        ],
        links=links,
    )

    def accepted(t: Translator) -> Reply:
        lines, links = _contact_lines(ctx, me, t)
        said = t(
            "{name} accepted your request. Reach them here:", name=t.user_text(me.display_name)
        )
        return Reply(paragraphs=(said, *lines), links=tuple(links), locale=t.locale)

    return [to_me, *_tell_asker(ctx, asker, accepted)]


def decline(ctx: Context, args: dict[str, Any]) -> list[Reply]:
    t = ctx.t
    request = _request_to_me(ctx, args["request"])
    request.state, request.answered_at = RequestState.DECLINED, ctx.now
    me = ctx.me()
    asker = ctx.session.get(Person, request.asker_id)

    def declined(t: Translator) -> Reply:
        said = t(
            "{name} cannot take your request right now. Thank you for asking; “find” shows "
            "others who may help.",
            name=t.user_text(me.display_name),
        )
        return Reply(paragraphs=(said,), locale=t.locale)

    to_me = ctx.reply(paragraphs=[t("All right. I will tell them, without any detail.")])
    return [to_me, *_tell_asker(ctx, asker, declined)]


def contacts(ctx: Context, args: dict[str, Any]) -> Reply:
    t = ctx.t
    if args.get("on") is not None:
        ctx.me().contacts_open = args["on"]
    if ctx.person is None or ctx.person.contacts_open:
        state = t("Others may ask me to introduce them to you; you choose each time.")
    else:
        state = t("Nobody can send you contact requests. Say “contacts on” to change that.")
    return ctx.reply(paragraphs=[state])


REQUEST = Param("request", Kind.NUMBER, N_("request number"))

COMMANDS = [
    Command(
        "contact",
        summary=N_("ask to be introduced to someone"),
        help=N_(
            "Asks a person privately whether they would like to be in touch with you, perhaps "
            "about a capacity, with a short message. Only if they accept do you both get each "
            "other's contacts."
        ),
        handler=contact,
        params=(
            Param("name", Kind.PERSON, N_("username")),
            Param("capacity", Kind.CAPACITY, N_("capacity"), required=False, keyword=N_("about")),
            Param("message", Kind.TEXT, N_("message"), required=False),
        ),
        where=Where.PRIVATE,
        examples=("contact ana about public speaking Hello! Could you help our user group?",),
    ),
    Command(
        "accept",
        summary=N_("accept a contact request"),
        help=N_("Accepts a request to be introduced: you and its asker get each other's contacts."),
        handler=accept,
        params=(REQUEST,),
        where=Where.PRIVATE,
        examples=("accept 3",),
    ),
    Command(
        "decline",
        summary=N_("decline a contact request"),
        help=N_("Declines a request to be introduced; its asker is told only that you cannot."),
        handler=decline,
        params=(REQUEST,),
        where=Where.PRIVATE,
        examples=("decline 3",),
    ),
    Command(
        "contacts",
        summary=N_("choose whether others may ask to be introduced to you"),
        help=N_(
            "With “off”, nobody can send you contact requests; with “on” (the default), "
            "anyone may ask and you choose each time."
        ),
        handler=contacts,
        params=(Param("on", Kind.SWITCH, N_("on or off"), required=False),),
        where=Where.PRIVATE,
        examples=("contacts off",),
    ),
]
