"""Territories as people read them: country names from CLDR, Wikimedia region names translated."""

from __future__ import annotations

from core.i18n import N_, Translator
from storage.models import Territory

REGION_NAMES = {
    "SSA": N_("Sub-Saharan Africa"),
    "NWE": N_("Northern & Western Europe"),
    "ESEAP": N_("East, Southeast Asia, & Pacific"),
    "LAC": N_("Latin America & Caribbean"),
    "CEECA": N_("Central & Eastern Europe & Central Asia"),
    "SA": N_("South Asia"),
    "MENA": N_("Middle East & North Africa"),
    "NA": N_("North America"),
}
"""The eight Wikimedia regions, by CapX id, with their English names as msgids."""


def territory_name(t: Translator, territory: Territory) -> str:
    """The territory's name in the reader's language."""
    if territory.kind == "region":
        return t(REGION_NAMES.get(territory.code, territory.name_en))
    return t.territory_name(territory.code, territory.name_en)
