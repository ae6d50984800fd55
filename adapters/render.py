"""Core replies as text: plain (console, Matrix ``body``) and HTML (Telegram, Matrix
``formatted_body``). Every string from the reply is escaped for HTML; buttons become numbered
choices in plain text, for platforms without buttons."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from html import escape

from core.types import Button, Link, Reply

BULLET = "•"
RUN, BOUND = "c:", "b:"
"""How a platform's button data begins: a look-up line to run as if typed, or the token of a
button the core keeps (see :class:`core.types.Button`)."""


PAGE_ITEMS = 10
"""List items on one page of a long list, on platforms that turn pages in place."""
PAGES_KEPT_FOR = 24 * 3600.0
"""Seconds the pages of a long list can be turned (they are kept in memory)."""


def pages(reply: Reply) -> list[Reply]:
    """``reply`` as pages of at most :data:`PAGE_ITEMS` list items (itself alone when its
    list is no longer): the title on every page, the paragraphs on the first, the links on
    the last."""
    if len(reply.items) <= PAGE_ITEMS:
        return [reply]
    chunks = [reply.items[n : n + PAGE_ITEMS] for n in range(0, len(reply.items), PAGE_ITEMS)]
    last = len(chunks) - 1
    return [
        replace(
            reply,
            paragraphs=reply.paragraphs if n == 0 else (),
            items=chunk,
            links=reply.links if n == last else (),
        )
        for n, chunk in enumerate(chunks)
    ]


def button_data(button: Button, limit: int) -> str | None:
    """The data a platform's button carries for ``button``: ``b:<token>`` for a button the
    core keeps, else ``c:<command line>``; None when it does not fit in ``limit`` bytes (the
    core keeps every line it hands out within 48, so only a broken button is left out)."""
    data = BOUND + button.token if button.token is not None else RUN + button.command
    return data if len(data.encode()) <= limit else None


def _lines(
    reply: Reply,
    text: Callable[[str], str],
    title: Callable[[str], str],
    detail: Callable[[str], str],
    link: Callable[[Link], str],
) -> list[str]:
    """The reply's lines, each string passed through the given formatters; blocks are
    separated by one empty line."""
    blocks: list[list[str]] = [[title(reply.title)]] if reply.title else []
    blocks += [[text(paragraph)] for paragraph in reply.paragraphs]
    items: list[str] = []
    for item in reply.items:
        items.append(f"{BULLET} {text(item.text)}")
        if item.detail:
            items.append(f"  {detail(item.detail)}")
    blocks += [items, [link(each) for each in reply.links]]
    lines: list[str] = []
    for block in filter(None, blocks):
        lines += [*block, ""]
    return lines[:-1]


def render_plain(reply: Reply, *, numbered_choices: bool = True) -> str:
    """The reply as plain text; choices numbered ``[1]``, ``[2]``... when asked."""
    lines = _lines(reply, str, str, str, lambda link: f"{link.label}: {link.url}")
    if numbered_choices and reply.buttons:
        lines += ["", *(f"[{n}] {button.label}" for n, button in enumerate(reply.buttons, 1))]
    return "\n".join(lines)


def render_html(reply: Reply, *, newline: str = "\n") -> str:
    """The reply as HTML with only ``b``, ``i`` and ``a`` tags (safe on Telegram and Matrix);
    ``newline`` separates lines (``<br>`` for Matrix). Buttons are left to the platform."""
    lines = _lines(
        reply,
        escape,
        lambda title: f"<b>{escape(title)}</b>",
        lambda detail: f"<i>{escape(detail)}</i>",
        lambda link: f'<a href="{escape(link.url, quote=True)}">{escape(link.label)}</a>',
    )
    return newline.join(lines)
