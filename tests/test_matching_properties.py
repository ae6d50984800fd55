"""``matching.find`` against a plain Python statement of the ranking, on random communities
of up to 40 people and on one of 3,000.

The reference below scores every person one by one, as the design describes the ranking; the
service must return exactly its best ``limit`` people, scores and order included.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlmodel import Session, select

from core.services import matching
from core.services.matching import Query, Seeker
from storage.models import (
    LANGUAGE_LEVELS,
    USABLE_LEVELS,
    Need,
    NeedResponse,
    Organization,
    Person,
    PersonCapacity,
    PersonLanguage,
    Territory,
)
from tests.conftest import NOW


@pytest.fixture
def core(core_on_every_backend):
    """This test runs on SQLite and PostgreSQL: matching is SQL."""
    return core_on_every_backend


CODES = [10, 11, 12, 13, 14, 15, 16, 21, 22]  # finance, governance and grants, with their parts
LANGUAGES = ["en", "pt", "pt-br", "ar", "fr"]
TERRITORIES = ["br", "ar", "pe", "jp", "fr", None]
ORGANIZATIONS = ["WMB", "WMAR", None]

people = st.lists(
    st.fixed_dictionaries(
        {
            "capacities": st.lists(
                st.tuples(st.sampled_from(CODES), st.sampled_from(["known", "available"])),
                max_size=4,
            ),
            "languages": st.dictionaries(
                st.sampled_from(LANGUAGES),
                st.sampled_from(LANGUAGE_LEVELS),
                max_size=3,
            ),
            "territory": st.sampled_from(TERRITORIES),
            "organization": st.sampled_from(ORGANIZATIONS),
            "discoverable": st.booleans(),
            "idle_days": st.integers(0, 200),
            "helping": st.integers(0, 8),
        }
    ),
    min_size=1,
    max_size=40,
)
queries = st.fixed_dictionaries(
    {
        "capacity": st.sampled_from(CODES),
        "language": st.sampled_from([None, None, "pt", "ar"]),
        "any_language": st.booleans(),
        "near": st.sampled_from([None, None, "br", "LAC", "jp"]),
        "limit": st.sampled_from([1, 2, 3, 5, 12]),
    }
)


def build(session: Session, world: list[dict]) -> list[Person]:
    """The people of ``world`` (and an asker of needs they answered), in place of any before;
    inserted in bulk, so that a community of thousands takes a moment."""
    for table in (NeedResponse, Need, PersonCapacity, PersonLanguage, Person):
        session.execute(delete(table))
    organizations = {o.acronym: o.id for o in session.exec(select(Organization))}
    asker = Person(display_name="asker")
    session.add(asker)
    session.flush()
    needs = [
        Need(person_id=asker.id, capacity_code=10, text="x", platform="t", room_id="r")
        for _ in range(8)
    ]
    created = [
        Person(
            display_name=f"p{n}",
            territory_code=spec["territory"],
            organization_id=organizations.get(spec["organization"]),
            discoverable=spec["discoverable"],
            last_active_at=NOW - timedelta(days=spec["idle_days"]),
        )
        for n, spec in enumerate(world)
    ]
    session.add_all([*needs, *created])
    session.flush()
    for person, spec in zip(created, world, strict=True):
        held = set(spec["capacities"])
        held |= {(code, "known") for code, relation in held if relation == "available"}
        session.add_all(
            PersonCapacity(person_id=person.id, capacity_code=code, relation=relation)
            for code, relation in held
        )
        session.add_all(
            PersonLanguage(person_id=person.id, lang=lang, level=level)
            for lang, level in spec["languages"].items()
        )
        session.add_all(  # one answer every five days: some recent, some not
            NeedResponse(
                need_id=need.id, person_id=person.id, created_at=NOW - timedelta(days=5 * n)
            )
            for n, need in enumerate(needs[: spec["helping"]])
        )
    session.flush()
    return created


def reference(session, taxonomy, seeker: Seeker, query: Query) -> list[tuple[int, int]]:
    """(person id, score) of the best ``query.limit`` people, scoring everyone in Python."""
    c = query.capacity
    children, relatives = set(taxonomy.descendants(c)), set(taxonomy.relatives(c))
    parent = {t.code: t.parent_code for t in session.exec(select(Territory))}
    anchor = query.near or seeker.territory_code
    region = anchor if anchor and parent.get(anchor) is None else parent.get(anchor)
    languages = (query.language,) if query.language else seeker.languages
    bases = {code.split("-")[0] for code in languages}
    pc, pl = PersonCapacity, PersonLanguage
    held = defaultdict(list)
    for row in session.exec(select(pc.person_id, pc.capacity_code, pc.relation)):
        held[row.person_id].append(row)
    spoken = defaultdict(list)
    for row in session.exec(select(pl.person_id, pl.lang, pl.level)):
        spoken[row.person_id].append(row)
    recent = NeedResponse.created_at >= NOW - matching.LOAD_WITHIN
    load = Counter(session.exec(select(NeedResponse.person_id).where(recent)))
    scored = []
    candidates = select(
        Person.id,
        Person.territory_code,
        Person.organization_id,
        Person.discoverable,
        Person.last_active_at,
    ).where(Person.display_name != "asker")
    for person in session.exec(candidates):
        fit = max(
            (
                4
                if r.capacity_code == c and r.relation == "available"
                else 3
                if r.capacity_code in children and r.relation == "available"
                else 2
                if r.capacity_code in relatives and r.relation == "available"
                else 1
                if r.capacity_code == c and r.relation == "known"
                else 0
                for r in held[person.id]
            ),
            default=0,
        )
        shared = any(
            p.lang.split("-")[0] in bases and p.level in USABLE_LEVELS for p in spoken[person.id]
        )
        home_region = parent.get(person.territory_code)
        if (
            fit == 0
            or not person.discoverable
            or person.id == seeker.person_id
            or (not shared and not query.any_language)
            or (query.near and region and region not in (home_region, person.territory_code))
        ):
            continue
        score = fit * 1000 + (200 if shared else 0)
        if anchor and person.territory_code == anchor:
            score += 60
        elif region and home_region == region:
            score += 30
        if seeker.organization_id is not None and person.organization_id == seeker.organization_id:
            score += 40
        if person.last_active_at >= NOW - matching.ACTIVE_WITHIN:
            score += 20
        score -= 5 * min(load[person.id], 6)
        scored.append((person.id, score))
    return sorted(scored, key=lambda pair: (-pair[1], pair[0]))[: query.limit]


@pytest.fixture(params=["together", "whole", "in cells"])
def tiers(request, monkeypatch):
    """Rank every tier in one query, as a small community does; or each tier whole, as the
    small tiers of a large one are; or force the cell-by-cell search that large tiers take by
    making every tier count as large."""
    if request.param != "together":
        monkeypatch.setattr(matching, "FEW_HOLDERS", 0)
    if request.param == "in cells":
        monkeypatch.setattr(matching, "SMALL", 1)
        monkeypatch.setattr(matching, "MANY", 2)
    return request.param


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(world=people, spec=queries, data=st.data())
def test_find_returns_exactly_the_best_of_a_full_scoring(core, tiers, world, spec, data):
    with Session(core.engine) as session:
        created = build(session, world)
        seeker = seeker_of(session, data.draw(st.sampled_from([None, *created])))
        query = Query(**spec)
        found = matching.find(session, core.taxonomy, seeker, query, NOW)
        assert [(m.person_id, m.score) for m in found] == reference(
            session, core.taxonomy, seeker, query
        )
        session.rollback()


def seeker_of(session: Session, me: Person | None) -> Seeker:
    """``me`` as a seeker, with the languages they can work in; nobody speaking English for
    None."""
    if me is None:
        return Seeker(None, ("en",))
    spoken = session.exec(select(PersonLanguage).where(PersonLanguage.person_id == me.id))
    return Seeker(
        person_id=me.id,
        languages=tuple(sorted({p.lang for p in spoken if p.level in USABLE_LEVELS})),
        territory_code=me.territory_code,
        organization_id=me.organization_id,
    )


def community(size: int, seed: int) -> list[dict]:
    """``size`` people drawn as :data:`people` draws them, from a seeded generator."""
    draw = random.Random(seed)
    return [
        {
            "capacities": [
                (draw.choice(CODES), draw.choice(["known", "available"]))
                for _ in range(draw.randint(0, 4))
            ],
            "languages": {draw.choice(LANGUAGES): draw.choice(LANGUAGE_LEVELS) for _ in range(3)},
            "territory": draw.choice(TERRITORIES),
            "organization": draw.choice(ORGANIZATIONS),
            "discoverable": draw.random() < 0.7,
            "idle_days": draw.randint(0, 200),
            "helping": draw.choice([0, 0, 0, 1, 3, 8]),
        }
        for _ in range(size)
    ]


def test_find_returns_the_best_of_a_full_scoring_among_thousands(core, tiers):
    """At 3,000 people, in each ranking path: with the cell search forced, every tier is
    read cell by cell (at this size, left alone, each tier's list is short enough to be
    ranked whole); the answers are still exactly the full scoring's."""
    draw = random.Random(7)
    with Session(core.engine) as session:
        created = build(session, community(3000, seed=7))
        for _ in range(24):
            seeker = seeker_of(session, draw.choice([None, *created]))
            query = Query(
                capacity=draw.choice(CODES),
                language=draw.choice([None, None, "pt", "ar"]),
                any_language=draw.random() < 0.3,
                near=draw.choice([None, None, "br", "LAC", "jp"]),
                limit=draw.choice([1, 3, 10, 12]),
            )
            found = matching.find(session, core.taxonomy, seeker, query, NOW)
            assert [(m.person_id, m.score) for m in found] == reference(
                session, core.taxonomy, seeker, query
            ), (seeker, query)
        session.rollback()


def test_in_a_crowd_of_equals_the_earliest_profiles_come_first(core, tiers):
    alike = {
        "capacities": [(11, "available")],
        "languages": {"en": "n"},
        "territory": None,
        "organization": None,
        "discoverable": True,
        "idle_days": 0,
        "helping": 0,
    }
    with Session(core.engine) as session:
        crowd = build(session, [alike] * 6)
        seeker = Seeker(None, ("en",))
        found = matching.find(session, core.taxonomy, seeker, Query(11, limit=2), NOW)
        assert [m.person_id for m in found] == [crowd[0].id, crowd[1].id]
        session.rollback()
