"""Telegram message layout: splitting, paging and button data, as pure functions."""

from __future__ import annotations

import math
import re
from html import escape, unescape
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from adapters.render import render_html
from adapters.telegram import messages
from core.types import Button, Item, Link, Reply

TAGS = re.compile(r"</?[a-z]+[^>]*>")


class _Balance(HTMLParser):
    """Checks that every tag opened is closed, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ok = True

    def handle_starttag(self, tag, attrs) -> None:
        self.stack.append(tag)

    def handle_endtag(self, tag) -> None:
        self.ok = self.ok and bool(self.stack) and self.stack.pop() == tag


def well_formed(html: str) -> bool:
    checker = _Balance()
    checker.feed(html)
    checker.close()
    return checker.ok and not checker.stack


words = st.text(alphabet=st.sampled_from([*"abcdé مرحبا😀<&>\"' ", "\n"]), min_size=0, max_size=400)


@given(
    title=st.text(max_size=60),
    paragraphs=st.lists(words, max_size=4),
    details=st.lists(st.tuples(words, st.one_of(st.none(), words)), max_size=30),
    limit=st.integers(min_value=80, max_value=300),
)
def test_split_messages_fit_are_well_formed_and_lose_nothing(title, paragraphs, details, limit):
    reply = Reply(
        title=title or None,
        paragraphs=tuple(paragraphs),
        items=tuple(Item(text, detail) for text, detail in details),
        links=(Link("CapX", "https://capx.org/?a=1&b=2"),),
    )
    html = render_html(reply)
    parts = messages.split_html(html, limit)
    assert all(messages.size(part) <= limit for part in parts)
    assert all(well_formed(part) for part in parts)
    # Only line breaks at the cuts and the tags closed and reopened there differ.
    assert "".join(TAGS.sub("", part) for part in parts).replace("\n", "") == TAGS.sub(
        "", html
    ).replace("\n", "")


def test_a_short_reply_is_one_message():
    assert messages.split_html("<b>Hi</b>\n\nthere") == ["<b>Hi</b>\n\nthere"]


def test_a_cut_never_falls_inside_an_entity_or_a_tag():
    html = "<i>" + "&amp; " * 30 + "</i>"
    parts = messages.split_html(html, 40)
    assert len(parts) > 1
    for part in parts:
        assert part.startswith("<i>") and part.endswith("</i>")
        assert re.fullmatch(r"<i>(&amp;| )*</i>", part)


def test_size_counts_utf16_units_as_telegram_does():
    assert messages.size("a😀") == 3


def test_size_counts_the_text_after_parsing_tags_and_entities():
    assert messages.size('<b>&amp;</b> <a href="https://x.org/?a=1&amp;b=2">&lt;😀&gt;</a>') == 6


@given(
    text=st.text(alphabet=st.sampled_from([*"&<>\"'ab😀"]), min_size=1, max_size=2000),
    limit=st.integers(min_value=80, max_value=300),
)
def test_text_full_of_entities_takes_as_few_messages_as_its_visible_length_needs(text, limit):
    parts = messages.split_html(f"<i>{escape(text)}</i>", limit)
    visible = messages.units(text)
    # A cut falls between characters, and an emoji is two units: at most one lost a part.
    assert math.ceil(visible / limit) <= len(parts) <= math.ceil(visible / (limit - 1))
    assert all(messages.size(part) <= limit for part in parts)
    assert (
        "".join(unescape(part.removeprefix("<i>").removesuffix("</i>")) for part in parts) == text
    )


@given(
    text=st.text(alphabet=st.sampled_from([*"&<> \n"]), min_size=1, max_size=300),
    limit=st.integers(min_value=80, max_value=300),
)
def test_text_within_the_limit_once_parsed_is_one_message(text, limit):
    text = text[:limit].strip() or "&"
    assert messages.split_html(escape(text), limit) == [escape(text)]


def test_ten_long_needs_full_of_html_characters_take_four_messages_not_twenty_one():
    need = "&<> " * 250
    reply = Reply(
        title="Open needs",
        items=tuple(Item(f"#{n} · communication", f"{need}— Ana, 2026-11-21") for n in range(10)),
    )
    html = messages.pages(reply)[0]
    parts = messages.split_html(html)
    assert messages.size(html) > 2 * messages.MESSAGE_LIMIT  # 10,421: three messages at least
    assert all(messages.size(part) <= messages.MESSAGE_LIMIT for part in parts)
    # Each need is about a quarter of a message, and cuts fall at line breaks: one more.
    assert len(parts) == 4


def test_a_line_break_far_back_is_not_worth_a_short_message():
    html = "<b>Title</b>\n" + "word " * 100
    parts = messages.split_html(html, 100)
    assert parts[0].startswith("<b>Title</b>\nword") and messages.size(parts[0]) > 90


def test_button_data_holds_the_line_or_the_token_and_fits_in_64_bytes():
    assert messages.button_data(Button("Help", "help find")) == "c:help find"
    assert messages.button_data(Button("Forget", token="Zm9yZ2V0LW1l")) == "b:Zm9yZ2V0LW1l"
    assert messages.button_data(Button("Long", "offer " + "é" * 40)) is None


def test_a_document_caption_is_the_first_line_of_the_first_paragraph_escaped():
    reply = Reply(paragraphs=("Everything <I> keep & more:\nsecond line", "{...}"))
    assert messages.caption(reply) == "Everything &lt;I&gt; keep &amp; more:"
    long = messages.caption(Reply(paragraphs=("x" * 5000,)))
    assert messages.size(long) == messages.CAPTION_LIMIT and long.endswith("…")


def test_an_alert_is_plain_text_within_200_characters():
    reply = Reply(paragraphs=("This button is not yours: " + "😀" * 300,))
    alert = messages.alert(reply)
    assert alert.startswith("This button is not yours") and messages.units(alert) <= 200
