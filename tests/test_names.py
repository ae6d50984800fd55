"""Names as people write them: capacities, territories, regions, affiliates and languages,
in every shipped language. Each row: what is typed, in which locale, and what the bot must
make of it (a value taken, a value taken with "I read ... as", a question, or nothing)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

from core.parsing import normalize
from core.services.names import ACCEPT, MARGIN, MIN_FUZZY, NameIndex
from tests.chat import Chat

ASKS = "asks"
UNKNOWN = "unknown"


def reference(core):
    return core.reference


CAPACITIES = [
    # text, expected: a code, (code, "near"), ASKS or UNKNOWN
    ("46", 46),
    ("#46", 46),
    ("public speaking", 46),
    ("Public Speaking", 46),
    ('"public speaking"', None),  # quotes are the parser's job, tested in conversations
    ("publc speking", (46, "near")),
    ("speaking public", (46, "near")),
    ("pub speak", (46, "near")),
    ("falar em público", 46),
    ("falar em publico", 46),
    ("0", UNKNOWN),
    ("99999", UNKNOWN),
    ("qqqqzzzz", UNKNOWN),
    ("x" * 4000, UNKNOWN),
    ("management", ASKS),
]


@pytest.mark.parametrize(("text", "expected"), [c for c in CAPACITIES if c[1] is not None])
def test_capacities_resolve_only_what_is_sure(core, text, expected):
    found = core.taxonomy.resolve(text)
    check(found, expected)


def check(found, expected):
    if expected == UNKNOWN:
        assert found.value is None and found.choices == ()
    elif expected == ASKS:
        assert found.value is None and len(found.choices) >= 2
    elif isinstance(expected, tuple):
        assert (found.value, found.near) == (expected[0], True)
    else:
        assert (found.value, found.near) == (expected, False)


def test_capacity_names_are_found_in_every_shipped_language(core):
    taxonomy = core.taxonomy
    for locale in ("pt_BR", "ar"):
        for code in taxonomy.nodes:
            name = taxonomy.name(code, locale)
            found = taxonomy.resolve(name)
            assert found.value == code or code in found.choices, (locale, code, name)


TERRITORIES = [
    ("UK", "gb"),
    ("United Kingdom", "gb"),
    ("Reino Unido", "gb"),
    ("المملكة المتحدة", "gb"),
    ("USA", "us"),
    ("Ivory Coast", "ci"),
    ("Côte d’Ivoire", "ci"),
    ("br", "br"),
    ("Brasil", "br"),
    ("Brazl", ("br", "near")),
    ("germny", ("de", "near")),
    ("LAC", "LAC"),
    ("Latin America", "LAC"),
    ("América Latina", "LAC"),
    ("MENA", "MENA"),
    ("CEECA", "CEECA"),
    ("ESEAP", "ESEAP"),
    ("europe", ASKS),
    ("Klingon Empire", UNKNOWN),
    ("de Portugal", ("pt", "near")),
    ("the Netherlands", ("nl", "near")),
]


@pytest.mark.parametrize(("text", "expected"), TERRITORIES)
def test_territories_and_regions_by_code_name_and_common_name(core, text, expected):
    check(core.reference.territory_names.resolve(text), expected)


AFFILIATES = [
    ("WMDE", "DE"),
    ("Wikimedia Deutschland", "DE"),
    ("Wikimedia Germany", "DE"),
    ("WMUK", "UK"),
    ("Wikimedia UK", "UK"),
    ("Wikimedia United Kingdom", "UK"),
    ("Wikimedia Ukraine", "UA"),
    ("wikimedia germny", ("DE", "near")),
    ("WMB", "WMB"),
    ("Nonexistent Society", UNKNOWN),
    ("WMF", UNKNOWN),  # the Foundation is not an affiliate; short text is never a misspelling
]


@pytest.mark.parametrize(("text", "expected"), AFFILIATES)
def test_affiliates_by_acronym_and_the_names_they_use(core, text, expected):
    organizations = core.reference.organizations
    found = core.reference.organization_names.resolve(text)
    acronym = found.value and organizations[found.value].acronym
    if isinstance(expected, tuple):
        assert (acronym, found.near) == (expected[0], True)
    elif expected == UNKNOWN:
        assert found.value is None and not found.choices
    else:
        assert (acronym, found.near) == (expected, False)


CONVERSATIONS = [
    # locale, line, a text the answer holds
    ("en", "affiliation Wikimedia UK", "Your affiliation is now Wikimedia United Kingdom"),
    ("en", "affiliation WMDE", "Your affiliation is now Wikimedia Germany"),
    ("en", "territory UK", "Your territory is now United Kingdom"),
    ("en", "territory Ivory Coast", "Your territory is now Côte d’Ivoire"),
    ("en", "territory germny", "I read “germny” as Germany."),
    ("en", "offer publc speking", "I read “publc speking” as public speaking."),
    ("en", "find 0", "I know no capacity called “0”."),
    ("en", "offer 99999", "I know no capacity called “99999”."),
    ("en", "find 46 near europe", "Which territory do you mean by “europe”?"),
    ("en", "languages Portugese 4", "I read “Portugese” as Portuguese."),
    ("pt_BR", "territory Reino Unido", "Reino Unido"),
    ("pt_BR", "territory EUA", "Estados Unidos"),
    ("pt_BR", "territory Costa do Marfim", "Costa do Marfim"),
    ("pt_BR", "find 46 perto de Europa", "Qual território você quer dizer com “de Europa”?"),
    ("pt_BR", "affiliation Wikimedia Alemanha", "Sua afiliação agora é Wikimedia Germany"),
    ("pt_BR", "affiliation Wikimedia Reino Unido", "Wikimedia United Kingdom"),
    ("pt_BR", "find 0", "Não conheço nenhuma capacidade chamada “0”."),
    ("ar", "territory الولايات المتحدة", "الولايات المتحدة"),
    ("ar", "territory أمريكا اللاتينية", "أمريكا اللاتينية"),
    ("ar", "affiliation WMDE", "Wikimedia Germany"),
    ("pt_BR", 'find "falar em público"', "oratória"),
    ("pt_BR", "find oratória", "oratória"),
    ("pt_BR", "find oratoria", "oratória"),
    ("ar", "find الخطابة", "الخطابة"),
    ("ar", "find ويكيبيانات", "ويكي بيانات"),
    ("ar", "territory المملكة المتحدة", "المملكة المتحدة"),
]


@pytest.mark.parametrize(("locale", "line", "expected"), CONVERSATIONS)
def test_what_people_type_is_read_as_they_meant(core, locale, line, expected):
    chat = Chat(core, "Ana", locale=locale.replace("_", "-").lower())
    text = chat.ask(line).replace("\u2068", "").replace("\u2069", "")
    assert expected in text


def test_a_question_is_asked_and_nothing_is_saved(core):
    chat = Chat(core, "Ana")
    [question] = chat.say("territory europe")
    assert question.is_error and {b.label for b in question.buttons} == {
        "Northern & Western Europe",
        "Central & Eastern Europe & Central Asia",
    }
    assert "You have no profile yet" in chat.ask("profile")


NAMES = [
    "public speaking",
    "budgeting",
    "Wikidata",
    "Wikimedia Commons",
    "event organizing",
    "translation",
    "governance",
    "Wikipedia",
    "Wiktionary",
    "mentorship",
]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcdeiklmnoprstuvwgy ", min_size=1, max_size=24))
def test_any_accepted_misspelling_scores_clearly_above_the_runner_up(text):
    index = NameIndex((name, n) for n, name in enumerate(NAMES))
    found = index.resolve(text)
    wanted = normalize(text)
    if found.value is None or not found.near or len(wanted) < MIN_FUZZY:
        return
    scores = sorted((fuzz.token_sort_ratio(wanted, normalize(n)) for n in NAMES), reverse=True)
    prefix_match = all(
        any(word.startswith(part) for word in normalize(NAMES[found.value]).split())
        for part in wanted.split()
    )
    first, _, rest = wanted.partition(" ")
    after_filler = len(first) <= 3 and rest == normalize(NAMES[found.value])
    clear = scores[0] >= ACCEPT and scores[0] - scores[1] >= MARGIN
    assert prefix_match or after_filler or clear


# explanations that are true


def test_a_need_names_who_offers_it_and_apart_who_offers_something_close(demo_core):
    nova = Chat(demo_core, "Nova", room="r")
    [found] = nova.say("find public speaking")
    offering = {i.text for i in found.items if i.detail.startswith("offers public speaking ·")}
    [posted] = nova.say("need public speaking a trainer")
    said = {p.split(": ", 1)[0]: p.split(": ", 1)[1] for p in posted.paragraphs if ": " in p}
    named = said.get("People who offer this", "") + said.get(
        "People who offer something close to it", ""
    )
    assert named
    for name in {i.text for i in found.items}:
        if name in said.get("People who offer this", ""):
            assert name in offering
        if name in said.get("People who offer something close to it", ""):
            assert name not in offering


def test_an_empty_answer_names_the_filter_and_offers_to_drop_it(core):
    for name in ("Ana", "Bia"):
        chat = Chat(core, name)
        chat.say("offer public speaking")
        chat.say("languages pt n")
        chat.say("visible on")
    seeker = Chat(core, "Zed")
    [reply] = seeker.say("find public speaking in Esperanto")
    text = " ".join(reply.paragraphs)
    assert "Nobody offers public speaking in Esperanto." in text.replace("\u2068", "").replace(
        "\u2069", ""
    )
    assert "2 people offer it in other languages." in text
    [drop] = reply.buttons
    assert drop.command == "find 46 in any"
    assert len(seeker.press("In any language")[0].items) == 2


def test_help_examples_use_the_readers_keywords(core):
    from core.i18n import Translator

    t = Translator("pt_BR")
    text = Chat(core, "Ana", locale="pt-br").ask("help find")
    assert f"find budgeting {t('near')} Brazil" in text


# profiles people can find and read


def test_profile_finds_a_person_by_the_name_find_shows_or_a_unique_prefix(demo_core):
    chat = Chat(demo_core, "Nova")
    [by_name] = chat.say('profile "Ana Souza (demo)"')
    assert by_name.title.startswith("Ana Souza")
    assert by_name.title == "Ana Souza (demo)"  # the username says the name again: shown once
    [by_prefix] = chat.say("profile Ana Sou")
    assert by_prefix.title == by_name.title
    [hidden] = chat.say("profile nobody-at-all")
    assert hidden.is_error


def test_the_hidden_hint_is_shown_once(core):
    chat = Chat(core, "Ana")
    first = chat.ask("offer finance")
    second = chat.ask("learn budgeting")
    assert "You are hidden" in first and "You are hidden" not in second


def test_forget_takes_a_typed_yes_or_no(core):
    chat = Chat(core, "Ana")
    chat.say("offer finance")
    chat.say("forget")
    assert "done nothing" in chat.ask("no")
    assert "finance" in chat.ask("profile")
    assert "I do not know the command" in chat.ask("yes")  # nothing to answer any more
    chat.say("forget")
    assert "erased" in chat.ask("yes")
    assert "no profile" in chat.ask("profile")


def test_portuguese_yes_confirms_forget(core):
    from core.i18n import Translator

    chat = Chat(core, "Ana", locale="pt-br")
    chat.say("offer finance")
    chat.say("forget")
    yes = Translator("pt_BR")("yes")
    assert yes != "yes"
    chat.ask(yes)
    assert "no" not in [b.label for r in chat.replies for b in r.buttons]
    assert Chat(core, "Ana", locale="pt-br").say("mydata")[0].paragraphs[0] == Translator("pt_BR")(
        "I keep nothing about you."
    )


# numbers that never point at someone else


def test_empty_lists_and_bad_numbers_are_usage_errors_or_no_such_need(core):
    chat = Chat(core, "Ana")
    assert chat.say('offer ""')[0].paragraphs[0].startswith("Usage:")
    assert chat.say("offer ,,,")[0].paragraphs[0].startswith("Usage:")
    assert "not a level" in chat.ask("languages en 9")
    assert chat.say("close -1")[0].paragraphs == ("There is no need #-1.",)
    long = "1" * 25
    assert chat.say(f"close {long}")[0].paragraphs == (f"There is no need #{long}.",)


def test_need_numbers_are_never_given_again_after_forget(core):
    ana, bia = Chat(core, "Ana", room="r"), Chat(core, "Bia", room="r")
    ana.say("need finance one")
    ana.say("need finance two")
    Chat(core, "Ana").say("forget")
    Chat(core, "Ana").say("yes")
    [posted] = bia.say("need finance three")
    assert posted.title.startswith("Need #3")
    assert bia.say("helpwith 1")[0].paragraphs == ("There is no need #1.",)


def test_every_command_on_an_unseeded_database_says_an_operator_must_seed(engine):
    from core.dispatch import Core
    from tests.conftest import NOW, UNLIMITED

    core = Core(engine, clock=lambda: NOW, limits=UNLIMITED)
    try:
        for line in ("help", "find public speaking", "offer budgeting", "profile", "needs"):
            [reply] = Chat(core, "Ana").say(line)
            assert reply.is_error and "capx-bot seed" in reply.paragraphs[0], line
    finally:
        core.close()


def test_capacities_never_opens_a_guess(core):
    [reply] = Chat(core, "Ana").say("capacities template")
    assert reply.title.startswith("No capacity matches")
    [read] = Chat(core, "Ana").say("capacities publc speking")
    assert read.title == "public speaking (46)" and read.paragraphs[0].startswith("I read")
