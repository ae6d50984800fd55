"""Telegram message layout: splitting, paging and button data, as pure functions."""

from __future__ import annotations

import re
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


def test_long_lists_are_paged_with_the_title_on_each_page():
    reply = Reply(
        title="Helpers",
        paragraphs=("Ranked by fit.",),
        items=tuple(Item(f"person {n}") for n in range(25)),
        links=(Link("More", "https://example.org"),),
    )
    pages = messages.pages(reply)
    assert len(pages) == 3
    assert all(page.startswith("<b>Helpers</b>") for page in pages)
    assert "Ranked by fit." in pages[0] and "Ranked by fit." not in pages[1]
    assert "example.org" in pages[2] and "example.org" not in pages[0]
    assert [page.count("•") for page in pages] == [10, 10, 5]


def test_a_list_of_ten_or_fewer_items_is_one_page():
    reply = Reply(items=tuple(Item(str(n)) for n in range(messages.PAGE_ITEMS)))
    assert messages.pages(reply) == [render_html(reply)]


def test_the_page_row_has_arrows_only_where_there_is_somewhere_to_go():
    assert messages.page_buttons(0, 3) == [("1/3", "-"), ("›", "p:1")]
    assert messages.page_buttons(1, 3) == [("‹", "p:0"), ("2/3", "-"), ("›", "p:2")]
    assert messages.page_buttons(2, 3) == [("‹", "p:1"), ("3/3", "-")]


def test_button_data_holds_the_command_when_it_fits_in_64_bytes():
    assert messages.button_data(Button("Help", "help find")) == "c:help find"
    assert messages.button_data(Button("Long", "offer " + "é" * 40)) is None
