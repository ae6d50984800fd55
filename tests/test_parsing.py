"""The parser: quoted phrases, keywords, usage errors; and that no text can make the core fail."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.commands import build_registry
from core.i18n import Translator
from core.parsing import (
    MAX_INPUT,
    UsageError,
    normalize,
    split_arguments,
    split_command_line,
    tokenize,
    tokens_text,
)
from core.types import Reply
from tests.chat import Chat

REGISTRY = build_registry()
ENGLISH = Translator("en")


def texts(command: str, arguments: str) -> dict[str, str]:
    groups = split_arguments(REGISTRY.get(command), arguments, ENGLISH)
    return {name: tokens_text(arguments, tokens) for name, tokens in groups.items()}


def test_a_quoted_phrase_is_one_token_and_an_unclosed_quote_runs_to_the_end():
    assert [t.text for t in tokenize('need "public speaking" for us')] == [
        "need",
        "public speaking",
        "for",
        "us",
    ]
    assert [t.text for t in tokenize("«garde» “fermée")] == ["garde", "fermée"]


def test_keywords_split_the_arguments_wherever_they_stand():
    assert texts("find", "public speaking near Brazil in pt") == {
        "capacity": "public speaking",
        "near": "Brazil",
        "language": "pt",
    }


def test_a_translated_keyword_works_too():
    portuguese = Translator("pt_BR")
    keyword = portuguese("near")
    groups = split_arguments(REGISTRY.get("find"), f"oratória {keyword} Brasil", portuguese)
    assert keyword != "near"
    assert [t.text for t in groups["near"]] == ["Brasil"]


def test_a_keyword_inside_quotes_is_only_a_word():
    assert texts("find", '"in between" in en') == {"capacity": "in between", "language": "en"}


def test_missing_required_arguments_and_leftover_words_are_usage_errors():
    with pytest.raises(UsageError):
        split_arguments(REGISTRY.get("find"), "", ENGLISH)
    with pytest.raises(UsageError):
        split_arguments(REGISTRY.get("privacy"), "please", ENGLISH)
    with pytest.raises(UsageError):
        split_arguments(REGISTRY.get("find"), "finance near", ENGLISH)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/find@capx_bot public speaking", ("find", "public speaking")),
        ("!capx", ("capx", "")),
        ("  HELP   find ", ("help", "find")),
        ("", ("", "")),
    ],
)
def test_split_command_line(line, expected):
    assert split_command_line(line) == expected


def test_normalize_folds_case_accents_and_spaces():
    assert normalize("  Oratória   PÚBLICA ") == "oratoria publica"


def test_usage_is_shown_translated_when_arguments_are_missing(core):
    assert (
        Chat(core, "Ana").ask("find") == "Usage: find <capacity> [in <language>] [near <territory>]"
    )
    usage = Chat(core, "Bia", locale="pt-BR").ask("find")
    assert usage.startswith(Translator("pt_BR")("Usage: {usage}", usage="").strip())
    assert "<capacity>" not in usage


def test_input_over_the_limit_is_refused_and_changes_nothing(core):
    chat = Chat(core, "Ana")
    [reply] = chat.say("about " + "x" * MAX_INPUT)
    assert reply.is_error and "at most 4,096 characters" in reply.paragraphs[0]
    assert "no profile yet" in chat.ask("profile")


line_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300
) | st.sampled_from(["find", "need", "offer", "languages", "territory", "help", "forget"]).flatmap(
    lambda command: st.text(max_size=200).map(lambda rest: f"{command} {rest}")
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(line=line_text, locale=st.sampled_from([None, "pt-br", "ar"]))
def test_any_text_gets_a_reply_never_an_exception(core, line, locale, caplog):
    replies = Chat(core, "Fuzz", locale=locale, room="fuzz").say(line)
    assert replies and all(isinstance(reply, Reply) for reply in replies)
    assert not [r for r in caplog.records if r.levelname == "ERROR"], "a crash was logged"
