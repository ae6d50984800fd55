"""A demo community: 72 fictional Wikimedians to try the bot with, clearly marked as such.

Every demo person has ``source="demo"``, a display name ending in "(demo)", a username starting
with "Demo " and an ``about`` starting with "Demo profile.". Each also has a console identity
(``platform="console"``, account id = their ASCII-folded, lower-case given name, with a digit
when two share one), so ``capx-bot console --as ana`` speaks as Ana Souza.

The community is generated from a fixed list of names and a ``random.Random`` with a fixed seed,
against a fixed reference date, so two fresh databases get identical people. It needs the
reference data (``storage.seed.seed_reference``) and checks for it first.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import func, insert, select
from sqlmodel import Session

from storage.models import (
    Capacity,
    CapacityName,
    ChatIdentity,
    Language,
    Organization,
    Person,
    PersonCapacity,
    PersonLanguage,
    Relation,
    Territory,
)

DEMO_SOURCE = "demo"
CONSOLE = "console"
REFERENCE_DATE = datetime(2026, 11, 1, tzinfo=UTC)
"""Activity dates are spread over the 200 days before this, never relative to now()."""
ACTIVE_SPAN_MINUTES = 200 * 24 * 60
RANDOM_SEED = 2030

POPULAR_CODES = (118, 115, 113, 79, 100, 46)
"""Capacities most demo people offer: Wikipedia, Commons, Wikidata, event, training and public
speaking. Event and training have children (edit-a-thon, tutorial...) some people offer instead."""

GLOBAL_ORGANIZATIONS = ("W&E", "WPL", "A+F", "WPM", "WKB", "WSC", "WDG")
"""Thematic groups open to anyone, for people whose country has no affiliate in the data."""

ROLES = (
    "Wikipedia editor",
    "Commons photographer",
    "Wikidata contributor",
    "Event organizer",
    "GLAM volunteer",
    "Wikisource proofreader",
    "Teacher who brings Wikipedia to class",
    "Tool developer",
    "Wiktionary contributor",
    "Librarian and Wikimedian",
    "Affiliate board member",
    "Community organizer",
    "Translator",
)


class ReferenceDataMissingError(RuntimeError):
    """The demo community was asked for before the reference data was seeded."""


class _Origin(NamedTuple):
    """What fits people from one country: second languages, affiliates, usual English levels."""

    second: tuple[str, ...]
    orgs: tuple[str, ...]
    english: str = "12345"


_ORIGINS: dict[str, _Origin] = {
    "br": _Origin(("es",), ("WMB",)),
    "mx": _Origin((), ("MX", "MLA")),
    "ar": _Origin(("pt-br",), ("AR", "MLA")),
    "co": _Origin((), ("CO",)),
    "pe": _Origin(("pt-br",), ("PER",)),
    "ht": _Origin(("es",), ("HTI",)),
    "pt": _Origin(("es", "fr"), ("PT",)),
    "ao": _Origin(("fr",), ()),
    "eg": _Origin(("fr",), ("EGY", "AWUG")),
    "ma": _Origin(("fr", "es"), ("MAR", "TZM", "AWUG")),
    "dz": _Origin(("fr",), ("DZA", "TZM")),
    "tn": _Origin(("fr", "it"), ("TUN", "AWUG")),
    "jo": _Origin(("fr",), ("LEV", "AWUG")),
    "iq": _Origin(("ku",), ("IRQ", "KWU")),
    "ir": _Origin(("ar",), ("IRN",)),
    "tr": _Origin(("de",), ("TUR",)),
    "ng": _Origin(("ha", "yo"), ("NGA", "LAG"), "345"),
    "gh": _Origin(("fr",), ("GHA",), "345"),
    "ke": _Origin(("sw",), ("WCK",), "345"),
    "tz": _Origin((), ("TZA", "JWK"), "2345"),
    "ug": _Origin(("sw",), ("UGA",), "345"),
    "rw": _Origin(("fr", "sw"), ("RWA",), "2345"),
    "za": _Origin(("af", "xh"), ("ZA",), "45"),
    "sn": _Origin((), ("OFWA",)),
    "cd": _Origin(("sw", "ln"), ("COD",)),
    "ml": _Origin((), ("MLI",)),
    "et": _Origin(("om",), (), "2345"),
    "in": _Origin(("hi",), ("HDW", "IN-Tech"), "345"),
    "bd": _Origin(("hi",), ("BD",), "2345"),
    "np": _Origin(("hi",), ("NPL",), "2345"),
    "pk": _Origin(("pa", "ar"), (), "345"),
    "jp": _Origin(("zh-hans",), ("JPN",)),
    "cn": _Origin(("ja",), ()),
    "tw": _Origin(("ja",), ("TW",)),
    "kr": _Origin(("ja",), ("KR",)),
    "vn": _Origin(("fr",), ("VNM",)),
    "id": _Origin(("jv", "ms"), ("ID",)),
    "ph": _Origin(("es",), ("PH-WC", "PH-ADV"), "345"),
    "th": _Origin(("zh-hans",), ("TH",)),
    "au": _Origin(("fr",), ("AU",)),
    "nz": _Origin(("mi",), ("NZL",)),
    "de": _Origin(("fr",), ("DE",)),
    "fr": _Origin(("de", "es"), ("FR", "LSP")),
    "it": _Origin(("fr", "es"), ("IT", "WDG")),
    "es": _Origin(("fr", "pt"), ("ES",)),
    "nl": _Origin(("de", "fr"), ("NL",), "345"),
    "se": _Origin(("nb", "de"), ("SE",), "345"),
    "fi": _Origin(("sv",), ("FI",), "345"),
    "gb": _Origin(("fr", "de"), ("UK",)),
    "pl": _Origin(("de", "uk"), ("PL",)),
    "ua": _Origin(("ru", "pl"), ("UA",)),
    "ru": _Origin(("de",), ("RU",)),
    "rs": _Origin(("de", "ru"), ("RS",)),
    "ge": _Origin(("ru",), ("GEO",)),
    "kz": _Origin(("tr",), ("KAZ",)),
    "us": _Origin(("es",), ("NY", "DC", "US-CAS")),
    "ca": _Origin(("es",), ("CA",), "345"),
}


class _Sketch(NamedTuple):
    """A demo person as written down: name, country, native languages, fitting affiliates
    (when better than the country's own list)."""

    given: str
    family: str
    country: str
    native: tuple[str, ...]
    orgs: tuple[str, ...] = ()


_SKETCHES: tuple[_Sketch, ...] = (
    # Latin America & Caribbean, and the Portuguese-speaking world
    _Sketch("Ana", "Souza", "br", ("pt-br",)),
    _Sketch("João", "Oliveira", "br", ("pt-br",)),
    _Sketch("Mariana", "Costa", "br", ("pt-br",)),
    _Sketch("Lucas", "Pereira", "br", ("pt-br",)),
    _Sketch("Beatriz", "Santos", "br", ("pt-br",)),
    _Sketch("Valentina", "Hernández", "mx", ("es",)),
    _Sketch("Mateo", "Fernández", "ar", ("es",)),
    _Sketch("Camila", "Rodríguez", "co", ("es",)),
    _Sketch("Rosa", "Quispe", "pe", ("es", "qu")),
    _Sketch("Wesline", "Joseph", "ht", ("ht", "fr")),
    _Sketch("Inês", "Ferreira", "pt", ("pt",)),
    _Sketch("Nzinga", "Domingos", "ao", ("pt",)),
    # Middle East & North Africa
    _Sketch("Youssef", "Mansour", "eg", ("ar",)),
    _Sketch("Nour", "El-Sayed", "eg", ("ar",)),
    _Sketch("Salma", "Benali", "ma", ("ar", "zgh"), ("TZM", "MAR")),
    _Sketch("Karim", "Belkacem", "dz", ("ar",)),
    _Sketch("Amira", "Trabelsi", "tn", ("ar",)),
    _Sketch("Layla", "Haddad", "jo", ("ar",)),
    _Sketch("Zainab", "Hassan", "iq", ("ar",)),
    _Sketch("Shirin", "Ahmadi", "ir", ("fa",)),
    _Sketch("Elif", "Yılmaz", "tr", ("tr",)),
    # Sub-Saharan Africa
    _Sketch("Adebayo", "Adeyemi", "ng", ("yo",), ("NGA-YO", "NGA", "LAG")),
    _Sketch("Chiamaka", "Eze", "ng", ("ig",), ("NGA-IG", "NGA")),
    _Sketch("Aisha", "Bello", "ng", ("ha",), ("NGA-HA", "NGA")),
    _Sketch("Kwame", "Mensah", "gh", ("ak",)),
    _Sketch("Wanjiru", "Kamau", "ke", ("ki", "sw")),
    _Sketch("Baraka", "Msuya", "tz", ("sw",)),
    _Sketch("Nakato", "Namusoke", "ug", ("lg",)),
    _Sketch("Aline", "Uwase", "rw", ("rw",)),
    _Sketch("Thandiwe", "Nkosi", "za", ("zu",)),
    _Sketch("Fatou", "Diop", "sn", ("wo", "fr")),
    _Sketch("Grâce", "Mbuyi", "cd", ("fr", "lua")),
    _Sketch("Mamadou", "Traoré", "ml", ("bm", "fr")),
    _Sketch("Selam", "Tesfaye", "et", ("am",)),
    # South Asia
    _Sketch("Priya", "Sharma", "in", ("hi",), ("HDW",)),
    _Sketch("Arjun", "Nair", "in", ("ml",), ("IN-KL",)),
    _Sketch("Sneha", "Patil", "in", ("mr",), ("IN-MR",)),
    _Sketch("Ananya", "Chatterjee", "in", ("bn",), ("WBG",)),
    _Sketch("Harpreet", "Kaur", "in", ("pa",), ("PAN",)),
    _Sketch("Tanvir", "Rahman", "bd", ("bn",)),
    _Sketch("Sita", "Gurung", "np", ("ne",)),
    _Sketch("Ayesha", "Khan", "pk", ("ur",)),
    # East, Southeast Asia & Pacific
    _Sketch("Yuki", "Tanaka", "jp", ("ja",)),
    _Sketch("Wei", "Zhang", "cn", ("zh-hans",)),
    _Sketch("Yu-ting", "Chen", "tw", ("zh-hant",), ("TW", "PWU")),
    _Sketch("Ji-woo", "Park", "kr", ("ko",)),
    _Sketch("Linh", "Nguyen", "vn", ("vi",)),
    _Sketch("Putri", "Wijaya", "id", ("id",)),
    _Sketch("Budi", "Santoso", "id", ("jv", "id")),
    _Sketch("Maria", "Santos", "ph", ("fil",)),
    _Sketch("Niran", "Srisuk", "th", ("th",)),
    _Sketch("Chloe", "Mitchell", "au", ("en",)),
    _Sketch("Aroha", "Ngata", "nz", ("en", "mi")),
    # Northern & Western Europe
    _Sketch("Lukas", "Becker", "de", ("de",)),
    _Sketch("Camille", "Dubois", "fr", ("fr",)),
    _Sketch("Giulia", "Romano", "it", ("it",)),
    _Sketch("Maria", "Esposito", "it", ("it",)),
    _Sketch("Jordi", "Puig", "es", ("ca", "es"), ("CAT", "ES")),
    _Sketch("Sanne", "de Vries", "nl", ("nl",)),
    _Sketch("Elin", "Lindqvist", "se", ("sv",)),
    _Sketch("Aino", "Virtanen", "fi", ("fi",)),
    _Sketch("Oliver", "Bennett", "gb", ("en",)),
    _Sketch("Rhys", "Evans", "gb", ("cy", "en"), ("GB-CYM", "UK")),
    # Central & Eastern Europe & Central Asia
    _Sketch("Zofia", "Nowak", "pl", ("pl",)),
    _Sketch("Olena", "Kovalenko", "ua", ("uk",)),
    _Sketch("Dmitry", "Ivanov", "ru", ("ru",)),
    _Sketch("Nino", "Beridze", "ge", ("ka",)),
    _Sketch("Aigerim", "Nurlanova", "kz", ("kk", "ru")),
    _Sketch("Milica", "Jovanović", "rs", ("sr",)),
    # North America
    _Sketch("Jasmine", "Carter", "us", ("en",), ("ACD", "BLT", "NY")),
    _Sketch("Carmen", "Delgado", "us", ("es", "en"), ("MLA", "US-LA")),
    _Sketch("Émilie", "Tremblay", "ca", ("fr",)),
)


@dataclass
class DemoPerson:
    """One generated demo person, before it is written to the database."""

    username: str
    display_name: str
    account_id: str
    territory_code: str
    organization: str | None
    """The affiliate's acronym."""
    discoverable: bool
    created_at: datetime
    last_active_at: datetime
    languages: dict[str, str] = field(default_factory=dict)
    capacities: set[tuple[int, str]] = field(default_factory=set)
    about: str = ""


def seed_demo(session: Session) -> int:
    """Add the demo people that are missing; return how many demo people there are now.

    Idempotent: people are matched on their username, and existing ones (perhaps edited while
    trying the bot) are left as they are. Raises ReferenceDataMissingError when
    ``seed_reference`` has not run.
    """
    people = build_demo_people(session)
    present = set(
        session.exec(select(Person.username).where(Person.source == DEMO_SOURCE)).scalars()
    )
    missing = [person for person in people if person.username not in present]
    if missing:
        _insert(session, missing)
    return session.exec(
        select(func.count()).select_from(Person).where(Person.source == DEMO_SOURCE)
    ).scalar_one()


def demo_console_accounts(session: Session) -> list[str]:
    """The console account ids of the demo people in the database, sorted."""
    statement = (
        select(ChatIdentity.account_id)
        .join(Person, Person.id == ChatIdentity.person_id)
        .where(Person.source == DEMO_SOURCE, ChatIdentity.platform == CONSOLE)
        .order_by(ChatIdentity.account_id)
    )
    return list(session.exec(statement).scalars())


def build_demo_people(session: Session) -> list[DemoPerson]:
    """The demo community, the same on every call and every database with the same reference
    data. Reads the reference data it needs and raises ReferenceDataMissingError without it."""
    reference = _Reference.load(session)
    rng = random.Random(RANDOM_SEED)
    accounts = _account_ids(sketch.given for sketch in _SKETCHES)
    return [
        _generate(sketch, account, reference, rng)
        for sketch, account in zip(_SKETCHES, accounts, strict=True)
    ]


@dataclass
class _Reference:
    """The reference data the generator draws on, in a fixed order."""

    capacity_names: dict[int, str]
    """English names of the capacities demo people may have, by code."""
    popular_children: list[int]
    countries: dict[str, str]
    organizations: dict[str, str]
    languages: dict[str, str]

    @classmethod
    def load(cls, session: Session) -> _Reference:
        """Read the reference data; raise ReferenceDataMissingError when some is missing."""
        capacities = session.exec(
            select(Capacity.code, Capacity.parent_code, CapacityName.name)
            .join(CapacityName, CapacityName.code == Capacity.code)
            .where(CapacityName.lang == "en")
            .order_by(Capacity.code)
        ).all()
        # A name that is a bare URL (CapX's code 97) is no name to show in a profile.
        names = {code: name for code, _, name in capacities if "://" not in name}
        reference = cls(
            capacity_names=names,
            popular_children=[
                code for code, parent, _ in capacities if parent in POPULAR_CODES and code in names
            ],
            countries=dict(
                session.exec(
                    select(Territory.code, Territory.name_en).where(Territory.kind == "country")
                ).all()
            ),
            organizations=dict(session.exec(select(Organization.acronym, Organization.name)).all()),
            languages=dict(session.exec(select(Language.code, Language.name_en)).all()),
        )
        reference._check()
        return reference

    def _check(self) -> None:
        """Raise ReferenceDataMissingError unless every code the demo uses is present."""
        organizations = {
            *GLOBAL_ORGANIZATIONS,
            *(org for origin in _ORIGINS.values() for org in origin.orgs),
            *(org for sketch in _SKETCHES for org in sketch.orgs),
        }
        languages = {
            "en",
            *(lang for origin in _ORIGINS.values() for lang in origin.second),
            *(lang for sketch in _SKETCHES for lang in sketch.native),
        }
        absent = {
            "capacities": set(POPULAR_CODES) - self.capacity_names.keys(),
            "countries": {sketch.country for sketch in _SKETCHES} - self.countries.keys(),
            "organizations": organizations - self.organizations.keys(),
            "languages": languages - self.languages.keys(),
        }
        details = "; ".join(
            f"{kind} {', '.join(map(str, sorted(codes)[:5]))}{'...' if len(codes) > 5 else ''}"
            for kind, codes in absent.items()
            if codes
        )
        if details:
            raise ReferenceDataMissingError(
                "The demo community needs the reference data: run seed_reference "
                f"(capx-bot seed) first. Missing {details}."
            )


def _generate(sketch: _Sketch, account: str, ref: _Reference, rng: random.Random) -> DemoPerson:
    """One demo person from a sketch, drawing every choice from ``rng`` in a fixed order."""
    origin = _ORIGINS[sketch.country]
    full_name = f"{sketch.given} {sketch.family}"
    last_active = REFERENCE_DATE - timedelta(minutes=rng.randrange(ACTIVE_SPAN_MINUTES))
    person = DemoPerson(
        username=f"Demo {full_name}",
        display_name=f"{full_name} (demo)",
        account_id=account,
        territory_code=sketch.country,
        organization=None,
        discoverable=rng.random() < 0.85,
        created_at=last_active - timedelta(days=rng.randrange(30, 1500)),
        last_active_at=last_active,
    )
    if rng.random() < 0.6:
        person.organization = rng.choice(sketch.orgs or origin.orgs or GLOBAL_ORGANIZATIONS)
    person.languages = {lang: "n" for lang in sketch.native}
    if "en" not in person.languages and rng.random() < 0.85:
        person.languages["en"] = rng.choice(origin.english)
    for lang in origin.second:
        if lang not in person.languages and rng.random() < 0.4:
            person.languages[lang] = rng.choice("01234")
    offered, wanted = _pick_capacities(ref, rng)
    popular_family = {*POPULAR_CODES, *ref.popular_children}
    for code in offered:
        person.capacities.add((code, Relation.KNOWN.value))
        if rng.random() < (0.85 if code in popular_family else 0.5):
            person.capacities.add((code, Relation.AVAILABLE.value))
    person.capacities.update((code, Relation.WANTED.value) for code in wanted)
    person.about = _about(person, rng.choice(ROLES), offered, wanted, ref)
    return person


def _pick_capacities(ref: _Reference, rng: random.Random) -> tuple[list[int], list[int]]:
    """3 to 8 distinct capacities: the ones a person has (often a popular one or a child of
    one) and, different from those, the ones they want to learn."""
    codes = sorted(ref.capacity_names)
    total = rng.randint(3, 8)
    wanted_count = 1 if total < 5 else rng.randint(1, 3)
    offered: list[int] = []
    if rng.random() < 0.75:
        offered.append(rng.choice(POPULAR_CODES))
    if rng.random() < 0.3:
        offered.append(rng.choice(ref.popular_children))
    while len(offered) < total - wanted_count:
        code = rng.choice(codes)
        if code not in offered:
            offered.append(code)
    wanted: list[int] = []
    while len(wanted) < wanted_count:
        code = rng.choice(codes)
        if code not in offered and code not in wanted:
            wanted.append(code)
    return offered, wanted


def _about(
    person: DemoPerson, role: str, offered: list[int], wanted: list[int], ref: _Reference
) -> str:
    """A short, plausible profile text that starts with "Demo profile."."""
    text = f"Demo profile. {role} from {ref.countries[person.territory_code]}"
    if person.organization:
        text += f", active in {ref.organizations[person.organization]}"
    native = [ref.languages[lang] for lang, level in person.languages.items() if level == "n"]
    text += f"; writes in {_join(native)}."
    available = [code for code in offered if (code, Relation.AVAILABLE.value) in person.capacities]
    if available:
        text += f" Happy to help with {_join(ref.capacity_names[c] for c in available[:3])}."
    text += f" Wants to learn {_join(ref.capacity_names[c] for c in wanted)}."
    return text


def _join(items: Iterable[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    words = list(items)
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _account_ids(given_names: Iterable[str]) -> list[str]:
    """Console account ids: the ASCII-folded, lower-case given name (letters and digits only),
    made unique with a digit (``maria``, ``maria2``)."""
    ids: list[str] = []
    for given in given_names:
        folded = unicodedata.normalize("NFKD", given).encode("ascii", "ignore").decode()
        ids.append(_unique("".join(ch for ch in folded.lower() if ch.isalnum()), set(ids)))
    return ids


def _unique(base: str, taken: set[str]) -> str:
    """``base``, or ``base`` with the smallest number from 2 up that is not in ``taken``."""
    account, number = base, 1
    while account in taken:
        number += 1
        account = f"{base}{number}"
    return account


def _insert(session: Session, people: list[DemoPerson]) -> None:
    """Write new demo people with their identity, languages and capacities. A console account
    id already held by someone else gets the next free digit."""
    organizations = dict(session.exec(select(Organization.acronym, Organization.id)).all())
    rows = [
        Person(
            username=p.username,
            display_name=p.display_name,
            about=p.about,
            territory_code=p.territory_code,
            organization_id=organizations[p.organization] if p.organization else None,
            discoverable=p.discoverable,
            source=DEMO_SOURCE,
            created_at=p.created_at,
            last_active_at=p.last_active_at,
        )
        for p in people
    ]
    session.add_all(rows)
    session.flush()
    taken = set(
        session.exec(
            select(ChatIdentity.account_id).where(ChatIdentity.platform == CONSOLE)
        ).scalars()
    )
    identities, languages, capacities = [], [], []
    for person, row in zip(people, rows, strict=True):
        account = _unique(person.account_id, taken)
        taken.add(account)
        identities.append(
            {"platform": CONSOLE, "account_id": account, "person_id": row.id, "handle": account}
        )
        languages += [
            {"person_id": row.id, "lang": lang, "level": level}
            for lang, level in sorted(person.languages.items())
        ]
        capacities += [
            {"person_id": row.id, "capacity_code": code, "relation": relation}
            for code, relation in sorted(person.capacities)
        ]
    session.exec(insert(ChatIdentity), params=identities)
    session.exec(insert(PersonLanguage), params=languages)
    session.exec(insert(PersonCapacity), params=capacities)
