"""Core replies as Telegram messages: HTML text within Telegram's size limit, lists in pages,
and choices as inline buttons. Pure functions; the adapter sends what they return.

Sizes are measured as Telegram measures them, on the text after parsing the HTML: tags count
nothing, an entity (``&amp;``) counts as the one character it stands for, and every character
counts in UTF-16 code units.

Callback data (at most 64 bytes) says what a button does:
``c:<command line>`` runs the command line as if its presser typed it; ``b:<token>`` presses
a button the core keeps under ``token`` (it checks who may press it); ``p:<n>`` shows page
``n`` of the list the message belongs to; ``-`` does nothing (the page counter).
"""

from __future__ import annotations

import html
import re

from adapters import render
from adapters.render import render_html, render_plain
from core.types import Button, Reply

MESSAGE_LIMIT = 4096
"""Telegram's limit on a message's text, in UTF-16 code units after parsing."""
CAPTION_LIMIT = 1024
"""Telegram's limit on a document's caption, counted the same way."""
ALERT_LIMIT = 200
"""Telegram's limit on the text of a callback query's answer."""
CALLBACK_LIMIT = 64
"""Telegram's limit on a button's callback data, in bytes."""
RUN, BOUND = render.RUN, render.BOUND
PAGE, NOTHING = "p:", "-"

_TOKEN = re.compile(r"<[^>]*>|&[#\w]+;|\n|[^\S\n]+|[^<&\s]+|[<&]")
_TAG = re.compile(r"<[^>]*>")
_TAG_NAME = re.compile(r"</?([a-z]+)")


def units(text: str) -> int:
    """The length of plain ``text`` in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def size(html_text: str) -> int:
    """The length Telegram counts for ``html_text``: its visible text (no tags, entities as
    the characters they stand for), in UTF-16 code units."""
    return units(html.unescape(_TAG.sub("", html_text)))


def pages(reply: Reply) -> list[str]:
    """The reply as HTML pages (see :func:`render.pages`), each within the message limit; one
    page for a short reply, or when a page would not fit (the caller then splits it with
    :func:`split_html`)."""
    paged = [render_html(page) for page in render.pages(reply)]
    if len(paged) > 1 and any(size(page) > MESSAGE_LIMIT for page in paged):
        return [render_html(reply)]
    return paged


def split_html(html_text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """``html_text`` as messages whose :func:`size` is at most ``limit`` each, cut at a line
    break when one is near (no more than a quarter of ``limit`` back), else between words
    (inside a word longer than that quarter), never inside a tag or an entity. A tag open
    at a cut is closed before it and opened again after it, so each message is well-formed.
    Nothing is left out but the line breaks at the cuts."""
    if size(html_text) <= limit:
        return [html_text]
    found: list[str] = []
    current: list[str] = []  # the tokens of the message being filled
    used = 0  # their size
    opened: list[tuple[str, str]] = []  # (name, opening tag), innermost last
    last_break: tuple[int, int, list[tuple[str, str]]] | None = None  # index, size, open tags
    for token in _tokens(html_text, limit):
        weight = _weight(token)
        while used and used + weight > limit:
            if last_break is not None and used - last_break[1] <= limit // 4:
                at, before, was_open = last_break
                found.append("".join(current[:at]) + _closing(was_open))
                current = [tag for _, tag in was_open] + current[at + 1 :]
                used -= before + 1
            else:
                found.append("".join(current) + _closing(opened))
                current = [tag for _, tag in opened]
                used = 0
            last_break = None
        if token == "\n":
            last_break = (len(current), used, list(opened))
        current.append(token)
        used += weight
        name = _tag_name(token)
        if name and token[1] == "/":
            opened.pop()
        elif name:
            opened.append((name, token))
    found.append("".join(current))
    return [part.strip("\n") for part in found if _has_text(part)]


def _weight(token: str) -> int:
    if token.startswith("<"):
        return 0 if len(token) > 1 else 1
    return units(html.unescape(token)) if token.startswith("&") else units(token)


def _closing(opened: list[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(opened))


def _has_text(html_text: str) -> bool:
    return bool(_TAG.sub("", html_text).strip())


def _tokens(text: str, limit: int) -> list[str]:
    """Tags, entities, spaces and words; a word longer than a quarter of ``limit`` is cut."""
    step = max(1, limit // 4)
    tokens: list[str] = []
    for token in _TOKEN.findall(text):
        if token[0] in "<&" or len(token) <= step:
            tokens.append(token)
        else:
            tokens += [token[i : i + step] for i in range(0, len(token), step)]
    return tokens


def _tag_name(token: str) -> str | None:
    match = _TAG_NAME.match(token) if token.startswith("<") and len(token) > 1 else None
    return match.group(1) if match else None


def cut(text: str, limit: int) -> str:
    """Plain ``text`` within ``limit`` UTF-16 code units, ending in ``…`` when cut."""
    if units(text) <= limit:
        return text
    kept = text[:limit]
    while units(kept) > limit - 1:
        kept = kept[:-1]
    return kept + "…"


def caption(reply: Reply) -> str:
    """A one-line HTML caption for ``reply`` sent as its attachment alone: the first line of
    its first paragraph (or of its title), within Telegram's caption limit."""
    first = reply.paragraphs[0] if reply.paragraphs else reply.title or ""
    return html.escape(cut(first.split("\n", 1)[0], CAPTION_LIMIT))


def alert(reply: Reply) -> str:
    """``reply`` as the plain text of a callback query's answer (an alert to the presser)."""
    return cut(render_plain(reply, numbered_choices=False), ALERT_LIMIT)


def button_data(button: Button) -> str | None:
    """The callback data of ``button`` (see :func:`adapters.render.button_data`)."""
    return render.button_data(button, CALLBACK_LIMIT)


def page_buttons(page: int, count: int) -> list[tuple[str, str]]:
    """The (label, callback data) row under page ``page`` (from 0) of ``count`` pages."""
    row = [("‹", f"{PAGE}{page - 1}")] if page > 0 else []
    row.append((f"{page + 1}/{count}", NOTHING))
    if page + 1 < count:
        row.append(("›", f"{PAGE}{page + 1}"))
    return row
