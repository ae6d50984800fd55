"""The reference-data seed (capacities, territories, affiliates, languages) and the demo community.

Tests taking ``engine`` run on SQLite and, when ``CAPX_TEST_POSTGRES_URL`` is set, PostgreSQL.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import babel
import pytest
from sqlalchemy import Engine, delete, func, insert, select, update
from sqlmodel import SQLModel

from core.commands import build_registry
from core.i18n import Translator, shipped_locales
from core.parsing import LIST_SEPARATORS, normalize, split_arguments
from core.services.taxonomy import Taxonomy
from storage import migrate
from storage.db import make_engine, unit_of_work
from storage.demo import (
    DEMO_SOURCE,
    POPULAR_CODES,
    REFERENCE_DATE,
    ReferenceDataMissingError,
    demo_console_accounts,
    seed_demo,
)
from storage.models import (
    LANGUAGE_LEVELS,
    Capacity,
    CapacityName,
    ChatIdentity,
    Language,
    Organization,
    Person,
    PersonCapacity,
    PersonLanguage,
    Territory,
)
from storage.seed import (
    BOT_SOURCE,
    CAPACITIES_CSV,
    CAPX_SOURCE,
    NAMES_CSV,
    ORGANIZATIONS_JSON,
    is_name,
    seed_reference,
)

ROOTS = {10, 36, 50, 56, 65, 74, 106}
TRANSLATED = ("pt-br", "ar")
"""The languages besides English whose capacity names the bot ships (its locales)."""
REGIONS = {"SSA", "NWE", "ESEAP", "LAC", "CEECA", "SA", "MENA", "NA"}


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    """The test database with the reference data loaded."""
    with unit_of_work(engine) as session:
        seed_reference(session)
    return engine


@pytest.fixture
def demo(seeded: Engine) -> Engine:
    """The test database with the reference data and the demo community loaded."""
    with unit_of_work(seeded) as session:
        seed_demo(session)
    return seeded


def count(engine: Engine, model: type[SQLModel]) -> int:
    with unit_of_work(engine) as session:
        return session.exec(select(func.count()).select_from(model)).scalar_one()


def all_names(engine: Engine) -> dict[tuple[int, str], CapacityName]:
    """(code, lang) -> the stored capacity name."""
    with unit_of_work(engine) as session:
        rows = session.exec(select(CapacityName)).scalars().all()
        session.expunge_all()
    return {(row.code, row.lang): row for row in rows}


def named(row: CapacityName) -> tuple[str, str]:
    return row.name, row.source


def name_rows(engine: Engine) -> list[tuple]:
    """Every stored capacity name as plain values, in key order."""
    names = all_names(engine)
    return [(*key, row.name, row.description, row.source) for key, row in sorted(names.items())]


def table_counts(engine: Engine) -> dict[str, int]:
    models = (Capacity, CapacityName, Territory, Organization, Language, Person, ChatIdentity)
    models += (PersonCapacity, PersonLanguage)
    return {model.__tablename__: count(engine, model) for model in models}


# --- reference data ------------------------------------------------------------------------------


def test_capacity_directory(seeded: Engine) -> None:
    """134 capacities in 7 trees whose roots carry a Wikidata QID; every node has an English
    name, a parent that exists (roots excepted) and a consistent root and depth."""
    with unit_of_work(seeded) as session:
        capacities = {c.code: c for c in session.exec(select(Capacity)).scalars()}
        names = {
            n.code: n
            for n in session.exec(select(CapacityName).where(CapacityName.lang == "en")).scalars()
        }
    assert len(capacities) == 134
    roots = {code for code, c in capacities.items() if c.parent_code is None}
    assert roots == ROOTS
    for code, capacity in capacities.items():
        if code in ROOTS:
            assert re.fullmatch(r"Q\d+", capacity.wikidata_qid or ""), code
            assert (capacity.root_code, capacity.depth) == (code, 0)
        else:
            parent = capacities[capacity.parent_code]
            assert capacity.wikidata_qid is None
            assert capacity.root_code == parent.root_code
            assert capacity.depth == parent.depth + 1
        assert names[code].name.strip()
    assert capacities[36].wikidata_qid == "Q11024"
    assert names[46].name == "public speaking"
    assert names[46].description


def test_reference_seed_is_idempotent_and_repairs_changed_rows(seeded: Engine) -> None:
    """A second run adds nothing and changes no name; a third run puts back names (CapX's and
    the bot's) that were changed meanwhile."""
    before, names = table_counts(seeded), name_rows(seeded)
    with unit_of_work(seeded) as session:
        assert seed_reference(session) == {
            "capacity": 134,
            "capacity_name": 134 * (1 + len(TRANSLATED)),
            "territory": before["territory"],
            "organization": before["organization"],
            "language": before["language"],
        }
    assert table_counts(seeded) == before
    assert name_rows(seeded) == names
    with unit_of_work(seeded) as session:
        session.exec(update(CapacityName).where(CapacityName.code == 46).values(name="x"))
        session.exec(update(Territory).where(Territory.code == "br").values(parent_code=None))
        session.exec(update(Organization).where(Organization.acronym == "PT").values(kind="x"))
        seed_reference(session)
    assert table_counts(seeded) == before
    with unit_of_work(seeded) as session:
        assert session.get(CapacityName, (46, "en")).name == "public speaking"
        assert session.get(CapacityName, (46, "pt-br")).name == "oratória"
        assert session.get(CapacityName, (46, "ar")).name == "الخطابة"
        assert session.get(Territory, "br").parent_code == "LAC"
        portugal = session.exec(select(Organization).where(Organization.acronym == "PT"))
        assert portugal.scalar_one().kind == "chapter"


# --- capacity names in every shipped language ----------------------------------------------------


def test_shipped_names_file() -> None:
    """``capacity_names.csv`` holds the bot's own names only (source ``capx-bot``), one row per
    code and language, for known capacities, in English only where CapX's name is no name."""
    with CAPACITIES_CSV.open(encoding="utf-8", newline="") as file:
        capx = {int(record["code"]): record["name_en"] for record in csv.DictReader(file)}
    with NAMES_CSV.open(encoding="utf-8", newline="") as file:
        records = list(csv.DictReader(file))
    keys = [(int(record["code"]), record["lang"]) for record in records]
    assert len(keys) == len(set(keys))
    assert {record["source"] for record in records} == {BOT_SOURCE}
    assert {lang for _, lang in keys} == {"en", *TRANSLATED}
    assert {code for code, _ in keys} == set(capx)
    assert (
        {code for code, lang in keys if lang == "en"}
        == {code for code, name in capx.items() if not is_name(name)}
        == {97}
    )


def test_capacity_names_in_every_shipped_language(seeded: Engine) -> None:
    """Every capacity has a name and a description in each shipped language, and the core finds
    them under the codes it asks for (``pt_BR`` reads ``pt-br``); capacity 97 has a real English
    name, not the URL CapX's data has for it."""
    names = all_names(seeded)
    with unit_of_work(seeded) as session:
        taxonomy = Taxonomy.load(session)
    codes = sorted(taxonomy.nodes)
    assert len(codes) == 134
    for lang in TRANSLATED:
        for code in codes:
            row = names.get((code, lang))
            assert row is not None, (code, lang)
            assert row.name and row.description and row.source == BOT_SOURCE, (code, lang)
    for locale in shipped_locales():
        lang = locale.replace("_", "-").lower()
        assert {taxonomy.name(code, locale) for code in codes} == {
            names[(code, lang)].name for code in codes
        }, locale
    assert names[(46, "en")].source == CAPX_SOURCE
    assert named(names[(97, "en")]) == ("other GLAM activities", BOT_SOURCE)
    assert names[(97, "en")].description
    assert names[(46, "pt-br")].name == "oratória"
    assert names[(46, "ar")].name == "الخطابة"
    assert names[(113, "pt-br")].name == "Wikidata"
    assert names[(113, "ar")].name == "ويكي بيانات"
    assert names[(118, "ar")].name == "ويكيبيديا"
    assert names[(115, "ar")].name == "ويكيميديا كومنز"


def test_capacity_names_are_clean(seeded: Engine) -> None:
    """No name is empty, a URL, or padded with spaces; no description is padded either. The
    bot's names are short (they are buttons) and hold no list separator, which would split a
    list of capacities (``offer a, b``) in the middle of the name."""
    problems = []
    for (code, lang), row in sorted(all_names(seeded).items()):
        if not is_name(row.name) or row.name != row.name.strip() or "  " in row.name:
            problems.append((code, lang, row.name))
        if row.description is not None and row.description != row.description.strip():
            problems.append((code, lang, row.description))
        if row.source == BOT_SOURCE and (LIST_SEPARATORS.search(row.name) or len(row.name) > 40):
            problems.append((code, lang, row.name))
    assert problems == []


def test_no_two_capacities_share_a_name(seeded: Engine) -> None:
    """Within a language, and across all of them (the core looks a typed name up in every
    language), a name folded as the core folds it (case, accents, spaces) names one capacity."""
    per_language: defaultdict[tuple[str, str], set[int]] = defaultdict(set)
    anywhere: defaultdict[str, set[int]] = defaultdict(set)
    for (code, lang), row in all_names(seeded).items():
        per_language[(lang, normalize(row.name))].add(code)
        anywhere[normalize(row.name)].add(code)
    assert {key: codes for key, codes in per_language.items() if len(codes) > 1} == {}
    assert {name: codes for name, codes in anywhere.items() if len(codes) > 1} == {}


def test_capacity_names_are_not_keywords(seeded: Engine) -> None:
    """No capacity name in any language is, or holds as a word, a keyword of a command (``in``,
    ``near``) in any shipped language: ``find <capacity> in <language>`` would cut the name at
    the keyword. And every name reads back whole as ``find``'s capacity in every locale."""
    registry = build_registry()
    keywords = {
        normalize(Translator(locale)(param.keyword)): (locale, param.keyword)
        for command in registry
        for param in command.params
        if param.keyword
        for locale in shipped_locales()
    }
    assert {"in", "near", "em", "perto", "في", "قرب"} <= set(keywords)
    names = all_names(seeded)
    collisions = sorted(
        (code, lang, row.name, word, *keywords[word])
        for (code, lang), row in names.items()
        for word in {normalize(row.name), *normalize(row.name).split()}
        if word in keywords
    )
    assert collisions == [], f"capacity names holding a command keyword: {collisions}"
    find = registry.get("find")
    for locale in shipped_locales():
        t = Translator(locale)
        for row in names.values():
            groups = split_arguments(find, f"{row.name} {t('in')} en", t)
            read = " ".join(token.text for token in groups["capacity"])
            assert (read, [token.text for token in groups["language"]]) == (row.name, ["en"])


def test_capx_names_win_over_shipped_ones(seeded: Engine) -> None:
    """A name from CapX (source ``capx``) is never replaced by a shipped translation, while
    CapX's replaces one of ours; a stored CapX "name" that is no name (97's URL, in a database
    seeded before names had a source) gives way to the bot's."""
    with unit_of_work(seeded) as session:
        session.exec(
            update(CapacityName)
            .where(CapacityName.code == 46, CapacityName.lang == "pt-br")
            .values(name="oratória (CapX)", description="De CapX", source=CAPX_SOURCE)
        )
        session.exec(delete(CapacityName).where(CapacityName.code == 12, CapacityName.lang == "ar"))
        session.exec(
            insert(CapacityName).values(
                code=12, lang="ar", name="الميزانية", description=None, source=CAPX_SOURCE
            )
        )
        session.exec(
            update(CapacityName)
            .where(CapacityName.code == 36, CapacityName.lang == "en")
            .values(name="talking", source=BOT_SOURCE)
        )
        session.exec(
            update(CapacityName)
            .where(CapacityName.code == 97, CapacityName.lang == "en")
            .values(
                name="https://metabase.wikibase.cloud/entity/Q22314",
                description=None,
                source=CAPX_SOURCE,
            )
        )
        seed_reference(session)
    names = all_names(seeded)
    kept = names[(46, "pt-br")]
    assert (kept.name, kept.description, kept.source) == ("oratória (CapX)", "De CapX", CAPX_SOURCE)
    assert named(names[(12, "ar")]) == ("الميزانية", CAPX_SOURCE)
    assert named(names[(36, "en")]) == ("communication", CAPX_SOURCE)
    assert named(names[(97, "en")]) == ("other GLAM activities", BOT_SOURCE)
    before = name_rows(seeded)
    with unit_of_work(seeded) as session:
        seed_reference(session)
    assert name_rows(seeded) == before


def test_territories(seeded: Engine) -> None:
    """8 regions, then countries keyed by lower-case ISO alpha-2 with English CLDR names."""
    with unit_of_work(seeded) as session:
        territories = {t.code: t for t in session.exec(select(Territory)).scalars()}
    regions = {code for code, t in territories.items() if t.kind == "region"}
    assert regions == REGIONS
    assert territories["LAC"].name_en == "Latin America & Caribbean"
    brazil = territories["br"]
    assert (brazil.kind, brazil.name_en, brazil.parent_code) == ("country", "Brazil", "LAC")
    assert territories["xk"].parent_code == "CEECA"  # Kosovo: XKX is not in CLDR's aliases
    assert territories["xa"].name_en == "Abkhazia"  # not CLDR's "Pseudo-Accents"
    assert territories["aq"].parent_code is None
    countries = [t for t in territories.values() if t.kind == "country"]
    assert len(countries) > 240
    for country in countries:
        assert re.fullmatch(r"[a-z]{2}", country.code)
        assert country.parent_code is None or country.parent_code in REGIONS
    per_region = Counter(c.parent_code for c in countries)
    assert per_region["NA"] == 2 and per_region["SA"] == 8


def test_organizations(seeded: Engine) -> None:
    """One row per fixture organization with an acronym, with its kind and clean name."""
    fixture = json.loads(Path(ORGANIZATIONS_JSON).read_text(encoding="utf-8"))
    acronyms = {
        item["fields"]["acronym"]
        for item in fixture
        if item["model"] == "orgs.Organization" and item["fields"].get("acronym")
    }
    with unit_of_work(seeded) as session:
        organizations = {o.acronym: o for o in session.exec(select(Organization)).scalars()}
    assert set(organizations) == acronyms
    assert {o.kind for o in organizations.values()} <= {
        "chapter",
        "user group",
        "thematic organization",
        "gathering group",
    }
    assert organizations["PT"].kind == "chapter"
    assert organizations["WMB"].name == "Grupo de Usuários Wiki Movimento Brasil"
    assert organizations["WMB"].kind == "user group"
    assert organizations["WPM"].kind == "thematic organization"
    assert organizations["WKW"].name == "WikiWomen's User Group"


def test_languages(seeded: Engine) -> None:
    """Every CLDR language, in MediaWiki-style codes, with autonyms where CLDR has them."""
    with unit_of_work(seeded) as session:
        languages = {lang.code: lang for lang in session.exec(select(Language)).scalars()}
    assert len(languages) == len(babel.Locale("en").languages)
    assert languages["pt-br"].name_en == "Brazilian Portuguese"
    assert languages["pt-br"].autonym == "português (Brasil)"
    assert languages["ar"].autonym == "العربية"
    assert languages["zh-hant"].autonym == "繁體中文"
    assert languages["tl"].autonym is None  # Babel would answer with Filipino's data
    assert all(code == code.lower() and "_" not in code for code in languages)


# --- demo community ------------------------------------------------------------------------------


def fingerprint(engine: Engine) -> list[tuple]:
    """Everything about the demo people that should be reproducible, keyed by username."""
    with unit_of_work(engine) as session:
        people = session.exec(
            select(Person, Organization.acronym)
            .outerjoin(Organization, Organization.id == Person.organization_id)
            .where(Person.source == DEMO_SOURCE)
            .order_by(Person.username)
        ).all()
        result = []
        for person, acronym in people:
            pid = person.id
            languages = session.exec(
                select(PersonLanguage.lang, PersonLanguage.level)
                .where(PersonLanguage.person_id == pid)
                .order_by(PersonLanguage.lang)
            ).all()
            capacities = session.exec(
                select(PersonCapacity.capacity_code, PersonCapacity.relation)
                .where(PersonCapacity.person_id == pid)
                .order_by(PersonCapacity.capacity_code, PersonCapacity.relation)
            ).all()
            identities = session.exec(
                select(ChatIdentity.platform, ChatIdentity.account_id, ChatIdentity.handle).where(
                    ChatIdentity.person_id == pid
                )
            ).all()
            result.append(
                (
                    person.username,
                    person.display_name,
                    person.about,
                    person.territory_code,
                    acronym,
                    person.discoverable,
                    person.created_at.isoformat(),
                    person.last_active_at.isoformat(),
                    tuple(map(tuple, languages)),
                    tuple(map(tuple, capacities)),
                    tuple(map(tuple, identities)),
                )
            )
    return result


def demo_people(engine: Engine) -> list[Person]:
    with unit_of_work(engine) as session:
        return list(session.exec(select(Person).where(Person.source == DEMO_SOURCE)).scalars())


def relations(engine: Engine) -> dict[int, dict[str, set[int]]]:
    """person id -> relation -> capacity codes."""
    result: dict[int, dict[str, set[int]]] = {}
    with unit_of_work(engine) as session:
        for row in session.exec(select(PersonCapacity)).scalars():
            result.setdefault(row.person_id, {}).setdefault(row.relation, set()).add(
                row.capacity_code
            )
    return result


def test_demo_needs_reference_data(engine: Engine) -> None:
    """Without the reference data the demo refuses, saying what to run, and writes nothing."""
    with (
        pytest.raises(ReferenceDataMissingError, match="seed_reference"),
        unit_of_work(engine) as session,
    ):
        seed_demo(session)
    assert count(engine, Person) == 0


def test_demo_people_are_many_and_clearly_marked(demo: Engine) -> None:
    """At least 60 people, each marked as demo in source, name, username and profile text."""
    people = demo_people(demo)
    assert len(people) >= 60
    assert len({p.username for p in people}) == len(people)
    for person in people:
        assert person.display_name.endswith(" (demo)")
        assert person.username.startswith("Demo ")
        assert person.about.startswith("Demo profile.") and len(person.about) <= 500
        assert person.territory_code is not None
        assert REFERENCE_DATE - timedelta(days=200) <= person.last_active_at <= REFERENCE_DATE
        assert person.created_at < person.last_active_at
    hidden = sum(not p.discoverable for p in people)
    assert 0 < hidden < len(people) * 0.3
    with_org = sum(p.organization_id is not None for p in people)
    assert len(people) * 0.4 < with_org < len(people) * 0.8
    assert len({p.territory_code for p in people}) >= 40


def test_demo_is_idempotent(demo: Engine) -> None:
    """A second run returns the same number and changes no row."""
    before, counts = fingerprint(demo), table_counts(demo)
    with unit_of_work(demo) as session:
        assert seed_demo(session) == len(before)
    assert fingerprint(demo) == before
    assert table_counts(demo) == counts


def test_demo_is_deterministic(tmp_path: Path) -> None:
    """Two fresh databases get exactly the same people, capacities, languages and identities."""
    prints = []
    for name in ("one", "two"):
        engine = make_engine(f"sqlite:///{tmp_path / name}.db")
        migrate.upgrade(engine)
        with unit_of_work(engine) as session:
            seed_reference(session)
            seed_demo(session)
        prints.append(fingerprint(engine))
        engine.dispose()
    assert prints[0] == prints[1]
    assert len(prints[0]) >= 60


def test_demo_capacities(demo: Engine) -> None:
    """3 to 8 capacities each; available implies known; wanted ones are not known; a few
    capacities have many offerers, others one or two, and some offer a popular one's child."""
    by_person = relations(demo)
    people = demo_people(demo)
    assert set(by_person) == {p.id for p in people}
    offerers: Counter[int] = Counter()
    for rel in by_person.values():
        known, available, wanted = (rel.get(r, set()) for r in ("known", "available", "wanted"))
        assert available <= known
        assert wanted and not wanted & known
        assert 3 <= len(known | wanted) <= 8
        offerers.update(available)
    assert sum(1 for code in POPULAR_CODES if offerers[code] >= 6) >= 4
    assert any(n in (1, 2) for n in offerers.values())
    with unit_of_work(demo) as session:
        children = set(
            session.exec(
                select(Capacity.code).where(Capacity.parent_code.in_(POPULAR_CODES))
            ).scalars()
        )
    assert sum(offerers[code] for code in children) >= 2


def test_demo_languages(demo: Engine) -> None:
    """Everyone is native in some language; levels are CapX's; codes are known languages."""
    with unit_of_work(demo) as session:
        rows = session.exec(select(PersonLanguage)).scalars().all()
        known_codes = set(session.exec(select(Language.code)).scalars())
    levels: dict[int, dict[str, str]] = {}
    for row in rows:
        levels.setdefault(row.person_id, {})[row.lang] = row.level
        assert row.level in LANGUAGE_LEVELS
        assert row.lang in known_codes
    assert len(levels) == len(demo_people(demo))
    assert all("n" in person.values() for person in levels.values())
    spoken = Counter(lang for person in levels.values() for lang in person)
    assert spoken["en"] >= 40
    assert {"pt-br", "ar", "sw", "hi", "ja", "zh-hans", "fr", "es"} <= set(spoken)


def test_demo_console_identities(demo: Engine) -> None:
    """Each demo person has one console identity named after their given name."""
    with unit_of_work(demo) as session:
        accounts = demo_console_accounts(session)
        ana = session.exec(
            select(Person)
            .join(ChatIdentity, ChatIdentity.person_id == Person.id)
            .where(ChatIdentity.platform == "console", ChatIdentity.account_id == "ana")
        ).scalar_one()
    assert len(accounts) == len(set(accounts)) == len(demo_people(demo))
    assert ana.display_name == "Ana Souza (demo)"
    assert {"joao", "maria", "maria2", "emilie"} <= set(accounts)
    assert all(re.fullmatch(r"[a-z]+[0-9]*", account) for account in accounts)


def test_demo_steps_around_a_taken_console_account(seeded: Engine) -> None:
    """Someone who already uses console account "ana" keeps it; demo Ana becomes "ana2"."""
    with unit_of_work(seeded) as session:
        someone = Person(display_name="Someone")
        session.add(someone)
        session.flush()
        session.add(
            ChatIdentity(platform="console", account_id="ana", person_id=someone.id, handle="ana")
        )
    with unit_of_work(seeded) as session:
        seed_demo(session)
        owner = session.exec(
            select(Person.display_name)
            .join(ChatIdentity, ChatIdentity.person_id == Person.id)
            .where(ChatIdentity.platform == "console", ChatIdentity.account_id == "ana2")
        ).scalar_one()
    assert owner == "Ana Souza (demo)"
