"""Typed parameters: completing what someone is typing (for platforms that ask at each key
press, such as Discord's autocomplete), and commands whose values come as typed options."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.arguments import MAX_COMPLETIONS, as_line
from core.types import Actor, Conversation
from tests.chat import Chat, line_of

PORTUGUESE = Actor("test", "rui", "Rui", locale_hint="pt-br")
ROOM = Conversation("test", "direct:rui", is_direct=True)


def labels(core, command: str, parameter: str, text: str, actor: Actor = PORTUGUESE) -> list:
    return [choice.label for choice in core.complete(actor, ROOM, command, parameter, text)]


def test_capacities_complete_in_the_readers_language_from_a_prefix_or_a_misspelling(core):
    assert labels(core, "find", "capacity", "orat")[0] == "oratória"
    assert labels(core, "find", "capacity", "publc spek")[0] == "oratória"  # English, misspelt
    english = replace(PORTUGUESE, locale_hint="en")
    assert labels(core, "find", "capacity", "pub spe", english)[0] == "public speaking"
    best = core.complete(PORTUGUESE, ROOM, "find", "capacity", "oratória")[0]
    assert best.value == "46"


def test_a_list_of_capacities_completes_its_last_item(core):
    choices = core.complete(PORTUGUESE, ROOM, "offer", "capacities", "46, orat")
    assert choices[0].value == "46, 46" and choices[0].label == "oratória"


def test_empty_text_offers_the_first_choices_and_no_more_than_discord_shows(core):
    first = labels(core, "find", "capacity", "")
    assert len(first) == MAX_COMPLETIONS and first[0] == "estrutura organizacional"
    assert labels(core, "visible", "on", "") == ["ligado", "desligado"]
    assert labels(core, "language", "language", "") == ["English", "العربية", "português (Brasil)"]
    assert labels(core, "roomneeds", "choice", "pri") == ["privado"]


def test_places_affiliates_languages_and_people_complete(core):
    Chat(core, "Ana").say("visible on")
    Chat(core, "Anselmo").say("offer communication")  # hidden: never offered
    assert labels(core, "find", "near", "bra")[0] == "Brasil"
    assert labels(core, "find", "language", "portu")[:2] == ["português", "português (Brasil)"]
    assert labels(core, "profile", "name", "an") == ["Ana"]


@pytest.mark.parametrize("text", ["x" * 5_000, "\x00\u202e<b>", "%", "_", "' OR 1=1 --", "\\"])
def test_huge_or_hostile_text_completes_to_nothing_or_little(core, text):
    for command, parameter in [("find", "capacity"), ("profile", "name"), ("find", "near")]:
        assert len(core.complete(PORTUGUESE, ROOM, command, parameter, text)) <= 1


def test_an_unknown_command_or_parameter_completes_to_nothing(core):
    assert core.complete(PORTUGUESE, ROOM, "nothing", "capacity", "orat") == []
    assert core.complete(PORTUGUESE, ROOM, "find", "nothing", "orat") == []


def test_a_command_with_typed_options_runs_without_a_line(core):
    ana = Chat(core, "Ana")
    incoming = replace(ana.incoming("find"), options={"capacity": "public speaking"})
    [answer] = core.handle(incoming)
    assert "public speaking" in (answer.title or "")
    odd = replace(ana.incoming("find"), options={"capacity": "46", "color": "blue"})
    assert "Usage:" in core.handle(odd)[0].paragraphs[0]
    missing = replace(ana.incoming("find"), options={})
    assert "Usage:" in core.handle(missing)[0].paragraphs[0]


def test_a_choice_for_a_typed_option_runs_the_command_with_the_choice_written_in(core):
    ana = Chat(core, "Ana")
    incoming = replace(ana.incoming("find"), options={"capacity": "speaking", "language": "pt-br"})
    ana.replies = core.handle(incoming)
    lines = [line_of(core, b) for r in ana.replies for b in r.buttons]
    assert lines and all(line.startswith("find ") and line.endswith(" in pt-br") for line in lines)


def test_options_are_written_as_a_line_the_parser_reads_back(core):
    find = core.registry.get("find")
    line = as_line(find, {"capacity": 'public "speaking"', "language": "pt-br", "near": "Brasil"})
    assert line == "find \"public 'speaking'\" in pt-br near Brasil"
