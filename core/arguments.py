"""Resolving a command's arguments into values: capacity codes, language codes, territories.

Each failure is a translated message with the closest choices as buttons; choosing one runs
the same command again with that choice written in.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from functools import cache
from typing import Any

from babel import Locale
from sqlmodel import select

from core.context import Context
from core.i18n import N_, to_cldr
from core.parsing import (
    LIST_SEPARATORS,
    Token,
    normalize,
    split_arguments,
    split_list,
    tokenize,
    tokens_text,
)
from core.registry import Command, Kind, Param
from core.services.places import territory_name
from core.types import Button
from storage.models import LANGUAGE_LEVELS, Organization, Territory

NONE = N_("none")
ANY = N_("any")
NATIVE = N_("native")
ON = (N_("on"), N_("yes"))
OFF = (N_("off"), N_("no"))
MAX_CHOICES = 5
MAX_ITEMS = 25
"""Most items in one list (capacities, languages): more is not typed by hand."""
MAX_LANGUAGE_NAME = 64
DEFAULT_LEVEL = "3"


class Cleared:
    """The value ``none``: clear the setting."""


CLEARED = Cleared()
ANY_LANGUAGE = "*"


def is_word(ctx: Context, text: str, *words: str) -> bool:
    """Whether ``text`` is one of ``words`` (English msgids), in English or translated."""
    wanted = normalize(text)
    return any(wanted in (normalize(w), normalize(ctx.t(w))) for w in words)


def parse(ctx: Context, command: Command, arguments: str) -> dict[str, Any]:
    """The command's arguments resolved to values; raises ``UsageError`` or ``UserError``."""

    def capacity_prefix(param: Param, tokens: list[Token]) -> int:
        if param.kind is not Kind.CAPACITY:
            return 1
        for length in range(len(tokens) - 1, 0, -1):
            if ctx.taxonomy.exact(tokens_text(arguments, tokens[:length]), ctx.locale):
                return length
        return 1

    groups = split_arguments(command, arguments, ctx.t, capacity_prefix)
    values: dict[str, Any] = {}
    for param in command.params:
        tokens = groups.get(param.name)
        if tokens:
            values[param.name] = _resolve(ctx, command, param, arguments, tokens)
    return values


def _resolve(ctx: Context, command: Command, param: Param, source: str, tokens: list[Token]) -> Any:
    text = tokens_text(source, tokens)
    start, end = tokens[0].start, tokens[-1].end

    def retry_with(choice: str) -> str:
        return f"{command.name} {source[:start]}{choice}{source[end:]}".strip()

    match param.kind:
        case Kind.CAPACITY:
            return resolve_capacity(ctx, text, retry_with)
        case Kind.CAPACITIES:
            codes = []
            _check_count(ctx, split_list(text))
            for item in split_list(text):
                rest = ", ".join(i for i in split_list(text) if i != item)
                codes.append(
                    resolve_capacity(
                        ctx, item, lambda c, r=rest: retry_with(f"{c}, {r}" if r else c)
                    )
                )
            return list(dict.fromkeys(codes))
        case Kind.LANGUAGE:
            if is_word(ctx, text, ANY):
                return ANY_LANGUAGE
            return resolve_language(ctx, text)
        case Kind.LANGUAGE_LEVELS:
            return parse_language_levels(ctx, text)
        case Kind.TERRITORY:
            return CLEARED if is_word(ctx, text, NONE) else resolve_territory(ctx, text)
        case Kind.ORGANIZATION:
            return CLEARED if is_word(ctx, text, NONE) else resolve_organization(ctx, text)
        case Kind.NUMBER:
            digits = text.lstrip("#")
            if not (digits.isascii() and digits.isdigit()) or len(digits) > 12:
                ctx.fail(ctx.t("“{text}” is not a number.", text=ctx.t.user_text(text)))
            return int(digits)
        case Kind.SWITCH:
            if is_word(ctx, text, *ON):
                return True
            if is_word(ctx, text, *OFF):
                return False
            ctx.fail(ctx.t("Say “on” or “off”."))
        case _:
            return text


def _check_count(ctx: Context, items: list[Any]) -> None:
    if len(items) > MAX_ITEMS:
        ctx.fail(
            ctx.t.plural(
                "That is too many at once: I take at most {n} item.",
                "That is too many at once: I take at most {n} items.",
                MAX_ITEMS,
            )
        )


def resolve_capacity(ctx: Context, text: str, retry_with: Callable[[str], str]) -> int:
    """The capacity ``text`` names, or a failure offering the closest capacities as buttons;
    ``retry_with(code)`` is the command line a button runs."""
    if not ctx.taxonomy:
        ctx.fail(ctx.t("The capacity directory is empty. An operator must run “capx-bot seed”."))
    found = ctx.taxonomy.resolve(text, ctx.locale)
    if found.code is not None:
        return found.code
    buttons = [
        Button(ctx.taxonomy.name(code, ctx.locale), retry_with(str(code)))
        for code in found.candidates[:MAX_CHOICES]
    ]
    if buttons:
        ctx.fail(
            ctx.t("Which capacity do you mean by “{text}”?", text=ctx.t.user_text(text)),
            buttons=buttons,
        )
    ctx.fail(
        ctx.t(
            "I know no capacity called “{text}”. Say “capacities” to browse them.",
            text=ctx.t.user_text(text),
        )
    )


@cache
def _language_names(locale: str) -> dict[str, str]:
    """Normalized language name (in ``locale``, in English, and in itself) -> MediaWiki code."""
    names: dict[str, str] = {}
    for source in ("en", locale):
        for code, name in Locale.parse(source).languages.items():
            names.setdefault(normalize(name), code.replace("_", "-").lower())
    return names


def resolve_language(ctx: Context, text: str) -> str:
    """A MediaWiki-style language code (``pt-br``) for a code or a language name."""
    cleaned = text.strip()
    locale = to_cldr(cleaned)
    code = cleaned.replace("_", "-").lower()
    if locale is not None and len(code) <= 12 and " " not in code:
        return code
    names = _language_names(ctx.locale)
    wanted = normalize(cleaned)
    if wanted in names:
        return names[wanted]
    close = len(wanted) <= MAX_LANGUAGE_NAME and difflib.get_close_matches(
        wanted, list(names), n=1, cutoff=0.8
    )
    if close:
        return names[close[0]]
    ctx.fail(ctx.t("I do not know the language “{text}”.", text=ctx.t.user_text(text)))


def parse_language_levels(ctx: Context, text: str) -> list[tuple[str, str]]:
    """``pt-br n, en 3`` or ``pt-br:n en:3`` -> ``[("pt-br", "n"), ("en", "3")]``. A level is
    0-5 or native (``n``, or the word in the reader's language); a language alone is level 3."""
    items: list[list[str]] = []
    if LIST_SEPARATORS.search(text):
        items = [[t.text for t in tokenize(item.replace(":", " "))] for item in split_list(text)]
    else:
        for token in tokenize(text.replace(":", " ")):
            if items and len(items[-1]) == 1 and _level(ctx, token.text):
                items[-1].append(token.text)
            else:
                items.append([token.text])
    _check_count(ctx, items)
    result: dict[str, str] = {}
    for words in filter(None, items):
        level = _level(ctx, words[-1]) if len(words) > 1 else None
        language = " ".join(words[:-1] if level else words)
        result[resolve_language(ctx, language)] = level or DEFAULT_LEVEL
    return list(result.items())


def _level(ctx: Context, word: str) -> str | None:
    """The CapX level ``word`` names, if it names one."""
    word = word.lower()
    if word in LANGUAGE_LEVELS:
        return word
    return "n" if is_word(ctx, word, NATIVE) else None


def resolve_territory(ctx: Context, text: str) -> Territory:
    """A country or Wikimedia region by code or by name (in the reader's language or English)."""
    territories = ctx.session.exec(select(Territory)).all()
    by_code = {t.code.lower(): t for t in territories}
    wanted = normalize(text)
    if wanted in by_code:
        return by_code[wanted]
    names: dict[str, Territory] = {}
    for territory in territories:
        names[normalize(territory.name_en)] = territory
        names[normalize(territory_name(ctx.t, territory))] = territory
    if wanted in names:
        return names[wanted]
    close = difflib.get_close_matches(wanted, list(names), n=MAX_CHOICES, cutoff=0.75)
    if len(close) == 1:
        return names[close[0]]
    ctx.fail(ctx.t("I do not know the territory “{text}”.", text=ctx.t.user_text(text)))


def resolve_organization(ctx: Context, text: str) -> Organization:
    """An affiliate by acronym or by (part of) its name."""
    wanted = normalize(text)
    organizations = ctx.session.exec(select(Organization)).all()
    for organization in organizations:
        if normalize(organization.acronym) == wanted or normalize(organization.name) == wanted:
            return organization
    partial = [o for o in organizations if wanted in normalize(o.name)]
    if len(partial) == 1:
        return partial[0]
    if partial:
        ctx.fail(
            ctx.t("Several affiliates match “{text}”:", text=ctx.t.user_text(text)),
            buttons=[Button(o.name, f"affiliation {o.acronym}") for o in partial[:MAX_CHOICES]],
        )
    ctx.fail(ctx.t("I do not know the affiliate “{text}”.", text=ctx.t.user_text(text)))
