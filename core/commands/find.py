"""Finding mentors and peers: ranked, explained results from the matching service."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import select

from core.arguments import ANY_LANGUAGE
from core.commands.profile import LEVEL_NAMES, capx_link, name_to_find
from core.context import Context
from core.i18n import N_
from core.registry import Command, Kind, Param
from core.services import matching, profiles
from core.services.capx import SOURCE as CAPX_SOURCE
from core.services.matching import Fit, Match, Query, Seeker
from core.services.places import territory_name
from core.types import Button, Item, Link, Reply
from storage.db import read
from storage.models import (
    USABLE_LEVELS,
    Person,
    PersonCapacity,
    PersonLanguage,
    Relation,
    Territory,
)

PEERS_PER_CAPACITY = 3
COUNTED_ELSEWHERE = 100
"""When nobody speaks the language asked, up to this many others are counted."""
MAX_PEER_CAPACITIES = 5


_SEEKER = (
    select(Person.territory_code, Person.organization_id, PersonLanguage.lang, PersonLanguage.level)
    .outerjoin(PersonLanguage, PersonLanguage.person_id == Person.id)
    .where(Person.id == bindparam("person"))
)
"""The speaker's place and affiliation, a row for each of their languages (or one without)."""


def seeker_of(ctx: Context) -> Seeker:
    """The speaker as matching sees them, in one statement; without a profile, their
    language is the bot's."""
    fallback = (ctx.locale.replace("_", "-").lower(),)
    if ctx.person_id is None:
        return Seeker(person_id=None, languages=fallback)
    rows = read(ctx.session, _SEEKER, {"person": ctx.person_id}).all()
    if not rows:  # the person is gone (forgotten in this transaction)
        return Seeker(person_id=None, languages=fallback)
    spoken = profiles.strongest_first((r.lang, r.level) for r in rows if r.lang is not None)
    usable = tuple(code for code, level in spoken if level in USABLE_LEVELS)
    return Seeker(
        person_id=ctx.person_id,
        languages=usable or fallback,
        territory_code=rows[0].territory_code,
        organization_id=rows[0].organization_id,
    )


def explain(ctx: Context, match: Match, *, near: bool = False) -> str:
    """Why a match ranks where it does, reasons joined with “ · ”. With ``near``, the place
    facts are about the place asked for (“in Portugal”), not the seeker's (“also in”)."""
    t = ctx.t
    via = ctx.capacity_name(match.via)
    reasons = [
        {
            Fit.OFFERS: t("offers {name}", name=via),
            Fit.OFFERS_CHILD: t("offers {name}, a part of it", name=via),
            Fit.OFFERS_RELATIVE: t("offers the related {name}", name=via),
            Fit.KNOWS: t("knows {name}, does not offer to teach it", name=via),
        }[match.fit]
    ]
    if match.languages:
        spoken = [
            t("{language} natively", language=t.language_name(code))
            if level == "n"
            else t(
                "{language} at {level} level",
                language=t.language_name(code),
                level=t(LEVEL_NAMES[level]),
            )
            for code, level in match.languages
        ]
        reasons.append(t("speaks {languages}", languages=t.list(spoken)))
    else:
        reasons.append(t("no language in common"))
    territories = ctx.reference.territories
    where = t("in {place}") if near else t("also in {place}")
    home = territories.get(match.territory_code or "")
    if match.same_country and home is not None:
        reasons.append(where.format(place=territory_name(t, home)))
    elif match.same_region and home is not None and home.parent_code in territories:
        reasons.append(where.format(place=territory_name(t, territories[home.parent_code])))
    organization = ctx.reference.organizations.get(match.organization_id or 0)
    if match.same_affiliation and organization is not None:
        reasons.append(t("also with {name}", name=ctx.t.isolate(organization.acronym)))
    if match.active:
        reasons.append(t("active recently"))
    if match.load:
        reasons.append(
            t.plural("already helping {n} person", "already helping {n} people", match.load)
        )
    if match.source == CAPX_SOURCE:
        reasons.append(t("on the Capacity Exchange, not yet in chat"))
    return " · ".join(reasons)


def _matches_reply(
    ctx: Context,
    title: str,
    matches: list[Match],
    empty: str,
    *,
    near: int = 0,
    buttons: tuple[Button, ...] = (),
    about: int | None = None,
) -> Reply:
    """The matches as a list, each explained, with a button for each one's profile and,
    when they were found for a capacity (``about``), one asking to be introduced; the first
    ``near`` of them were found near a place asked for."""
    if not matches:
        return ctx.reply(title=title, paragraphs=[empty], buttons=buttons)
    choices = []
    identities = ctx.identities_of([match.person_id for match in matches])
    for match in matches:
        identity = identities.get(match.person_id)
        name = name_to_find(match.username, identity and identity.handle, match.display_name)
        choices.append(Button(match.display_name, f"profile {name}"))
        if about is not None:
            label = ctx.t("Ask {name}", name=match.display_name)
            choices.append(Button(label, f"contact {name} about {about}"))
    on_capx = [
        Link(
            ctx.t("{name} on the Capacity Exchange", name=ctx.t.isolate(m.display_name)),
            capx_link(m.username),
        )
        for m in matches
        if m.source == CAPX_SOURCE and m.username
    ]
    return ctx.reply(
        title=title,
        items=[
            Item(ctx.t.isolate(m.display_name), explain(ctx, m, near=n < near))
            for n, m in enumerate(matches)
        ],
        buttons=choices,
        links=on_capx,
    )


def find(ctx: Context, args: dict[str, Any]) -> Reply:
    t = ctx.t
    capacity = args["capacity"]
    language = args.get("language")
    near = args.get("near")
    query = Query(
        capacity=capacity,
        language=None if language in (None, ANY_LANGUAGE) else language,
        any_language=language == ANY_LANGUAGE,
        near=near.code if isinstance(near, Territory) else None,
    )
    seeker = seeker_of(ctx)
    matches = matching.find(ctx.session, ctx.taxonomy, seeker, query, ctx.now)
    found_near = len(matches) if query.near else 0
    if query.near and len(matches) < query.limit:
        # Near a place, its people come first, then the rest, rather than nobody else.
        anywhere = replace(query, near=None, limit=query.limit + len(matches))
        seen = {m.person_id for m in matches}
        rest = matching.find(ctx.session, ctx.taxonomy, seeker, anywhere, ctx.now)
        matches += [m for m in rest if m.person_id not in seen][: query.limit - len(matches)]
    name = ctx.capacity_name(capacity)
    title = t("Who can help with {name}", name=name)
    if matches or query.any_language:
        empty = t(
            "Nobody offers {name} yet. Post a need with “need {code} ...”.",
            name=name,
            code=capacity,
        )
        return _matches_reply(ctx, title, matches, empty, near=found_near, about=capacity)
    anyone = replace(query, language=None, any_language=True, limit=COUNTED_ELSEWHERE)
    elsewhere = matching.find(ctx.session, ctx.taxonomy, seeker, anyone, ctx.now)
    if query.language:
        spoken = t.language_name(query.language)
        empty = t("Nobody offers {name} in {language}.", name=name, language=spoken)
    else:
        empty = t("Nobody who shares a language with you offers {name} yet.", name=name)
    if not elsewhere:
        empty += " " + t("Post a need with “need {code} ...”.", code=capacity)
        return _matches_reply(ctx, title, [], empty)
    if len(elsewhere) < COUNTED_ELSEWHERE:
        empty += " " + t.plural(
            "{n} person offers it in other languages.",
            "{n} people offer it in other languages.",
            len(elsewhere),
        )
    else:
        empty += " " + t("Many people offer it in other languages.")
    drop = Button(t("In any language"), f"find {capacity} {t('in')} {t('any')}")
    return _matches_reply(ctx, title, [], empty, buttons=(drop,))


def peers(ctx: Context, args: dict[str, Any]) -> list[Reply]:
    t = ctx.t
    person = ctx.person
    if person is None:
        ctx.fail(t("Tell me what you want to learn (“learn”) or can teach (“offer”) first."))
    seeker = seeker_of(ctx)
    held = profiles.capacities_of(ctx.session, person.id)
    replies = []
    for code in held[Relation.WANTED][:MAX_PEER_CAPACITIES]:
        matches = matching.find(
            ctx.session, ctx.taxonomy, seeker, Query(code, limit=PEERS_PER_CAPACITY), ctx.now
        )
        name = ctx.capacity_name(code)
        replies.append(
            _matches_reply(
                ctx,
                t("Could teach you {name}", name=name),
                matches,
                t("Nobody who shares a language with you offers {name} yet.", name=name),
                about=code,
            )
        )
    for code in held[Relation.AVAILABLE][:MAX_PEER_CAPACITIES]:
        learners = _learners(ctx, person, seeker, code)
        if learners:
            replies.append(
                ctx.reply(
                    title=t("Want to learn {name}, which you offer", name=ctx.capacity_name(code)),
                    items=[
                        Item(
                            ctx.t.isolate(p.display_name),
                            t("wants {name}", name=ctx.capacity_name(c)),
                        )
                        for p, c in learners
                    ],
                )
            )
    if not replies:
        return [
            ctx.reply(
                paragraphs=[
                    t(
                        "Nobody matches you yet. Add what you want to learn with “learn” and what "
                        "you can teach with “offer”."
                    )
                ]
            )
        ]
    return replies


def _learners(ctx: Context, person: Person, seeker: Seeker, code: int) -> list[tuple[Person, int]]:
    """Discoverable people other than ``person``, sharing a language with ``seeker``, who
    want ``code`` or a part of it; those wanting the capacity itself first, then by id."""
    codes = [code, *ctx.taxonomy.descendants(code)]
    bases = matching.bases_of(seeker.languages)
    rows = ctx.session.exec(
        select(Person, PersonCapacity.capacity_code)
        .join(PersonCapacity, PersonCapacity.person_id == Person.id)
        .where(
            PersonCapacity.relation == Relation.WANTED,
            PersonCapacity.capacity_code.in_(codes),
            Person.discoverable,
            Person.id != person.id,
            matching.speaks_any(len(bases), Person.id),
        )
        .order_by(PersonCapacity.capacity_code != code, Person.id)
        .limit(PEERS_PER_CAPACITY * 2),
        params=matching.language_params(bases),
    ).all()
    seen: dict[int, tuple[Person, int]] = {}
    for person, wanted in rows:
        seen.setdefault(person.id, (person, wanted))
    return list(seen.values())[:PEERS_PER_CAPACITY]


COMMANDS = [
    Command(
        "find",
        summary=N_("find people who can teach a capacity"),
        help=N_(
            "Finds people who can teach a capacity, best first, and says why: who offers the "
            "capacity itself, then a part of it, then a related one; who speaks a language "
            "with you; who is near you or in your affiliate; who is active. Add “in” and a "
            "language to ask for that language (“in any” for all), and “near” and a country "
            "or region to look there."
        ),
        handler=find,
        read_only=True,
        params=(
            Param("capacity", Kind.CAPACITY, N_("capacity")),
            Param("language", Kind.LANGUAGE, N_("language"), required=False, keyword=N_("in")),
            Param("near", Kind.TERRITORY, N_("territory"), required=False, keyword=N_("near")),
        ),
        aliases=("mentor",),
        examples=("find public speaking", "find 36 in pt", "find budgeting near Brazil"),
    ),
    Command(
        "peers",
        summary=N_("who could teach you, and who wants what you teach"),
        help=N_(
            "For each capacity you want to learn, the best people to teach you; for each one "
            "you offer, people who want to learn it. Only people who share a language with you."
        ),
        handler=peers,
    ),
]
