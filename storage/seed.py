"""Reference data: the CapX capacity tree, territories, affiliates and CLDR languages.

``seed_reference`` loads the files in ``storage/data`` (see ``ATTRIBUTION.md`` there) and Babel's
CLDR data. It is idempotent: rows are matched on their natural key (capacity code, territory
code, organization acronym, language code), missing rows are inserted and rows whose values
differ are updated; nothing is ever deleted, so people keep pointing at what they chose. It uses
only portable SQLAlchemy statements (a select of the existing keys, then bulk inserts and bulk
updates), so it runs alike on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import json
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
    """
    capacities, names = load_capacities()
    # Parents before children: SQLite checks the foreign key row by row.
    for depth in sorted({row["depth"] for row in capacities}):
        _sync(session, Capacity, [row for row in capacities if row["depth"] == depth], ("code",))
    _sync(session, CapacityName, names, ("code", "lang"))
    territories = load_territories()
    for kind in ("region", "country"):
        _sync(session, Territory, [row for row in territories if row["kind"] == kind], ("code",))
    _sync(session, Organization, load_organizations(), ("acronym",))
    _sync(session, Language, load_languages(), ("code",))
    tables = (Capacity, CapacityName, Territory, Organization, Language)
    return {
        model.__tablename__: session.exec(select(func.count()).select_from(model)).scalar_one()
        for model in tables
    }


def load_capacities() -> tuple[list[Row], list[Row]]:
    """``capacity`` rows and their English ``capacity_name`` rows."""
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
        }
        for record in records
    ]
    return capacities, names


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


def _sync(session: Session, model: type[SQLModel], rows: list[Row], key: tuple[str, ...]) -> None:
    """Make the table hold ``rows``: insert those whose ``key`` is absent, update those that
    differ in any other given column. Other rows and columns are left alone."""
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
        elif current != tuple(row[c] for c in values):
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
