"""Reference data: the CapX capacity tree, territories, affiliates and CLDR languages.

``seed_reference`` loads the files in ``storage/data`` (see ``ATTRIBUTION.md`` there) and Babel's
CLDR data. It is idempotent: rows are matched on their natural key (capacity code, territory
code, organization acronym, language code), missing rows are inserted and rows whose values
differ are updated; nothing is ever deleted, so people keep pointing at what they chose. It uses
only portable SQLAlchemy statements (a select of the existing keys, then bulk inserts and bulk
updates), so it runs alike on SQLite and PostgreSQL.

Capacity names have a ``source``: ``capx`` for CapX's own (the English names of the shipped
directory, and whatever a sync from CapX brings), ``capx-bot`` for the bot's translations in
``capacity_names.csv``. CapX's word wins: a shipped translation never replaces a name from
CapX, while CapX's replaces ours (see :func:`seed_reference`).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import babel
from babel import localedata
from babel.core import get_global
from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlmodel import Session, SQLModel

from storage.models import Capacity, CapacityName, Language, Organization, Territory

DATA = Path(__file__).with_name("data")
CAPACITIES_CSV = DATA / "capx_capacities_flat.csv"
TERRITORIES_JSON = DATA / "capx_territories_derived.json"
ORGANIZATIONS_JSON = DATA / "capx_fixture_orgs.json"
NAMES_CSV = DATA / "capacity_names.csv"

CAPX_SOURCE = "capx"
"""``CapacityName.source`` of a name from CapX's data."""
BOT_SOURCE = "capx-bot"
"""``CapacityName.source`` of a name the bot ships (its translations, its fixes)."""

_URL = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)

ORGANIZATION_KINDS = {
    "C": "chapter",
    "U": "user group",
    "T": "thematic organization",
    "G": "gathering group",
}
"""CapX ``OrganizationType.type_code`` -> our ``Organization.kind``."""

ALPHA3_NOT_IN_CLDR = {"XKX": "XK"}
"""Alpha-3 codes used by CapX's region lists that CLDR's territory aliases lack (Kosovo)."""

Row = dict[str, Any]


def seed_reference(session: Session) -> dict[str, int]:
    """Insert or update all reference data; return the number of rows now in each table.

    Safe to run any number of times: a second run inserts nothing and changes nothing unless the
    shipped data (or Babel's) changed, in which case the changed names are updated in place.

    CapX's names (source ``capx``) are written over whatever is stored; the bot's own names
    (source ``capx-bot``) only where nothing is stored, over an older name of ours, or over a
    stored name that is no name (empty, or a URL: what CapX's data held for capacity 97).
    """
    capacities, names = load_capacities()
    # Parents before children: SQLite checks the foreign key row by row.
    for depth in sorted({row["depth"] for row in capacities}):
        upsert(session, Capacity, [row for row in capacities if row["depth"] == depth], ("code",))
    key = ("code", "lang")
    upsert(session, CapacityName, [row for row in names if row["source"] == CAPX_SOURCE], key)
    ours = [row for row in names if row["source"] == BOT_SOURCE]
    upsert(session, CapacityName, ours, key, keep=_is_capx_name)
    territories = load_territories()
    for kind in ("region", "country"):
        upsert(session, Territory, [row for row in territories if row["kind"] == kind], ("code",))
    upsert(session, Organization, load_organizations(), ("acronym",))
    upsert(session, Language, load_languages(), ("code",))
    tables = (Capacity, CapacityName, Territory, Organization, Language)
    return {
        model.__tablename__: session.exec(select(func.count()).select_from(model)).scalar_one()
        for model in tables
    }


def load_capacities() -> tuple[list[Row], list[Row]]:
    """``capacity`` rows and their ``capacity_name`` rows: CapX's English names, then the
    bot's names (``capacity_names.csv``) for each code and language CapX's data leaves unnamed.

    A CapX name that is no name (capacity 97's is a bare URL) is left out, so that the bot's
    English name for it is the one shipped.
    """
    with CAPACITIES_CSV.open(encoding="utf-8", newline="") as file:
        records = list(csv.DictReader(file))
    capacities = [
        {
            "code": int(record["code"]),
            "parent_code": int(record["parent_code"]) if record["parent_code"] else None,
            "root_code": int(record["root_code"]),
            "depth": int(record["depth"]),
            "wikidata_qid": record["wikidata_qid"] or None,
        }
        for record in records
    ]
    names = [
        {
            "code": int(record["code"]),
            "lang": "en",
            "name": record["name_en"],
            "description": record["description_en"] or None,
            "source": CAPX_SOURCE,
        }
        for record in records
        if is_name(record["name_en"])
    ]
    named = {(row["code"], row["lang"]) for row in names}
    names += [row for row in load_names() if (row["code"], row["lang"]) not in named]
    return capacities, names


def load_names() -> list[Row]:
    """The bot's capacity names and descriptions (``capacity_names.csv``): its translations,
    and English names where CapX's data has none."""
    with NAMES_CSV.open(encoding="utf-8", newline="") as file:
        return [
            {
                "code": int(record["code"]),
                "lang": record["lang"],
                "name": record["name"],
                "description": record["description"] or None,
                "source": record["source"],
            }
            for record in csv.DictReader(file)
        ]


def is_name(text: str | None) -> bool:
    """Whether ``text`` can name a capacity: not empty, not a URL."""
    return bool(text and text.strip()) and not _URL.match(text.strip())


def _is_capx_name(stored: Row) -> bool:
    """Whether a stored capacity name is CapX's (or anyone's but the bot's) and a real name,
    so that a name the bot ships must not replace it."""
    return stored["source"] != BOT_SOURCE and is_name(stored["name"])


def load_territories() -> list[Row]:
    """The Wikimedia regions, then every country CapX knows of, with its region when it has one.

    Country names come from CLDR (Babel) except for the ISO user-assigned codes ``x?``, where
    CLDR has either nothing or a pseudo-locale name ("XA" is "Pseudo-Accents"), so CapX's own
    name is kept; when CapX has several names for one code, the first in file order wins.
    """
    data = json.loads(TERRITORIES_JSON.read_text(encoding="utf-8"))
    aliases: dict[str, list[str]] = get_global("territory_aliases")
    cldr_names = babel.Locale("en").territories
    capx_names: dict[str, str] = {}
    for name, code in data["territory_name_to_iso2"].items():
        capx_names.setdefault(code, name)
    regions = [
        {
            "code": region["id"],
            "kind": "region",
            "name_en": region["full_name"],
            "parent_code": None,
        }
        for region in data["wikimedia_regions"]
    ]
    region_of: dict[str, str] = {}
    for region in data["wikimedia_regions"]:
        for alpha3 in region["countries_iso3"]:
            alpha2 = ALPHA3_NOT_IN_CLDR.get(alpha3) or aliases[alpha3][0]
            region_of[alpha2.lower()] = region["id"]
    countries = []
    for code in sorted(capx_names.keys() | region_of.keys()):
        cldr_name = None if code.startswith("x") else cldr_names.get(code.upper())
        countries.append(
            {
                "code": code,
                "kind": "country",
                "name_en": cldr_name or capx_names[code],
                "parent_code": region_of.get(code),
            }
        )
    return regions + countries


def load_organizations() -> list[Row]:
    """Affiliates from CapX's Django fixture that have an acronym (the first of each acronym).

    The fixture writes an apostrophe as ``"`` ("WikiWomen"s User Group"); it is put back.
    """
    fixture = json.loads(ORGANIZATIONS_JSON.read_text(encoding="utf-8"))
    type_codes = [
        item["fields"]["type_code"] for item in fixture if item["model"] == "orgs.OrganizationType"
    ]
    organizations: dict[str, Row] = {}
    for item in fixture:
        if item["model"] != "orgs.Organization":
            continue
        fields = item["fields"]
        acronym = (fields.get("acronym") or "").strip()
        if not acronym or acronym in organizations:
            continue
        organizations[acronym] = {
            "acronym": acronym,
            "name": fields["display_name"].strip().replace('"', "'"),
            "kind": ORGANIZATION_KINDS[type_codes[fields["type"] - 1]],
        }
    return list(organizations.values())


def load_languages() -> list[Row]:
    """Every language CLDR names in English, with a MediaWiki-style code and, when CLDR has
    data for it, the language's name for itself."""
    with_data = {identifier.split("_")[0] for identifier in localedata.locale_identifiers()}
    return [
        {
            "code": key.lower().replace("_", "-"),
            "name_en": name_en,
            "autonym": _autonym(key) if key.split("_")[0] in with_data else None,
        }
        for key, name_en in babel.Locale("en").languages.items()
    ]


def _autonym(key: str) -> str | None:
    """The name of language ``key`` (a CLDR key such as ``pt_BR``) in that language, if known.

    Babel answers some keys with another language's data (``und``, unknown language, with
    English); those have no autonym. Call it only for languages that have locale data: Babel's
    search for a missing locale is slow.
    """
    try:
        locale = babel.Locale.parse(key)
    except (babel.UnknownLocaleError, ValueError):
        return None
    if locale.language != key.split("_")[0]:
        return None
    return locale.languages.get(key) or locale.get_display_name(locale)


def upsert(
    session: Session,
    model: type[SQLModel],
    rows: list[Row],
    key: tuple[str, ...],
    keep: Callable[[Row], bool] | None = None,
) -> None:
    """Make the table hold ``rows``: insert those whose ``key`` is absent, update those that
    differ in any other given column, unless ``keep`` says the stored row (its given columns)
    stays as it is. Other rows and columns are left alone."""
    if not rows:
        return
    table = model.__table__
    values = [column for column in rows[0] if column not in key]
    existing = {
        tuple(record[: len(key)]): tuple(record[len(key) :])
        for record in session.exec(select(*(table.c[c] for c in (*key, *values))))
    }
    missing, changed = [], []
    for row in rows:
        current = existing.get(tuple(row[c] for c in key))
        if current is None:
            missing.append(row)
        elif current != tuple(row[c] for c in values) and not (
            keep and keep(dict(zip(values, current, strict=True)))
        ):
            changed.append(row)
    if missing:
        session.exec(insert(table), params=missing)
    if changed:
        statement = (
            update(table)
            .where(and_(*(table.c[c] == bindparam(f"key_{c}") for c in key)))
            .values({c: bindparam(f"new_{c}") for c in values})
        )
        session.exec(
            statement,
            params=[
                {**{f"key_{c}": row[c] for c in key}, **{f"new_{c}": row[c] for c in values}}
                for row in changed
            ],
        )
