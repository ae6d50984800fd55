"""Reading and editing a person's profile: capacities, languages, and finding people by name.

Invariants kept here and only here: a capacity someone offers (``available``) is one they
know; a person's languages are at most one level each.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, delete, func, or_
from sqlmodel import Session, select

from storage.db import read
from storage.models import ChatIdentity, Person, PersonCapacity, PersonLanguage, Relation

MAX_NAME = 255
STRENGTH = {level: rank for rank, level in enumerate(("n", "5", "4", "3", "2", "1", "0"))}
"""Language levels, strongest first."""
_HELD = (
    select(PersonCapacity.capacity_code, PersonCapacity.relation)
    .where(PersonCapacity.person_id == bindparam("person"))
    .order_by(PersonCapacity.capacity_code)
)
_SPOKEN = select(PersonLanguage.lang, PersonLanguage.level).where(
    PersonLanguage.person_id == bindparam("person")
)


def lookup(session: Session, platform: str, name: str, viewer_id: int | None) -> list[Person]:
    """The people ``name`` may mean, best first: the one whose Wikimedia username, or whose
    handle or account on ``platform``, it is (the handle first when ``name`` is written as
    one, ``@name``: a Wikimedia username never hides someone's handle); else the visible
    people (and the viewer) whose chat name it is, or begins. One person is an answer;
    several, a question."""
    as_handle = name.strip().startswith("@")
    name = name.strip().removeprefix("@")
    if not name:
        return []
    folded = name.casefold()
    by_username = session.exec(select(Person).where(func.lower(Person.username) == folded)).first()
    if by_username is not None and not as_handle:
        return [by_username]
    by_handle = session.exec(
        select(Person)
        .join(ChatIdentity)
        .where(
            ChatIdentity.platform == platform,
            or_(
                func.lower(ChatIdentity.handle) == folded,
                func.lower(ChatIdentity.handle) == "@" + folded,
                func.lower(ChatIdentity.account_id) == folded,
            ),
        )
        .order_by(Person.id)
    ).first()
    if by_handle is not None:
        return [by_handle]
    if by_username is not None:
        return [by_username]
    seen = or_(Person.discoverable.is_(True), Person.id == viewer_id)
    named = func.lower(Person.display_name)
    exact = session.exec(select(Person).where(seen, named == folded).order_by(Person.id).limit(5))
    found = list(exact)
    if not found:
        starting = select(Person).where(seen, named.like(_prefix(folded), escape="\\"))
        found = list(session.exec(starting.order_by(Person.id).limit(5)))
    return found


def named_like(session: Session, text: str, viewer_id: int | None, limit: int) -> list[Person]:
    """The visible people (and the viewer) whose chat name or username begins with ``text``
    (any letter case), by name: what someone typing a name may be after."""
    folded = text.strip().removeprefix("@").casefold()[:MAX_NAME]
    pattern = _prefix(folded)
    query = (
        select(Person)
        .where(
            or_(Person.discoverable.is_(True), Person.id == viewer_id),
            or_(
                func.lower(Person.display_name).like(pattern, escape="\\"),
                func.lower(Person.username).like(pattern, escape="\\"),
            ),
        )
        .order_by(func.lower(Person.display_name), Person.id)
        .limit(limit)
    )
    return list(session.exec(query))


def _prefix(folded: str) -> str:
    """A LIKE pattern for text beginning with ``folded``, its wildcards escaped."""
    return folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def capacities_of(session: Session, person_id: int) -> dict[Relation, list[int]]:
    """The person's capacity codes by relation, in code order."""
    result: dict[Relation, list[int]] = {relation: [] for relation in Relation}
    for code, relation in read(session, _HELD, {"person": person_id}):
        result[Relation(relation)].append(code)
    return result


def languages_of(session: Session, person_id: int) -> list[tuple[str, str]]:
    """(code, level) pairs, strongest first."""
    return strongest_first(read(session, _SPOKEN, {"person": person_id}))


def strongest_first(spoken: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(code, level) pairs, the strongest level first, then by code."""
    return sorted(((lang, level) for lang, level in spoken), key=lambda p: (STRENGTH[p[1]], p[0]))


def _held(session: Session, person_id: int, codes: list[int], relation: Relation) -> set[int]:
    return set(
        session.exec(
            select(PersonCapacity.capacity_code).where(
                PersonCapacity.person_id == person_id,
                PersonCapacity.relation == relation,
                PersonCapacity.capacity_code.in_(codes),
            )
        )
    )


def _add(session: Session, person_id: int, codes: list[int], relation: Relation) -> None:
    held = _held(session, person_id, codes, relation)
    for code in codes:
        if code not in held:
            session.add(PersonCapacity(person_id=person_id, capacity_code=code, relation=relation))


def _remove(session: Session, person_id: int, codes: list[int], relations: list[Relation]) -> int:
    result = session.execute(
        delete(PersonCapacity).where(
            PersonCapacity.person_id == person_id,
            PersonCapacity.capacity_code.in_(codes),
            PersonCapacity.relation.in_(relations),
        )
    )
    return result.rowcount or 0


def offer(session: Session, person_id: int, codes: list[int]) -> None:
    """The person offers to teach ``codes`` (and so knows them)."""
    _add(session, person_id, codes, Relation.KNOWN)
    _add(session, person_id, codes, Relation.AVAILABLE)


def know(session: Session, person_id: int, codes: list[int]) -> None:
    """The person knows ``codes`` and does not offer to teach them."""
    _add(session, person_id, codes, Relation.KNOWN)
    _remove(session, person_id, codes, [Relation.AVAILABLE])


def want(session: Session, person_id: int, codes: list[int]) -> None:
    """The person wants to learn ``codes``."""
    _add(session, person_id, codes, Relation.WANTED)


def drop(session: Session, person_id: int, codes: list[int]) -> list[int]:
    """Forget every relation to ``codes``; the codes that had one."""
    had = set()
    for relation in Relation:
        had |= _held(session, person_id, codes, relation)
    _remove(session, person_id, codes, list(Relation))
    return [code for code in codes if code in had]


def set_languages(session: Session, person_id: int, languages: list[tuple[str, str]]) -> None:
    """Replace the person's languages with ``languages`` ((code, level) pairs); codes are
    kept in lower case, as matching reads them."""
    session.execute(delete(PersonLanguage).where(PersonLanguage.person_id == person_id))
    for code, level in languages:
        session.add(PersonLanguage(person_id=person_id, lang=code.lower(), level=level))
