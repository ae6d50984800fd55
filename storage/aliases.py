"""Other names people use for capacities, territories, regions and affiliates
(``data/name_aliases.json``): shipped data, read by whoever builds a name index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ALIASES_JSON = Path(__file__).with_name("data") / "name_aliases.json"


def load_aliases() -> dict[str, Any]:
    """``capacities`` (code, as text -> names), ``countries`` (ISO code -> names),
    ``regions`` (region id -> names), ``continents`` (name -> region ids) and ``affiliates``
    (CapX acronym -> names)."""
    data = json.loads(ALIASES_JSON.read_text(encoding="utf-8"))
    data.pop("_about", None)
    return data
