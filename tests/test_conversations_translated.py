"""Every command in Brazilian Portuguese and in Arabic: the replies come in the speaker's
language, and the translated words of the arguments (on, confirm, in, near...) work."""

from __future__ import annotations

import pytest

from core.i18n import Translator
from core.types import Reply
from tests.chat import Chat, queued

FINANCE, BUDGETING, GOVERNANCE = 11, 12, 15


def texts(replies: list[Reply]) -> list[str]:
    """Every title and paragraph of the replies."""
    return [text for r in replies for text in (r.title, *r.paragraphs) if text]


@pytest.fixture(params=["pt_BR", "ar"])
def locale(request) -> str:
    return request.param


def test_every_command_answers_in_the_speakers_language(core, locale):
    t = Translator(locale)
    code = locale.replace("_", "-").lower()
    me = Chat(core, "Lia", locale=code, room="sala")
    other = Chat(core, "Rui", locale=code, room="sala")

    def says(line: str, expected: str, **values: object) -> list[Reply]:
        replies = me.say(line)
        assert all(reply.locale == locale for reply in replies)
        assert t(expected, **values) in texts(replies), f"{line!r}: {texts(replies)}"
        return replies

    def capacity(code: int) -> str:
        return t.isolate(core.taxonomy.name(code, locale))

    finance = capacity(FINANCE)
    assert core.taxonomy.name(FINANCE, locale) != "finance"  # the directory speaks it too
    says("help", "What I can do")
    says("help find", "Also known as: {names}", names="mentor")
    says("start", "Welcome to the Capacity Exchange!")
    says("capacities", "Capacities")
    says("profile", "You have no profile yet. Tell me what you can teach with “offer”.")
    says("offer finance", "You offer to teach: {names}.", names=finance)
    says("learn budgeting", "You want to learn: {names}.", names=capacity(BUDGETING))
    says("know governance", "You know: {names}.", names=capacity(GOVERNANCE))
    says("drop governance", "Removed from your profile: {names}.", names=capacity(GOVERNANCE))
    spoken = t("{language}, {level}", language=t.language_name("en"), level=t("native"))
    says(f"languages en {t('native')}", "Your languages are now: {names}.", names=spoken)
    brazil = t.territory_name("br", "Brazil")
    says(f"territory {brazil}", "Your territory is now {name}.", name=brazil)
    says(
        "affiliation WMB",
        "Your affiliation is now {name}.",
        name=t.isolate("Grupo de Usuários Wiki Movimento Brasil"),
    )
    says("about ...", "Your description is saved.")
    says(f"visible {t('on')}", "Others can now find you with “find” and “peers”.")

    other.say("offer budgeting")
    other.say(f"languages en {t('native')}")
    other.say(f"territory {brazil}")
    other.say(f"visible {t('on')}")
    [found] = says(
        f"find finance {t('in')} en {t('near')} {brazil}", "Who can help with {name}", name=finance
    )
    assert [item.text for item in found.items] == [t.isolate("Rui")]
    assert (
        t("speaks {languages}", languages=t("{language} natively", language=t.language_name("en")))
        in found.items[0].detail
    )
    says("peers", "Could teach you {name}", name=capacity(BUDGETING))

    says("need finance ...", "Need {summary}", summary=f"#1 · {finance}")
    says("needs", "Open needs")
    to_helper, _ = other.say("helpwith 1")
    [(_, to_author)] = queued(core)
    assert to_author.locale == locale and to_helper.locale == locale
    says("close 1", "Need #{number} is closed. Thank you!", number=1)

    says("privacy", "Your data and this bot")
    says("mydata", "Everything I keep about you, as JSON:")
    says(
        "roomlanguage pt-br",
        "Only an admin of this room may use “{command}”.",
        command="roomlanguage",
    )
    says(
        "forget",
        "This erases your profile, your chat accounts, your needs and your offers of help, "
        "for good. Are you sure?",
    )
    [question] = [r for r in me.replies if r.buttons]
    done = me.press_button(question.buttons[0])
    assert t("Done: I have erased everything I kept about you.") in texts(done)


def test_errors_are_translated_too(core, locale):
    t = Translator(locale)
    chat = Chat(core, "Lia", locale=locale.replace("_", "-").lower())
    [unknown] = chat.say("fnd finance")
    assert unknown.paragraphs[0].startswith(
        t("I do not know the command “{name}”.", name=t.user_text("fnd"))
    )
    [capacity] = chat.say("find zzqqxx")
    assert capacity.paragraphs == (
        t(
            "I know no capacity called “{text}”. Say “capacities” to browse them.",
            text=t.user_text("zzqqxx"),
        ),
    )
    [usage] = chat.say("offer")
    assert usage.paragraphs == (
        t("Usage: {usage}", usage=chat.core.registry.get("offer").usage(t)),
    )
    assert f"<{t('capacities')}>" in usage.paragraphs[0]
    [switch] = chat.say("visible maybe")
    assert switch.paragraphs == (t("Say “on” or “off”."),)


def test_the_language_command_speaks_the_new_language_at_once(core, locale):
    chat = Chat(core, "Lia")
    [reply] = chat.say(f"language {locale}")
    assert reply.locale == locale
    assert reply.paragraphs == (
        Translator(locale)("From now on I will speak with you in English."),
    )
