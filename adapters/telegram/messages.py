"""Core replies as Telegram messages: HTML text within Telegram's size limit, lists in pages,
and choices as inline buttons. Pure functions; the adapter sends what they return.

Callback data (at most 64 bytes) says what a button does:
``c:<command line>`` runs the command line as if its presser typed it; ``k:<key>`` does the
same for a command line too long for the button, kept by the adapter under ``key``;
``p:<n>`` shows page ``n`` of the list the message belongs to; ``-`` does nothing (the page
counter).
"""

from __future__ import annotations

import re
from dataclasses import replace

from adapters.render import render_html
from core.types import Button, Reply

MESSAGE_LIMIT = 4096
"""Telegram's limit on a message's text, in UTF-16 code units after parsing."""
PAGE_ITEMS = 10
CALLBACK_LIMIT = 64
"""Telegram's limit on a button's callback data, in bytes."""
RUN, KEPT, PAGE, NOTHING = "c:", "k:", "p:", "-"

_TOKEN = re.compile(r"<[^>]*>|&[#\w]+;|\n|[^\S\n]+|[^<&\s]+|[<&]")
_TAG = re.compile(r"<[^>]*>")
_TAG_NAME = re.compile(r"</?([a-z]+)")


def size(text: str) -> int:
    """The length Telegram counts: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def pages(reply: Reply) -> list[str]:
    """The reply as HTML pages of at most :data:`PAGE_ITEMS` list items, each page within the
    message limit; one page for a short reply, or when a page would not fit (the caller then
    splits it with :func:`split_html`). The title is on every page, the paragraphs on the
    first, the links on the last."""
    if len(reply.items) <= PAGE_ITEMS:
        return [render_html(reply)]
    chunks = [reply.items[i : i + PAGE_ITEMS] for i in range(0, len(reply.items), PAGE_ITEMS)]
    last = len(chunks) - 1
    paged = [
        render_html(
            replace(
                reply,
                paragraphs=reply.paragraphs if n == 0 else (),
                items=chunk,
                links=reply.links if n == last else (),
            )
        )
        for n, chunk in enumerate(chunks)
    ]
    if any(size(page) > MESSAGE_LIMIT for page in paged):
        return [render_html(reply)]
    return paged


def split_html(html: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """``html`` as messages of at most ``limit`` each, cut at a line break where one is near,
    else between words, never inside a tag or an entity. A tag open at a cut is closed before
    it and opened again after it, so each message is well-formed. Nothing is left out."""
    if size(html) <= limit:
        return [html]
    found: list[str] = []
    current = ""
    opened: list[tuple[str, str]] = []  # (name, opening tag), innermost last
    last_break: tuple[int, list[tuple[str, str]]] | None = None  # where, and what was open
    for token in _tokens(html, limit):
        name = _tag_name(token)
        reserve = _closing(opened) + (f"</{name}>" if name and token[1] != "/" else "")
        while _has_text(current) and size(current) + size(token) + size(reserve) > limit:
            if last_break is not None:
                at, was_open = last_break
                found.append(current[:at] + _closing(was_open))
                current = "".join(tag for _, tag in was_open) + current[at + 1 :]
            else:
                found.append(current + _closing(opened))
                current = "".join(tag for _, tag in opened)
            last_break = None
        if token == "\n":
            last_break = (len(current), list(opened))
        current += token
        if name and token[1] == "/":
            opened.pop()
        elif name:
            opened.append((name, token))
    found.append(current)
    return [part.strip("\n") for part in found if _has_text(part)]


def _closing(opened: list[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(opened))


def _has_text(html: str) -> bool:
    return bool(_TAG.sub("", html).strip())


def _tokens(line: str, limit: int) -> list[str]:
    """Tags, entities, spaces and words; a word longer than a quarter of ``limit`` is cut."""
    step = max(1, limit // 4)
    tokens: list[str] = []
    for token in _TOKEN.findall(line):
        if token[0] in "<&" or len(token) <= step:
            tokens.append(token)
        else:
            tokens += [token[i : i + step] for i in range(0, len(token), step)]
    return tokens


def _tag_name(token: str) -> str | None:
    match = _TAG_NAME.match(token) if token.startswith("<") and len(token) > 1 else None
    return match.group(1) if match else None


def button_data(button: Button) -> str | None:
    """The callback data that runs ``button``'s command, or None when it does not fit (the
    adapter then keeps the command line and uses ``k:<key>``)."""
    data = RUN + button.command
    return data if len(data.encode()) <= CALLBACK_LIMIT else None


def page_buttons(page: int, count: int) -> list[tuple[str, str]]:
    """The (label, callback data) row under page ``page`` (from 0) of ``count`` pages."""
    row = [("‹", f"{PAGE}{page - 1}")] if page > 0 else []
    row.append((f"{page + 1}/{count}", NOTHING))
    if page + 1 < count:
        row.append(("›", f"{PAGE}{page + 1}"))
    return row
