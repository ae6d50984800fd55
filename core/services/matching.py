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
from functools import cached_property
from itertools import product

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
)
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

SMALL = 1000
"""Fewer people than this are ranked whole in one query; more are ranked a cell at a time."""
MANY = 3 * SMALL
"""Counting people stops here; a longer list of people is not read through in id order."""


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


@dataclass(frozen=True)
class _Ranked:
    """A candidate's place in the ranking, before the explanation is gathered."""

    id: int
    fit: int
    score: int
    load: int


@dataclass(frozen=True)
class _Tier:
    """The candidates with one fit who share a language with the seeker, or who do not."""

    fit: Fit
    relation: Relation
    codes: tuple[int, ...]
    """Holding one of these with ``relation`` gives the fit, or a better one."""
    shared: bool | None
    """Whether they share a language; None when the seeker has none to share."""


def find(
    session: Session, taxonomy: Taxonomy, seeker: Seeker, query: Query, now: datetime
) -> list[Match]:
    """The best candidates for ``query.capacity``, best first, at most ``query.limit``."""
    if query.limit < 1:
        return []
    ranking = _Ranking(session, taxonomy, seeker, query, now)
    return _explain(
        session, taxonomy, seeker, query, ranking.best(), ranking.anchor, ranking.region, now
    )


class _Ranking:
    """The ranking of one ``find``, found without scoring every candidate.

    The fit outweighs all other reasons together, and a shared language all those left, so the
    candidates fall into tiers (a fit, with or without a shared language) ranked one after the
    other. A tier whose people are few (holding its capacities, or speaking the seeker's
    languages) is ranked whole in one query. A larger one is cut into cells of people alike in
    territory, affiliation and activity. Everyone in a cell who helps nobody yet has the same
    score, so the cell's best are its lowest ids: the database reads the cell in id order and
    stops at the ``limit``-th. The few who help someone already are ranked apart, and a cell
    whose country, region or affiliate has few people is ranked with all of them at once. Cells
    are visited best first until none left can beat the last of the best found, so the answer
    is exactly the one that scoring every candidate would give.
    """

    def __init__(
        self, session: Session, taxonomy: Taxonomy, seeker: Seeker, query: Query, now: datetime
    ) -> None:
        self.session = session
        self.seeker = seeker
        self.query = query
        person = Person.__table__.c
        self.anchor = query.near or seeker.territory_code
        self.region = _region_of(session, self.anchor)
        self.region_codes = select(Territory.code).where(
            Territory.parent_code == literal(self.region, String)
        )
        # Written alike whatever the seeker lacks (a comparison with NULL is never true), so
        # that all seekers' statements share their compiled forms.
        self.geo = case(
            (person.territory_code == literal(self.anchor, String), SAME_COUNTRY),
            (person.territory_code.in_(self.region_codes), SAME_REGION),
            else_=0,
        )
        organization = literal(seeker.organization_id, Integer)
        self.affiliation = case((person.organization_id == organization, SAME_AFFILIATION), else_=0)
        self.active_since = now - ACTIVE_WITHIN
        self.active = case((person.last_active_at >= self.active_since, ACTIVE), else_=0)
        nr = NeedResponse.__table__.c
        recent = nr.created_at >= now - LOAD_WITHIN
        self.helpers = person.id.in_(select(nr.person_id).where(recent))
        self.helping = exists().where(nr.person_id == person.id, recent)
        self.load = select(func.count()).where(nr.person_id == person.id, recent).scalar_subquery()

        languages = (query.language,) if query.language else seeker.languages
        self.shared = speaks_any(languages, person.id) if languages else None
        self.bases = sorted({base_language(code) for code in languages})
        self.filters = [person.discoverable]
        if seeker.person_id is not None:
            self.filters.append(person.id != seeker.person_id)
        if query.near and self.region:
            self.filters.append(
                or_(
                    person.territory_code.in_(self.region_codes),
                    person.territory_code == self.region,
                )
            )

        capacity = query.capacity
        children = tuple(taxonomy.descendants(capacity))
        relatives = tuple(taxonomy.relatives(capacity))
        if self.shared is None:
            sharing: list[bool | None] = [None] if query.any_language else []
        else:
            sharing = [True, False] if query.any_language else [True]
        self.tiers = [
            _Tier(fit, relation, codes, shared)
            for fit, relation, codes in (
                (Fit.OFFERS, Relation.AVAILABLE, (capacity,)),
                (Fit.OFFERS_CHILD, Relation.AVAILABLE, children),
                (Fit.OFFERS_RELATIVE, Relation.AVAILABLE, relatives),
                (Fit.KNOWS, Relation.KNOWN, (capacity,)),
            )
            if codes
            for shared in sharing
        ]
        self.children, self.relatives = children, relatives
        self.counts: dict[str, int] = {}

    @cached_property
    def fit(self) -> ColumnElement[int]:
        """The person's fit: the best that any capacity they hold gives."""
        capacity, children, relatives = self.query.capacity, self.children, self.relatives
        pc = PersonCapacity.__table__.c
        available = pc.relation == Relation.AVAILABLE
        fit_of_row = case(
            (and_(pc.capacity_code == capacity, available), int(Fit.OFFERS)),
            (and_(pc.capacity_code.in_(children or [-1]), available), int(Fit.OFFERS_CHILD)),
            (and_(pc.capacity_code.in_(relatives or [-1]), available), int(Fit.OFFERS_RELATIVE)),
            (pc.capacity_code == capacity, int(Fit.KNOWS)),
            else_=0,
        )
        return (
            select(func.max(fit_of_row))
            .where(
                pc.person_id == Person.__table__.c.id,
                or_(
                    pc.capacity_code == capacity,
                    and_(pc.capacity_code.in_([*children, *relatives] or [-1]), available),
                ),
                pc.relation.in_([Relation.AVAILABLE, Relation.KNOWN]),
            )
            .scalar_subquery()
        )

    def best(self) -> list[_Ranked]:
        """The best ``query.limit`` candidates, best first."""
        found: dict[int, _Ranked] = {}
        limit = self.query.limit

        def last() -> int | None:
            """The score of the last of the best found so far, once there are enough."""
            scores = sorted((r.score for r in found.values()), reverse=True)
            return scores[limit - 1] if len(scores) >= limit else None

        def settled(bound: int) -> bool:
            """Whether nobody scoring ``bound`` or less can be among the best any more."""
            score = last()
            return score is not None and score > bound

        def rank(tier: _Tier, condition: ColumnElement[bool]) -> None:
            found.update((r.id, r) for r in self.ranked(tier, condition, last()))

        for tier in self.tiers:
            cells = self.cells(tier)
            if settled(cells[0][0]):
                continue
            few = self.few_in(tier)
            if few is not None:
                rank(tier, few)
                continue
            ranked_groups = set()
            # The most that someone already helping, in a cell read without them, can score.
            helpers_bound = None
            for score, geo, affiliation, active in cells:
                if settled(score):
                    break
                groups = self.groups(geo, affiliation)
                if any(name in ranked_groups for name, _, _ in groups):
                    continue
                if groups and self.count(groups[0][:2]) < SMALL:
                    rank(tier, groups[0][1])
                    ranked_groups.add(groups[0][0])
                    continue
                cell = (tier, geo, affiliation, active, self.lead(tier, groups))
                first = self.first(*cell, helping=True)
                if len(first) == limit and any(load for _, load in first):
                    # Not all of the cell was read, and some who help someone were: they may
                    # hide others who do not, so those are read apart from them.
                    if helpers_bound is None:
                        helpers_bound = score - LOAD_PENALTY
                    first = self.first(*cell, helping=False)
                found.update(
                    (i, _Ranked(i, tier.fit, score - LOAD_PENALTY * min(load, LOAD_CAP), load))
                    for i, load in first
                )
            if helpers_bound is not None and not settled(helpers_bound):
                rank(tier, self.helpers)
        return sorted(found.values(), key=lambda r: (-r.score, r.id))[:limit]

    def count(self, *named: tuple[str, ColumnElement[bool]]) -> int:
        """How many rows meet the first condition, counted up to ``MANY`` only. Those of the
        others are counted in the same statement, for later; all are remembered by name."""
        missing = [(name, condition) for name, condition in named if name not in self.counts]
        if missing:
            counts = [
                select(func.count())
                .select_from(select(literal(1)).where(condition).limit(MANY).subquery())
                .scalar_subquery()
                for _, condition in missing
            ]
            row = self.session.execute(select(*counts)).one()
            self.counts.update(zip((name for name, _ in missing), row, strict=True))
        return self.counts[named[0][0]]

    @cached_property
    def spoken(self) -> ColumnElement[bool] | None:
        """A condition on ``person_language`` rows that its language index can find, met by
        every row that ``self.shared`` accepts; None when the seeker has no language, or its
        languages cannot be put so.

        ``lang LIKE 'pt-%'`` ignores letter case on SQLite, so each spelling of ``pt-`` gets its
        own range."""
        bases = self.bases
        if not bases or any(set(base) & {"%", "_"} for base in bases):
            return None
        prefixes = {
            "".join(letters)
            for base in bases
            for letters in product(*({c.lower(), c.upper()} for c in base))
        }
        pl = PersonLanguage.__table__.c
        return and_(
            pl.level.in_(USABLE_LEVELS),
            or_(
                pl.lang.in_(bases),
                *(and_(pl.lang >= f"{p}-", pl.lang < f"{p}.") for p in sorted(prefixes)),
            ),
        )

    def lists(self, tier: _Tier) -> list[tuple[str, ColumnElement[bool], ColumnElement[bool]]]:
        """(name, rows to count, condition on ``person.id``) of the lists of people, found
        through an index, that hold everyone in ``tier``: the holders of its capacities and,
        when the tier shares a language, the speakers of the seeker's languages."""
        pc = PersonCapacity.__table__.c
        person = Person.__table__.c
        held = and_(pc.capacity_code.in_(tier.codes), pc.relation == tier.relation)
        lists = [(f"holders {tier.fit}", held, person.id.in_(select(pc.person_id).where(held)))]
        if tier.shared and self.spoken is not None:
            pl = PersonLanguage.__table__.c
            # Counted without regional variants: cheaper, and near enough to choose a plan.
            spoken = and_(pl.lang.in_(self.bases), pl.level.in_(USABLE_LEVELS))
            speakers = person.id.in_(select(pl.person_id).where(self.spoken))
            lists.append(("speakers", spoken, speakers))
        return lists

    def few_in(self, tier: _Tier) -> ColumnElement[bool] | None:
        """A condition on ``person.id`` that keeps everyone in ``tier`` and fewer than ``SMALL``
        people; None when there is none."""
        lists = self.lists(tier)
        if self.count(lists[0][:2]) >= SMALL:
            # A large tier: count at once all that its cells may be read through.
            groups = {
                name: c for _, geo, a, _ in self.cells(tier) for name, c, _ in self.groups(geo, a)
            }
            self.count(*(named[:2] for named in lists), *groups.items())
        return next((c for name, _, c in lists if self.counts.get(name, MANY) < SMALL), None)

    def members(self, tier: _Tier) -> list[ColumnElement[bool]]:
        """The conditions for being in ``tier``. Offering the capacity itself takes one index
        lookup; a lesser fit is the best of all that the person holds."""
        if tier.fit is Fit.OFFERS:
            pc = PersonCapacity.__table__.c
            offers = exists().where(
                pc.person_id == Person.__table__.c.id,
                pc.capacity_code == self.query.capacity,
                pc.relation == Relation.AVAILABLE,
            )
            conditions = [offers]
        else:
            conditions = [self.fit == int(tier.fit)]
        if tier.shared is not None:
            conditions.append(self.shared if tier.shared else ~self.shared)
        return conditions

    def cells(self, tier: _Tier) -> list[tuple[int, int, int, int]]:
        """(score, territory points, affiliation points, activity points) of each cell of
        ``tier``, best first; the score is that of the cell's people who help nobody yet."""
        geos = [SAME_COUNTRY, SAME_REGION, 0] if self.region else [SAME_COUNTRY, 0]
        affiliations = [SAME_AFFILIATION, 0] if self.seeker.organization_id is not None else [0]
        cells = [
            (self.base(tier) + geo + affiliation + active, geo, affiliation, active)
            for geo in (geos if self.anchor else [0])
            for affiliation in affiliations
            for active in (ACTIVE, 0)
        ]
        return sorted(cells, key=lambda cell: -cell[0])

    def base(self, tier: _Tier) -> int:
        """The points everyone in ``tier`` has: for the fit, and for a shared language."""
        return tier.fit * FIT_WEIGHT + (SHARED_LANGUAGE if tier.shared else 0)

    def groups(self, geo: int, affiliation: int) -> list[tuple[str, ColumnElement[bool], bool]]:
        """(name, condition, whether its index lists them in id order) of the groups of people
        that a cell lies in and an index finds, the smallest first: the seeker's country or
        region (or, near a place, the people who gave its region as their territory),
        affiliate, or both. A region's people come in territory order."""
        person = Person.__table__.c
        place = {
            SAME_COUNTRY: ("country", person.territory_code == self.anchor, True),
            SAME_REGION: ("region", person.territory_code.in_(self.region_codes), False),
        }.get(geo)
        if place is None and self.query.near and self.region:
            # Near a place, the only others are those who gave the region itself.
            place = ("region itself", person.territory_code == self.region, True)
        affiliate = ("affiliate", person.organization_id == self.seeker.organization_id, True)
        if place is None:
            return [affiliate] if affiliation else []
        if not affiliation:
            return [place]
        both = (f"{place[0]} and affiliate", and_(place[1], affiliate[1]), place[2])
        return [both, place, affiliate]

    def lead(
        self, tier: _Tier, groups: list[tuple[str, ColumnElement[bool], bool]]
    ) -> ColumnElement[bool] | None:
        """The condition whose index a cell's query reads people through, in id order: the
        smallest of the cell's smallest group so listed and the lists of ``tier``'s people not
        too long. None to read everyone."""
        leads = [(name, c) for name, c, ordered in groups if ordered][:1]
        leads += [(name, c) for name, _, c in self.lists(tier) if self.counts[name] < MANY]
        if not leads:
            return None
        return min(leads, key=lambda lead: self.counts[lead[0]])[1]

    def ranked(
        self, tier: _Tier, condition: ColumnElement[bool], at_least: int | None
    ) -> list[_Ranked]:
        """The best people of ``tier`` among those meeting ``condition``, scored in full; only
        those who can score ``at_least`` (when given) are looked at.

        Each reason is computed once per person, in a materialized CTE, then added up."""
        person = Person.__table__.c
        points = self.geo + self.affiliation + self.active
        reasons = (
            select(person.id, points.label("points"), self.load.label("load"))
            .where(
                condition,
                *self.filters,
                *([points >= at_least - self.base(tier)] if at_least is not None else []),
                *self.members(tier),
            )
            .cte("reasons")
            .prefix_with("MATERIALIZED")
        )
        r = reasons.c
        score = (
            self.base(tier)
            + r.points
            - LOAD_PENALTY * case((r.load > LOAD_CAP, LOAD_CAP), else_=r.load)
        ).label("score")
        statement = select(r.id, score, r.load).order_by(score.desc(), r.id).limit(self.query.limit)
        return [
            _Ranked(person_id, tier.fit, score, load)
            for person_id, score, load in self.session.execute(statement)
        ]

    def first(
        self,
        tier: _Tier,
        geo: int,
        affiliation: int,
        active: int,
        lead: ColumnElement[bool] | None,
        *,
        helping: bool,
    ) -> list[tuple[int, int]]:
        """(id, load) of the people of ``tier`` in a cell with the lowest ids, at most
        ``limit``; with ``helping`` false, only of those who help nobody yet.

        Only ``lead`` is put so that an index can find it; the query reads its people in id
        order (or all of ``person``, without a lead) and stops at the ``limit``-th match."""
        person = Person.__table__.c
        cell = [
            person.last_active_at >= self.active_since
            if active
            else person.last_active_at < self.active_since
        ]
        organization = self.seeker.organization_id
        if affiliation:
            cell.append(self.affiliation == affiliation)
        elif organization is not None:
            cell.append(
                or_(person.organization_id.is_(None), person.organization_id != organization)
            )
        if geo:
            cell.append(self.geo == geo)
        elif self.anchor:
            cell.append(
                or_(
                    person.territory_code.is_(None),
                    and_(
                        person.territory_code != self.anchor,
                        person.territory_code.not_in(self.region_codes),
                    ),
                )
            )
        statement = (
            select(person.id, self.load if helping else literal(0))
            .where(
                *([lead] if lead is not None else []),
                *self.filters,
                *cell,
                *self.members(tier),
                *([] if helping else [~self.helping]),
            )
            .order_by(person.id)
            .limit(self.query.limit)
        )
        return [(person_id, load) for person_id, load in self.session.execute(statement)]


def _explain(
    session: Session,
    taxonomy: Taxonomy,
    seeker: Seeker,
    query: Query,
    ranked: Sequence[_Ranked],
    anchor: str | None,
    region: str | None,
    now: datetime,
) -> list[Match]:
    """Gather, for the few ranked people, the facts their explanation names."""
    ids = [row.id for row in ranked]
    if not ids:
        return []
    people: dict[int, Person] = {}
    regions: dict[int, str | None] = {}
    for person, home_region in session.execute(
        select(Person, Territory.parent_code)
        .outerjoin(Territory, Territory.code == Person.territory_code)
        .where(Person.id.in_(ids))
    ):
        people[person.id] = person
        regions[person.id] = home_region
    # Only a lesser fit names another capacity, which is found among those the person holds.
    lesser = [row.id for row in ranked if row.fit in (Fit.OFFERS_CHILD, Fit.OFFERS_RELATIVE)]
    capacities: dict[int, list[tuple[int, str]]] = {}
    if lesser:
        held = select(
            PersonCapacity.person_id, PersonCapacity.capacity_code, PersonCapacity.relation
        ).where(PersonCapacity.person_id.in_(lesser))
        for row in session.execute(held):
            capacities.setdefault(row.person_id, []).append((row.capacity_code, row.relation))
    spoken: dict[int, list[tuple[str, str]]] = {}
    for row in session.execute(
        select(PersonLanguage.person_id, PersonLanguage.lang, PersonLanguage.level)
        .where(PersonLanguage.person_id.in_(ids))
        .order_by(PersonLanguage.lang)
    ):
        spoken.setdefault(row.person_id, []).append((row.lang, row.level))
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
                same_region=region is not None and regions[person.id] == region,
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
