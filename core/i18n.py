"""Translations, locale negotiation and locale-aware formatting.

Catalogs are the gettext ``.po`` files in ``locales/``, read with Babel when first needed.
Messages use ``{name}`` placeholders. Mark a string for extraction without translating it
(a command's declared help, say) with :func:`N_` and translate it where it is shown.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_skeleton, format_timedelta
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DEFAULT_LOCALE = "en"

FIRST_STRONG_ISOLATE = "\u2068"
POP_DIRECTIONAL_ISOLATE = "\u2069"

# MediaWiki language codes whose CLDR locale is not the code with "-" read as "_".
_MEDIAWIKI_TO_CLDR = {
    "sr-ec": "sr_Cyrl",
    "sr-el": "sr_Latn",
    "zh-hans": "zh_Hans",
    "zh-hant": "zh_Hant",
    "zh-cn": "zh_Hans_CN",
    "zh-tw": "zh_Hant_TW",
    "zh-hk": "zh_Hant_HK",
    "be-tarask": "be",
    "simple": "en",
    "no": "nb",
}


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated later, where it is shown."""
    return message


@cache
def shipped_locales() -> tuple[str, ...]:
    """The locales with a catalog, English first."""
    found = sorted(p.parent.parent.name for p in LOCALES_DIR.glob("*/LC_MESSAGES/messages.po"))
    return (DEFAULT_LOCALE, *[code for code in found if code != DEFAULT_LOCALE])


@lru_cache(maxsize=1024)
def to_cldr(code: str) -> Locale | None:
    """The CLDR locale for a MediaWiki, BCP 47 or POSIX language code, or None if unknown
    (remembered: every command asks for a few)."""
    code = code.strip().replace("_", "-").lower()
    if not code or len(code) > 35:
        return None
    candidate = _MEDIAWIKI_TO_CLDR.get(code, code)
    try:
        return Locale.parse(candidate, sep="-" if "-" in candidate else "_")
    except (UnknownLocaleError, ValueError, TypeError):
        return None


@lru_cache(maxsize=1024)
def best_shipped(code: str | None) -> str | None:
    """The shipped locale that serves ``code`` (``pt-pt`` -> ``pt_BR``), or None."""
    if not code:
        return None
    locale = to_cldr(code)
    if locale is None:
        return None
    shipped = shipped_locales()
    exact = str(locale)
    if exact in shipped:
        return exact
    same_language = [s for s in shipped if s.split("_")[0] == locale.language]
    return same_language[0] if same_language else None


def negotiate(choices: Iterable[str | None]) -> str:
    """The first of ``choices`` (most preferred first) that a shipped catalog serves, else English.

    The design's order is: the person's choice, the platform's hint, the room's setting.
    """
    for choice in choices:
        found = best_shipped(choice)
        if found:
            return found
    return DEFAULT_LOCALE


@cache
def _translations(locale: str) -> NullTranslations:
    po = LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def _has_right_to_left(text: str) -> bool:
    return any(unicodedata.bidirectional(c) in ("R", "AL") for c in text)


@lru_cache(maxsize=64)
def _cldr(locale: str) -> Locale:
    """A shipped locale's CLDR data."""
    return Locale.parse(locale)


@lru_cache(maxsize=4096)
def _language_name(code: str, locale: str) -> str:
    language = to_cldr(code)
    return (language and language.get_display_name(_cldr(locale))) or code


class Translator:
    """Messages and formatting in one locale. Cheap to create; catalogs are cached."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self.cldr = _cldr(locale)
        self._catalog = _translations(locale)

    @property
    def right_to_left(self) -> bool:
        return self.cldr.character_order == "right-to-left"

    def isolate(self, text: str) -> str:
        """``text`` (a name, a link) wrapped in Unicode isolates when its direction could
        reorder the sentence around it: in right-to-left locales, or when it holds
        right-to-left letters."""
        if self.right_to_left or _has_right_to_left(text):
            return f"{FIRST_STRONG_ISOLATE}{text}{POP_DIRECTIONAL_ISOLATE}"
        return text

    def user_text(self, text: str) -> str:
        """Text a person wrote (a name, what they typed) for use inside a sentence, always
        wrapped in Unicode isolates, so that its direction never reorders the sentence."""
        return f"{FIRST_STRONG_ISOLATE}{text}{POP_DIRECTIONAL_ISOLATE}"

    def __call__(self, message: str, /, **values: object) -> str:
        """``message`` translated, with ``{name}`` placeholders filled from ``values``."""
        text = self._catalog.gettext(message)
        return text.format(**values) if values else text

    def plural(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        """The plural form for ``n`` (CLDR rules), with ``{n}`` and ``values`` filled in."""
        text = self._catalog.ngettext(singular, plural, n)
        return text.format(n=self.number(n), **values)

    def number(self, n: int) -> str:
        return format_decimal(n, locale=self.cldr)

    def date(self, when: datetime) -> str:
        return format_date(when, format="medium", locale=self.cldr)

    def moment(self, when: datetime, zone: tzinfo) -> str:
        """``when`` as a date and a time of day in ``zone``, with the zone's name: "Thu, Jan
        14, 2027 at 18:00 (Brasilia Standard Time)"."""
        return self(
            N_("{date} at {time} ({zone})"),
            date=format_skeleton("yMMMEd", when, tzinfo=zone, locale=self.cldr),
            time=format_skeleton("Hm", when, tzinfo=zone, locale=self.cldr),
            zone=format_datetime(when, "zzzz", tzinfo=zone, locale=self.cldr),
        )

    def relative(self, delta: timedelta) -> str:
        """A time from now, roughly: "in 1 hour", "5 minutes ago"."""
        return format_timedelta(delta, add_direction=True, locale=self.cldr)

    def language_name(self, code: str) -> str:
        """The name of a language (MediaWiki code) in this locale, or the code when unknown."""
        return _language_name(code, self.locale)

    def territory_name(self, iso2: str, fallback: str) -> str:
        return self.cldr.territories.get(iso2.upper(), fallback)

    def list(self, parts: list[str]) -> str:
        """``parts`` joined as this locale writes a list (``a, b and c``)."""
        return format_list(parts, locale=self.cldr) if parts else ""
