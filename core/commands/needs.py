"""Needs: asking a room for help with a capacity, and answering such a request.

Consent to share contacts: whoever posts a need is told that helpers will get their chat
name; whoever says ``helpwith`` chooses to share theirs. Only then are both told.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from core.commands.find import seeker_of
from core.context import Context
from core.i18n import N_, Translator
from core.registry import Command, Kind, Param, Where
from core.services import matching
from core.types import Button, Item, Recipient, Reply
from storage.models import ChatIdentity, Need, NeedResponse, NeedStatus, Person

MAX_NEED_TEXT = 1000
MAX_LISTED = 10
SUGGESTED_HELPERS = 3


def _summary(ctx: Context, need: Need, locale: str | None = None) -> str:
    """``#12 · public speaking``, the capacity named in ``locale`` (the reader's by default)."""
    name = ctx.taxonomy.name(need.capacity_code, locale or ctx.locale)
    return f"#{need.id} · {Translator(locale or ctx.locale).isolate(name)}"


def _open_need(ctx: Context, number: int) -> Need:
    need = ctx.session.get(Need, number)
    if need is None:
        ctx.fail(ctx.t("There is no need #{number}.", number=number))
    if need.status != NeedStatus.OPEN:
        ctx.fail(ctx.t("Need #{number} is closed.", number=number))
    return need


def need(ctx: Context, args: dict[str, Any]) -> Reply:
    t = ctx.t
    text = args["text"]
    if len(text) > MAX_NEED_TEXT:
        ctx.fail(
            t.plural(
                "Please keep it under {n} character.",
                "Please keep it under {n} characters.",
                MAX_NEED_TEXT,
            )
        )
    conversation = ctx.incoming.conversation
    posted = Need(
        person_id=ctx.me().id,
        capacity_code=args["capacity"],
        text=text,
        platform=conversation.platform,
        room_id=conversation.room_id,
        created_at=ctx.now,
    )
    ctx.session.add(posted)
    ctx.session.flush()
    helpers = matching.find(
        ctx.session,
        ctx.taxonomy,
        seeker_of(ctx),
        matching.Query(posted.capacity_code, limit=SUGGESTED_HELPERS),
        ctx.now,
    )
    paragraphs = [
        text,
        t(
            "Can you help? Say “helpwith {number}”. You and {name} will get each other's chat "
            "names.",
            number=posted.id,
            name=ctx.t.isolate(ctx.me().display_name),
        ),
    ]
    if helpers:
        names = t.list([ctx.t.isolate(m.display_name) for m in helpers])
        paragraphs.append(t("People who offer this: {names}", names=names))
    return ctx.reply(
        title=t("Need {summary}", summary=_summary(ctx, posted)),
        paragraphs=paragraphs,
        buttons=[Button(t("I can help"), f"helpwith {posted.id}")],
    )


def needs(ctx: Context, args: dict[str, Any]) -> Reply:
    t = ctx.t
    statement = select(Need, Person).join(Person).where(Need.status == NeedStatus.OPEN)
    capacity = args.get("capacity")
    if capacity is not None:
        codes = [capacity, *ctx.taxonomy.descendants(capacity)]
        statement = statement.where(Need.capacity_code.in_(codes))
    rows = ctx.session.exec(statement.order_by(Need.id.desc()).limit(MAX_LISTED)).all()
    if not rows:
        return ctx.reply(paragraphs=[t("No open needs. Post one with “need <capacity> <text>”.")])
    return ctx.reply(
        title=t("Open needs"),
        items=[
            Item(
                _summary(ctx, need),
                t(
                    "{text} — {name}, {date}",
                    text=need.text,
                    name=ctx.t.isolate(author.display_name),
                    date=t.date(need.created_at),
                ),
            )
            for need, author in rows
        ],
        buttons=[
            Button(t("Help with #{number}", number=need.id), f"helpwith {need.id}")
            for need, _ in rows
        ],
    )


def _contact(ctx: Context, person: Person, t: Translator) -> str:
    """How to reach ``person`` (their chat name and platform), told in ``t``'s language."""
    identity = ctx.identity_of(person.id)
    if identity is None:
        return t.isolate(person.display_name)
    return t(
        "{name}: {handle} on {platform}",
        name=t.isolate(person.display_name),
        handle=t.isolate(identity.handle),
        platform=identity.platform.capitalize(),
    )


def helpwith(ctx: Context, args: dict[str, Any]) -> list[Reply]:
    t = ctx.t
    posted = _open_need(ctx, args["need"])
    me = ctx.me()
    if posted.person_id == me.id:
        ctx.fail(t("That is your own need."))
    already = ctx.session.exec(
        select(NeedResponse).where(
            NeedResponse.need_id == posted.id, NeedResponse.person_id == me.id
        )
    ).first()
    if already is not None:
        ctx.fail(t("You already offered help with need #{number}.", number=posted.id))
    ctx.session.add(NeedResponse(need_id=posted.id, person_id=me.id, created_at=ctx.now))
    author = ctx.session.get(Person, posted.person_id)
    to_helper = ctx.reply(
        paragraphs=[
            t("Thank you! Reach the author of need {summary} here:", summary=_summary(ctx, posted)),
            _contact(ctx, author, t),
        ]
    )
    identity = ctx.identity_of(author.id)
    if identity is None:
        return [to_helper]
    return [to_helper, _tell_author(ctx, posted, author, identity)]


def _tell_author(ctx: Context, posted: Need, author: Person, identity: ChatIdentity) -> Reply:
    """The private message to a need's author about its new helper, in the author's language."""
    t = Translator(author.locale or ctx.locale)
    helper = ctx.me()
    return Reply(
        paragraphs=(
            t(
                "{name} offers help with your need {summary}. Reach them here:",
                name=t.isolate(helper.display_name),
                summary=_summary(ctx, posted, t.locale),
            ),
            _contact(ctx, helper, t),
        ),
        buttons=(Button(t("Close this need"), f"close {posted.id}"),),
        private=True,
        recipient=Recipient(identity.platform, identity.account_id),
        locale=t.locale,
    )


def close(ctx: Context, args: dict[str, Any]) -> Reply:
    t = ctx.t
    posted = _open_need(ctx, args["need"])
    conversation = ctx.incoming.conversation
    room_admin = (
        ctx.incoming.actor.is_room_admin
        and conversation.platform == posted.platform
        and conversation.room_id == posted.room_id
    )
    if not room_admin and (ctx.person is None or ctx.person.id != posted.person_id):
        ctx.fail(
            t(
                "Only the author of need #{number} or an admin of its room may close it.",
                number=posted.id,
            )
        )
    posted.status = NeedStatus.CLOSED
    return ctx.reply(paragraphs=[t("Need #{number} is closed. Thank you!", number=posted.id)])


NEED = Param("need", Kind.NUMBER, N_("need number"))

COMMANDS = [
    Command(
        "need",
        summary=N_("ask this room for help with a capacity"),
        help=N_(
            "Posts a need in this room: the capacity, then what you need. Anyone can offer "
            "help with “helpwith”; you and they get each other's chat names."
        ),
        handler=need,
        params=(
            Param("capacity", Kind.CAPACITY, N_("capacity")),
            Param("text", Kind.TEXT, N_("what you need")),
        ),
        examples=('need "commons uploads" a workshop for our students, in Portuguese',),
    ),
    Command(
        "needs",
        summary=N_("list the open needs"),
        help=N_("Lists the open needs, newest first; with a capacity, only needs for it."),
        handler=needs,
        params=(Param("capacity", Kind.CAPACITY, N_("capacity"), required=False),),
        examples=("needs", "needs communication"),
    ),
    Command(
        "helpwith",
        summary=N_("offer help with a need"),
        help=N_(
            "Offers your help with a need. You and its author get each other's chat names, "
            "privately."
        ),
        handler=helpwith,
        params=(NEED,),
        where=Where.PRIVATE,
        examples=("helpwith 12",),
    ),
    Command(
        "close",
        summary=N_("close a need"),
        help=N_(
            "Closes a need. Only its author or an admin of the room where it was posted can "
            "do this."
        ),
        handler=close,
        params=(NEED,),
        examples=("close 12",),
    ),
]
