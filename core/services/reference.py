"""The reference data every command reads: the capacity tree, the territories and the
affiliates, each with the index that resolves what people type. Loaded once per core (it
changes only with a seed or a sync) and shared."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from babel import Locale
from sqlmodel import Session, select

from core.i18n import Translator, shipped_locales
from core.services.names import NameIndex
from core.services.places import REGION_NAMES
from core.services.taxonomy import Taxonomy
from storage.aliases import load_aliases
from storage.models import Organization, Territory


@dataclass(frozen=True)
class Reference:
    taxonomy: Taxonomy
    territories: dict[str, Territory]
    """By code (a region id, a lower-case ISO country code)."""
    territory_names: NameIndex[str]
    organizations: dict[int, Organization]
    organization_names: NameIndex[int]

    @classmethod
    def load(cls, session: Session) -> Reference:
        aliases = load_aliases()
        territories = {t.code: t for t in session.exec(select(Territory))}
        organizations = {o.id: o for o in session.exec(select(Organization)) if o.id}
        for row in (*territories.values(), *organizations.values()):
            session.expunge(row)
        territory_names = NameIndex(_territory_names(territories, aliases))
        return cls(
            taxonomy=Taxonomy.load(session, aliases["capacities"]),
            territories=territories,
            territory_names=territory_names,
            organizations=organizations,
            organization_names=NameIndex(
                _organization_names(organizations, aliases, territory_names)
            ),
        )


def _territory_names(territories: dict[str, Territory], aliases: dict) -> Iterator[tuple[str, str]]:
    """Codes, CapX's English names, CLDR's names in every shipped locale, Wikimedia region
    names (translated) and the shipped aliases; a continent names the regions in it."""
    translators = [Translator(locale) for locale in shipped_locales()]
    for code, territory in territories.items():
        yield code, code
        yield territory.name_en, code
        if territory.kind == "region":
            for t in translators:
                yield t(REGION_NAMES.get(code, territory.name_en)), code
        else:
            for locale in shipped_locales():
                name = Locale.parse(locale).territories.get(code.upper())
                if name:
                    yield name, code
    for group in ("countries", "regions"):
        for code, names in aliases[group].items():
            if code in territories:
                yield from ((name, code) for name in names)
    for name, codes in aliases["continents"].items():
        yield from ((name, code) for code in codes if code in territories)


def _organization_names(
    organizations: dict[int, Organization], aliases: dict, places: NameIndex[str]
) -> Iterator[tuple[str, int]]:
    """Acronyms and names, ``WM`` + a chapter's acronym (``WMDE``), "Wikimedia" + its
    country's name in every shipped locale (Wikimedia Alemanha), and the names affiliates use
    themselves."""
    by_acronym = {o.acronym.upper(): id_ for id_, o in organizations.items()}
    for id_, organization in organizations.items():
        yield organization.acronym, id_
        yield organization.name, id_
        if organization.kind == "chapter":
            yield f"WM{organization.acronym}", id_
            yield f"Wikimedia {organization.acronym}", id_
            country = places.exact(organization.acronym)
            for locale in shipped_locales() if len(country) == 1 else ():
                name = Locale.parse(locale).territories.get(country[0].upper())
                if name:
                    yield f"Wikimedia {name}", id_
    for acronym, names in aliases["affiliates"].items():
        if acronym.upper() in by_acronym:
            yield from ((name, by_acronym[acronym.upper()]) for name in names)
