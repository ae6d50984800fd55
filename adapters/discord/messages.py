"""Core replies as Discord messages: an embed (title, text, lists) with buttons, links as
link buttons. Pure functions: what a user wrote is escaped for Discord's markdown, and every
part is cut to Discord's limits."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from typing import Any

import discord
from discord.utils import escape_markdown, escape_mentions

from adapters import render
from core.types import Reply

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
LABEL_LIMIT = 80
CUSTOM_ID_LIMIT = 100
MOST_BUTTONS = 25
"""Five rows of five."""
PAGE_ROW = 3
"""Buttons of the row that turns pages: back, the page counter, on."""
LAST_ROW = 4
PAGE = "p:"
"""How a page button's data begins: ``p:<key>:<page>`` shows that page of the list kept
under ``key``."""


@dataclass(frozen=True)
class Page:
    """Which page of a long list a message shows: page ``number`` (from 0) of ``count``,
    the pages kept by the adapter under ``key``."""

    key: str
    number: int
    count: int


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def content(reply: Reply, page: Page | None = None) -> dict[str, Any]:
    """The keyword arguments that send ``reply`` with discord.py (an interaction's answer, a
    follow-up, a channel's message): its embed, files and, when it has any, buttons; as
    ``page`` of a long list, with a row to turn pages."""
    sent: dict[str, Any] = {"embed": embed(reply), "files": files(reply)}
    shown = view(reply, page)
    if shown is not None:
        sent["view"] = shown
    return sent


def embed(reply: Reply) -> discord.Embed:
    """The reply's text as an embed: red for an error."""
    body = render.render_plain(replace(reply, title=None, links=()), numbered_choices=False)
    shown = escape_mentions(escape_markdown(body))
    colour = discord.Colour.red() if reply.is_error else discord.Colour.blurple()
    return discord.Embed(
        title=cut(escape_markdown(reply.title), TITLE_LIMIT) if reply.title else None,
        description=cut(shown, DESCRIPTION_LIMIT) or None,
        colour=colour,
    )


def view(reply: Reply, page: Page | None = None) -> discord.ui.View | None:
    """The reply's buttons (each carrying ``c:<line>`` or ``b:<token>``) and links, with a
    last row turning the pages when it is a ``page``; None when it has none of these. The
    view only carries them: presses reach the adapter as interactions, whoever made the
    view."""
    if not reply.buttons and not reply.links and page is None:
        return None
    shown = discord.ui.View(timeout=None)
    room = MOST_BUTTONS - (PAGE_ROW if page else 0)
    for button in reply.buttons[:room]:
        data = render.button_data(button, CUSTOM_ID_LIMIT)
        if data is not None:
            style = discord.ButtonStyle.danger if button.confirms else discord.ButtonStyle.primary
            label = cut(button.label, LABEL_LIMIT)
            shown.add_item(discord.ui.Button(label=label, custom_id=data, style=style))
    for link in reply.links[: room - len(shown.children)]:
        if link.url.startswith(("http://", "https://")):
            shown.add_item(discord.ui.Button(label=cut(link.label, LABEL_LIMIT), url=link.url))
    if page is not None:
        turns = (
            ("‹", str(page.number - 1), page.number == 0),
            (f"{page.number + 1}/{page.count}", "-", True),
            ("›", str(page.number + 1), page.number + 1 == page.count),
        )
        for label, number, disabled in turns:
            shown.add_item(
                discord.ui.Button(
                    label=label,
                    custom_id=f"{PAGE}{page.key}:{number}",
                    disabled=disabled,
                    style=discord.ButtonStyle.secondary,
                    row=LAST_ROW,
                )
            )
    if not shown.children:
        return None
    # Stopped, so that discord.py keeps no view of any message to dispatch its presses to:
    # presses all reach the adapter (see the docstring), and kept views would pile up.
    shown.stop()
    return shown


def files(reply: Reply) -> list[discord.File]:
    if reply.attachment is None:
        return []
    data = io.BytesIO(reply.attachment.data)
    return [discord.File(data, filename=reply.attachment.filename)]
