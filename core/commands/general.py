"""Getting started: help, start, and the language the bot speaks."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any

from babel import Locale

from core.context import Context
from core.i18n import N_, Translator, best_shipped, shipped_locales
from core.registry import Command, Kind, Param, Registry, Where, Who
from core.types import Button, Item, Reply
from storage import chats


@lru_cache(maxsize=64)
def _every_command(registry: Registry, locale: str) -> tuple[Item, ...]:
    """Each command of ``registry`` with its summary in ``locale`` (the same every time)."""
    t = Translator(locale)
    return tuple(Item(f"{c.name} — {t(c.summary)}") for c in registry)


def help_(ctx: Context, args: dict[str, Any]) -> Reply:
    name = args.get("command")
    t = ctx.t
    if name is None:
        return ctx.reply(
            title=t("What I can do"),
            paragraphs=[t("Say “help <command>” to learn more about one of them.")],
            items=_every_command(ctx.registry, t.locale),
        )
    command = ctx.registry.get(name.lstrip("/!"))
    if command is None:
        suggestions = ctx.registry.suggest(name)
        ctx.fail(
            t("There is no command “{name}”.", name=name[:64]),
            buttons=[Button(s, f"help {s}") for s in suggestions],
        )
    paragraphs = [t(command.help)]
    if command.aliases:
        paragraphs.append(t("Also known as: {names}", names=t.list(list(command.aliases))))
    if command.examples:
        paragraphs.append(t("Examples:"))
    return ctx.reply(
        title=command.usage(t),
        paragraphs=paragraphs,
        items=[Item(example) for example in command.example_lines(t)],
    )


def welcome(t: Translator) -> Reply:
    """What the bot says to someone, or some room, it meets for the first time."""
    return Reply(
        title=t("Welcome to the Capacity Exchange!"),
        paragraphs=(
            t(
                "I help Wikimedians find people who can teach a capacity (a skill), "
                "and people who want to learn what they can teach."
            ),
            t(
                "Tell me what you can teach with “offer”, what you want to learn with “learn”, "
                "and find a mentor with “find”. Say “help” for everything else."
            ),
        ),
        buttons=(
            Button(t("Browse capacities"), "capacities"),
            Button(t("My profile"), "profile"),
            Button(t("Help"), "help"),
        ),
        locale=t.locale,
    )


def start(ctx: Context, args: dict[str, Any]) -> Reply:
    return welcome(ctx.t)


def _language_buttons(command: str) -> list[Button]:
    return [
        Button(Locale.parse(code).get_display_name(code) or code, f"{command} {code}")
        for code in shipped_locales()
    ]


def _chosen_locale(ctx: Context, code: str, command: str) -> str:
    chosen = best_shipped(code)
    if chosen is None:
        ctx.fail(
            ctx.t("I do not speak “{code}” yet. Choose one of these:", code=code[:32]),
            buttons=_language_buttons(command),
        )
    return chosen


def language(ctx: Context, args: dict[str, Any]) -> Reply:
    code = args.get("language")
    if code is None:
        return ctx.reply(
            paragraphs=[ctx.t("Which language should I speak with you?")],
            buttons=_language_buttons("language"),
        )
    chosen = _chosen_locale(ctx, code, "language")
    ctx.me().locale = chosen
    ctx.t = type(ctx.t)(chosen)
    return ctx.reply(paragraphs=[ctx.t("From now on I will speak with you in English.")])


def room_language(ctx: Context, args: dict[str, Any]) -> Reply:
    conversation = ctx.incoming.conversation
    chosen = _chosen_locale(ctx, args["language"], "roomlanguage")
    room = chats.ensure_room(
        ctx.session, conversation.platform, conversation.room_id, conversation.title
    )
    room.locale = chosen
    name = Locale.parse(chosen).get_display_name(ctx.locale)
    return ctx.reply(paragraphs=[ctx.t("This room's language is now {name}.", name=name)])


LANGUAGE = Param("language", Kind.BOT_LANGUAGE, N_("language"))

COMMANDS = [
    Command(
        "help",
        summary=N_("list the commands, or explain one"),
        help=N_("Lists what I can do. With a command's name, explains that command."),
        handler=help_,
        read_only=True,
        params=(Param("command", Kind.WORD, N_("command"), required=False),),
        examples=("help find",),
    ),
    Command(
        "start",
        summary=N_("what this bot is and how to begin"),
        help=N_("Introduces the Capacity Exchange bot and the first steps."),
        handler=start,
        read_only=True,
        params=(Param("payload", Kind.WORD, N_("code"), required=False),),
    ),
    Command(
        "language",
        summary=N_("choose the language I speak with you"),
        help=N_(
            "Sets the language I use with you, wherever we talk. Without a language, shows "
            "the ones I speak."
        ),
        handler=language,
        params=(replace(LANGUAGE, required=False),),
        where=Where.PRIVATE,
        examples=("language pt-br", "language ar"),
    ),
    Command(
        "roomlanguage",
        summary=N_("choose this room's language (room admins)"),
        help=N_(
            "Sets the language I use in this room with people who have not chosen their own. "
            "Only the room's admins may change it."
        ),
        handler=room_language,
        params=(LANGUAGE,),
        where=Where.GROUP,
        who=Who.ROOM_ADMIN,
        examples=("roomlanguage pt-br",),
    ),
]
