"""What the bot keeps about a person, a copy of it, and erasing it."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, or_, update
from sqlmodel import select

from core.arguments import NO, is_word
from core.commands.profile import render
from core.context import Context
from core.i18n import N_
from core.registry import Command, Kind, Param, Where
from core.services import buttons, outbox, profiles
from core.types import Attachment, Button, Reply
from storage.models import (
    ChatIdentity,
    ContactRequest,
    DirectRoom,
    Event,
    Need,
    NeedResponse,
    Person,
    PersonCapacity,
    PersonLanguage,
    Rsvp,
    StoredButton,
    UnreachableChat,
)


def privacy(ctx: Context, args: dict[str, Any]) -> Reply:
    t = ctx.t
    return ctx.reply(
        title=t("Your data and this bot"),
        paragraphs=[
            t(
                "I keep only what you tell me to publish: your chat account's id and name, the "
                "capacities, languages, territory, affiliation and description you set, the "
                "needs you post and the help you offer, and the language you chose for me."
            ),
            t(
                "I never keep the text of your messages in logs, and I never ask for or show an "
                "e-mail address. You are hidden from searches until you say “visible on”."
            ),
            t("“mydata” sends you a copy of everything I keep about you; “forget” erases it."),
        ],
        buttons=[Button(t("My data"), "mydata"), Button(t("Forget me"), "forget")],
    )


def _accounts(ctx: Context, person: Person) -> list[ChatIdentity]:
    query = select(ChatIdentity).where(ChatIdentity.person_id == person.id)
    return list(ctx.session.exec(query.order_by(ChatIdentity.id)))


def _rows_of_accounts(ctx: Context, person: Person) -> dict[str, list[Any]]:
    """The adapters', buttons' and outbox's rows about the person's chat accounts, by kind."""
    session = ctx.session
    found: dict[str, list[Any]] = {
        "direct_rooms": [],
        "unreachable_chats": [],
        "buttons": [],
        "messages_to_send": [],
    }
    for identity in _accounts(ctx, person):
        platform, account = identity.platform, identity.account_id
        rooms = list(
            session.exec(
                select(DirectRoom).where(
                    DirectRoom.platform == platform, DirectRoom.account_id == account
                )
            )
        )
        chats = [account, *(room.room_id for room in rooms)]
        found["direct_rooms"] += rooms
        found["unreachable_chats"] += session.exec(
            select(UnreachableChat).where(
                UnreachableChat.platform == platform, UnreachableChat.chat_id.in_(chats)
            )
        )
        found["buttons"] += session.exec(
            select(StoredButton).where(
                StoredButton.owner_platform == platform, StoredButton.owner_account == account
            )
        )
        found["messages_to_send"] += outbox.of_accounts(session, [(platform, account)])
    return found


def export(ctx: Context, person: Person) -> dict[str, Any]:
    """Everything stored about ``person``, as JSON-ready data."""
    session = ctx.session
    held = profiles.capacities_of(session, person.id)
    identities = _accounts(ctx, person)
    posted = session.exec(select(Need).where(Need.person_id == person.id).order_by(Need.id))
    offered = session.exec(
        select(NeedResponse).where(NeedResponse.person_id == person.id).order_by(NeedResponse.id)
    )
    return {
        "person": person.model_dump(mode="json", exclude={"id"}),
        "chat_identities": [
            {"platform": i.platform, "account_id": i.account_id, "handle": i.handle}
            for i in identities
        ],
        "capacities": {
            relation.value: [
                {"code": code, "name": ctx.taxonomy.name(code, ctx.locale)} for code in codes
            ]
            for relation, codes in held.items()
        },
        "languages": [
            {"language": code, "level": level}
            for code, level in profiles.languages_of(session, person.id)
        ],
        "needs": [n.model_dump(mode="json", exclude={"person_id"}) for n in posted],
        "help_offered": [{"need": r.need_id, "at": r.created_at.isoformat()} for r in offered],
        "contact_requests": [
            {
                **request.model_dump(mode="json", exclude={"asker_id", "person_id"}),
                "direction": "made" if request.asker_id == person.id else "received",
            }
            for request in session.exec(
                select(ContactRequest).where(or_(*_requests_of(person))).order_by(ContactRequest.id)
            )
        ],
        "events_going": [
            r.model_dump(mode="json", exclude={"person_id"})
            for r in session.exec(select(Rsvp).where(Rsvp.person_id == person.id))
        ],
        "events_organized": list(
            session.exec(select(Event.id).where(Event.organizer_id == person.id))
        ),
        **{
            kind: [row.model_dump(mode="json") for row in rows]
            for kind, rows in _rows_of_accounts(ctx, person).items()
        },
    }


def mydata(ctx: Context, args: dict[str, Any]) -> list[Reply]:
    t = ctx.t
    if ctx.person is None:
        return [ctx.reply(paragraphs=[t("I keep nothing about you.")])]
    data = export(ctx, ctx.person)
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True)
    return [
        render(ctx, ctx.person),
        ctx.reply(
            paragraphs=[t("Everything I keep about you, as JSON:"), text],
            attachment=Attachment("capx-mydata.json", "application/json", text.encode()),
        ),
    ]


def erase(ctx: Context, person: Person) -> None:
    """Delete ``person`` and every row about them: their needs with the answers to them,
    the introductions they asked for or were asked, the events they were going to (the events
    they organized stay, without them), what the adapters kept about their chat accounts
    (direct rooms, unreachable chats), the buttons shown to them and the messages kept for
    them."""
    session = ctx.session
    for rows in _rows_of_accounts(ctx, person).values():
        for row in rows:
            session.delete(row)
    session.execute(delete(ContactRequest).where(or_(*_requests_of(person))))
    session.execute(delete(Rsvp).where(Rsvp.person_id == person.id))
    session.execute(update(Event).where(Event.organizer_id == person.id).values(organizer_id=None))
    needs = select(Need.id).where(Need.person_id == person.id)
    session.execute(delete(NeedResponse).where(NeedResponse.need_id.in_(needs)))
    session.execute(delete(NeedResponse).where(NeedResponse.person_id == person.id))
    session.execute(delete(Need).where(Need.person_id == person.id))
    for table in (PersonCapacity, PersonLanguage, ChatIdentity):
        session.execute(delete(table).where(table.person_id == person.id))
    session.delete(person)


def _requests_of(person: Person) -> tuple[Any, Any]:
    return ContactRequest.asker_id == person.id, ContactRequest.person_id == person.id


def _owner(ctx: Context) -> tuple[str, str]:
    return ctx.incoming.actor.platform, ctx.incoming.actor.account_id


def forget(ctx: Context, args: dict[str, Any]) -> Reply:
    t = ctx.t
    if ctx.person is None:
        return ctx.reply(paragraphs=[t("I keep nothing about you.")])
    if args.get("answer") is not None and is_word(ctx, args["answer"], NO):
        pending = buttons.pending_confirmation(ctx.session, _owner(ctx), ctx.now)
        if pending is not None:
            buttons.use_up(ctx.session, pending)
        return ctx.reply(paragraphs=[t("All right: I have done nothing.")])
    if not ctx.confirmed:
        return ctx.reply(
            paragraphs=[
                t(
                    "This erases your profile, your chat accounts, your needs and your offers of "
                    "help, for good. Are you sure?"
                ),
                t("Answer “yes” or press the button within ten minutes; it works only for you."),
            ],
            buttons=[
                Button(t("Yes, erase everything"), "forget", confirms=True),
                Button(t("No, keep it"), "forget no"),
            ],
        )
    erase(ctx, ctx.person)
    ctx.person = None
    return ctx.reply(paragraphs=[t("Done: I have erased everything I kept about you.")])


COMMANDS = [
    Command(
        "privacy",
        summary=N_("what I keep about you"),
        help=N_("Explains what the bot stores about you, and how to see or erase it."),
        handler=privacy,
        read_only=True,
    ),
    Command(
        "mydata",
        summary=N_("get a copy of everything I keep about you"),
        help=N_("Sends you, privately, everything the bot stores about you, also as JSON."),
        handler=mydata,
        where=Where.PRIVATE,
    ),
    Command(
        "forget",
        summary=N_("erase everything I keep about you"),
        help=N_(
            "Erases your profile and everything about you, after you confirm with the button "
            "I show you, or answer “yes”."
        ),
        handler=forget,
        params=(Param("answer", Kind.WORD, N_("no"), required=False),),
        where=Where.PRIVATE,
    ),
]
