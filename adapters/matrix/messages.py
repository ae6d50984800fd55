"""What a Matrix message means to the bot, and core replies as Matrix events. Pure functions.

A command is read from the plain ``body``: after the prefix (``!capx find x``), after a
mention of the bot at the start (a pill in the HTML or the bot in ``m.mentions``, then its
name in the body: ``CapX: find x``), or, in a direct room, the whole text. A reply's quoted
fallback (``> <@ana:server> ...`` lines, then a blank line) is dropped first. The HTML is read
only to find the pill's target and text, never for the command itself.

A reply is an ``m.notice`` (bots answer with notices, and ignore other bots' notices) with a
plain ``body`` and an HTML ``formatted_body``, sent as a reply to the command and, when the
command came from a thread, inside that thread; its empty ``m.mentions`` pings nobody,
whatever text it quotes. Choices are numbered: ``!capx 2`` picks one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape, unescape
from typing import Any
from urllib.parse import unquote

from adapters.render import render_html, render_plain
from core.types import Reply

HTML = "org.matrix.custom.html"
_MX_REPLY = re.compile(r"<mx-reply>.*?</mx-reply>", re.DOTALL | re.IGNORECASE)
_PILL = re.compile(
    r"\s*(?:<p>\s*)?<a\s[^>]*?href\s*=\s*[\"']https://matrix\.to/#/([^\"'?]+)[^\"']*[\"'][^>]*>"
    r"(.*?)</a>",
    re.DOTALL | re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]*>")
_AFTER_NAME = ":,;"


def command_line(
    content: Mapping[str, Any],
    *,
    prefix: str,
    bot_id: str,
    bot_name: str | None = None,
    direct: bool,
) -> str | None:
    """The command line in an ``m.text`` event's ``content``, or None when it is not for the
    bot (``bot_id``, shown as ``bot_name`` in the room). A bare prefix or mention is ``help``;
    a prefix after a mention is dropped (``CapX: !capx help`` is ``help``)."""
    body = content.get("body")
    if not isinstance(body, str):
        return None
    text = (without_fallback(body) if is_reply(content) else body).strip()
    addressed = after_mention(text, content, bot_id, bot_name)
    line = _after_prefix(text if addressed is None else addressed, prefix)
    if line is not None:
        return line or "help"
    if addressed is not None:
        return addressed or "help"
    return text if direct and text else None


def _after_prefix(text: str, prefix: str) -> str | None:
    """What follows ``prefix`` as the first word of ``text``, or None."""
    words = text.split(maxsplit=1)
    if not words or words[0].lower() != prefix.lower():
        return None
    return words[1].strip() if len(words) > 1 else ""


def is_reply(content: Mapping[str, Any]) -> bool:
    """Whether the message replies to another one: it has ``m.in_reply_to``, and that is not
    only a thread's fallback for older clients (``is_falling_back``)."""
    relation = content.get("m.relates_to")
    if not isinstance(relation, dict) or not isinstance(relation.get("m.in_reply_to"), dict):
        return False
    return not (relation.get("rel_type") == "m.thread" and relation.get("is_falling_back") is True)


def without_fallback(body: str) -> str:
    """``body`` without a reply fallback: its leading lines that start with ``>`` and the blank
    line after them. Unchanged when no blank line follows them (then they are the text)."""
    lines = body.splitlines()
    quoted = 0
    while quoted < len(lines) and lines[quoted].startswith(">"):
        quoted += 1
    if quoted and quoted < len(lines) and not lines[quoted].strip():
        return "\n".join(lines[quoted + 1 :])
    return body


def after_mention(
    text: str, content: Mapping[str, Any], bot_id: str, bot_name: str | None
) -> str | None:
    """The rest of ``text`` after a mention of the bot at its start, or None. A mention is a
    pill to ``bot_id`` opening the HTML, or ``bot_id`` in ``m.mentions``; the body must then
    start with the pill's text, the bot's name, its id or its localpart (any case), followed by
    the end, a space, or one of ``:,;``."""
    pill = _pill_text(content, bot_id)
    mentions = content.get("m.mentions")
    ids = mentions.get("user_ids") if isinstance(mentions, dict) else None
    if pill is None and not (isinstance(ids, list) and bot_id in ids):
        return None
    localpart = bot_id.removeprefix("@").partition(":")[0]
    names = {name for name in (pill, bot_name, bot_id, f"@{localpart}", localpart) if name}
    for name in sorted(names, key=len, reverse=True):
        start, rest = text[: len(name)], text[len(name) :]
        if start.lower() == name.lower() and (
            not rest or rest[0] in _AFTER_NAME or rest[0].isspace()
        ):
            return rest.lstrip(_AFTER_NAME).strip()
    return None


def _pill_text(content: Mapping[str, Any], bot_id: str) -> str | None:
    """The text of the pill to ``bot_id`` that opens the message's HTML, if there is one."""
    if content.get("format") != HTML or not isinstance(content.get("formatted_body"), str):
        return None
    match = _PILL.match(_MX_REPLY.sub("", content["formatted_body"]))
    if match is None or unquote(match.group(1)) != bot_id:
        return None
    return unescape(_TAG.sub("", match.group(2))).strip()


def notice(
    reply: Reply, *, in_reply_to: str | None = None, thread_root: str | None = None
) -> dict[str, Any]:
    """The ``m.room.message`` content for ``reply``; it mentions nobody."""
    html = render_html(reply, newline="<br>")
    if reply.buttons:
        choices = (f"[{n}] {escape(b.label)}" for n, b in enumerate(reply.buttons, 1))
        html += "<br><br>" + "<br>".join(choices)
    content: dict[str, Any] = {
        "msgtype": "m.notice",
        "body": render_plain(reply),
        "format": HTML,
        "formatted_body": html,
        "m.mentions": {},
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


def thread_of(content: Mapping[str, Any]) -> str | None:
    """The root event of the thread a message is in, if any."""
    relation = content.get("m.relates_to")
    if isinstance(relation, dict) and relation.get("rel_type") == "m.thread":
        root = relation.get("event_id")
        return root if isinstance(root, str) else None
    return None


def is_edit(content: Mapping[str, Any]) -> bool:
    """Whether the message replaces an earlier one (an edit: the original was read)."""
    relation = content.get("m.relates_to")
    return isinstance(relation, dict) and relation.get("rel_type") == "m.replace"
