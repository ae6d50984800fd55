"""The mirror of CapX's public directory: records read from CapX's API (see
:mod:`bots.capx`), checked, and written here, read-only copies of what CapX holds.

Every record is checked before it is used: one of the wrong shape (no id, a name that is
not text) is skipped and counted, never half-written; an optional field of the wrong type
counts as absent. Unknown fields are ignored. E-mail addresses are never kept: CapX's
``user.email`` is never read, a contact link that is or holds an address is dropped, and an
address written in a name or an about text is cut out of it.

CapX ids meet ours so: a capacity's code *is* its CapX skill id; a territory is ours by its
ISO code (else its name), and a language by its English name, both through a map kept in
``sync_state`` (:data:`TERRITORY_MAP`, :data:`LANGUAGE_MAP`) so that a sync of profiles alone
can read them; an organization carries its CapX id (``capx_id``), found first by acronym.
A mirrored person is a :class:`Person` of source ``capx`` with its ``capx_id``: never the
same row as a chat-made profile, and no chat account of its own.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, update
from sqlmodel import Session, select

from core.services import events, imports
from core.services.taxonomy import Taxonomy
from storage.chats import read_cursor, write_cursor
from storage.models import (
    LANGUAGE_LEVELS,
    Capacity,
    CapacityName,
    ContactRequest,
    Event,
    EventMode,
    Language,
    Organization,
    Person,
    PersonCapacity,
    PersonLanguage,
    Relation,
    Territory,
)
from storage.seed import CAPX_SOURCE, TERRITORIES_JSON, is_name, upsert

log = logging.getLogger(__name__)

SOURCE = "capx"
"""``Person.source`` and ``Event.source`` of what comes from CapX."""
TERRITORY_MAP = "capx:territory-map"
LANGUAGE_MAP = "capx:language-map"
MAX_ABOUT = 500
MAX_LINKS = 10
ORGANIZATION_TYPES = {
    1: "chapter",
    2: "user group",
    3: "thematic organization",
    4: "gathering group",
}
"""CapX's organization ``type`` ids (its fixture's order) -> our ``Organization.kind``."""
MODES = {"virtual": EventMode.ONLINE, "in_person": EventMode.IN_PERSON, "hybrid": EventMode.HYBRID}

_ADDRESS = re.compile(r"[^\s@<>()\[\]:;,\"']+@[^\s@<>()\[\]:;,\"']+\.[^\s@<>()\[\]:;,\"']+")
_WEB = re.compile(r"https?://[^\s]+", re.IGNORECASE)


class Unreadable(ValueError):
    """A record that is not of the shape CapX sends."""


@dataclass
class Applied:
    """What writing one kind of record did; ``skipped`` counts unreadable records."""

    written: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    taken: int = 0
    """Profiles left out because their username is a chat profile's here."""
    unmapped: Counter[str] = field(default_factory=Counter)
    """References that name nothing here (``territory``, ``capacity``...), by kind."""

    def add(self, other: Applied) -> None:
        self.written += other.written
        self.unchanged += other.unchanged
        self.removed += other.removed
        self.skipped += other.skipped
        self.taken += other.taken
        self.unmapped.update(other.unmapped)

    def __str__(self) -> str:
        parts = [f"{self.written} written", f"{self.unchanged} unchanged"]
        if self.removed:
            parts.append(f"{self.removed} removed")
        if self.skipped:
            parts.append(f"{self.skipped} unreadable (skipped)")
        if self.taken:
            parts.append(f"{self.taken} skipped (their username is someone else's here)")
        parts += [f"{n} unknown {kind} ids" for kind, n in sorted(self.unmapped.items()) if n]
        return ", ".join(parts)


# Reading fields ---------------------------------------------------------------------------


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Unreadable("not a whole number")
    return value


def _optional(record: Mapping[str, Any], key: str, read: Callable[[Any], Any], default: Any) -> Any:
    """``read(record[key])``; ``default`` when it is absent, null or of the wrong type."""
    value = record.get(key)
    if value is None:
        return default
    try:
        return read(value)
    except (Unreadable, TypeError, ValueError):
        return default


def _wholes(value: Any) -> list[int]:
    if not isinstance(value, list):
        raise Unreadable("not a list")
    return [each for each in value if isinstance(each, int) and not isinstance(each, bool)]


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise Unreadable("not text")
    return value.strip()


def _time(value: Any) -> datetime:
    moment = datetime.fromisoformat(_text(value).replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def without_addresses(text: str) -> str:
    """``text`` with every e-mail address cut out of it."""
    return " ".join(_ADDRESS.sub(" ", text).split()) if "@" in text else text


def _clipped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _links(value: Any) -> list[tuple[str, str]]:
    """CapX's contact (or social) JSON as (label, address) pairs: web addresses only, none
    that is or holds an e-mail address. CapX stores a list of ``{display_name, value}``;
    a mapping of label to value is read too; anything else holds no link."""
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = [
            (each.get("display_name"), each.get("value"))
            for each in value
            if isinstance(each, Mapping)
        ]
    else:
        return []
    links = []
    for label, address in pairs:
        if not isinstance(address, str) or not isinstance(label, str | None):
            continue
        address = address.strip()
        if not _WEB.fullmatch(address) or _ADDRESS.search(address):
            continue
        shown = _clipped(without_addresses((label or "").strip()), 64) or address
        links.append((shown, address[:1000]))
    return links[:MAX_LINKS]


def _level(value: Any) -> str:
    level = str(value).strip().lower() if isinstance(value, int | str) else ""
    if isinstance(value, bool) or level not in LANGUAGE_LEVELS:
        raise Unreadable("not a level")
    return level


# Profiles ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """The public part of a CapX profile that the mirror keeps."""

    capx_id: int
    username: str
    display_name: str
    about: str | None
    updated_at: datetime
    territories: list[int]
    affiliations: list[int]
    languages: list[tuple[int, str]]
    known: list[int]
    available: list[int]
    wanted: list[int]
    links: list[tuple[str, str]]


def read_profile(record: Any) -> Profile:
    """A profile of ``/users/``; :class:`Unreadable` when it has no id, username or time."""
    if not isinstance(record, Mapping) or not isinstance(record.get("user"), Mapping):
        raise Unreadable("not a profile")
    try:
        username = " ".join(without_addresses(_text(record["user"]["username"])).split())[:255]
        updated_at = _time(record["last_update"])
        capx_id = _whole(record["id"])
    except (KeyError, ValueError, TypeError) as error:
        raise Unreadable(str(error)) from None
    if not username:
        raise Unreadable("no username")
    display = " ".join(without_addresses(_optional(record, "display_name", _text, "")).split())
    about = without_addresses(_optional(record, "about", _text, ""))
    languages = []
    for each in _optional(record, "language", lambda v: v if isinstance(v, list) else [], []):
        if isinstance(each, Mapping):
            language = _optional(each, "id", _whole, None)
            level = _optional(each, "proficiency", _level, None)
            if language is not None and level is not None:
                languages.append((language, level))
    return Profile(
        capx_id=capx_id,
        username=username,
        display_name=_clipped(display or username, 255),
        about=_clipped(about, MAX_ABOUT) or None,
        updated_at=updated_at,
        territories=_optional(record, "territory", _wholes, []),
        affiliations=_optional(record, "affiliation", _wholes, []),
        languages=languages,
        known=_optional(record, "skills_known", _wholes, []),
        available=_optional(record, "skills_available", _wholes, []),
        wanted=_optional(record, "skills_wanted", _wholes, []),
        links=(_links(record.get("contact")) + _links(record.get("social")))[:MAX_LINKS],
    )


@dataclass(frozen=True)
class Maps:
    """CapX's ids of territories, languages and organizations -> ours, and the capacity
    codes there are, for one sync."""

    territories: dict[int, str]
    languages: dict[int, str]
    organizations: dict[int, int]
    capacities: frozenset[int]
    regions: frozenset[str]

    @classmethod
    def load(cls, session: Session) -> Maps:
        def kept(key: str) -> dict[int, str]:
            text = read_cursor(session, key)
            return {int(k): v for k, v in json.loads(text).items()} if text else {}

        organizations = session.exec(
            select(Organization.capx_id, Organization.id).where(Organization.capx_id.is_not(None))
        )
        regions = session.exec(select(Territory.code).where(Territory.kind == "region"))
        return cls(
            territories=kept(TERRITORY_MAP),
            languages=kept(LANGUAGE_MAP),
            organizations=dict(organizations.all()),
            capacities=frozenset(session.exec(select(Capacity.code)).all()),
            regions=frozenset(regions.all()),
        )


def apply_profiles(
    session: Session,
    records: Iterable[Any],
    maps: Maps,
    now: datetime,
    seen_at: datetime | None = None,
) -> tuple[Applied, datetime | None]:
    """Write a page of ``/users/`` records: new profiles added, changed ones (by their
    ``last_update``) rewritten, unchanged ones left; each marked seen by the reconcile that
    began at ``seen_at``, when one is running. Also the newest ``last_update`` read."""
    applied = Applied()
    profiles: dict[int, Profile] = {}
    for record in records:
        try:
            profile = read_profile(record)
        except Unreadable:
            applied.skipped += 1
        else:
            profiles[profile.capx_id] = profile
    if not profiles:
        return applied, None
    newest = max(profile.updated_at for profile in profiles.values())
    existing = {
        person.capx_id: person
        for person in session.exec(select(Person).where(Person.capx_id.in_(profiles)))
    }
    usernames = {profile.username for profile in profiles.values()}
    holders = dict(
        session.exec(
            select(Person.username, Person.capx_id).where(Person.username.in_(usernames))
        ).all()
    )
    written: dict[int, Profile] = {}
    for capx_id, profile in profiles.items():
        person = existing.get(capx_id)
        if seen_at is not None and person is not None:
            person.capx_seen_at = seen_at
        if person is not None and person.capx_updated_at == profile.updated_at:
            applied.unchanged += 1
            continue
        if profile.username in holders and holders[profile.username] != capx_id:
            if holders[profile.username] is None:
                log.warning("CapX profile %d: its username is a chat profile's here", capx_id)
                applied.taken += 1
                continue
            # A username is one account's at CapX: the profile here that had it (an account
            # deleted and made again) holds it no more, until its next change or removal.
            _release(session, profile.username)
        person = person or Person(capx_id=capx_id, source=SOURCE, created_at=now)
        _fill(person, profile, maps, applied)
        person.capx_seen_at = seen_at or person.capx_seen_at or now
        person.last_active_at = profile.updated_at
        session.add(person)
        written[capx_id] = profile
    session.flush()
    if written:
        _rewrite_relations(session, written, existing | _ids_of(session, written), maps, applied)
    applied.written = len(written)
    return applied, newest


def _release(session: Session, username: str) -> None:
    query = update(Person).where(Person.source == SOURCE, Person.username == username)
    session.execute(query.values(username=None))


def _ids_of(session: Session, profiles: Mapping[int, Profile]) -> dict[int, Person]:
    query = select(Person).where(Person.capx_id.in_(profiles))
    return {person.capx_id: person for person in session.exec(query)}


def _fill(person: Person, profile: Profile, maps: Maps, applied: Applied) -> None:
    territories = [maps.territories[t] for t in profile.territories if t in maps.territories]
    applied.unmapped["territory"] += len(profile.territories) - len(territories)
    countries = [code for code in territories if code not in maps.regions]
    organizations = [maps.organizations[o] for o in profile.affiliations if o in maps.organizations]
    applied.unmapped["organization"] += len(profile.affiliations) - len(organizations)
    person.username = profile.username
    person.display_name = profile.display_name
    person.about = profile.about
    person.territory_code = (countries or territories or [None])[0]
    person.organization_id = (organizations or [None])[0]
    person.discoverable = True
    person.capx_updated_at = profile.updated_at
    person.contact_links = json.dumps(profile.links, ensure_ascii=False) if profile.links else None


def _rewrite_relations(
    session: Session,
    profiles: Mapping[int, Profile],
    people: Mapping[int, Person],
    maps: Maps,
    applied: Applied,
) -> None:
    """Replace the capacities and languages of the people of ``profiles`` with theirs."""
    ids = [people[capx_id].id for capx_id in profiles]
    session.execute(delete(PersonCapacity).where(PersonCapacity.person_id.in_(ids)))
    session.execute(delete(PersonLanguage).where(PersonLanguage.person_id.in_(ids)))
    capacities, languages = [], []
    for capx_id, profile in profiles.items():
        person_id = people[capx_id].id
        held = {
            Relation.KNOWN: {*profile.known, *profile.available},
            Relation.AVAILABLE: set(profile.available),
            Relation.WANTED: set(profile.wanted),
        }
        for relation, codes in held.items():
            known = codes & maps.capacities
            applied.unmapped["capacity"] += len(codes - known)
            capacities += [
                {"person_id": person_id, "capacity_code": code, "relation": relation}
                for code in sorted(known)
            ]
        spoken: dict[str, str] = {}
        for language, level in profile.languages:
            code = maps.languages.get(language)
            if code is None:
                applied.unmapped["language"] += 1
            elif code not in spoken or _stronger(level, spoken[code]):
                spoken[code] = level
        languages += [
            {"person_id": person_id, "lang": code, "level": level} for code, level in spoken.items()
        ]
    if capacities:
        session.execute(insert(PersonCapacity), capacities)
    if languages:
        session.execute(insert(PersonLanguage), languages)


def _stronger(level: str, than: str) -> bool:
    return LANGUAGE_LEVELS.index(level) > LANGUAGE_LEVELS.index(than)


def unseen_since(session: Session, started: datetime, limit: int) -> list[int]:
    """CapX ids of mirrored profiles the reconcile that began at ``started`` did not see."""
    query = select(Person.capx_id).where(
        Person.source == SOURCE,
        Person.capx_id.is_not(None),
        or_(Person.capx_seen_at.is_(None), Person.capx_seen_at < started),
    )
    return list(session.exec(query.order_by(Person.capx_id).limit(limit)))


def remove_profiles(session: Session, capx_ids: list[int]) -> int:
    """Delete the mirrored profiles of ``capx_ids`` (gone from CapX) and all about them;
    a chat-made person is never touched. How many were deleted."""
    if not capx_ids:
        return 0
    people = select(Person.id).where(Person.source == SOURCE, Person.capx_id.in_(capx_ids))
    ids = list(session.exec(people))
    if not ids:
        return 0
    session.execute(update(Event).where(Event.organizer_id.in_(ids)).values(organizer_id=None))
    session.execute(
        delete(ContactRequest).where(
            or_(ContactRequest.asker_id.in_(ids), ContactRequest.person_id.in_(ids))
        )
    )
    for table in (PersonCapacity, PersonLanguage):
        session.execute(delete(table).where(table.person_id.in_(ids)))
    session.execute(delete(Person).where(Person.id.in_(ids)))
    return len(ids)


def links_of(person: Person) -> list[tuple[str, str]]:
    """A mirrored person's contact links, as kept."""
    if not person.contact_links:
        return []
    return [(label, address) for label, address in json.loads(person.contact_links)]


# Reference data ---------------------------------------------------------------------------


def apply_capacities(session: Session, records: Iterable[Any]) -> Applied:
    """Write ``/skill/`` records as the capacity tree: codes, parents and Wikidata ids (a
    node whose parent is not in the list becomes a root). Nothing is deleted: people point
    at capacities."""
    applied = Applied()
    found: dict[int, tuple[int | None, str | None]] = {}
    for record in records:
        try:
            code = _whole(record["id"])
            parent = _optional(record, "skill_type", _whole, None)
            qid = _optional(record, "skill_wikidata_item", _text, "") or None
        except (KeyError, TypeError, Unreadable):
            applied.skipped += 1
            continue
        found[code] = (parent, qid if qid and re.fullmatch(r"Q\d{1,12}", qid) else None)
    rows = []
    for code, (_parent, qid) in found.items():
        chain = [code]
        while (up := found[chain[-1]][0]) in found and up not in chain:
            chain.append(up)
        if (up := found[chain[-1]][0]) is not None and up not in found:
            applied.unmapped["parent capacity"] += 1
        rows.append(
            {
                "code": code,
                "parent_code": chain[1] if len(chain) > 1 else None,
                "root_code": chain[-1],
                "depth": len(chain) - 1,
                "wikidata_qid": qid,
            }
        )
    stored = {row.code: row for row in session.exec(select(Capacity))}
    changed = [row for row in rows if _differs(stored.get(row["code"]), row)]
    for depth in sorted({row["depth"] for row in changed}):
        upsert(session, Capacity, [row for row in changed if row["depth"] == depth], ("code",))
    applied.written, applied.unchanged = len(changed), len(rows) - len(changed)
    return applied


def _differs(stored: Any, row: Mapping[str, Any]) -> bool:
    return stored is None or any(getattr(stored, key) != value for key, value in row.items())


def apply_capacity_names(
    session: Session, labels: Iterable[tuple[str, str, str, str | None]]
) -> Applied:
    """Write CapX's names (``(wikidata id, language, name, description)`` from its
    translation source) over whatever is stored for those capacities and languages."""
    codes_of: dict[str, list[int]] = {}
    for code, qid in session.exec(select(Capacity.code, Capacity.wikidata_qid)):
        if qid:
            codes_of.setdefault(qid, []).append(code)
    applied = Applied()
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    for qid, lang, name, description in labels:
        if not is_name(name) or qid not in codes_of:
            applied.skipped += 1
            continue
        for code in codes_of[qid]:
            rows[code, lang.lower()] = {
                "code": code,
                "lang": lang.lower()[:16],
                "name": name.strip()[:255],
                "description": (description or "").strip()[:2000] or None,
                "source": CAPX_SOURCE,
            }
    stored = {(n.code, n.lang): n for n in session.exec(select(CapacityName))}
    changed = [row for key, row in rows.items() if _differs(stored.get(key), row)]
    upsert(session, CapacityName, changed, ("code", "lang"))
    applied.written, applied.unchanged = len(changed), len(rows) - len(changed)
    return applied


def apply_territories(session: Session, records: Iterable[Any]) -> Applied:
    """Map ``/territory/`` records to our territories: by their ISO code, else by their
    name (a Wikimedia region's, or a country's in CapX's own list); keep the map."""
    ours = {row.code: row for row in session.exec(select(Territory))}
    by_name = {row.name_en.casefold(): code for code, row in ours.items()}
    shipped = json.loads(TERRITORIES_JSON.read_text(encoding="utf-8"))["territory_name_to_iso2"]
    by_name.update({name.casefold(): code for name, code in shipped.items() if code in ours})
    mapping: dict[str, str] = {}
    applied = Applied()
    for record in records:
        try:
            capx_id = _whole(record["id"])
            name = _optional(record, "territory_name", _text, "")
        except (KeyError, TypeError, Unreadable):
            applied.skipped += 1
            continue
        code = _optional(record, "territory_acronym", _text, "").lower()
        code = code if code in ours else by_name.get(name.casefold())
        if code is None:
            applied.unmapped["territory"] += 1
        else:
            mapping[str(capx_id)] = code
    return _keep_map(session, TERRITORY_MAP, mapping, applied)


def apply_languages(session: Session, names: Any) -> Applied:
    """Map ``/list/language/`` (CapX id -> English name) to our language codes, by CLDR's
    English names; keep the map."""
    applied = Applied()
    if not isinstance(names, Mapping):
        applied.skipped += 1
        return applied
    by_name: dict[str, str] = {}
    for code, name in session.exec(select(Language.code, Language.name_en)):
        by_name.setdefault(name.casefold(), code)
    mapping: dict[str, str] = {}
    for key, name in names.items():
        if not (isinstance(key, str) and key.isdigit() and isinstance(name, str)):
            applied.skipped += 1
        elif (code := by_name.get(name.strip().casefold())) is None:
            applied.unmapped["language"] += 1
        else:
            mapping[key] = code
    return _keep_map(session, LANGUAGE_MAP, mapping, applied)


def _keep_map(session: Session, key: str, mapping: dict[str, str], applied: Applied) -> Applied:
    text = json.dumps(mapping, sort_keys=True)
    if read_cursor(session, key) == text:
        applied.unchanged = len(mapping)
    else:
        write_cursor(session, key, text, datetime.now(UTC))
        applied.written = len(mapping)
    return applied


def apply_organizations(session: Session, records: Iterable[Any]) -> Applied:
    """Write ``/organizations/`` records: each found by its CapX id, else by its acronym,
    else added; one without an acronym is left out (ours are named by theirs)."""
    stored = list(session.exec(select(Organization)))
    by_id = {o.capx_id: o for o in stored if o.capx_id is not None}
    by_acronym = {o.acronym.casefold(): o for o in stored}
    applied = Applied()
    for record in records:
        try:
            capx_id = _whole(record["id"])
            name = _text(record["display_name"])
        except (KeyError, TypeError, Unreadable):
            applied.skipped += 1
            continue
        acronym = _optional(record, "acronym", _text, "")[:32]
        organization = by_id.get(capx_id) or by_acronym.get(acronym.casefold())
        if organization is None and not acronym:
            applied.unmapped["acronym"] += 1
            continue
        fields = {
            "capx_id": capx_id,
            "acronym": acronym or organization.acronym,
            "name": _clipped(name or acronym, 255),
            "kind": ORGANIZATION_TYPES.get(_optional(record, "type", _whole, 0), "organization"),
        }
        if organization is not None and not any(
            getattr(organization, key) != value for key, value in fields.items()
        ):
            applied.unchanged += 1
            continue
        clash = by_acronym.get(fields["acronym"].casefold())
        if clash is not None and clash is not organization:
            applied.skipped += 1
            continue
        organization = organization or Organization(**fields)
        for key, value in fields.items():
            setattr(organization, key, value)
        session.add(organization)
        by_id[capx_id] = by_acronym[fields["acronym"].casefold()] = organization
        applied.written += 1
    session.flush()
    return applied


def apply_affiliation_names(session: Session, names: Any) -> Applied:
    """Give the CapX ids of ``/list/affiliation/`` (CapX id -> English name, every
    organization) to ours of the same name that have none yet."""
    applied = Applied()
    if not isinstance(names, Mapping):
        applied.skipped += 1
        return applied
    stored = list(session.exec(select(Organization)))
    mapped = {o.capx_id for o in stored if o.capx_id is not None}
    unmapped = {o.name.casefold(): o for o in stored if o.capx_id is None}
    for key, name in names.items():
        if not (isinstance(key, str) and key.isdigit() and isinstance(name, str)):
            applied.skipped += 1
        elif int(key) in mapped:
            applied.unchanged += 1
        elif (organization := unmapped.pop(name.strip().casefold(), None)) is not None:
            organization.capx_id = int(key)
            session.add(organization)
            applied.written += 1
        else:
            applied.unmapped["organization"] += 1
    session.flush()
    return applied


# Events -----------------------------------------------------------------------------------


def read_event(record: Any, maps: Maps, organizers: Mapping[int, int]) -> imports.Occurrence:
    """An event of ``/events/`` as an occurrence; :class:`Unreadable` when it has no id,
    name or times."""
    if not isinstance(record, Mapping):
        raise Unreadable("not an event")
    try:
        capx_id = _whole(record["id"])
        title = _text(record["name"])
        starts = _time(record["time_begin"])
    except (KeyError, TypeError, ValueError) as error:
        raise Unreadable(str(error)) from None
    if not title:
        raise Unreadable("no name")
    ends = _optional(record, "time_end", _time, None)
    if ends is None or ends <= starts:
        ends = starts + events.DEFAULT_LENGTH
    link = _optional(record, "url", _text, "")
    description = without_addresses(_optional(record, "description", _text, ""))
    return imports.Occurrence(
        source_id=str(capx_id),
        title=title[:255],
        starts_at=starts,
        ends_at=min(ends, starts + events.MAX_LENGTH),
        timezone="UTC",
        link=link[:1000] if _WEB.fullmatch(link) else None,
        mode=MODES.get(_optional(record, "type_of_location", _text, ""), EventMode.ONLINE),
        description=description[:2000] or None,
        capacities=tuple(
            c for c in _optional(record, "related_skills", _wholes, []) if c in maps.capacities
        ),
        organizer_id=organizers.get(_optional(record, "creator", _whole, -1)),
    )


def apply_events(
    session: Session, taxonomy: Taxonomy, records: Iterable[Any], now: datetime
) -> imports.Synced:
    """Make CapX's events here match ``records`` (the whole ``/events/`` list): those still
    to come added or changed, those gone cancelled, their reminders re-planned."""
    maps = Maps.load(session)
    organizers = dict(
        session.exec(
            select(Person.capx_id, Person.id).where(
                Person.source == SOURCE, Person.capx_id.is_not(None)
            )
        ).all()
    )
    occurrences, skipped = [], 0
    for record in records:
        try:
            occurrence = read_event(record, maps, organizers)
        except Unreadable:
            skipped += 1
        else:
            if occurrence.ends_at > now:
                occurrences.append(occurrence)
    return imports.sync(session, taxonomy, SOURCE, "", occurrences, now, skipped)


# Freshness --------------------------------------------------------------------------------


def synced_key(phase: str) -> str:
    """The ``sync_state`` key of the time ``phase`` last completed."""
    return f"capx:{phase}:synced"


def mark_synced(session: Session, phase: str, now: datetime) -> None:
    write_cursor(session, synced_key(phase), now.isoformat(), now)


def last_synced(session: Session, phase: str) -> datetime | None:
    text = read_cursor(session, synced_key(phase))
    return datetime.fromisoformat(text) if text else None


def mirrored_profiles(session: Session) -> int:
    query = select(func.count()).where(Person.source == SOURCE, Person.capx_id.is_not(None))
    return session.exec(query).one()
