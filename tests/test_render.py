"""Rendering a structured reply as plain text and as HTML."""

from __future__ import annotations

from adapters.render import render_html, render_plain
from core.types import Button, Item, Link, Reply

REPLY = Reply(
    title="Ana <script>",
    paragraphs=('Tom & Jerry\'s "need"',),
    items=(Item("<b>bold</b>", "detail <i>"),),
    links=(Link("Profile", 'https://example.org/?a=1&b="2"'),),
    buttons=(Button("Yes", "forget confirm"), Button("No", "help")),
)


def test_plain_text_numbers_the_choices_for_platforms_without_buttons():
    text = render_plain(REPLY)
    assert text.splitlines()[0] == "Ana <script>"
    assert text.endswith("[1] Yes\n[2] No")
    assert "• <b>bold</b>\n  detail <i>" in text
    assert "[1]" not in render_plain(REPLY, numbered_choices=False)


def test_html_escapes_everything_user_made():
    html = render_html(REPLY)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Tom &amp; Jerry&#x27;s &quot;need&quot;" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert '<a href="https://example.org/?a=1&amp;b=&quot;2&quot;">Profile</a>' in html
    assert "Yes" not in html  # buttons are the platform's own


def test_html_lines_can_be_joined_with_br_for_matrix():
    html = render_html(Reply(title="T", paragraphs=("a",)), newline="<br>")
    assert html == "<b>T</b><br><br>a"
