"""Resolving a command's arguments into values: capacity codes, language codes, territories.

Each failure is a translated message with the closest choices as buttons; choosing one runs
the same command again with that choice written in.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import cache
from typing import Any, TypeVar

from babel import Locale

from core.context import Context
from core.i18n import N_, Translator, shipped_locales, to_cldr
from core.parsing import (
    LIST_SEPARATORS,
    Token,
    UsageError,
    normalize,
    split_arguments,
    split_list,
    tokenize,
    tokens_text,
)
from core.registry import Command, Kind, Param
from core.services import profiles
from core.services.names import Found, NameIndex
from core.services.places import territory_name
from core.types import Button, Choice
from storage.models import LANGUAGE_LEVELS, Organization, Territory

NONE = N_("none")
ANY = N_("any")
NATIVE = N_("native")
YES = N_("yes")
NO = N_("no")
ON = (N_("on"), YES)
OFF = (N_("off"), NO)
MAX_ITEMS = 25
"""Most items in one list (capacities, languages): more is not typed by hand."""
DEFAULT_LEVEL = "3"
V = TypeVar("V", bound=Hashable)


class Cleared:
    """The value ``none``: clear the setting."""


CLEARED = Cleared()
ANY_LANGUAGE = "*"


def is_word(ctx: Context, text: str, *words: str) -> bool:
    """Whether ``text`` is one of ``words`` (English msgids), in English or translated."""
    return means(ctx.t, text, *words)


def means(t: Translator, text: str, *words: str) -> bool:
    """:func:`is_word` for a translator alone."""
    wanted = normalize(text)
    return any(wanted in (normalize(w), normalize(t(w))) for w in words)


def parse(ctx: Context, command: Command, arguments: str) -> dict[str, Any]:
    """The command's arguments resolved to values; raises ``UsageError`` or ``UserError``."""

    def capacity_prefix(param: Param, tokens: list[Token]) -> int:
        if param.kind is not Kind.CAPACITY:
            return 1
        for length in range(len(tokens), 0, -1):
            if ctx.taxonomy.exact(tokens_text(arguments, tokens[:length])):
                return length
        return 1

    groups = split_arguments(command, arguments, ctx.t, capacity_prefix)
    values: dict[str, Any] = {}
    for param in command.params:
        tokens = groups.get(param.name)
        if tokens:
            values[param.name] = _resolve(ctx, command, param, arguments, tokens)
    return values


def parse_options(ctx: Context, command: Command, options: dict[str, str]) -> dict[str, Any]:
    """The values of typed options (a platform's, by parameter name), resolved as typed
    lines are; a choice offered for one (which capacity?) runs the command as a line with
    that choice written in."""
    if set(options) - {param.name for param in command.params}:
        raise UsageError("unknown option")
    values: dict[str, Any] = {}
    for param in command.params:
        text = options.get(param.name, "").strip()
        if not text:
            if param.required:
                raise UsageError(f"missing {param.name}")
            continue

        def retry_with(choice: str, name: str = param.name) -> str:
            return as_line(command, {**options, name: choice})

        values[param.name] = _value(ctx, param, text, retry_with)
    return values


def as_line(command: Command, options: dict[str, str]) -> str:
    """The command line that says ``options``: each value after its keyword, quoted where it
    has spaces (the last text as it is)."""
    parts = [command.name]
    for param in command.params:
        value = " ".join(options.get(param.name, "").split())
        if not value:
            continue
        if param.kind is not Kind.TEXT and " " in value:
            value = '"' + value.replace('"', "'") + '"'
        parts.append(f"{param.keyword} {value}" if param.keyword else value)
    return " ".join(parts)


def _resolve(ctx: Context, command: Command, param: Param, source: str, tokens: list[Token]) -> Any:
    text = tokens_text(source, tokens)
    start, end = tokens[0].start, tokens[-1].end

    def retry_with(choice: str) -> str:
        return f"{command.name} {source[:start]}{choice}{source[end:]}".strip()

    return _value(ctx, param, text, retry_with)


def _value(ctx: Context, param: Param, text: str, retry_with: Callable[[str], str]) -> Any:
    """What ``text`` means as ``param``; ``retry_with(choice)`` is the line a choice runs."""
    match param.kind:
        case Kind.CAPACITY:
            return resolve_capacity(ctx, text, retry_with)
        case Kind.CAPACITIES:
            codes = []
            if not split_list(text):
                raise UsageError("no capacities")
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
            return resolve_language(ctx, text, retry_with)
        case Kind.LANGUAGE_LEVELS:
            return parse_language_levels(ctx, text)
        case Kind.TERRITORY:
            if is_word(ctx, text, NONE):
                return CLEARED
            return resolve_territory(ctx, text, retry_with)
        case Kind.ORGANIZATION:
            if is_word(ctx, text, NONE):
                return CLEARED
            return resolve_organization(ctx, text, retry_with)
        case Kind.NUMBER:
            digits = text.lstrip("#").removeprefix("-")
            if not (digits.isascii() and digits.isdigit()) or len(digits) > 40:
                ctx.fail(ctx.t("“{text}” is not a number.", text=ctx.t.user_text(text)))
            return int(text.lstrip("#"))
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


def _chosen(
    ctx: Context,
    text: str,
    found: Found[V],
    *,
    label: Callable[[V], str],
    written: Callable[[V], str],
    retry_with: Callable[[str], str] | None,
    ask: str,
    unknown: str,
) -> V:
    """``found.value``, noting what ``text`` was read as when it was a near match; else a
    failure that asks (the choices as buttons that re-run the command with the choice
    ``written`` in, or named in the text when there is no command line to re-run) or says
    nothing matched. ``ask`` and ``unknown`` are msgids with ``{text}``."""
    t = ctx.t
    quoted = t.user_text(text[:64])
    if found.value is not None:
        if found.near:
            ctx.read_as.append(
                t("I read “{text}” as {name}.", text=quoted, name=t.isolate(label(found.value)))
            )
        return found.value
    if found.choices and retry_with is not None:
        buttons = [Button(label(v), retry_with(written(v))) for v in found.choices]
        ctx.fail(t(ask, text=quoted), buttons=buttons)
    if found.choices:
        names = t.list([t.isolate(label(v)) for v in found.choices])
        ctx.fail(t(ask, text=quoted) + " " + t("Perhaps: {names}.", names=names))
    ctx.fail(t(unknown, text=quoted))


def resolve_capacity(ctx: Context, text: str, retry_with: Callable[[str], str]) -> int:
    """The capacity ``text`` names (a code, or a name in any shipped language), or a failure
    offering the closest capacities as buttons; ``retry_with(code)`` is the line one runs."""
    if not ctx.taxonomy:
        ctx.fail(ctx.t("The capacity directory is empty. An operator must run “capx-bot seed”."))
    return _chosen(
        ctx,
        text,
        ctx.taxonomy.resolve(text),
        label=lambda code: ctx.taxonomy.name(code, ctx.locale),
        written=str,
        retry_with=retry_with,
        ask=N_("Which capacity do you mean by “{text}”?"),
        unknown=N_("I know no capacity called “{text}”. Say “capacities” to browse them."),
    )


@cache
def _language_index(locale: str) -> NameIndex[str]:
    """Language names in ``locale``, in English and in themselves -> MediaWiki code."""
    entries: list[tuple[str, str]] = []
    for source in ("en", locale):
        for code, name in Locale.parse(source).languages.items():
            entries.append((name, code.replace("_", "-").lower()))
    for code in Locale.parse("en").languages:
        own = to_cldr(code)
        if own is not None and own.get_display_name(own):
            entries.append((own.get_display_name(own), code.replace("_", "-").lower()))
    return NameIndex(entries)


def resolve_language(
    ctx: Context, text: str, retry_with: Callable[[str], str] | None = None
) -> str:
    """A MediaWiki-style language code (``pt-br``) for a code, or for a language's name in the
    reader's language, in English or in itself."""
    cleaned = text.strip()
    code = cleaned.replace("_", "-").lower()
    if to_cldr(cleaned) is not None and len(code) <= 12 and " " not in code:
        return code
    return _chosen(
        ctx,
        text,
        _language_index(ctx.locale).resolve(cleaned),
        label=ctx.t.language_name,
        written=str,
        retry_with=retry_with,
        ask=N_("Which language do you mean by “{text}”?"),
        unknown=N_("I do not know the language “{text}”."),
    )


def parse_language_levels(ctx: Context, text: str) -> list[tuple[str, str]]:
    """``pt-br n, en 3`` or ``pt-br:n en:3`` -> ``[("pt-br", "n"), ("en", "3")]``. A level is
    0-5 or native (``n``, or the word in the reader's language); a language alone is level 3."""
    items: list[list[str]] = []
    if LIST_SEPARATORS.search(text):
        items = [[t.text for t in tokenize(item.replace(":", " "))] for item in split_list(text)]
    else:
        for token in tokenize(text.replace(":", " ")):
            is_level = _level(ctx, token.text) or token.text.isdigit()
            if items and len(items[-1]) == 1 and is_level:
                items[-1].append(token.text)
            else:
                items.append([token.text])
    _check_count(ctx, items)
    result: dict[str, str] = {}
    for words in filter(None, items):
        level = _level(ctx, words[-1]) if len(words) > 1 else None
        if len(words) > 1 and level is None and words[-1].isdigit():
            ctx.fail(
                ctx.t(
                    "“{level}” is not a level: levels go from 0 to 5, or “n” for native.",
                    level=ctx.t.user_text(words[-1][:8]),
                )
            )
        language = " ".join(words[:-1] if level else words)
        result[resolve_language(ctx, language)] = level or DEFAULT_LEVEL
    return list(result.items())


def _level(ctx: Context, word: str) -> str | None:
    """The CapX level ``word`` names, if it names one."""
    word = word.lower()
    if word in LANGUAGE_LEVELS:
        return word
    return "n" if is_word(ctx, word, NATIVE) else None


def resolve_territory(
    ctx: Context, text: str, retry_with: Callable[[str], str] | None = None
) -> Territory:
    """A country or Wikimedia region: by code (ISO, region id), by its name in any shipped
    language, or by a common other name (USA, Ivory Coast, Latin America, Europe...)."""
    reference = ctx.reference
    found = reference.territory_names.resolve(text)
    code = _chosen(
        ctx,
        text,
        found,
        label=lambda c: territory_name(ctx.t, reference.territories[c]),
        written=str,
        retry_with=retry_with,
        ask=N_("Which territory do you mean by “{text}”?"),
        unknown=N_("I do not know the territory “{text}”."),
    )
    return reference.territories[code]


def resolve_organization(
    ctx: Context, text: str, retry_with: Callable[[str], str] | None = None
) -> Organization:
    """An affiliate by acronym (CapX's, or the one it uses itself: WMDE), by name or by the
    name it uses itself (Wikimedia Deutschland)."""
    reference = ctx.reference
    organizations = reference.organizations
    found = reference.organization_names.resolve(text)
    chosen = _chosen(
        ctx,
        text,
        found,
        label=lambda id_: organizations[id_].name,
        written=lambda id_: organizations[id_].acronym,
        retry_with=retry_with,
        ask=N_("Which affiliate do you mean by “{text}”?"),
        unknown=N_("I do not know the affiliate “{text}”."),
    )
    return organizations[chosen]


MAX_COMPLETIONS = 25
"""The most choices a completion offers (Discord shows 25)."""


def complete(ctx: Context, param: Param, text: str) -> list[Choice]:
    """Up to :data:`MAX_COMPLETIONS` values ``param`` may take that ``text`` (typed so far)
    begins or nearly spells, best first, labelled in the reader's language."""
    t = ctx.t
    wanted = normalize(text)
    if param.choices or param.kind in (Kind.SWITCH, Kind.BOT_LANGUAGE):
        if param.kind is Kind.BOT_LANGUAGE:
            shown = [
                Choice(Locale.parse(code).get_display_name(code), _code(code))
                for code in shipped_locales()
            ]
        else:
            shown = [Choice(t(word), word) for word in param.choices or (ON[0], OFF[0])]
        return [
            c for c in shown if normalize(c.label).startswith(wanted) or c.value.startswith(wanted)
        ]
    match param.kind:
        case Kind.CAPACITY:
            return _capacity_choices(ctx, text, lambda code: str(code))
        case Kind.CAPACITIES:
            before, separator, last = text.rpartition(",")
            kept = f"{before}{separator} " if separator else ""
            return _capacity_choices(ctx, last, lambda code: f"{kept}{code}".strip())
        case Kind.LANGUAGE | Kind.LANGUAGE_LEVELS:
            codes = _language_index(ctx.locale).complete(text, MAX_COMPLETIONS)
            return [Choice(t.language_name(code), code) for code in codes]
        case Kind.TERRITORY:
            territories = ctx.reference.territories
            codes = ctx.reference.territory_names.complete(text, MAX_COMPLETIONS)
            return [Choice(territory_name(t, territories[code]), code) for code in codes]
        case Kind.ORGANIZATION:
            organizations = ctx.reference.organizations
            ids = ctx.reference.organization_names.complete(text, MAX_COMPLETIONS)
            return [
                Choice(
                    f"{organizations[i].acronym} · {organizations[i].name}",
                    organizations[i].acronym,
                )
                for i in ids
            ]
        case Kind.PERSON:
            viewer = ctx.person.id if ctx.person else None
            people = profiles.named_like(ctx.session, text, viewer, MAX_COMPLETIONS)
            return [
                Choice(person.display_name, person.username or person.display_name)
                for person in people
            ]
        case _:
            return []


def _code(locale: str) -> str:
    """A shipped locale as people write its code: ``pt_BR`` -> ``pt-br``."""
    return locale.replace("_", "-").lower()


def _capacity_choices(ctx: Context, text: str, value: Callable[[int], str]) -> list[Choice]:
    taxonomy = ctx.taxonomy
    if text.strip():
        codes = taxonomy.index.complete(text, MAX_COMPLETIONS)
    else:
        codes = [*taxonomy.roots(), *(c for r in taxonomy.roots() for c in taxonomy.descendants(r))]
    return [
        Choice(taxonomy.name(code, ctx.locale), value(code)) for code in codes[:MAX_COMPLETIONS]
    ]
