"""From a line of text to a command's named arguments. Pure: no database, no platform.

Values are returned as text; :mod:`core.arguments` resolves them (capacities, languages...).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.i18n import Translator

if TYPE_CHECKING:
    from core.registry import Command, Param

MAX_INPUT = 4096
"""Longest command line the bot reads, in characters."""

_QUOTES = {'"': '"', "“": "”", "«": "»", "„": "“", "「": "」", "‘": "’"}
LIST_SEPARATORS = re.compile(r"[,;،、]")


_UNSAFE = {
    code: None
    for code in (
        *range(0x00, 0x20),
        *range(0x7F, 0xA0),
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    )
    if chr(code) not in "\n\t"
}
"""Control characters (but newline and tab), bidirectional embeddings, overrides and
isolates: nothing a person means to say, and each can garble what others read (terminal
escapes, reversed text) or break a database (PostgreSQL refuses NUL)."""


def clean(text: str) -> str:
    """``text`` without the characters of :data:`_UNSAFE`."""
    return text.translate(_UNSAFE)


class UsageError(Exception):
    """The arguments do not fit the command; the caller shows its usage."""


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int
    quoted: bool = False


def normalize(text: str) -> str:
    """Text folded for comparison: NFKC, case-folded, accents removed, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(unicodedata.normalize("NFKC", stripped).split())


def tokenize(text: str) -> list[Token]:
    """Split on white space; a quoted phrase is one token. Never fails: an unclosed quote runs
    to the end of the text."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        closing = _QUOTES.get(text[i])
        if closing:
            end = text.find(closing, i + 1)
            end = n if end < 0 else end
            tokens.append(Token(text[i + 1 : end], i, min(end + 1, n), quoted=True))
            i = end + 1
            continue
        start = i
        while i < n and not text[i].isspace():
            i += 1
        tokens.append(Token(text[start:i], start, i))
    return tokens


def split_command_line(line: str) -> tuple[str, str]:
    """``"find public speaking"`` -> ``("find", "public speaking")``; a leading ``/`` or ``!`` is
    dropped, and so is a ``@botname`` suffix on the command."""
    line = line.strip()
    head, _, rest = line.partition(" ")
    head = head.lstrip("/!").split("@", 1)[0]
    return head.lower(), rest.strip()


def split_list(text: str) -> list[str]:
    """Items of a comma-separated list, stripped, empty ones dropped."""
    return [part.strip() for part in LIST_SEPARATORS.split(text) if part.strip()]


def tokens_text(source: str, tokens: list[Token]) -> str:
    """The text the tokens were read from, as typed (quotes kept off a single quoted token)."""
    if len(tokens) == 1 and tokens[0].quoted:
        return tokens[0].text.strip()
    return source[tokens[0].start : tokens[-1].end].strip()


PrefixLength = Callable[["Param", list[Token]], int]
"""How many of the tokens a parameter that is not the last one takes (its name's words)."""


def _one_token(_param: Param, _tokens: list[Token]) -> int:
    return 1


def split_arguments(
    command: Command, arguments: str, t: Translator, prefix_length: PrefixLength = _one_token
) -> dict[str, list[Token]]:
    """Assign the tokens of ``arguments`` to the command's parameters.

    A keyword parameter takes the tokens after its keyword (English or translated) up to the
    next keyword; a keyword capacity followed by the text takes only as many as
    ``prefix_length`` says. Positional parameters take the remaining tokens in order (as many
    as ``prefix_length`` says, at least one); the last one takes all that are left. Raises
    :class:`UsageError` when a required parameter is missing or words are left over.
    """
    tokens = tokenize(arguments)
    keywords: dict[str, Param] = {}
    for param in command.params:
        if param.keyword:
            keywords[normalize(param.keyword)] = param
            keywords[normalize(t(param.keyword))] = param

    groups: dict[str, list[Token]] = {}
    positional: list[Token] = []
    current: list[Token] = positional
    for index, token in enumerate(tokens):
        param = None if token.quoted or index == 0 else keywords.get(normalize(token.text))
        if param is not None and param.name not in groups:
            current = groups[param.name] = []
        else:
            current.append(token)

    # A keyword capacity before the text ("about public speaking Hello!") takes the longest
    # name it knows (else one word), and the words after it are the text.
    ends_in_text = any(p.kind == "text" and not p.keyword for p in command.params)
    for param in command.params:
        group = groups.get(param.name)
        if group and param.keyword and param.kind == "capacity" and ends_in_text:
            taken = prefix_length(param, group)
            groups[param.name] = group[:taken]
            positional += group[taken:]

    ordered = [p for p in command.params if not p.keyword]
    for position, param in enumerate(ordered):
        if not positional:
            break
        is_last = position == len(ordered) - 1
        if is_last:
            groups[param.name], positional = positional, []
        else:
            taken = max(1, min(prefix_length(param, positional), len(positional) - 1))
            groups[param.name], positional = positional[:taken], positional[taken:]
    if positional:
        raise UsageError("unexpected words")
    for param in command.params:
        if param.required and not groups.get(param.name):
            raise UsageError(f"missing {param.name}")
        if param.name in groups and not groups[param.name]:
            raise UsageError(f"empty {param.name}")
    return groups
