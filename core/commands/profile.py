"""Seeing a profile, and editing one's own. The actor is always the subject of an edit: there is
no way to name another person here, so nobody can change someone else's profile."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from core.arguments import CLEARED, NONE, is_word
from core.context import Context
from core.i18n import N_
from core.parsing import normalize
from core.registry import Command, Kind, Param, Where
from core.services import capx, profiles
from core.services.capx import SOURCE as CAPX_SOURCE
from core.services.places import territory_name
from core.types import Button, Item, Link, Reply
from storage.demo import DEMO_SOURCE
from storage.models import Organization, Person, Relation, Territory

CAPX_PROFILE = "https://capx.toolforge.org/profile/{username}"
MAX_ABOUT = 500

LEVEL_NAMES = {
    "n": N_("native"),
    "5": N_("professional"),
    "4": N_("near native"),
    "3": N_("advanced"),
    "2": N_("intermediate"),
    "1": N_("basic"),
    "0": N_("beginner"),
}


def capx_link(username: str) -> str:
    return CAPX_PROFILE.format(username=quote(username.replace(" ", "_")))


def languages_text(ctx: Context, pairs: list[tuple[str, str]]) -> str:
    """``Portuguese (Brazil), native; English, advanced``: each language with its level."""
    t = ctx.t
    shown = [
        t("{language}, {level}", language=t.language_name(code), level=t(LEVEL_NAMES[level]))
        for code, level in pairs
    ]
    # Translators: what separates the languages of a list of "language, level" pairs.
    return t("; ").join(shown)


def render(ctx: Context, person: Person) -> Reply:
    """A person's profile as a reply; the same for everyone who may see it."""
    t = ctx.t
    held = profiles.capacities_of(ctx.session, person.id)
    names = {rel: [ctx.capacity_name(c) for c in codes] for rel, codes in held.items()}
    only_known = [
        ctx.capacity_name(c) for c in held[Relation.KNOWN] if c not in held[Relation.AVAILABLE]
    ]
    languages = profiles.languages_of(ctx.session, person.id)
    items = []
    if names[Relation.AVAILABLE]:
        items.append(Item(t("Offers to teach: {names}", names=t.list(names[Relation.AVAILABLE]))))
    if only_known:
        items.append(Item(t("Knows: {names}", names=t.list(only_known))))
    if names[Relation.WANTED]:
        items.append(Item(t("Wants to learn: {names}", names=t.list(names[Relation.WANTED]))))
    if languages:
        items.append(Item(t("Languages: {names}", names=languages_text(ctx, languages))))
    if person.territory_code:
        territory = ctx.session.get(Territory, person.territory_code)
        if territory:
            items.append(Item(t("Territory: {name}", name=territory_name(t, territory))))
    if person.organization_id:
        organization = ctx.session.get(Organization, person.organization_id)
        if organization:
            label = f"{ctx.t.isolate(organization.name)} ({organization.acronym})"
            items.append(Item(t("Affiliation: {name}", name=label)))
    paragraphs = [person.about] if person.about else []
    if not items and not paragraphs:
        paragraphs.append(t("Nothing here yet."))
    if person.source == CAPX_SOURCE:
        paragraphs.append(t("From the Capacity Exchange; not in chat yet."))
    on_capx = person.username and person.source != DEMO_SOURCE
    links = (
        [Link(t("Profile on the Capacity Exchange"), capx_link(person.username))] if on_capx else []
    )
    links += [Link(label, address) for label, address in capx.links_of(person)]
    title = ctx.t.isolate(person.display_name)
    if person.username and not _words(person.username) <= _words(person.display_name):
        title += f" · {ctx.t.isolate(person.username)}"
    return ctx.reply(title=title, paragraphs=paragraphs, items=items, links=links)


def _words(name: str) -> set[str]:
    return set(re.findall(r"\w+", normalize(name)))


def profile(ctx: Context, args: dict[str, Any]) -> Reply:
    t = ctx.t
    name = args.get("name")
    if name is None:
        ctx.private = True  # one's own profile, asked in a group, is answered privately
        if ctx.person is None:
            return ctx.reply(
                paragraphs=[t("You have no profile yet. Tell me what you can teach with “offer”.")],
                buttons=[Button(t("Browse capacities"), "capacities")],
            )
        reply = render(ctx, ctx.person)
        state = (
            t("Others can find you.")
            if ctx.person.discoverable
            else t("You are hidden: others cannot find you. Say “visible on” to change that.")
        )
        return _with_paragraph(reply, state)
    return render(ctx, visible_person(ctx, name, lambda chosen: f"profile {chosen}"))


def visible_person(ctx: Context, name: str, line_for: Callable[[str], str]) -> Person:
    """The one visible person (or the speaker) ``name`` means; else a failure, with a button
    per person it may mean, running ``line_for(their name)``."""
    t = ctx.t
    viewer = ctx.person.id if ctx.person else None
    found = profiles.lookup(ctx.session, ctx.incoming.actor.platform, name, viewer)
    visible = [p for p in found if p.discoverable or p.id == viewer]
    if not visible:
        ctx.fail(t("I know no visible profile called “{name}”.", name=t.user_text(name[:64])))
    if len(visible) > 1:
        ctx.fail(
            t("Whom do you mean by “{name}”?", name=t.user_text(name[:64])),
            buttons=[Button(p.display_name, line_for(profile_name(ctx, p))) for p in visible],
        )
    return visible[0]


def profile_name(ctx: Context, person: Person) -> str:
    """A name ``profile`` finds ``person`` by (see :func:`name_to_find`)."""
    identity = ctx.identity_of(person.id)
    return name_to_find(person.username, identity and identity.handle, person.display_name)


def name_to_find(username: str | None, handle: str | None, display_name: str) -> str:
    """What ``profile`` finds a person by, quoted when it has spaces: their username, else
    their handle, else their chat name."""
    name = username or handle or display_name
    return f'"{name}"' if " " in name else name


def _with_paragraph(reply: Reply, paragraph: str) -> Reply:
    return replace(reply, paragraphs=(*reply.paragraphs, paragraph))


def _confirm(ctx: Context, message: str) -> Reply:
    """A confirmation of an edit, with a reminder when the person cannot be found yet."""
    paragraphs = [message]
    buttons = [Button(ctx.t("My profile"), "profile")]
    if ctx.created_person and not ctx.me().discoverable:
        paragraphs.append(
            ctx.t("You are hidden: others cannot find you. Say “visible on” to change that.")
        )
        buttons.insert(0, Button(ctx.t("Make me visible"), "visible on"))
    return ctx.reply(paragraphs=paragraphs, buttons=buttons)


def _names(ctx: Context, codes: list[int]) -> str:
    return ctx.t.list([ctx.capacity_name(c) for c in codes])


def offer(ctx: Context, args: dict[str, Any]) -> Reply:
    profiles.offer(ctx.session, ctx.me().id, args["capacities"])
    return _confirm(
        ctx, ctx.t("You offer to teach: {names}.", names=_names(ctx, args["capacities"]))
    )


def learn(ctx: Context, args: dict[str, Any]) -> Reply:
    profiles.want(ctx.session, ctx.me().id, args["capacities"])
    reply = _confirm(
        ctx, ctx.t("You want to learn: {names}.", names=_names(ctx, args["capacities"]))
    )
    return _with_paragraph(reply, ctx.t("Say “peers” to see who could teach you."))


def know(ctx: Context, args: dict[str, Any]) -> Reply:
    profiles.know(ctx.session, ctx.me().id, args["capacities"])
    return _confirm(ctx, ctx.t("You know: {names}.", names=_names(ctx, args["capacities"])))


def drop(ctx: Context, args: dict[str, Any]) -> Reply:
    dropped = profiles.drop(ctx.session, ctx.me().id, args["capacities"])
    if not dropped:
        ctx.fail(ctx.t("Your profile has none of these capacities."))
    return _confirm(ctx, ctx.t("Removed from your profile: {names}.", names=_names(ctx, dropped)))


def languages(ctx: Context, args: dict[str, Any]) -> Reply:
    t = ctx.t
    pairs = args.get("languages")
    if pairs is None:
        current = profiles.languages_of(ctx.session, ctx.person.id) if ctx.person else []
        shown = languages_text(ctx, current)
        return ctx.reply(
            paragraphs=[
                t("Your languages: {names}", names=shown)
                if current
                else t("You have listed no languages."),
                t("Levels go from 0 to 5, or “n” for native, as on the Capacity Exchange."),
            ],
            items=[Item(f"{level} — {t(name)}") for level, name in LEVEL_NAMES.items()],
        )
    profiles.set_languages(ctx.session, ctx.me().id, pairs)
    shown = languages_text(ctx, pairs)
    return _confirm(ctx, t("Your languages are now: {names}.", names=shown))


def territory(ctx: Context, args: dict[str, Any]) -> Reply:
    value = args["territory"]
    person = ctx.me()
    if value is CLEARED:
        person.territory_code = None
        return _confirm(ctx, ctx.t("Your territory is removed."))
    person.territory_code = value.code
    return _confirm(ctx, ctx.t("Your territory is now {name}.", name=territory_name(ctx.t, value)))


def affiliation(ctx: Context, args: dict[str, Any]) -> Reply:
    value = args["affiliation"]
    person = ctx.me()
    if value is CLEARED:
        person.organization_id = None
        return _confirm(ctx, ctx.t("Your affiliation is removed."))
    person.organization_id = value.id
    return _confirm(ctx, ctx.t("Your affiliation is now {name}.", name=ctx.t.isolate(value.name)))


def about(ctx: Context, args: dict[str, Any]) -> Reply:
    text = args["text"]
    person = ctx.me()
    if is_word(ctx, text, NONE):
        person.about = None
        return _confirm(ctx, ctx.t("Your description is removed."))
    if len(text) > MAX_ABOUT:
        ctx.fail(
            ctx.t.plural(
                "Please keep it under {n} character.",
                "Please keep it under {n} characters.",
                MAX_ABOUT,
            )
        )
    person.about = text
    return _confirm(ctx, ctx.t("Your description is saved."))


def visible(ctx: Context, args: dict[str, Any]) -> Reply:
    person = ctx.me()
    person.discoverable = args["on"]
    if person.discoverable:
        return ctx.reply(paragraphs=[ctx.t("Others can now find you with “find” and “peers”.")])
    return ctx.reply(paragraphs=[ctx.t("You are hidden now: nobody can find you.")])


def _editing(name: str, summary: str, help: str, handler, param: Param, *examples: str, aliases=()):
    """A command that edits the speaker's own profile; its answers are private."""
    return Command(
        name,
        summary=summary,
        help=help,
        handler=handler,
        params=(param,),
        where=Where.PRIVATE,
        examples=examples,
        aliases=aliases,
    )


CAPACITIES = Param("capacities", Kind.CAPACITIES, N_("capacities"))

COMMANDS = [
    Command(
        "profile",
        summary=N_("show your profile, or someone's"),
        help=N_(
            "Shows your own profile, or the profile of the person with that Wikimedia "
            "username or chat name."
        ),
        handler=profile,
        read_only=True,
        params=(Param("name", Kind.PERSON, N_("username"), required=False),),
        examples=("profile", "profile Ana"),
    ),
    _editing(
        "offer",
        N_("say which capacities you can teach"),
        N_("Adds capacities you can teach to your profile. Separate several with commas."),
        offer,
        CAPACITIES,
        "offer public speaking",
        "offer 36, budgeting",
        aliases=("teach",),
    ),
    _editing(
        "learn",
        N_("say which capacities you want to learn"),
        N_("Adds capacities you want to learn to your profile. Separate several with commas."),
        learn,
        CAPACITIES,
        "learn wikidata",
        aliases=("want",),
    ),
    _editing(
        "know",
        N_("say which capacities you know without teaching them"),
        N_("Adds capacities you know but do not offer to teach. Separate several with commas."),
        know,
        CAPACITIES,
        "know budgeting",
    ),
    _editing(
        "drop",
        N_("remove capacities from your profile"),
        N_("Removes capacities from your profile, whether you offered, knew or wanted them."),
        drop,
        CAPACITIES,
        "drop budgeting",
    ),
    _editing(
        "languages",
        N_("list the languages you speak, with levels"),
        N_(
            "Sets the languages you can work in, each with a level from 0 to 5 or “n” for "
            "native. The list replaces the one you had. Without a list, shows yours."
        ),
        languages,
        Param("languages", Kind.LANGUAGE_LEVELS, N_("languages and levels"), required=False),
        "languages pt-br n, en 3",
        "languages ar n, fr 4",
    ),
    _editing(
        "territory",
        N_("say where you are"),
        N_("Sets your country or Wikimedia region, or “none” to remove it."),
        territory,
        Param("territory", Kind.TERRITORY, N_("country or region")),
        "territory Brazil",
        "territory MENA",
    ),
    _editing(
        "affiliation",
        N_("say which affiliate you belong to"),
        N_("Sets your Wikimedia affiliate (chapter, user group...), or “none” to remove it."),
        affiliation,
        Param("affiliation", Kind.ORGANIZATION, N_("affiliate")),
        "affiliation WMB",
    ),
    _editing(
        "about",
        N_("describe yourself in a sentence or two"),
        N_("Sets the short text shown on your profile, or “none” to remove it."),
        about,
        Param("text", Kind.TEXT, N_("text")),
        "about I edit Wikipedia in Portuguese and run workshops.",
    ),
    _editing(
        "visible",
        N_("choose whether others can find you"),
        N_(
            "With “on”, others can find you with “find” and “peers”. With “off”, you are "
            "hidden from everyone. You start hidden."
        ),
        visible,
        Param("on", Kind.SWITCH, N_("on or off")),
        "visible on",
    ),
]
