"""Translations: every shipped catalog is complete, well-formed and follows CLDR; locale
negotiation, plural rules, number formatting and bidirectional isolation behave per locale.

The messages are extracted from the code here, as ``make i18n`` does, so a catalog is checked
against the code itself and not against a ``messages.pot`` that may be stale.
"""

from __future__ import annotations

import re
from functools import cache
from gettext import c2py
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from core import arguments
from core.commands import build_registry
from core.i18n import (
    DEFAULT_LOCALE,
    FIRST_STRONG_ISOLATE,
    LOCALES_DIR,
    POP_DIRECTIONAL_ISOLATE,
    Translator,
    negotiate,
    shipped_locales,
    to_cldr,
)
from core.parsing import normalize, tokenize

ROOT = Path(__file__).resolve().parent.parent
# The same keywords as the Makefile's ``pybabel extract -k N_ -k t -k plural:1,2``.
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "t": None, "plural": (1, 2)}
TRANSLATED = [code for code in shipped_locales() if code != DEFAULT_LOCALE]
PLACEHOLDER = re.compile(r"\{[^{}]*\}")

PERSON_SINGULAR = "{n} person offers to teach it."
PERSON_PLURAL = "{n} people offer to teach it."

MsgId = str | tuple[str, ...]


@cache
def extracted() -> dict[tuple[MsgId, str | None], list[str]]:
    """(msgid, context) -> where it is used, for every message the code marks."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, "babel.cfg")
    found: dict[tuple[MsgId, str | None], list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        found.setdefault((message, context), []).append(f"{filename}:{lineno}")
    return found


@cache
def catalog(locale: str) -> Catalog:
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def entry(locale: str, msgid: MsgId, context: str | None = None) -> Message | None:
    key = msgid[0] if isinstance(msgid, tuple) else msgid
    return catalog(locale).get(key, context=context)


def forms(message: Message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple) else [message.string]


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def test_extraction_sees_the_code() -> None:
    messages = extracted()
    assert len(messages) > 100
    assert ((PERSON_SINGULAR, PERSON_PLURAL), None) in messages
    # Declared with N_ in the registry, not translated where declared.
    assert ("list the commands, or explain one", None) in messages
    assert ("Middle East & North Africa", None) in messages


def test_some_locale_besides_english_is_shipped() -> None:
    assert TRANSLATED
    assert {"pt_BR", "ar"} <= set(TRANSLATED)


@pytest.mark.parametrize("locale", TRANSLATED)
def test_catalog_translates_every_message_of_the_code(locale: str) -> None:
    book = catalog(locale)
    missing, wrong_kind, empty, fuzzy = [], [], [], []
    for msgid, context in extracted():
        message = entry(locale, msgid, context)
        if message is None:
            missing.append(msgid)
            continue
        if message.id != msgid:
            wrong_kind.append(msgid)
        strings = forms(message)
        if isinstance(msgid, tuple) and len(strings) != book.num_plurals:
            empty.append(msgid)
        if not all(s.strip() for s in strings):
            empty.append(msgid)
        if message.fuzzy:
            fuzzy.append(msgid)
    assert not missing, f"{locale}: not in the catalog: {missing}"
    assert not wrong_kind, f"{locale}: singular/plural differs from the code: {wrong_kind}"
    assert not empty, f"{locale}: untranslated (or a plural form left empty): {empty}"
    assert not fuzzy, f"{locale}: fuzzy: {fuzzy}"
    assert not book.fuzzy, f"{locale}: the catalog header is fuzzy"


# Counts where the plural rules of the shipped languages differ: 0-1200 covers every n % 100
# and n % 1000 case; exact millions are "many" in Portuguese (and in Babel's rule for it).
PLURAL_COUNTS = [
    *range(1201),
    *(m * 1_000_000 + r for m in (1, 2, 3, 10, 1000) for r in (-1, 0, 1, 2, 3, 11, 99, 100)),
]


@pytest.mark.parametrize("locale", TRANSLATED)
def test_catalog_plural_forms_are_babels(locale: str) -> None:
    """The plural forms were written for the order of Babel's Plural-Forms (for Arabic,
    msgstr[4] is for 11-99, msgstr[5] for 100-102; for Portuguese, msgstr[1] is for exact
    millions); a header that picks other forms needs them reviewed. What the rule means is
    compared, not its text, which Babel is free to write differently."""
    book, expected = catalog(locale), get_plural(locale)
    assert book.num_plurals == expected.num_plurals
    # c2py checks the expression holds only n, numbers and C operators before evaluating it.
    ours, babels = c2py(book.plural_expr), c2py(expected.plural_expr)
    differ = [(n, ours(n), babels(n)) for n in PLURAL_COUNTS if ours(n) != babels(n)]
    assert not differ, f"{locale}: (n, catalog's form, Babel's form): {differ[:10]}"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translations_keep_the_placeholders(locale: str) -> None:
    wrong = []
    for msgid, context in extracted():
        message = entry(locale, msgid, context)
        if message is None:
            continue
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        expected = set().union(*(placeholders(i) for i in ids))
        for index, text in enumerate(forms(message)):
            if text and placeholders(text) != expected:
                wrong.append((msgid, index, sorted(placeholders(text))))
    assert not wrong, f"{locale}: placeholders differ from the msgid: {wrong}"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_command_has_help_in_every_shipped_locale(locale: str) -> None:
    t = Translator(locale)
    english = Translator(DEFAULT_LOCALE)
    problems = []
    for command in build_registry():
        for field, msgid in (("summary", command.summary), ("help", command.help)):
            translated = entry(locale, msgid)
            if translated is None or not translated.string:
                problems.append(f"{command.name}: no {field}")
            elif t(msgid) == english(msgid):
                problems.append(f"{command.name}: {field} is still English")
        for param in command.params:
            for field, msgid in (("label", param.label), ("keyword", param.keyword)):
                if msgid is None:
                    continue
                translated = entry(locale, msgid)
                if translated is None or not translated.string.strip():
                    problems.append(f"{command.name} {param.name}: no {field}")
    assert not problems, f"{locale}: {problems}"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translated_argument_words_can_be_typed(locale: str) -> None:
    """Keywords and level words are matched one token at a time; on and off must differ."""
    t = Translator(locale)
    for command in build_registry():
        words = [normalize(t(p.keyword)) for p in command.params if p.keyword]
        assert len(words) == len(set(words)), f"{command.name}: keywords clash in {locale}"
        for param in command.params:
            if param.keyword:
                assert len(tokenize(t(param.keyword))) == 1, (locale, param.keyword)
    assert len(tokenize(t(arguments.NATIVE))) == 1
    on = {normalize(t(word)) for word in arguments.ON}
    off = {normalize(t(word)) for word in arguments.OFF}
    assert len(on) == len(off) == 2
    assert not on & off
    assert all(t(word) != word for word in (*arguments.ON, *arguments.OFF))


@pytest.mark.parametrize("locale", TRANSLATED)
def test_language_choice_names_its_own_language(locale: str) -> None:
    cldr = Locale.parse(locale)
    own_name = cldr.languages[cldr.language]
    text = Translator(locale)("From now on I will speak with you in English.")
    assert own_name.casefold() in text.casefold()
    assert "English" not in text


def test_negotiate_order() -> None:
    # The person's choice, then the platform's hint, then the room's setting, then English.
    assert negotiate(["ar", "pt-BR", "pt-br"]) == "ar"
    assert negotiate([None, "pt-BR", "ar"]) == "pt_BR"
    assert negotiate([None, None, "ar"]) == "ar"
    assert negotiate([None, None, None]) == "en"
    assert negotiate(["fr", "de", None]) == "en"


@pytest.mark.parametrize(
    ("choices", "expected"),
    [
        (["pt-pt"], "pt_BR"),
        (["pt-BR"], "pt_BR"),
        (["ar-EG"], "ar"),
        (["xx-unknown", None, "ar"], "ar"),
        ([], "en"),
    ],
)
def test_negotiate_finds_the_shipped_catalog(choices: list[str | None], expected: str) -> None:
    assert negotiate(choices) == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [("sr-ec", "sr_Cyrl"), ("zh-hant", "zh_Hant"), ("pt-br", "pt_BR"), ("no", "nb")],
)
def test_to_cldr_maps_mediawiki_codes(code: str, expected: str) -> None:
    assert str(to_cldr(code)) == expected


def test_to_cldr_rejects_unknown_codes() -> None:
    assert to_cldr("xx-unknown") is None
    assert to_cldr("") is None


def template(t: Translator, n: int) -> str:
    """The plural form chosen for ``n``, with the number taken out."""
    text = t.plural(PERSON_SINGULAR, PERSON_PLURAL, n)
    assert t.number(n) in text
    return text.replace(t.number(n), "#")


def test_arabic_has_six_plural_forms_chosen_as_cldr_says() -> None:
    t = Translator("ar")
    rules = Locale.parse("ar").plural_form
    examples = {"zero": 0, "one": 1, "two": 2, "few": 3, "many": 11, "other": 100}
    assert {category: rules(n) for category, n in examples.items()} == {
        category: category for category in examples
    }
    forms_by_category = {category: template(t, n) for category, n in examples.items()}
    assert len(set(forms_by_category.values())) == 6, forms_by_category
    english = Translator("en")
    assert forms_by_category["few"] != template(english, 3)
    # The catalog's Plural-Forms agrees with CLDR for every count, not only the examples.
    for n in range(1201):
        assert template(t, n) == forms_by_category[rules(n)], n


def test_portuguese_plural_forms() -> None:
    t = Translator("pt_BR")
    strings = [s.replace("{n}", "#") for s in catalog("pt_BR").get(PERSON_SINGULAR).string]
    one, many, other = template(t, 1), template(t, 1_000_000), template(t, 2)
    assert [one, many, other] == strings
    assert len(set(strings)) == 3
    assert template(t, 0) == one  # CLDR: 0 and 1 are "one" in Portuguese
    assert template(t, 11) == template(t, 1_000_001) == other
    assert template(t, 2_000_000) == many  # "2.000.000 de pessoas", as "2 milhões de pessoas"


def test_numbers_are_formatted_per_locale() -> None:
    assert Translator("ar").number(1234) == format_decimal(1234, locale=Locale.parse("ar"))
    assert Translator("pt_BR").number(1234) == "1.234"
    assert Translator("en").number(1234) == "1,234"
    assert "1.000" in Translator("pt_BR").plural(PERSON_SINGULAR, PERSON_PLURAL, 1000)


def test_right_to_left_and_isolation() -> None:
    assert Translator("ar").right_to_left is True
    assert Translator("en").right_to_left is False
    assert Translator("pt_BR").right_to_left is False
    isolated = f"{FIRST_STRONG_ISOLATE}Ana{POP_DIRECTIONAL_ISOLATE}"
    assert FIRST_STRONG_ISOLATE == "\u2068"
    assert POP_DIRECTIONAL_ISOLATE == "\u2069"
    assert Translator("ar").isolate("Ana") == isolated
    assert Translator("en").isolate("Ana") == "Ana"
    assert Translator("en").isolate("أحمد") == "\u2068أحمد\u2069"
