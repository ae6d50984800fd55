"""Core replies as text: plain (console, Matrix ``body``) and HTML (Telegram, Matrix
``formatted_body``). Every string from the reply is escaped for HTML; buttons become numbered
choices in plain text, for platforms without buttons."""

from __future__ import annotations

from html import escape

from core.types import Reply

BULLET = "•"


def render_plain(reply: Reply, *, numbered_choices: bool = True) -> str:
    """The reply as plain text; choices numbered ``[1]``, ``[2]``... when asked."""
    lines: list[str] = []
    if reply.title:
        lines += [reply.title, ""]
    for paragraph in reply.paragraphs:
        lines += [paragraph, ""]
    for item in reply.items:
        lines.append(f"{BULLET} {item.text}")
        if item.detail:
            lines.append(f"  {item.detail}")
    if reply.items:
        lines.append("")
    for link in reply.links:
        lines.append(f"{link.label}: {link.url}")
    if reply.links:
        lines.append("")
    if numbered_choices:
        lines += [f"[{n}] {button.label}" for n, button in enumerate(reply.buttons, 1)]
    return "\n".join(lines).strip()


def render_html(reply: Reply, *, newline: str = "\n") -> str:
    """The reply as HTML with only ``b``, ``i`` and ``a`` tags (safe on Telegram and Matrix);
    ``newline`` separates lines (``<br>`` for Matrix). Buttons are left to the platform."""
    lines: list[str] = []
    if reply.title:
        lines += [f"<b>{escape(reply.title)}</b>", ""]
    for paragraph in reply.paragraphs:
        lines += [escape(paragraph), ""]
    for item in reply.items:
        lines.append(f"{BULLET} {escape(item.text)}")
        if item.detail:
            lines.append(f"  <i>{escape(item.detail)}</i>")
    if reply.items:
        lines.append("")
    for link in reply.links:
        lines.append(f'<a href="{escape(link.url, quote=True)}">{escape(link.label)}</a>')
    while lines and not lines[-1]:
        lines.pop()
    return newline.join(lines)
