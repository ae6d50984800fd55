"""Ranking people for a capacity: in the database, deterministic, and explainable.

A candidate's place is decided, in this order of weight, by how well what they offer fits the
capacity, whether they share a usable language with the seeker, territory (same country,
then same region), affiliation, recent activity, and how many people they already help. Ties
go to the lower person id, so the same question always gets the same answer. Only
discoverable people are ranked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from itertools import product

from sqlalchemy import Row, Select, case, exists, func, literal, or_, select
from sqlmodel import Session

from core.services.taxonomy import Taxonomy
from storage.models import (
    USABLE_LEVELS,
    NeedResponse,
    Person,
    PersonCapacity,
    PersonLanguage,
    Relation,
    Territory,
)

ACTIVE_WITHIN = timedelta(days=90)
LOAD_WITHIN = timedelta(days=30)


class Fit(IntEnum):
    """How a candidate's capacities fit the one asked for; higher is better."""

    KNOWS = 1
    """Knows the capacity itself but does not offer to teach it."""
    OFFERS_RELATIVE = 2
    """Offers its parent or a sibling."""
    OFFERS_CHILD = 3
    """Offers a capacity below it."""
    OFFERS = 4


# Points per reason; a better fit always outweighs every other reason together.
FIT_WEIGHT = 1000
SHARED_LANGUAGE = 200
SAME_COUNTRY = 60
SAME_REGION = 30
SAME_AFFILIATION = 40
ACTIVE = 20
LOAD_PENALTY = 5
LOAD_CAP = 6


@dataclass(frozen=True)
class Seeker:
    """The one who asks: whom to exclude, and what to compare candidates with."""

    person_id: int | None
    languages: tuple[str, ...]
    """Language codes the seeker can work in (usable level)."""
    territory_code: str | None = None
    organization_id: int | None = None


@dataclass(frozen=True)
class Query:
    capacity: int
    language: str | None = None
    """Require this language (``find ... in pt``) instead of one shared with the seeker."""
    any_language: bool = False
    """Rank people with no shared language too (last), instead of leaving them out."""
    near: str | None = None
    """Rank from this territory instead of the seeker's, and keep only its region."""
    limit: int = 10


@dataclass(frozen=True)
class Match:
    """A ranked candidate and the facts behind the rank."""

    person_id: int
    display_name: str
    username: str | None
    fit: Fit
    via: int
    """The capacity of theirs that earned the fit."""
    languages: tuple[tuple[str, str], ...]
    """(code, level) of the languages shared with the seeker at a usable level."""
    same_country: bool
    same_region: bool
    same_affiliation: bool
    active: bool
    load: int
    score: int


def base_language(code: str) -> str:
    return code.split("-", 1)[0]


def speaks_any(languages: tuple[str, ...], person_column):
    """SQL: the person speaks one of ``languages`` (any regional variant) at a usable level."""
    pl = PersonLanguage.__table__.c
    bases = sorted({base_language(code) for code in languages})
    return exists().where(
        pl.person_id == person_column,
        pl.level.in_(USABLE_LEVELS),
        or_(*(or_(pl.lang == b, pl.lang.like(f"{b}-%")) for b in bases)),
    )


def _region_of(session: Session, territory_code: str | None) -> str | None:
    if territory_code is None:
        return None
    territory = session.get(Territory, territory_code)
    if territory is None:
        return None
    return territory.code if territory.kind == "region" else territory.parent_code


def find(
    session: Session, taxonomy: Taxonomy, seeker: Seeker, query: Query, now: datetime
) -> list[Match]:
    """The best candidates for ``query.capacity``, best first, at most ``query.limit``.

    A better fit outweighs every other reason together, and within a fit a shared language
    outweighs all the rest, so candidates fall into tiers that rank one after the other: one
    small query per tier, best tier first, until ``query.limit`` people are found. The result
    is the one a single query scoring every candidate would give.
    """
    capacity = query.capacity
    tiers = [
        (Fit.OFFERS, Relation.AVAILABLE, [capacity]),
        (Fit.OFFERS_CHILD, Relation.AVAILABLE, taxonomy.descendants(capacity)),
        (Fit.OFFERS_RELATIVE, Relation.AVAILABLE, taxonomy.relatives(capacity)),
        (Fit.KNOWS, Relation.KNOWN, [capacity]),
    ]
    anchor = query.near or seeker.territory_code
    region = _region_of(session, anchor)
    languages = (query.language,) if query.language else seeker.languages
    if languages:
        sharing = [True, False] if query.any_language else [True]
    else:
        sharing = [False] if query.any_language else []
    scoring = _Scoring(seeker, query, anchor, region, languages, now)
    ranked: list[Row] = []
    for (fit, relation, codes), shared in product(tiers, sharing):
        if len(ranked) >= query.limit:
            break
        if codes:
            statement = scoring.tier(fit, relation, codes, shared, [r.id for r in ranked])
            ranked += session.execute(statement.limit(query.limit - len(ranked))).all()
    return _explain(session, taxonomy, seeker, query, ranked, anchor, region, now)


class _Scoring:
    """The SQL that ranks one tier of candidates, for one seeker and query."""

    def __init__(
        self,
        seeker: Seeker,
        query: Query,
        anchor: str | None,
        region: str | None,
        languages: tuple[str, ...],
        now: datetime,
    ) -> None:
        person = Person.__table__.c
        self.region_countries = select(Territory.code).where(Territory.parent_code == region)
        nr = NeedResponse.__table__.c
        self.load = (
            select(func.count())
            .where(nr.person_id == person.id, nr.created_at >= now - LOAD_WITHIN)
            .scalar_subquery()
        )
        same_affiliation = (
            person.organization_id == seeker.organization_id
            if seeker.organization_id is not None
            else literal(False)
        )
        places = [(person.territory_code == anchor, SAME_COUNTRY)] if anchor else []
        if region:
            places.append((person.territory_code.in_(self.region_countries), SAME_REGION))
        self.points = case(*places, else_=0) if places else literal(0)
        self.points = (
            self.points
            + case((same_affiliation, SAME_AFFILIATION), else_=0)
            + case((person.last_active_at >= now - ACTIVE_WITHIN, ACTIVE), else_=0)
            - LOAD_PENALTY * case((self.load > LOAD_CAP, LOAD_CAP), else_=self.load)
        )
        self.shared = speaks_any(languages, person.id) if languages else None
        self.filters = [person.discoverable]
        if seeker.person_id is not None:
            self.filters.append(person.id != seeker.person_id)
        if query.near and region:
            self.filters.append(
                or_(
                    person.territory_code.in_(self.region_countries),
                    person.territory_code == region,
                )
            )

    def tier(
        self, fit: Fit, relation: Relation, codes: list[int], shared: bool, ranked: list[int]
    ) -> Select:
        """The people holding one of ``codes`` as ``relation``, who share a language with the
        seeker or (``shared`` false) do not, other than ``ranked``, best first."""
        person = Person.__table__.c
        pc = PersonCapacity.__table__.c
        holders = select(pc.person_id).where(pc.capacity_code.in_(codes), pc.relation == relation)
        base = int(fit) * FIT_WEIGHT + (SHARED_LANGUAGE if shared else 0)
        score = (literal(base) + self.points).label("score")
        language = [] if self.shared is None else [self.shared if shared else ~self.shared]
        return (
            select(person.id, literal(int(fit)).label("fit"), score, self.load.label("load"))
            .where(person.id.in_(holders), person.id.notin_(ranked), *language, *self.filters)
            .order_by(score.desc(), person.id)
        )


def _explain(
    session: Session,
    taxonomy: Taxonomy,
    seeker: Seeker,
    query: Query,
    ranked: Sequence[Row],
    anchor: str | None,
    region: str | None,
    now: datetime,
) -> list[Match]:
    """Gather, for the few ranked people, the facts their explanation names."""
    ids = [row.id for row in ranked]
    if not ids:
        return []
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(ids)))}
    capacities: dict[int, list[tuple[int, str]]] = {}
    for row in session.execute(
        select(
            PersonCapacity.person_id, PersonCapacity.capacity_code, PersonCapacity.relation
        ).where(PersonCapacity.person_id.in_(ids))
    ):
        capacities.setdefault(row.person_id, []).append((row.capacity_code, row.relation))
    spoken: dict[int, list[tuple[str, str]]] = {}
    for row in session.execute(
        select(PersonLanguage.person_id, PersonLanguage.lang, PersonLanguage.level)
        .where(PersonLanguage.person_id.in_(ids))
        .order_by(PersonLanguage.lang)
    ):
        spoken.setdefault(row.person_id, []).append((row.lang, row.level))
    regions = dict(
        session.execute(
            select(Territory.code, Territory.parent_code).where(
                Territory.code.in_({p.territory_code for p in people.values() if p.territory_code})
            )
        ).all()
    )
    wanted_bases = {
        base_language(code) for code in ((query.language,) if query.language else seeker.languages)
    }
    matches = []
    for row in ranked:
        person = people[row.id]
        fit = Fit(row.fit)
        shared = tuple(
            (lang, level)
            for lang, level in spoken.get(person.id, [])
            if level in USABLE_LEVELS and base_language(lang) in wanted_bases
        )
        matches.append(
            Match(
                person_id=person.id,
                display_name=person.display_name,
                username=person.username,
                fit=fit,
                via=_via(taxonomy, query.capacity, fit, capacities.get(person.id, [])),
                languages=shared,
                same_country=anchor is not None and person.territory_code == anchor,
                same_region=region is not None
                and regions.get(person.territory_code or "") == region,
                same_affiliation=seeker.organization_id is not None
                and person.organization_id == seeker.organization_id,
                active=person.last_active_at >= now - ACTIVE_WITHIN,
                load=row.load,
                score=row.score,
            )
        )
    return matches


def _via(taxonomy: Taxonomy, capacity: int, fit: Fit, held: list[tuple[int, str]]) -> int:
    """The capacity that gave the candidate their fit: the nearest one in the tree."""
    offered = [code for code, relation in held if relation == Relation.AVAILABLE]
    if fit in (Fit.OFFERS, Fit.KNOWS):
        return capacity
    pool = (
        taxonomy.descendants(capacity) if fit is Fit.OFFERS_CHILD else taxonomy.relatives(capacity)
    )
    return next(code for code in pool if code in offered)
