"""Matching: who ranks where for ``find``, and why, built up through real conversations."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy.engine.default import CACHE_MISS

from tests.chat import Chat, line_of


@pytest.fixture
def core(core_on_every_backend):
    """These tests run on SQLite and PostgreSQL: matching is SQL."""
    return core_on_every_backend


FINANCE, BUDGETING, GOVERNANCE = 11, 12, 15


def person(core, name: str, *lines: str, visible: bool = True) -> Chat:
    chat = Chat(core, name)
    for line in lines:
        chat.say(line)
    if visible:
        chat.say("visible on")
    return chat


def ranked_names(chat: Chat, line: str) -> list[str]:
    [reply] = chat.say(line)
    return [item.text for item in reply.items]


def test_offering_the_capacity_ranks_above_offering_a_part_above_a_relative_above_knowing(core):
    # Created worst-first, and with every other advantage, so only the fit can explain the order.
    for name, line in [
        ("Knows", f"know {FINANCE}"),
        ("Relative", f"offer {GOVERNANCE}"),
        ("Child", f"offer {BUDGETING}"),
    ]:
        person(core, name, line, "languages en n", "territory Brazil", "affiliation WMB")
    person(core, "Offers", f"offer {FINANCE}", "languages en 2")
    seeker = person(core, "Seeker", "languages en n", "territory Brazil", "affiliation WMB")

    assert ranked_names(seeker, f"find {FINANCE}") == ["Offers", "Child", "Relative", "Knows"]


def test_people_without_a_shared_language_are_left_out_unless_asked_then_rank_last(core):
    person(core, "Arabic", f"offer {FINANCE}", "languages ar n")
    person(core, "English", f"offer {BUDGETING}", "languages en 3")
    seeker = person(core, "Seeker", "languages en n, pt 4")

    assert ranked_names(seeker, f"find {FINANCE}") == ["English"]
    # Offering the capacity itself outranks a part of it, yet the shared language wins when
    # every language is allowed: a fit without a common language is ranked on fit alone.
    names = ranked_names(seeker, f"find {FINANCE} in any")
    assert set(names) == {"Arabic", "English"}
    [reply] = seeker.replies
    details = {item.text: item.detail for item in reply.items}
    assert "no language in common" in details["Arabic"]
    assert "no language in common" not in details["English"]


def test_a_regional_variant_counts_as_the_same_language(core):
    person(core, "Lisboa", f"offer {FINANCE}", "languages pt-pt n")
    seeker = person(core, "Recife", "languages pt-br n")
    assert ranked_names(seeker, f"find {FINANCE}") == ["Lisboa"]


def test_a_language_below_a_usable_level_is_not_shared(core):
    person(core, "Beginner", f"offer {FINANCE}", "languages en 1, ar n")
    seeker = person(core, "Seeker", "languages en n")
    assert ranked_names(seeker, f"find {FINANCE}") == []


def test_hidden_people_never_appear_in_find_peers_or_profile(core):
    person(
        core, "Hidden", f"offer {FINANCE}", f"learn {BUDGETING}", "languages en n", visible=False
    )
    person(core, "Shown", f"offer {FINANCE}", "languages en n")
    seeker = person(core, "Seeker", "languages en n", f"learn {FINANCE}", f"offer {BUDGETING}")

    assert ranked_names(seeker, f"find {FINANCE} in any") == ["Shown"]
    peers = seeker.ask("peers")
    assert "Shown" in peers and "Hidden" not in peers
    assert "no visible profile" in seeker.ask("profile hidden")


def test_ties_are_broken_the_same_way_every_time(core):
    for name in ("Twin B", "Twin A", "Twin C"):
        person(core, name, f"offer {FINANCE}", "languages en n")
    seeker = person(core, "Seeker", "languages en n")

    first = ranked_names(seeker, f"find {FINANCE}")
    assert first == ["Twin B", "Twin A", "Twin C"]  # equal scores: the earlier profile first
    assert all(ranked_names(seeker, f"find {FINANCE}") == first for _ in range(3))


def test_the_explanation_names_every_reason(core):
    person(
        core,
        "Mentor",
        f"offer {BUDGETING}",
        "languages pt-br n, en 4",
        "territory Brazil",
        "affiliation WMB",
    )
    seeker = person(core, "Seeker", "languages pt-br n", "territory Argentina", "affiliation WMB")

    [reply] = seeker.say(f"find {FINANCE}")
    [item] = reply.items
    assert item.text == "Mentor"
    assert item.detail.split(" · ") == [
        "offers budgeting, a part of it",
        "speaks Portuguese (Brazil) natively",
        "also in Latin America & Caribbean",
        "also with WMB",
        "active recently",
    ]


def test_the_same_territory_and_affiliation_rank_higher_among_equal_fits(core):
    person(core, "Far", f"offer {FINANCE}", "languages en n", "territory Japan")
    person(core, "Region", f"offer {FINANCE}", "languages en n", "territory Argentina")
    person(core, "Country", f"offer {FINANCE}", "languages en n", "territory Brazil")
    seeker = person(core, "Seeker", "languages en n", "territory Brazil")

    assert ranked_names(seeker, f"find {FINANCE}") == ["Country", "Region", "Far"]


def test_find_in_a_language_keeps_only_its_speakers(core):
    person(core, "English", f"offer {FINANCE}", "languages en n")
    person(core, "Arabic", f"offer {FINANCE}", "languages ar n, en 2")
    seeker = person(core, "Seeker", "languages en n")

    assert ranked_names(seeker, f"find {FINANCE} in Arabic") == ["Arabic"]
    assert ranked_names(seeker, f"find {FINANCE} in ar") == ["Arabic"]


def test_find_near_a_territory_puts_its_country_then_its_region_then_the_rest(core):
    person(core, "Tokyo", f"offer {FINANCE}", "languages en n", "territory Japan")
    person(core, "Lima", f"offer {FINANCE}", "languages en n", "territory Peru")
    person(core, "Recife", f"offer {FINANCE}", "languages en n", "territory Brazil")
    seeker = person(core, "Seeker", "languages en n", "territory Japan")

    assert ranked_names(seeker, f"find {FINANCE} near Brazil") == ["Recife", "Lima", "Tokyo"]
    assert ranked_names(seeker, f"find {FINANCE} near LAC") == ["Lima", "Recife", "Tokyo"]
    [reply] = seeker.say(f"find {FINANCE} near Brazil")
    recife, lima, tokyo = (item.detail for item in reply.items)
    assert "in Brazil" in recife and "also in" not in recife  # Brazil is not the seeker's
    assert "in Latin America" in lima and "also in" not in lima
    assert "also in Japan" in tokyo  # the rest, as the seeker sees them


def test_people_helping_many_already_rank_lower(core):
    busy = person(core, "Busy", f"offer {FINANCE}", "languages en n")
    person(core, "Free", f"offer {FINANCE}", "languages en n")
    for n in range(3):
        asker = person(core, f"Asker{n}", "languages en n")
        asker.room = busy.room = "r"
        [reply] = asker.say(f"need {FINANCE} help with our budget {n}")
        number = line_of(core, reply.buttons[0]).split()[-1]
        assert not busy.say(f"helpwith {number}")[0].is_error
        busy.room = None
    seeker = person(core, "Seeker", "languages en n")

    assert ranked_names(seeker, f"find {FINANCE}") == ["Free", "Busy"]
    assert "already helping 3 people" in seeker.ask(f"find {FINANCE}")


def test_the_seeker_never_finds_themself(core):
    seeker = person(core, "Self", f"offer {FINANCE}", "languages en n")
    assert ranked_names(seeker, f"find {FINANCE}") == []


def test_peers_pairs_wants_with_offers_across_the_tree(core):
    person(core, "Teacher", f"offer {FINANCE}", "languages en n")
    person(core, "Learner", f"learn {BUDGETING}", "languages en 3")
    me = person(core, "Me", f"learn {FINANCE}", f"offer {FINANCE}", "languages en n")

    text = me.ask("peers")
    assert "Could teach you finance" in text and "Teacher" in text
    assert "Want to learn finance, which you offer" in text
    assert "Learner" in text and "wants budgeting" in text


def test_the_statements_of_a_find_do_not_grow_with_its_results(core):
    """Everything a result list shows is loaded for all results at once. Everyone found only
    knows the capacity, so that both searches go through every tier alike."""
    seeker = person(core, "Seeker", "languages en n", "territory Brazil")
    statements: list[str] = []

    def record(_connection, _cursor, statement, *_rest) -> None:
        statements.append(statement)

    def counted(line: str) -> tuple[int, int]:
        statements.clear()
        event.listen(core.engine, "before_cursor_execute", record)
        try:
            found = ranked_names(seeker, line)
        finally:
            event.remove(core.engine, "before_cursor_execute", record)
        return len(found), len(statements)

    for n in range(3):
        person(core, f"Early {n}", f"know {FINANCE}", "languages en n", "territory Brazil")
    few, few_statements = counted(f"find {FINANCE}")
    for n in range(9):
        person(core, f"Late {n}", f"know {FINANCE}", "languages en n", "affiliation WMB")
    many, many_statements = counted(f"find {FINANCE}")

    assert (few, many) == (3, 10)
    assert many_statements == few_statements


def test_seekers_of_one_to_four_languages_share_the_compiled_statements_of_a_find(core):
    """Each compilation costs milliseconds, so the number of languages a seeker speaks does
    not change the form of a find's reads (up to four)."""
    for name, languages in [("Ana", "en n"), ("Bruno", "pt n"), ("Chiara", "it n, es 3")]:
        person(core, name, f"offer {FINANCE}", f"languages {languages}")
    seekers = [
        person(core, f"Seeker {n}", "languages " + ", ".join(speaks))
        for n, speaks in enumerate([["en n"], ["en n", "pt 4"], ["en n", "pt 4", "it 3", "es 2"]])
    ]
    compiled: list[str] = []

    def record(_connection, _cursor, statement, _parameters, context, _many) -> None:
        if context.cache_hit is CACHE_MISS and statement.startswith(("SELECT", "WITH")):
            compiled.append(statement)

    found = [ranked_names(seekers[0], f"find {FINANCE}")]
    event.listen(core.engine, "after_cursor_execute", record)
    try:
        found += [ranked_names(seeker, f"find {FINANCE}") for seeker in seekers[1:]]
    finally:
        event.remove(core.engine, "after_cursor_execute", record)

    assert found == [["Ana"], ["Ana", "Bruno"], ["Ana", "Bruno", "Chiara"]]
    assert compiled == []
