"""What a Matrix message means to the bot, and core replies as Matrix events. Pure functions.

A reply is an ``m.notice`` (bots answer with notices, and ignore other bots' notices) with a
plain ``body`` and an HTML ``formatted_body``, sent as a reply to the command and, when the
command came from a thread, inside that thread. Choices are numbered: ``!capx 2`` picks one.
"""

from __future__ import annotations

from html import escape
from typing import Any

from adapters.render import render_html, render_plain
from core.types import Reply

HTML = "org.matrix.custom.html"


def command_line(body: str, prefix: str, *, direct: bool) -> str | None:
    """The command line in a message ``body``: what follows ``prefix`` (``!capx find x``), or,
    in a direct room, the whole text. None when the message is not for the bot."""
    text = body.strip()
    head, _, rest = text.partition(" ")
    if head.lower() == prefix.lower():
        return rest.strip() or "help"
    if direct and text:
        return text
    return None


def notice(
    reply: Reply, *, in_reply_to: str | None = None, thread_root: str | None = None
) -> dict[str, Any]:
    """The ``m.room.message`` content for ``reply``."""
    html = render_html(reply, newline="<br>")
    if reply.buttons:
        choices = (f"[{n}] {escape(b.label)}" for n, b in enumerate(reply.buttons, 1))
        html += "<br><br>" + "<br>".join(choices)
    content: dict[str, Any] = {
        "msgtype": "m.notice",
        "body": render_plain(reply),
        "format": HTML,
        "formatted_body": html,
    }
    if thread_root:
        content["m.relates_to"] = {
            "rel_type": "m.thread",
            "event_id": thread_root,
            "is_falling_back": False,
            "m.in_reply_to": {"event_id": in_reply_to or thread_root},
        }
    elif in_reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": in_reply_to}}
    return content


def thread_of(content: dict[str, Any]) -> str | None:
    """The root event of the thread a message is in, if any."""
    relation = content.get("m.relates_to")
    if isinstance(relation, dict) and relation.get("rel_type") == "m.thread":
        root = relation.get("event_id")
        return root if isinstance(root, str) else None
    return None


def is_edit(content: dict[str, Any]) -> bool:
    relation = content.get("m.relates_to")
    return isinstance(relation, dict) and relation.get("rel_type") == "m.replace"
