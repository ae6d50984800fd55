"""Every command, as conversations through the core's single entry (the one adapters use)."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from core.i18n import Translator
from core.types import Target
from storage.models import ChatIdentity, Need, Person, PersonCapacity
from tests.chat import Chat, isolated, line_of, queued

FINANCE, BUDGETING, COMMUNICATION, PUBLIC_SPEAKING = 11, 12, 36, 46


def rows(core, model) -> list:
    with Session(core.engine) as session:
        return list(session.exec(select(model)))


# help, start, unknown commands


def test_help_lists_every_command_and_explains_one(core):
    chat = Chat(core, "Ana")
    [listing] = chat.say("help")
    names = [item.text.split(" — ")[0] for item in listing.items]
    assert names == [command.name for command in core.registry]
    text = chat.ask("help find")
    assert text.startswith("find <capacity> [in <language>] [near <territory>]")
    assert "Also known as: mentor" in text and "find budgeting near Brazil" in text


def test_help_for_an_unknown_command_suggests_close_ones(core):
    chat = Chat(core, "Ana")
    [reply] = chat.say("help fnd")
    assert reply.is_error and [b.label for b in reply.buttons] == ["find"]


def test_an_unknown_command_gets_did_you_mean(core):
    chat = Chat(core, "Ana")
    [reply] = chat.say("capacitys 36")
    assert reply.is_error
    assert "Did you mean: capacities?" in reply.paragraphs[0]
    assert chat.press("capacities")[0].title == "communication (36)"


def test_start_welcomes_with_first_steps(core):
    [reply] = Chat(core, "Ana").say("start")
    assert reply.title == "Welcome to the Capacity Exchange!"
    assert [b.command for b in reply.buttons] == ["capacities", "profile", "help"]


# capacities


def test_capacities_shows_the_seven_roots_then_a_subtree_then_a_search(core):
    chat = Chat(core, "Ana")
    [roots] = chat.say("capacities")
    assert len(roots.items) == 7 and roots.items[1].text.startswith("communication (36)")
    [subtree] = chat.press("communication")
    assert subtree.title == "communication (36)"
    assert any(item.text.startswith("public speaking (46)") for item in subtree.items)
    [search] = chat.say("capacities management")
    assert search.title == f"Capacities matching “{isolated('management')}”"
    assert all("management" in item.text.lower() for item in search.items)


def test_capacities_finds_a_misspelt_name_and_says_when_nothing_matches(core):
    chat = Chat(core, "Ana")
    assert chat.say("capacities publc speking")[0].title == "public speaking (46)"
    [reply] = chat.say("capacities zzzzqqq")
    assert reply.is_error and reply.paragraphs[0] == f"No capacity matches “{isolated('zzzzqqq')}”."


# profile edits


def test_offer_learn_know_and_drop_edit_only_the_speakers_profile(core):
    ana, bia = Chat(core, "Ana"), Chat(core, "Bia")
    bia.say("offer budgeting")
    ana.say("offer public speaking, budgeting")
    ana.say("learn wikidata")
    ana.say("know finance")
    text = ana.ask("profile")
    assert "Offers to teach: budgeting and public speaking" in text
    assert "Knows: finance" in text and "Wants to learn: Wikidata" in text

    ana.say("know budgeting")  # knowing without teaching stops the offer
    assert "Offers to teach: public speaking" in ana.ask("profile")
    ana.say("drop budgeting, finance")
    text = ana.ask("profile")
    assert "budgeting" not in text and "finance" not in text
    assert "Offers to teach: budgeting" in bia.ask("profile")


def test_offering_implies_knowing(core):
    Chat(core, "Ana").say(f"offer {FINANCE}")
    relations = {(r.capacity_code, r.relation) for r in rows(core, PersonCapacity)}
    assert relations == {(FINANCE, "known"), (FINANCE, "available")}


def test_a_failing_item_undoes_the_whole_command(core):
    chat = Chat(core, "Ana")
    [reply] = chat.say("offer finance, qqqqzzzz")
    assert reply.is_error
    assert rows(core, PersonCapacity) == [] and rows(core, Person) == []


def test_an_ambiguous_capacity_offers_choices_that_finish_the_command(core):
    chat = Chat(core, "Ana")
    [reply] = chat.say("offer management, budgeting")
    assert reply.is_error and reply.paragraphs[0] == (
        f"Which capacity do you mean by “{isolated('management')}”?"
    )
    choice = reply.buttons[0]
    assert line_of(core, choice).endswith(", budgeting")
    chosen = int(line_of(core, choice).split()[1].rstrip(","))
    chat.press(choice.label)
    offered = {r.capacity_code for r in rows(core, PersonCapacity) if r.relation == "available"}
    assert offered == {chosen, BUDGETING}


def test_drop_of_a_capacity_not_in_the_profile_says_so(core):
    [reply] = Chat(core, "Ana").say("drop finance")
    assert reply.is_error and reply.paragraphs[0] == "Your profile has none of these capacities."


def test_languages_are_shown_set_and_replaced(core):
    chat = Chat(core, "Ana")
    assert "You have listed no languages." in chat.ask("languages")
    chat.say("languages pt-br n, en 3")
    assert "Languages: Portuguese (Brazil), native; English, advanced" in chat.ask("profile")
    chat.say("languages Arabic 4")
    text = chat.ask("profile")
    assert "Arabic, near native" in text and "English" not in text
    [reply] = chat.say("languages zzqqx 3")
    assert (
        reply.is_error
        and reply.paragraphs[0] == f"I do not know the language “{isolated('zzqqx')}”."
    )
    assert "Arabic" in chat.ask("profile")


def test_territory_affiliation_and_about_are_set_and_removed(core):
    chat = Chat(core, "Ana")
    chat.say("territory brasil")
    chat.say("affiliation WMB")
    chat.say("about I teach Wikidata <b>workshops</b>.")
    text = chat.ask("profile")
    assert "Territory: Brazil" in text and "(WMB)" in text
    assert "I teach Wikidata <b>workshops</b>." in text
    chat.say("territory none")
    chat.say("affiliation none")
    chat.say("about none")
    text = chat.ask("profile")
    assert "Territory" not in text and "Affiliation" not in text and "workshops" not in text


def test_bad_territory_affiliation_and_about_change_nothing(core):
    chat = Chat(core, "Ana")
    chat.say("territory Brazil")
    assert chat.say("territory Atlantis")[0].is_error
    assert chat.say("affiliation Nonexistent Society")[0].is_error
    assert chat.say("about " + "x" * 501)[0].is_error
    [person] = rows(core, Person)
    assert (person.territory_code, person.organization_id, person.about) == ("br", None, None)


def test_visible_on_and_off(core):
    chat = Chat(core, "Ana")
    chat.say("offer finance")
    assert "You are hidden" in chat.ask("profile")
    chat.say("visible on")
    assert rows(core, Person)[0].discoverable
    chat.say("visible off")
    assert not rows(core, Person)[0].discoverable
    assert chat.say("visible maybe")[0].paragraphs[0] == "Say “on” or “off”."


def test_profile_of_someone_by_handle_and_unknown_names(core):
    Chat(core, "Bia").say("offer finance")
    Chat(core, "Bia").say("visible on")
    ana = Chat(core, "Ana")
    assert ana.say("profile @bia")[0].title == "Bia"
    assert ana.say("profile nobody")[0].is_error


def test_profile_edits_in_a_group_are_answered_privately(core):
    chat = Chat(core, "Ana", room="lusofonia")
    private, notice = chat.say("offer finance")
    assert private.private and not notice.private
    assert notice.paragraphs == ("I have answered you in a private message.",)


def test_editing_someone_elses_profile_is_impossible(core):
    """Edits take no person argument: naming someone only becomes part of the capacity text."""
    Chat(core, "Bia").say("offer finance")
    [reply] = Chat(core, "Ana").say("drop bia finance")
    assert reply.is_error
    assert {r.capacity_code for r in rows(core, PersonCapacity)} == {FINANCE}


# find


def test_find_and_its_alias_mentor(core):
    Chat(core, "Bia").say("offer finance")
    Chat(core, "Bia").say("languages en n")
    Chat(core, "Bia").say("visible on")
    ana = Chat(core, "Ana")
    for line in ("find finance", "mentor finanse"):
        [reply] = ana.say(line)
        assert reply.title == "Who can help with finance"
        assert [item.text for item in reply.items] == ["Bia"]


def test_find_with_no_one_suggests_what_to_do(core):
    [reply] = Chat(core, "Ana").say("find finance")
    assert reply.items == () and "need 11" in reply.paragraphs[0]


def test_peers_needs_a_profile(core):
    assert Chat(core, "Ana").say("peers")[0].is_error


# needs


def test_a_need_is_posted_answered_and_both_sides_learn_how_to_reach_each_other(core):
    author = Chat(core, "Ana", room="lusofonia")
    [posted] = author.say("need public speaking we need a trainer for our meetup")
    assert posted.title == "Need #1 · public speaking" and not posted.private
    assert "helpwith 1" in posted.paragraphs[1]

    assert line_of(core, posted.buttons[0]) == "helpwith 1"
    helper = Chat(core, "Bia", room="lusofonia")
    to_helper, notice = helper.say("helpwith 1")
    [(target, to_author)] = queued(core)
    assert to_helper.private
    assert f"{isolated('Ana')}: {isolated('@ana')} on Test" in to_helper.paragraphs
    assert target == Target("test", account_id="ana") and to_author.private
    assert f"{isolated('Bia')}: {isolated('@bia')} on Test" in to_author.paragraphs
    assert notice.paragraphs == ("I have answered you in a private message.",)

    again = helper.say("helpwith 1")[0]
    assert again.is_error and "already offered" in again.paragraphs[0]
    assert author.say("helpwith 1")[0].paragraphs[0] == "That is your own need."


def test_needs_lists_open_needs_and_filters_by_capacity_and_its_parts(core):
    chat = Chat(core, "Ana", room="r")
    chat.say("need budgeting a budget for 2027")
    chat.say("need public speaking a trainer")
    [all_needs] = chat.say("needs")
    assert [item.text for item in all_needs.items] == ["#2 · public speaking", "#1 · budgeting"]
    [finance] = chat.say("needs finance")
    assert [item.text for item in finance.items] == ["#1 · budgeting"]


def test_only_the_author_or_a_room_admin_closes_a_need(core):
    Chat(core, "Ana", room="r").say("need finance help")
    stranger = Chat(core, "Bia", room="r")
    assert stranger.say("close 1")[0].is_error
    admin_elsewhere = Chat(core, "Cai", room="other", admin=True)
    assert admin_elsewhere.say("close 1")[0].is_error
    admin = Chat(core, "Dora", room="r", admin=True)
    assert admin.say("close 1")[0].paragraphs[0] == "Need #1 is closed. Thank you!"
    assert stranger.say("helpwith 1")[0].paragraphs[0] == "Need #1 is closed."
    assert "No open needs" in stranger.ask("needs")


def test_need_numbers_must_be_numbers_that_exist(core):
    chat = Chat(core, "Ana")
    assert chat.say("helpwith twelve")[0].paragraphs[0] == (
        f"“{isolated('twelve')}” is not a number."
    )
    assert chat.say("close 99")[0].paragraphs[0] == "There is no need #99."


# language


def test_language_choice_changes_the_bots_language_everywhere(core):
    chat = Chat(core, "Ana")
    [reply] = chat.say("language")
    lines = {line_of(core, b) for b in reply.buttons}
    assert lines == {"language en", "language pt_BR", "language ar"}
    chat.say("language pt-br")
    portuguese = Translator("pt_BR")
    assert chat.say("help")[0].title == portuguese("What I can do")
    in_group = Chat(core, "Ana", room="r", locale="ar")
    assert in_group.say("help")[0].title == portuguese("What I can do")


def test_an_unknown_interface_language_offers_the_shipped_ones(core):
    [reply] = Chat(core, "Ana").say("language tlh")
    assert reply.is_error and len(reply.buttons) == 3


def test_the_platform_hint_sets_the_language_when_the_person_chose_none(core):
    arabic = Translator("ar")
    [reply] = Chat(core, "Ana", locale="ar").say("help")
    assert reply.title == arabic("What I can do") and reply.locale == "ar"


def test_room_language_is_for_room_admins_in_groups(core):
    assert Chat(core, "Ana").say("roomlanguage pt-br")[0].is_error
    assert Chat(core, "Ana", room="r").say("roomlanguage pt-br")[0].is_error
    Chat(core, "Dora", room="r", admin=True).say("roomlanguage pt-br")
    portuguese = Translator("pt_BR")
    assert Chat(core, "Bia", room="r").say("help")[0].title == portuguese("What I can do")
    assert Chat(core, "Bia", room="r", locale="ar").say("help")[0].locale == "ar"


# privacy


def test_privacy_explains_and_offers_the_two_commands(core):
    [reply] = Chat(core, "Ana").say("privacy")
    assert [line_of(core, b) for b in reply.buttons] == ["mydata", "forget"]
    assert any("e-mail" in p for p in reply.paragraphs)


def test_mydata_exports_everything_stored_about_me_as_json(core):
    chat = Chat(core, "Ana", room="r")
    chat.say("offer finance")
    chat.say("languages pt-br n")
    chat.say("need budgeting help with our budget")
    profile, export, notice = chat.say("mydata")
    assert profile.private and export.private and not notice.private
    data = json.loads(export.attachment.data)
    finance = {"code": FINANCE, "name": "finance"}
    assert data["capacities"] == {"available": [finance], "known": [finance], "wanted": []}
    assert data["languages"] == [{"language": "pt-br", "level": "n"}]
    assert data["chat_identities"] == [{"platform": "test", "account_id": "ana", "handle": "@ana"}]
    assert [need["text"] for need in data["needs"]] == ["help with our budget"]
    assert "email" not in export.attachment.data.decode().lower()


def test_forget_asks_first_then_erases_everything_about_me_and_nothing_else(core):
    ana, bia = Chat(core, "Ana", room="r"), Chat(core, "Bia", room="r")
    ana.say("offer finance")
    ana.say("need budgeting help")
    bia.say("offer budgeting")
    bia.say("helpwith 1")
    ana_alone = Chat(core, "Ana")
    [question] = ana_alone.say("forget")
    assert rows(core, Need) and question.buttons[0].confirms
    [done] = ana_alone.press("Yes, erase everything")
    assert done.paragraphs[0] == "Done: I have erased everything I kept about you."
    assert [p.display_name for p in rows(core, Person)] == ["Bia"]
    assert [i.account_id for i in rows(core, ChatIdentity)] == ["bia"]
    assert rows(core, Need) == []
    assert "budgeting" in bia.ask("profile")
    assert Chat(core, "Ana").say("mydata")[0].paragraphs[0] == "I keep nothing about you."


def test_no_typed_line_confirms_forget(core):
    chat = Chat(core, "Ana")
    chat.say("offer finance")
    assert "Done" not in chat.ask("forget confirm")
    [question] = chat.say("forget")
    assert question.buttons[0].command == ""  # only its token, never a line to type
    assert "Done" not in chat.ask(f"forget {question.buttons[0].token}")
    assert len(rows(core, Person)) == 1
