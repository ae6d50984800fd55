"""Needs: asking a room for help with a capacity, and answering such a request.

Consent to share contacts: whoever posts a need is told that helpers will get their chat
name; whoever says ``helpwith`` chooses to share theirs. Only then are both told.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Row
from sqlmodel import select

from core.arguments import is_word
from core.commands.find import seeker_of
from core.context import Context
from core.i18n import N_, Translator
from core.registry import Command, Kind, Param, Where, Who
from core.services import matching
from core.services import needs as rooms
from core.services.matching import Fit
from core.types import Button, Item, Link, Recipient, Reply
from storage import chats
from storage.models import Need, NeedResponse, NeedStatus, Person, Room

PUBLIC = N_("public")
PRIVATE = N_("private")

MAX_NEED_TEXT = 1000
MAX_NEED_NUMBER = 2**31
"""Need numbers are positive and fit every database's integer."""
MAX_LISTED = 10
SUGGESTED_HELPERS = 3


def _summary(ctx: Context, need: Need, locale: str | None = None) -> str:
    """``#12 · public speaking``, the capacity named in ``locale`` (the reader's by default)."""
    name = ctx.taxonomy.name(need.capacity_code, locale or ctx.locale)
    return f"#{need.id} · {Translator(locale or ctx.locale).isolate(name)}"


def _open_need(ctx: Context, number: int) -> Need:
    """Need ``number``, open and visible from here to the speaker; else a failure that says
    nothing of needs the speaker may not see."""
    person_id = ctx.person.id if ctx.person else None
    found = None
    if 0 < number < MAX_NEED_NUMBER:
        found = rooms.visible_need(ctx.session, ctx.incoming.conversation, person_id, number)
    if found is None:
        ctx.fail(ctx.t("There is no need #{number}.", number=number))
    need = found[0]
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
    allowed = ctx.limits.needs_per_room_per_hour
    if rooms.posted_since(ctx.session, conversation, ctx.now - timedelta(hours=1)) >= allowed:
        ctx.fail(
            t.plural(
                "This room has had {n} new need in the last hour; please slow down and try "
                "again later.",
                "This room has had {n} new needs in the last hour; please slow down and try "
                "again later.",
                allowed,
            )
        )
    chats.ensure_room(ctx.session, conversation.platform, conversation.room_id, conversation.title)
    posted = Need(
        id=rooms.next_number(ctx.session, ctx.now),
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
            name=ctx.t.user_text(ctx.me().display_name),
        ),
    ]
    offering = [m for m in helpers if m.fit is Fit.OFFERS]
    close_by = [m for m in helpers if m.fit is not Fit.OFFERS]
    if offering:
        names = t.list([t.user_text(m.display_name) for m in offering])
        paragraphs.append(t("People who offer this: {names}", names=names))
    if close_by:
        names = t.list([t.user_text(m.display_name) for m in close_by])
        paragraphs.append(t("People who offer something close to it: {names}", names=names))
    return ctx.reply(
        title=t("Need {summary}", summary=_summary(ctx, posted)),
        paragraphs=paragraphs,
        buttons=[Button(t("I can help"), f"helpwith {posted.id}", for_anyone=True)],
    )


def needs(ctx: Context, args: dict[str, Any]) -> Reply:
    t = ctx.t
    capacity = args.get("capacity")
    codes = [capacity, *ctx.taxonomy.descendants(capacity)] if capacity is not None else None
    conversation = ctx.incoming.conversation
    person_id = ctx.person.id if ctx.person else None
    rows = rooms.open_needs(ctx.session, conversation, person_id, codes, MAX_LISTED)
    if not rows:
        return ctx.reply(paragraphs=[t("No open needs. Post one with “need <capacity> <text>”.")])
    items = []
    for need, author, room in rows:
        detail = t(
            "{text} — {name}, {date}",
            text=need.text,
            name=t.user_text(author.display_name),
            date=t.date(need.created_at),
        )
        if (need.platform, need.room_id) != (conversation.platform, conversation.room_id):
            detail += " · " + _where_posted(t, need, room)
        items.append(Item(_summary(ctx, need), detail))
    return ctx.reply(
        title=t("Open needs"),
        items=items,
        buttons=[
            Button(t("Help with #{number}", number=need.id), f"helpwith {need.id}", for_anyone=True)
            for need, _, _ in rows
        ],
    )


def _where_posted(t: Translator, need: Need, room: Room | None) -> str:
    platform = need.platform.capitalize()
    if room is not None and room.title:
        return t("posted in {room} on {platform}", room=t.user_text(room.title), platform=platform)
    return t("posted in a room on {platform}", platform=platform)


def room_needs(ctx: Context, args: dict[str, Any]) -> Reply:
    t = ctx.t
    conversation = ctx.incoming.conversation
    room = chats.ensure_room(
        ctx.session, conversation.platform, conversation.room_id, conversation.title
    )
    choice = args.get("choice")
    if choice is not None:
        if is_word(ctx, choice, PUBLIC):
            room.needs_public = True
        elif is_word(ctx, choice, PRIVATE):
            room.needs_public = False
        else:
            ctx.fail(t("Say “public” or “private”."))
    if room.needs_public:
        state = t("This room's needs are public: they are also listed in private chats.")
    else:
        state = t("This room's needs are private: they are listed only in this room.")
    return ctx.reply(paragraphs=[state])


def reach(ctx: Context, person: Person, t: Translator) -> tuple[str, list[Link]]:
    """How to reach ``person``, told in ``t``'s language: their chat name with the handle
    their platform vouches for, or else a link that reaches the account (a Telegram mention
    link); never a name anyone could have chosen, presented as a handle."""
    identity = ctx.identity_of(person.id)
    name = t.user_text(person.display_name)
    if identity is None:
        return name, []
    platform = identity.platform.capitalize()
    if identity.handle:
        text = t(
            "{name}: {handle} on {platform}",
            name=name,
            handle=t.user_text(identity.handle),
            platform=platform,
        )
        return text, []
    links = [Link(person.display_name, url)] if (url := account_link(identity)) else []
    if links:
        text = t(
            "{name}, on {platform} without a public username: use the link below.",
            name=name,
            platform=platform,
        )
    else:
        text = t("{name}, on {platform} without a public username.", name=name, platform=platform)
    return text, links


def account_link(identity: Row) -> str | None:
    """A link that opens a chat with an account that has no handle, where its platform has
    one."""
    if identity.platform == "telegram" and identity.account_id.isdigit():
        return f"tg://user?id={identity.account_id}"
    return None


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
    contact, links = reach(ctx, author, t)
    to_helper = ctx.reply(
        paragraphs=[
            t("Thank you! Reach the author of need {summary} here:", summary=_summary(ctx, posted)),
            contact,
        ],
        links=links,
    )
    identity = ctx.identity_of(author.id)
    if identity is None:
        return [to_helper]
    return [to_helper, _tell_author(ctx, posted, author, identity)]


def _tell_author(ctx: Context, posted: Need, author: Person, identity: Row) -> Reply:
    """The private message to a need's author about its new helper, in the author's language."""
    t = Translator(author.locale or ctx.locale)
    helper = ctx.me()
    contact, links = reach(ctx, helper, t)
    return Reply(
        paragraphs=(
            t(
                "{name} offers help with your need {summary}. Reach them here:",
                name=t.user_text(helper.display_name),
                summary=_summary(ctx, posted, t.locale),
            ),
            contact,
        ),
        links=tuple(links),
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
        help=N_(
            "Lists the open needs of this room, newest first; with a capacity, only needs "
            "for it. In a private chat, lists your own needs and those of rooms that publish "
            "theirs."
        ),
        handler=needs,
        read_only=True,
        params=(Param("capacity", Kind.CAPACITY, N_("capacity"), required=False),),
        examples=("needs", "needs communication"),
    ),
    Command(
        "roomneeds",
        summary=N_("choose whether this room's needs are listed elsewhere (room admins)"),
        help=N_(
            "With “public”, this room's needs are also listed in private chats, for anyone "
            "to help with. With “private” (the default), they are listed only here."
        ),
        handler=room_needs,
        params=(
            Param(
                "choice",
                Kind.WORD,
                N_("public or private"),
                required=False,
                choices=(PUBLIC, PRIVATE),
            ),
        ),
        where=Where.GROUP,
        who=Who.ROOM_ADMIN,
        examples=("roomneeds public",),
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
