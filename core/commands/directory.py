"""Browsing the CapX capacity directory."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import bindparam, func, select

from core.context import Context
from core.i18n import N_
from core.registry import Command, Kind, Param
from core.types import Button, Item, Reply
from storage.models import Person, PersonCapacity, Relation

MAX_RESULTS = 12
_OFFERING = (
    select(func.count())
    .select_from(PersonCapacity)
    .join(Person, Person.id == PersonCapacity.person_id)
    .where(
        PersonCapacity.capacity_code == bindparam("code"),
        PersonCapacity.relation == Relation.AVAILABLE,
        Person.discoverable,
    )
)
"""How many people who can be found offer the capacity ``code``."""


def _item(ctx: Context, code: int) -> Item:
    children = len(ctx.taxonomy.children.get(code, []))
    text = f"{ctx.capacity_name(code)} ({code})"
    if children:
        text += " · " + ctx.t.plural("{n} more inside", "{n} more inside", children)
    return Item(text, ctx.taxonomy.description(code, ctx.locale))


def _show(ctx: Context, code: int) -> Reply:
    t, taxonomy = ctx.t, ctx.taxonomy
    path = [ctx.capacity_name(c) for c in reversed(taxonomy.ancestors(code))]
    offering = ctx.session.connection().execute(_OFFERING, {"code": code}).scalar_one()
    paragraphs = []
    description = taxonomy.description(code, ctx.locale)
    if description:
        paragraphs.append(description)
    if path:
        paragraphs.append(t("Part of: {path}", path=" › ".join(path)))
    paragraphs.append(
        t.plural("{n} person offers to teach it.", "{n} people offer to teach it.", offering)
        if offering
        else t("Nobody offers to teach it yet.")
    )
    children = taxonomy.children.get(code, [])
    return ctx.reply(
        title=f"{ctx.capacity_name(code)} ({code})",
        paragraphs=paragraphs,
        items=[_item(ctx, c) for c in children],
        buttons=[
            Button(t("Find a mentor"), f"find {code}"),
            *(Button(taxonomy.name(c, ctx.locale), f"capacities {c}") for c in children),
        ],
    )


def capacities(ctx: Context, args: dict[str, Any]) -> Reply:
    t, taxonomy = ctx.t, ctx.taxonomy
    if not taxonomy:
        ctx.fail(t("The capacity directory is empty. An operator must run “capx-bot seed”."))
    query = args.get("query")
    if query is None:
        roots = taxonomy.roots()
        return ctx.reply(
            title=t("Capacities"),
            paragraphs=[t("The seven areas of the Capacity Exchange. Open one to see inside.")],
            items=[_item(ctx, c) for c in roots],
            buttons=[Button(taxonomy.name(c, ctx.locale), f"capacities {c}") for c in roots],
        )
    code = taxonomy.exact(query)
    if code is not None:
        return _show(ctx, code)
    found = taxonomy.search(query, ctx.locale, limit=MAX_RESULTS)
    if len(found) == 1:
        return _show(ctx, found[0])
    if not found:
        resolved = taxonomy.resolve(query)
        if resolved.value is not None:
            read_as = t(
                "I read “{text}” as {name}.",
                text=t.user_text(query[:64]),
                name=ctx.capacity_name(resolved.value),
            )
            shown = _show(ctx, resolved.value)
            return replace(shown, paragraphs=(read_as, *shown.paragraphs))
        if not resolved.choices:
            ctx.fail(t("No capacity matches “{query}”.", query=ctx.t.user_text(query)))
        return ctx.reply(
            title=t("No capacity matches “{query}”. The closest:", query=t.user_text(query)),
            items=[_item(ctx, c) for c in resolved.choices],
            buttons=[
                Button(taxonomy.name(c, ctx.locale), f"capacities {c}") for c in resolved.choices
            ],
        )
    return ctx.reply(
        title=t("Capacities matching “{query}”", query=ctx.t.user_text(query)),
        items=[_item(ctx, c) for c in found],
        buttons=[Button(taxonomy.name(c, ctx.locale), f"capacities {c}") for c in found],
    )


COMMANDS = [
    Command(
        "capacities",
        summary=N_("browse or search the capacity directory"),
        help=N_(
            "Without anything more, shows the seven areas of capacities. With a code or a "
            "name, shows that capacity and what is inside it; with other words, searches."
        ),
        handler=capacities,
        read_only=True,
        params=(Param("query", Kind.TEXT, N_("search or code"), required=False),),
        aliases=("capacity", "skills"),
        examples=("capacities", "capacities 36", "capacities speaking"),
    ),
]
