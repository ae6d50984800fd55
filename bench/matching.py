"""How fast ``matching.find`` ranks a large community: ``make bench``, or from the repository root
``.venv/bin/python -m bench.matching [--people N] [--db PATH]`` (as a module, so that
``bench/core.py`` does not hide the ``core`` package).

It builds a database of synthetic people on a new SQLite file (in a temporary directory, or at
``--db``, which is then kept), and on a new PostgreSQL database too when
``CAPX_TEST_POSTGRES_URL`` names a server (the database is dropped afterwards). The people are
drawn from a ``random.Random`` with a fixed seed against a fixed reference date, so every run and
both backends get the same rows. Each database is migrated, seeded with the reference data (the
first ``seed_reference`` of the run also loads Babel's CLDR data, so it is the slower one), filled
with bulk inserts in one transaction, then analyzed so that the planner knows the tables: with
``ANALYZE`` on SQLite, ``VACUUM ANALYZE`` on PostgreSQL.

Then it times ``find`` for a common, a mid and a rare capacity (the most, median and fewest
people offering it), each for the same warm-up seekers and then the same measured seekers:
people of the database, with their own languages, territory and affiliation. Every query runs in
a fresh session, as the bot opens one transaction per command. Both backends must give the same
answers. It prints readable lines and, as its last line, one JSON object with every figure. The
goal, with 100,000 people: a p95 under 10 ms on SQLite and under 20 ms on PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from time import perf_counter
from typing import Any

from sqlalchemy import Connection, Engine, distinct, func, insert, or_, select
from sqlalchemy.engine import make_url
from sqlmodel import Session

from core.services.matching import Query, Seeker, find
from core.services.taxonomy import Taxonomy
from storage import migrate
from storage.db import make_engine, normalize_url, scratch_database, unit_of_work
from storage.models import (
    USABLE_LEVELS,
    Capacity,
    Need,
    NeedResponse,
    Organization,
    Person,
    PersonCapacity,
    PersonLanguage,
    Relation,
    Territory,
)
from storage.seed import seed_reference

GOAL_P95_MS = {"sqlite": 10, "postgresql": 20}
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
"""The reference date: activity is spread over the year before it, and ``find`` runs at it."""
YEAR_MINUTES = 365 * 24 * 60
NEED_SPAN_MINUTES = 60 * 24 * 60
SEED = 20261121
CHUNK = 5_000
"""People per bulk insert (with their languages and capacities)."""
WARMUP = 20
QUERIES = 300
"""Measured queries per capacity class."""

LANGUAGES = (
    *("en", "es", "fr", "pt", "ar", "de", "ru", "it", "zh", "ja", "id", "pt-br", "hi", "pl"),
    *("uk", "nl", "tr", "fa", "bn", "ko", "sv", "vi", "he", "ca", "cs", "el", "ro", "hu", "fi"),
    *("th", "sr", "ur", "ta", "ms", "sw", "da", "nb", "bg", "eu", "ml", "tl", "ne", "yo", "ha"),
    *("ig", "am", "te", "gl", "cy", "dag", "tw", "qu", "gn", "mi", "se", "kab", "ary", "zh-hk"),
)
"""Most spoken first: the n-th is drawn in proportion to 1 / n**1.2, so about half the people
speak English and the last ones are rare."""
SECOND_LEVELS = ("0", "1", "2", "3", "4", "5", "n")
SECOND_LEVEL_WEIGHTS = (1, 2, 3, 3, 2, 1, 1)
"""Levels of languages after the first (a quarter of them too low to work in)."""


def _cumulative(size: int, exponent: float) -> list[float]:
    """Cumulative Zipf weights: rank ``n`` (from 1) is drawn in proportion to 1 / n**exponent."""
    return list(accumulate(1 / rank**exponent for rank in range(1, size + 1)))


class Community:
    """Synthetic people, needs and responses, drawn in a fixed order from one seeded stream.

    Countries, affiliates and capacities are ranked by popularity in a shuffled order, so some
    are common and many are rare. People have ids 1..count.
    """

    def __init__(self, connection: Connection, count: int) -> None:
        self.count = count
        self.rng = random.Random(SEED)
        self.countries = sorted(
            connection.scalars(select(Territory.code).where(Territory.kind == "country"))
        )
        self.organizations = sorted(connection.scalars(select(Organization.id)))
        self.capacities = sorted(connection.scalars(select(Capacity.code)))
        for pool in (self.countries, self.organizations, self.capacities):
            self.rng.shuffle(pool)
        self.country_weights = _cumulative(len(self.countries), 1.0)
        self.organization_weights = _cumulative(len(self.organizations), 1.0)
        self.capacity_weights = _cumulative(len(self.capacities), 1.2)
        self.language_weights = _cumulative(len(LANGUAGES), 1.2)

    def _draw(self, pool: list[Any] | tuple[Any, ...], weights: list[float]) -> Any:
        return self.rng.choices(pool, cum_weights=weights)[0]

    def person(self, person_id: int) -> tuple[dict[str, Any], list[dict], list[dict]]:
        """One person row, their language rows and their capacity rows."""
        rng = self.rng
        last_active = NOW - timedelta(minutes=rng.randrange(YEAR_MINUTES))
        person = {
            "id": person_id,
            "username": f"Bench {person_id}",
            "display_name": f"Bench person {person_id}",
            "territory_code": (
                self._draw(self.countries, self.country_weights) if rng.random() < 0.9 else None
            ),
            "organization_id": (
                self._draw(self.organizations, self.organization_weights)
                if rng.random() < 0.5
                else None
            ),
            "discoverable": rng.random() < 0.85,
            "source": "capx",
            "created_at": last_active - timedelta(days=rng.randrange(1500)),
            "last_active_at": last_active,
        }
        spoken: dict[str, str] = {}
        wanted = rng.randint(2, 3)
        while len(spoken) < wanted:
            lang = self._draw(LANGUAGES, self.language_weights)
            if lang in spoken:
                continue
            if not spoken:
                spoken[lang] = "n" if rng.random() < 0.8 else rng.choice("345")
            else:
                spoken[lang] = rng.choices(SECOND_LEVELS, SECOND_LEVEL_WEIGHTS)[0]
        languages = [
            {"person_id": person_id, "lang": lang, "level": level} for lang, level in spoken.items()
        ]
        held: set[int] = set()
        wanted = rng.randint(2, 6)
        while len(held) < wanted:
            held.add(self._draw(self.capacities, self.capacity_weights))
        capacities = []
        for code in sorted(held):
            roll = rng.random()
            if roll < 0.4:
                relations = (Relation.KNOWN,)
            elif roll < 0.75:
                relations = (Relation.KNOWN, Relation.AVAILABLE)
            else:
                relations = (Relation.WANTED,)
            capacities += [
                {"person_id": person_id, "capacity_code": code, "relation": relation}
                for relation in relations
            ]
        return person, languages, capacities

    def needs(self) -> list[dict[str, Any]]:
        """Needs posted over the 60 days before the reference date; ids 1..n."""
        return [
            {
                "id": need_id,
                "person_id": self.rng.randint(1, self.count),
                "capacity_code": self._draw(self.capacities, self.capacity_weights),
                "text": f"Bench need {need_id}",
                "platform": "console",
                "room_id": "bench",
                "status": "open",
                "created_at": NOW - timedelta(minutes=self.rng.randrange(NEED_SPAN_MINUTES)),
            }
            for need_id in range(1, max(10, self.count // 250) + 1)
        ]

    def responses(self, needs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Responses from a pool of helpers (a few busy, most helping once or twice), each after
        its need was posted; about one person in 25 responds to something."""
        rng = self.rng
        helpers = rng.sample(range(1, self.count + 1), max(1, self.count // 50))
        weights = _cumulative(len(helpers), 0.8)
        taken: set[tuple[int, int]] = set()
        rows = []
        for _ in range(max(1, self.count // 25)):
            need = rng.choice(needs)
            person_id = self._draw(helpers, weights)
            if person_id == need["person_id"] or (need["id"], person_id) in taken:
                continue
            taken.add((need["id"], person_id))
            rows.append(
                {
                    "need_id": need["id"],
                    "person_id": person_id,
                    "created_at": need["created_at"] + (NOW - need["created_at"]) * rng.random(),
                }
            )
        return rows


def build_people(connection: Connection, count: int) -> dict[str, int]:
    """Insert ``count`` people with their languages and capacities, then needs and responses;
    return the number of rows written to each table."""
    community = Community(connection, count)
    rows = {"person": 0, "person_language": 0, "person_capacity": 0}
    for start in range(1, count + 1, CHUNK):
        people, languages, capacities = [], [], []
        for person_id in range(start, min(start + CHUNK, count + 1)):
            person, spoken, held = community.person(person_id)
            people.append(person)
            languages += spoken
            capacities += held
        connection.execute(insert(Person), people)
        connection.execute(insert(PersonLanguage), languages)
        connection.execute(insert(PersonCapacity), capacities)
        rows["person"] += len(people)
        rows["person_language"] += len(languages)
        rows["person_capacity"] += len(capacities)
    needs = community.needs()
    responses = community.responses(needs)
    connection.execute(insert(Need), needs)
    connection.execute(insert(NeedResponse), responses)
    return {**rows, "need": len(needs), "need_response": len(responses)}


def capacity_classes(connection: Connection) -> dict[str, tuple[int, int]]:
    """The capacities offered by the most people, by the median number and by the fewest (but
    someone): class -> (code, offerers)."""
    pc = PersonCapacity.__table__.c
    offered = connection.execute(
        select(pc.capacity_code, func.count())
        .where(pc.relation == Relation.AVAILABLE)
        .group_by(pc.capacity_code)
        .order_by(func.count(), pc.capacity_code)
    ).all()
    return {
        "common": tuple(offered[-1]),
        "mid": tuple(offered[len(offered) // 2]),
        "rare": tuple(offered[0]),
    }


def candidates(connection: Connection, taxonomy: Taxonomy, code: int) -> int:
    """Discoverable people with any fit for ``code``, before languages are considered: those
    who know or offer it, and those who offer a part or a relative of it."""
    pc = PersonCapacity.__table__.c
    near = [*taxonomy.descendants(code), *taxonomy.relatives(code)]
    return connection.scalar(
        select(func.count(distinct(pc.person_id)))
        .join(Person, Person.id == pc.person_id)
        .where(
            Person.discoverable,
            or_(
                (pc.capacity_code == code) & pc.relation.in_([Relation.KNOWN, Relation.AVAILABLE]),
                pc.capacity_code.in_(near) & (pc.relation == Relation.AVAILABLE),
            ),
        )
    )


def seekers(session: Session, count: int) -> list[Seeker]:
    """``WARMUP + QUERIES`` people drawn at random, as ``find`` sees them when they ask (their
    usable languages, or the bot's English when they have none)."""
    ids = random.Random(SEED + 1).sample(range(1, count + 1), min(count, WARMUP + QUERIES))
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(ids)))}
    spoken: dict[int, list[str]] = {}
    for person_id, lang in session.execute(
        select(PersonLanguage.person_id, PersonLanguage.lang)
        .where(PersonLanguage.person_id.in_(ids), PersonLanguage.level.in_(USABLE_LEVELS))
        .order_by(PersonLanguage.person_id, PersonLanguage.lang)
    ):
        spoken.setdefault(person_id, []).append(lang)
    return [
        Seeker(
            person_id=person_id,
            languages=tuple(spoken.get(person_id, ["en"])),
            territory_code=people[person_id].territory_code,
            organization_id=people[person_id].organization_id,
        )
        for person_id in ids
    ]


def percentiles(times: list[float]) -> dict[str, float]:
    """p50 and p95 of ``times`` (ms), rounded to hundredths."""
    p95 = statistics.quantiles(times, n=20, method="inclusive")[18]
    return {"p50": round(statistics.median(times), 2), "p95": round(p95, 2)}


def time_find(
    engine: Engine, taxonomy: Taxonomy, askers: list[Seeker], code: int
) -> tuple[list[float], list[list[tuple[int, int]]]]:
    """Run ``find`` for ``code`` once per seeker, each in a fresh session; return the measured
    times (ms, warm-up left out) and each measured query's (person id, score) list."""
    times, results = [], []
    for index, seeker in enumerate(askers):
        start = perf_counter()
        with Session(engine) as session:
            matches = find(session, taxonomy, seeker, Query(code), NOW)
        elapsed = (perf_counter() - start) * 1000
        if index >= WARMUP:
            times.append(elapsed)
            results.append([(match.person_id, match.score) for match in matches])
    return times, results


def analyze(engine: Engine) -> None:
    """Give the planner statistics on the new rows: ``ANALYZE``, and on PostgreSQL ``VACUUM
    ANALYZE``, which also marks the freshly written pages all-visible (as autovacuum soon would),
    without which no index-only scan is worth it."""
    vacuum = "VACUUM " if engine.dialect.name == "postgresql" else ""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"{vacuum}ANALYZE")


def run(url: str, count: int, label: str) -> tuple[dict[str, Any], dict[str, list]]:
    """Build the database at ``url`` and time ``find`` on it; return the figures and each class's
    results (to compare backends)."""
    engine = make_engine(url)
    try:
        figures: dict[str, Any] = {}
        start = perf_counter()
        migrate.upgrade(engine)
        figures["migrate_s"] = round(perf_counter() - start, 2)
        start = perf_counter()
        with unit_of_work(engine) as session:
            seed_reference(session)
        figures["seed_reference_s"] = round(perf_counter() - start, 2)
        start = perf_counter()
        with engine.begin() as connection:
            figures["rows"] = build_people(connection, count)
        figures["build_people_s"] = round(perf_counter() - start, 2)
        start = perf_counter()
        analyze(engine)
        figures["analyze_s"] = round(perf_counter() - start, 2)
        rows = ", ".join(f"{n:,} {table}" for table, n in figures["rows"].items())
        print(
            f"{label}: migrate {figures['migrate_s']} s, seed_reference "
            f"{figures['seed_reference_s']} s, build people {figures['build_people_s']} s "
            f"({rows}), analyze {figures['analyze_s']} s"
        )

        with Session(engine) as session:
            taxonomy = Taxonomy.load(session)
            askers = seekers(session, count)
        with engine.connect() as connection:
            classes = capacity_classes(connection)
            sizes = {
                name: candidates(connection, taxonomy, code) for name, (code, _) in classes.items()
            }
        find_ms: dict[str, Any] = {}
        results: dict[str, list] = {}
        every: list[float] = []
        for name, (code, offerers) in classes.items():
            times, results[name] = time_find(engine, taxonomy, askers, code)
            every += times
            find_ms[name] = {
                "capacity": code,
                "offerers": offerers,
                "candidates": sizes[name],
                **percentiles(times),
            }
            print(
                f"{label}: {name} capacity {code} ({offerers:,} offer it, {sizes[name]:,} "
                f"candidates): p50 {find_ms[name]['p50']} ms, p95 {find_ms[name]['p95']} ms"
            )
        find_ms["all"] = percentiles(every)
        print(
            f"{label}: all {len(every)} queries: p50 {find_ms['all']['p50']} ms, "
            f"p95 {find_ms['all']['p95']} ms"
        )
        figures["find_ms"] = find_ms
        return figures, results
    finally:
        engine.dispose()


def goal_met(figures: dict[str, Any], backend: str) -> bool:
    """Whether every capacity class's p95, and that of all together, is under the backend's
    goal; printed."""
    goal = GOAL_P95_MS[backend]
    met = all(found["p95"] < goal for found in figures["find_ms"].values())
    print(
        f"goal: p95 under {goal} ms on {backend}, for each capacity and all together: "
        f"{'met' if met else 'MISSED'}"
    )
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=100_000, help="how many (default 100000)")
    parser.add_argument(
        "--db",
        help="a new SQLite file (path or sqlite:/// URL) to build and keep, instead of a "
        "temporary one",
    )
    args = parser.parse_args()
    if args.people < 100:
        parser.error("--people must be at least 100")
    if args.db:
        url = make_url(normalize_url(args.db))
        if url.get_backend_name() != "sqlite" or not url.database:
            parser.error("--db must name a SQLite file")
        if Path(url.database).exists():
            parser.error(f"{url.database} exists; --db must name a new file")

    print(
        f"matching.find benchmark: {args.people:,} people, {QUERIES} queries per capacity after "
        f"{WARMUP} warm-up ones, a fresh session per query, (VACUUM) ANALYZE after building"
    )
    with tempfile.TemporaryDirectory() as directory:
        sqlite_url = args.db or str(Path(directory) / "bench.db")
        sqlite, sqlite_results = run(sqlite_url, args.people, "sqlite")
    met = {"sqlite": goal_met(sqlite, "sqlite")}

    postgresql = None
    server = os.environ.get("CAPX_TEST_POSTGRES_URL")
    if server:
        with scratch_database(server, "capx_bench") as postgres_url:
            postgresql, postgres_results = run(postgres_url, args.people, "postgresql")
        postgresql["same_results_as_sqlite"] = postgres_results == sqlite_results
        print(f"postgresql: same results as sqlite: {postgresql['same_results_as_sqlite']}")
        met["postgresql"] = goal_met(postgresql, "postgresql")
    else:
        print("postgresql: skipped (CAPX_TEST_POSTGRES_URL is not set)")

    summary = {
        "people": args.people,
        "sqlite": sqlite,
        "postgresql": postgresql,
        "goal_p95_ms": GOAL_P95_MS,
        "goal_met": met,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
