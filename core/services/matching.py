"""Ranking people for a capacity: in the database, deterministic, and explainable.

A candidate's place is decided, in this order of weight, by how well what they offer fits the
capacity, whether they share a usable language with the seeker, territory (same country,
then same region), affiliation, recent activity, and how many people they already help. Ties
go to the lower person id, so the same question always gets the same answer. Only
discoverable people are ranked.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from functools import lru_cache, wraps
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    DateTime,
    Integer,
    Row,
    Select,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
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
F = TypeVar("F", bound=Callable[..., Any])


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
FEW_HOLDERS = SMALL
"""When fewer capacity rows than this give anyone a fit, every tier is ranked in one query."""
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
    source: str
    """Where the profile was made (``Person.source``): ``capx`` for one mirrored from CapX."""
    territory_code: str | None
    organization_id: int | None
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


LANGUAGE_SLOTS = 4
"""Statements name at least this many languages, the ones not asked for matching nothing, so
that one, two or three languages share one compiled statement (each compilation takes
milliseconds)."""


def language_slots(count: int) -> int:
    """How many languages the statements for ``count`` of them name."""
    return max(count, LANGUAGE_SLOTS) if count else 0


def _spoken(count: int) -> ColumnElement[bool]:
    """SQL on ``person_language`` rows, found through its language index: a usable level in
    one of ``count`` base languages (the parameters of :func:`language_params`) or one of
    their regional variants. Language codes are stored in lower case."""
    pl = PersonLanguage.__table__.c
    return and_(
        pl.level.in_(USABLE_LEVELS),
        or_(
            *(
                or_(
                    pl.lang == bindparam(f"base_{n}"),
                    and_(
                        pl.lang >= bindparam(f"variants_from_{n}"),
                        pl.lang < bindparam(f"variants_to_{n}"),
                    ),
                )
                for n in range(language_slots(count))
            )
        ),
    )


def bases_of(languages: Sequence[str]) -> list[str]:
    """The base languages of ``languages`` (``pt`` for ``pt-br``), in order."""
    return sorted({base_language(code.lower()) for code in languages})


def language_params(bases: Sequence[str]) -> dict[str, Any]:
    """The parameters of :func:`speaks_any` and :func:`_spoken` for ``bases``: each base
    language, and the range of codes its regional variants (``pt-br``) fall in, NULL (no
    match) for a slot no language fills; all the bases as ``bases``."""
    params: dict[str, Any] = {"bases": list(bases)}
    for n in range(language_slots(len(bases))):
        base = bases[n] if n < len(bases) else None
        params |= {
            f"base_{n}": base,
            f"variants_from_{n}": base and f"{base}-",
            f"variants_to_{n}": base and f"{base}.",
        }
    return params


@lru_cache(maxsize=64)
def speaks_any(count: int, person_column: ColumnElement[int]) -> ColumnElement[bool]:
    """SQL: the person speaks one of ``count`` languages (any regional variant) at a usable
    level; its parameters come from :func:`language_params`."""
    pl = PersonLanguage.__table__.c
    return exists().where(pl.person_id == person_column, _spoken(count))


_TERRITORY = select(Territory.code, Territory.kind, Territory.parent_code).where(
    Territory.code == bindparam("code")
)


def _region_of(session: Session, territory_code: str | None) -> str | None:
    """The region ``territory_code`` is (a region) or lies in (a country); None for none."""
    if territory_code is None:
        return None
    found = session.connection().execute(_TERRITORY, {"code": territory_code}).first()
    if found is None:
        return None
    return found.code if found.kind == "region" else found.parent_code


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
    shared: bool | None
    """Whether they share a language; None when the seeker has none to share."""

    @property
    def codes(self) -> str:
        """The parameter naming the capacities whose holding (with ``relation``) gives the
        fit, or a better one."""
        return {Fit.OFFERS_CHILD: "children", Fit.OFFERS_RELATIVE: "relatives"}.get(
            self.fit, "offered"
        )


class Cell(NamedTuple):
    """People of a tier alike in place, affiliation and activity: the points of each."""

    score: int
    """That of the cell's people who help nobody yet."""
    geo: int
    affiliation: int
    active: int


Counted = tuple[str, ColumnElement[bool]]
"""A name, and the rows whose number (up to :data:`MANY`) is remembered under it."""


class Group(NamedTuple):
    """People an index finds: a country, a region, an affiliate, or a list of a tier's."""

    name: str
    condition: ColumnElement[bool]
    """On ``person``."""
    in_id_order: bool
    """Whether the index lists the people in id order, so a read can stop early."""

    @property
    def counted(self) -> Counted:
        return self.name, self.condition


class TierList(NamedTuple):
    """People who hold everyone of a tier, found through an index: the holders of its
    capacities, or the speakers of the seeker's languages."""

    name: str
    rows: ColumnElement[bool]
    """The rows (holdings, spoken languages) counted to know how long the list is."""
    members: ColumnElement[bool]
    """On ``person.id``: that the person is listed."""

    @property
    def counted(self) -> Counted:
        return self.name, self.rows


def find(
    session: Session, taxonomy: Taxonomy, seeker: Seeker, query: Query, now: datetime
) -> list[Match]:
    """The best candidates for ``query.capacity``, best first, at most ``query.limit``."""
    if query.limit < 1:
        return []
    return _explain(taxonomy, seeker, _Ranking(session, taxonomy, seeker, query, now), now)


_MOST = bindparam("most", type_=Integer)
"""How many rows a count reads at most: :data:`MANY`."""


def _codes(name: str) -> BindParameter:
    return bindparam(name, expanding=True, type_=Integer)


@dataclass(frozen=True)
class _Shape:
    """What decides the form of a ranking's statements; everything else is a parameter."""

    languages: int
    """How many languages the statements name for the base languages shared or asked for
    (:func:`language_slots`; none: nobody shares one)."""
    anchored: bool
    """Whether there is a place to rank from (the one asked for, or the seeker's)."""
    regional: bool
    """Whether that place lies in a region."""
    near: bool
    """Whether only the people of a place's region are wanted."""
    affiliated: bool
    excluded: bool
    """Whether a seeker is left out of their own results."""
    limit: int


def _built_once(key: Callable[..., Hashable] | None = None) -> Callable[[F], F]:
    """A method of :class:`_Statements` whose result its instance keeps: built on the first
    call with the same arguments (or the same ``key`` of them), then given again."""

    def decorate(build: F) -> F:
        @wraps(build)
        def once(self: _Statements, *args: Any) -> Any:
            found = (build.__name__, key(*args) if key else args)
            if found not in self._built:
                self._built[found] = build(self, *args)
            return self._built[found]

        return once  # type: ignore[return-value]

    return decorate


class _Statements:
    """The statements of every ranking of one :class:`_Shape`, each built once (on first use)
    with bound parameters in place of the values, and used again for every later ranking of
    that shape: building SQLAlchemy expressions costs far more than running them here."""

    def __init__(self, shape: _Shape) -> None:
        self.shape = shape
        person = Person.__table__.c
        self.anchor = bindparam("anchor", type_=String)
        region = bindparam("region", type_=String)
        self.region_codes = select(Territory.code).where(Territory.parent_code == region)
        self.geo = case(
            (person.territory_code == self.anchor, SAME_COUNTRY),
            (person.territory_code.in_(self.region_codes), SAME_REGION),
            else_=0,
        )
        self.organization = bindparam("organization", type_=Integer)
        self.affiliation = case(
            (person.organization_id == self.organization, SAME_AFFILIATION), else_=0
        )
        self.recently_active = person.last_active_at >= bindparam("active_since", type_=DateTime)
        self.active = case((self.recently_active, ACTIVE), else_=0)
        nr = NeedResponse.__table__.c
        recent = nr.created_at >= bindparam("load_since", type_=DateTime)
        self.helpers = person.id.in_(select(nr.person_id).where(recent))
        """The people who help someone now: the recent responses are few, so the databases
        read them once into a set (a correlated ``NOT EXISTS`` was planned on PostgreSQL as
        a scan of them for each person)."""
        self.load = select(func.count()).where(nr.person_id == person.id, recent).scalar_subquery()
        self.shared = speaks_any(shape.languages, person.id) if shape.languages else None
        self.filters = [person.discoverable]
        if shape.excluded:
            self.filters.append(person.id != bindparam("seeker", type_=Integer))
        if shape.near:
            self.filters.append(
                or_(person.territory_code.in_(self.region_codes), person.territory_code == region)
            )
        self.place_groups: dict[int, Group] = {
            SAME_COUNTRY: Group("country", person.territory_code == self.anchor, True),
            SAME_REGION: Group("region", person.territory_code.in_(self.region_codes), False),
        }
        self.region_itself = Group("region itself", person.territory_code == region, True)
        self.affiliate = Group("affiliate", person.organization_id == self.organization, True)
        pc = PersonCapacity.__table__.c
        available = pc.relation == Relation.AVAILABLE
        holds_it = and_(
            pc.capacity_code == bindparam("capacity"),
            pc.relation.in_([Relation.AVAILABLE, Relation.KNOWN]),
        )
        offers_lesser = and_(pc.capacity_code.in_(_codes("lesser")), available)
        self.holds = or_(holds_it, offers_lesser)
        """A ``person_capacity`` row that gives its person a fit."""
        # Counted as two index ranges read one after the other, so the count stops at "few"
        # (an OR would be read whole first on PostgreSQL, as a bitmap).
        rows = union_all(*(select(literal(1)).where(c) for c in (holds_it, offers_lesser)))
        few = bindparam("few", type_=Integer)
        self.holders = select(func.count()).select_from(rows.limit(few).subquery())
        """How many rows give someone a fit, counted up to the parameter ``few``."""
        fit_of_row = case(
            (and_(pc.capacity_code == bindparam("capacity"), available), int(Fit.OFFERS)),
            (and_(pc.capacity_code.in_(_codes("children")), available), int(Fit.OFFERS_CHILD)),
            (and_(pc.capacity_code.in_(_codes("relatives")), available), int(Fit.OFFERS_RELATIVE)),
            (pc.capacity_code == bindparam("capacity"), int(Fit.KNOWS)),
            else_=0,
        )
        self.fit = (
            select(func.max(fit_of_row))
            .where(pc.person_id == person.id, self.holds)
            .scalar_subquery()
        )
        self.offers = exists().where(
            pc.person_id == person.id,
            pc.capacity_code == bindparam("capacity"),
            pc.relation == Relation.AVAILABLE,
        )
        self._built: dict[tuple[str, Hashable], Any] = {}

    @_built_once()
    def lists(self, tier: _Tier) -> list[TierList]:
        """The lists of people that hold everyone in ``tier``: the holders of its capacities
        and, when the tier shares a language, the speakers of the seeker's languages."""
        pc = PersonCapacity.__table__.c
        person = Person.__table__.c
        held = and_(pc.capacity_code.in_(_codes(tier.codes)), pc.relation == tier.relation)
        holders = person.id.in_(select(pc.person_id).where(held))
        lists = [TierList(f"holders {tier.fit}", held, holders)]
        if tier.shared and self.shape.languages:
            pl = PersonLanguage.__table__.c
            # Counted without regional variants: cheaper, and near enough to choose a plan.
            counted = and_(
                pl.lang.in_(bindparam("bases", expanding=True)), pl.level.in_(USABLE_LEVELS)
            )
            speakers = person.id.in_(select(pl.person_id).where(_spoken(self.shape.languages)))
            lists.append(TierList("speakers", counted, speakers))
        return lists

    @_built_once(key=lambda named: tuple(name for name, _ in named))
    def counting(self, named: tuple[Counted, ...]) -> Select:
        """How many rows meet each of the ``named`` conditions, up to ``MANY``, in one row."""
        return select(
            *(
                select(func.count())
                .select_from(select(literal(1)).where(condition).limit(_MOST).subquery())
                .scalar_subquery()
                for _, condition in named
            )
        )

    @_built_once()
    def members(self, tier: _Tier) -> tuple[ColumnElement[bool], ...]:
        """The conditions for being in ``tier``. Offering the capacity itself takes one index
        lookup; a lesser fit is the best of all that the person holds."""
        conditions = [self.offers if tier.fit is Fit.OFFERS else self.fit == int(tier.fit)]
        if tier.shared is not None:
            assert self.shared is not None  # a tier shares a language only when there is one
            conditions.append(self.shared if tier.shared else ~self.shared)
        return tuple(conditions)

    @_built_once()
    def groups(self, geo: int, affiliation: int) -> list[Group]:
        """The groups of people that a cell lies in and an index finds, the smallest first:
        the seeker's country or region (or, near a place, the people who gave its region as
        their territory), affiliate, or both. A region's people come in territory order."""
        place = self.place_groups.get(geo)
        if place is None and self.shape.near:
            place = self.region_itself  # near a place, the only others gave its region
        if place is None:
            return [self.affiliate] if affiliation else []
        if not affiliation:
            return [place]
        both = Group(
            f"{place.name} and affiliate",
            and_(place.condition, self.affiliate.condition),
            place.in_id_order,
        )
        return [both, place, self.affiliate]

    @_built_once(key=lambda tier, name, condition, floor: (tier, name, floor))
    def ranked(self, tier: _Tier, name: str, condition: ColumnElement[bool], floor: bool) -> Select:
        """The best people of ``tier`` among those meeting ``condition`` (named ``name``),
        scored in full: (id, score, load); with ``floor``, only those whose points reach the
        parameter ``floor``. Each reason is computed once per person, in a materialized CTE,
        then added up."""
        person = Person.__table__.c
        points = self.geo + self.affiliation + self.active
        reasons = (
            select(person.id, points.label("points"), self.load.label("load"))
            .where(
                condition,
                *self.filters,
                *([points >= bindparam("floor", type_=Integer)] if floor else []),
                *self.members(tier),
            )
            .cte("reasons")
            .prefix_with("MATERIALIZED")
        )
        r = reasons.c
        score = (
            base_points(tier)
            + r.points
            - LOAD_PENALTY * case((r.load > LOAD_CAP, LOAD_CAP), else_=r.load)
        ).label("score")
        return select(r.id, score, r.load).order_by(score.desc(), r.id).limit(self.shape.limit)

    @_built_once()
    def ranked_together(self, any_language: bool) -> Select:
        """The best people of every tier at once, scored in full: (id, fit, score, load). For
        when the rows giving anyone a fit are few: it reads all of their people. Everyone
        shares a language unless ``any_language``."""
        pc = PersonCapacity.__table__.c
        person = Person.__table__.c
        sharing: list[ColumnElement[bool]] = []
        shared: ColumnElement[int] = literal(0)
        if self.shared is not None:
            shared = case((self.shared, SHARED_LANGUAGE), else_=0)
            sharing = [] if any_language else [self.shared]
        reasons = (
            select(
                person.id,
                self.fit.label("fit"),
                (shared + self.geo + self.affiliation + self.active).label("points"),
                self.load.label("load"),
            )
            .where(person.id.in_(select(pc.person_id).where(self.holds)), *self.filters, *sharing)
            .cte("reasons")
            .prefix_with("MATERIALIZED")
        )
        r = reasons.c
        score = (
            r.fit * FIT_WEIGHT
            + r.points
            - LOAD_PENALTY * case((r.load > LOAD_CAP, LOAD_CAP), else_=r.load)
        ).label("score")
        return (
            select(r.id, r.fit, score, r.load).order_by(score.desc(), r.id).limit(self.shape.limit)
        )

    @_built_once(
        key=lambda tier, geo, affiliation, active, lead, helping: (
            tier,
            geo,
            affiliation,
            active,
            lead and lead.name,
            helping,
        )
    )
    def first(
        self,
        tier: _Tier,
        geo: int,
        affiliation: int,
        active: int,
        lead: Group | None,
        helping: bool,
    ) -> Select:
        """(id, load) of the people of ``tier`` in a cell with the lowest ids, at most
        ``limit``; with ``helping`` false, only of those who help nobody yet.

        The cell's place and affiliate are written as conditions an index can find (not as
        their points), and so is ``lead``; the query reads its people in id order (or all of
        ``person``, without a lead) and stops at the ``limit``-th match."""
        person = Person.__table__.c
        cell = [self.recently_active if active else ~self.recently_active]
        if affiliation:
            cell.append(person.organization_id == self.organization)
        elif self.shape.affiliated:
            cell.append(
                or_(person.organization_id.is_(None), person.organization_id != self.organization)
            )
        anchor = self.anchor
        if geo == SAME_COUNTRY:
            cell.append(person.territory_code == anchor)
        elif geo == SAME_REGION:
            cell.append(
                and_(person.territory_code.in_(self.region_codes), person.territory_code != anchor)
            )
        elif self.shape.anchored:
            cell.append(
                or_(
                    person.territory_code.is_(None),
                    and_(
                        person.territory_code != anchor,
                        person.territory_code.not_in(self.region_codes),
                    ),
                )
            )
        return (
            select(person.id, self.load if helping else literal(0))
            .where(
                *([lead.condition] if lead is not None else []),
                *self.filters,
                *cell,
                *self.members(tier),
                *([] if helping else [~self.helpers]),
            )
            .order_by(person.id)
            .limit(self.shape.limit)
        )


def base_points(tier: _Tier) -> int:
    """The points everyone in ``tier`` has: for the fit, and for a shared language."""
    return tier.fit * FIT_WEIGHT + (SHARED_LANGUAGE if tier.shared else 0)


@lru_cache(maxsize=256)
def _statements(shape: _Shape) -> _Statements:
    return _Statements(shape)


class _Ranking:
    """The ranking of one ``find``, found without scoring every candidate.

    The fit outweighs all other reasons together, and a shared language all those left, so the
    candidates fall into tiers (a fit, with or without a shared language) ranked one after the
    other; in a small community (few capacity rows give anyone a fit), all the tiers together
    in one query. A tier whose people are few (holding its capacities, or speaking the seeker's
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
        self.query = query
        self.anchor = query.near or seeker.territory_code
        self.region = _region_of(session, self.anchor)
        bases = bases_of((query.language,) if query.language else seeker.languages)
        self.sql = _statements(
            _Shape(
                languages=language_slots(len(bases)),
                anchored=bool(self.anchor),
                regional=bool(self.region),
                near=bool(query.near and self.region),
                affiliated=seeker.organization_id is not None,
                excluded=seeker.person_id is not None,
                limit=query.limit,
            )
        )
        capacity = query.capacity
        children = taxonomy.descendants(capacity)
        relatives = taxonomy.relatives(capacity)
        self.params: dict[str, object] = {
            **language_params(bases),
            "capacity": capacity,
            "offered": [capacity],
            "children": children or [-1],
            "relatives": relatives or [-1],
            "lesser": [*children, *relatives] or [-1],
            "anchor": self.anchor,
            "region": self.region,
            "organization": seeker.organization_id,
            "seeker": seeker.person_id,
            "active_since": now - ACTIVE_WITHIN,
            "load_since": now - LOAD_WITHIN,
            "most": MANY,
        }
        if self.sql.shared is None:
            sharing: list[bool | None] = [None] if query.any_language else []
        else:
            sharing = [True, False] if query.any_language else [True]
        self.tiers = [
            _Tier(fit, relation, shared)
            for fit, relation, codes in (
                (Fit.OFFERS, Relation.AVAILABLE, [capacity]),
                (Fit.OFFERS_CHILD, Relation.AVAILABLE, children),
                (Fit.OFFERS_RELATIVE, Relation.AVAILABLE, relatives),
                (Fit.KNOWS, Relation.KNOWN, [capacity]),
            )
            if codes
            for shared in sharing
        ]
        self.counts: dict[str, int] = {}

    def rows(self, statement: Select, **more: object) -> list[Row]:
        return list(self.session.connection().execute(statement, {**self.params, **more}))

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

        def rank(tier: _Tier, name: str, condition: ColumnElement[bool]) -> None:
            at_least = last()
            floor = {} if at_least is None else {"floor": at_least - base_points(tier)}
            statement = self.sql.ranked(tier, name, condition, bool(floor))
            found.update(
                (i, _Ranked(i, tier.fit, score, load))
                for i, score, load in self.rows(statement, **floor)
            )

        if not self.tiers:
            return []
        ((holders,),) = self.rows(self.sql.holders, few=FEW_HOLDERS)
        if holders < FEW_HOLDERS:
            statement = self.sql.ranked_together(self.query.any_language)
            return [_Ranked(*row) for row in self.rows(statement)]
        for tier in self.tiers:
            cells = self.cells(tier)
            if settled(cells[0].score):
                continue
            few = self.few_in(tier)
            if few is not None:
                rank(tier, few.name, few.members)
                continue
            ranked_groups = set()
            # The most that someone already helping, in a cell read without them, can score.
            helpers_bound = None
            for score, geo, affiliation, active in cells:
                if settled(score):
                    break
                groups = self.sql.groups(geo, affiliation)
                if any(group.name in ranked_groups for group in groups):
                    continue
                if groups and self.count(groups[0].counted) < SMALL:
                    rank(tier, *groups[0].counted)
                    ranked_groups.add(groups[0].name)
                    continue
                cell = (tier, geo, affiliation, active, self.lead(tier, groups))
                first = self.rows(self.sql.first(*cell, True))
                if len(first) == limit and any(load for _, load in first):
                    # Not all of the cell was read, and some who help someone were: they may
                    # hide others who do not, so those are read apart from them.
                    if helpers_bound is None:
                        helpers_bound = score - LOAD_PENALTY
                    first = self.rows(self.sql.first(*cell, False))
                found.update(
                    (i, _Ranked(i, tier.fit, score - LOAD_PENALTY * min(load, LOAD_CAP), load))
                    for i, load in first
                )
            if helpers_bound is not None and not settled(helpers_bound):
                rank(tier, "helpers", self.sql.helpers)
        return sorted(found.values(), key=lambda r: (-r.score, r.id))[:limit]

    def count(self, *named: Counted) -> int:
        """How many rows meet the first condition, counted up to ``MANY`` only. Those of the
        others are counted in the same statement, for later; all are remembered by name."""
        missing = tuple((name, condition) for name, condition in named if name not in self.counts)
        if missing:
            (row,) = self.rows(self.sql.counting(missing))
            self.counts.update(zip((name for name, _ in missing), row, strict=True))
        return self.counts[named[0][0]]

    def few_in(self, tier: _Tier) -> TierList | None:
        """A list that keeps everyone in ``tier`` and fewer than ``SMALL`` people; None when
        there is none."""
        lists = self.sql.lists(tier)
        if self.count(lists[0].counted) >= SMALL:
            # A large tier: count at once all that its cells may be read through.
            groups = {
                group.name: group.condition
                for cell in self.cells(tier)
                for group in self.sql.groups(cell.geo, cell.affiliation)
            }
            self.count(*(each.counted for each in lists), *groups.items())
        return next((each for each in lists if self.counts.get(each.name, MANY) < SMALL), None)

    def cells(self, tier: _Tier) -> list[Cell]:
        """The cells of ``tier``, best first; a cell's score is that of its people who help
        nobody yet."""
        shape = self.sql.shape
        geos = [SAME_COUNTRY, SAME_REGION, 0] if shape.regional else [SAME_COUNTRY, 0]
        affiliations = [SAME_AFFILIATION, 0] if shape.affiliated else [0]
        cells = [
            Cell(base_points(tier) + geo + affiliation + active, geo, affiliation, active)
            for geo in (geos if shape.anchored else [0])
            for affiliation in affiliations
            for active in (ACTIVE, 0)
        ]
        return sorted(cells, key=lambda cell: -cell.score)

    def lead(self, tier: _Tier, groups: list[Group]) -> Group | None:
        """The group whose index a cell's query reads people through, in id order: the
        smallest of the cell's smallest group so listed and the lists of ``tier``'s people not
        too long. None to read everyone."""
        leads = [group for group in groups if group.in_id_order][:1]
        leads += [
            Group(each.name, each.members, True)
            for each in self.sql.lists(tier)
            if self.counts[each.name] < MANY
        ]
        if not leads:
            return None
        return min(leads, key=lambda lead: self.counts[lead.name])


_PEOPLE = (
    select(
        Person.id,
        Person.display_name,
        Person.username,
        Person.source,
        Person.territory_code,
        Person.organization_id,
        Person.last_active_at,
        Territory.parent_code,
    )
    .outerjoin(Territory, Territory.code == Person.territory_code)
    .where(Person.id.in_(_codes("ids")))
)
_OFFERED = select(PersonCapacity.person_id, PersonCapacity.capacity_code).where(
    PersonCapacity.person_id.in_(_codes("ids")),
    PersonCapacity.capacity_code.in_(_codes("lesser")),
    PersonCapacity.relation == Relation.AVAILABLE,
)
"""Which of the capacities that give a lesser fit some people offer."""
_SPOKEN = (
    select(PersonLanguage.person_id, PersonLanguage.lang, PersonLanguage.level)
    .where(PersonLanguage.person_id.in_(_codes("ids")))
    .order_by(PersonLanguage.lang)
)


def _explain(taxonomy: Taxonomy, seeker: Seeker, ranking: _Ranking, now: datetime) -> list[Match]:
    """The best of ``ranking``, with the facts their explanation names gathered in three
    statements whatever their number."""
    ranked = ranking.best()
    query, anchor, region = ranking.query, ranking.anchor, ranking.region
    ids = [row.id for row in ranked]
    if not ids:
        return []
    connection = ranking.session.connection()
    people = {row.id: row for row in connection.execute(_PEOPLE, {"ids": ids})}
    # Only a lesser fit names another capacity, which is found among those the person offers.
    lesser = [row.id for row in ranked if row.fit in (Fit.OFFERS_CHILD, Fit.OFFERS_RELATIVE)]
    offered: dict[int, set[int]] = {}
    if lesser:
        params = {"ids": lesser, "lesser": ranking.params["lesser"]}
        for row in connection.execute(_OFFERED, params):
            offered.setdefault(row.person_id, set()).add(row.capacity_code)
    spoken: dict[int, list[tuple[str, str]]] = {}
    for row in connection.execute(_SPOKEN, {"ids": ids}):
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
                source=person.source,
                territory_code=person.territory_code,
                organization_id=person.organization_id,
                fit=fit,
                via=_via(taxonomy, query.capacity, fit, offered.get(person.id, set())),
                languages=shared,
                same_country=anchor is not None and person.territory_code == anchor,
                same_region=region is not None and person.parent_code == region,
                same_affiliation=seeker.organization_id is not None
                and person.organization_id == seeker.organization_id,
                active=person.last_active_at >= now - ACTIVE_WITHIN,
                load=row.load,
                score=row.score,
            )
        )
    return matches


def _via(taxonomy: Taxonomy, capacity: int, fit: Fit, offered: set[int]) -> int:
    """The capacity that gave the candidate their fit: the nearest one in the tree of those
    they offer (``offered`` holds those of their lesser fit's)."""
    if fit in (Fit.OFFERS, Fit.KNOWS):
        return capacity
    pool = (
        taxonomy.descendants(capacity) if fit is Fit.OFFERS_CHILD else taxonomy.relatives(capacity)
    )
    return next(code for code in pool if code in offered)
