"""Shared fixtures: a fresh, migrated database on SQLite and, when its URL is set, PostgreSQL.

``CAPX_TEST_POSTGRES_URL`` names a PostgreSQL server and a role that may create databases
(``.ci/run`` sets it). Each test that asks for ``engine`` gets a new database of its own.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.dispatch import Core
from core.limits import Limits
from storage import migrate
from storage.db import make_engine, scratch_database, unit_of_work
from storage.demo import seed_demo
from storage.seed import seed_reference

POSTGRES_URL = os.environ.get("CAPX_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]


@contextmanager
def new_database(backend: str, directory: Path) -> Iterator[str]:
    """The URL of a new, empty database on ``backend``, dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'capx.db'}"
        return
    with scratch_database(POSTGRES_URL, "capx_test") as url:
        yield url


@pytest.fixture
def database_url(request, tmp_path) -> Iterator[str]:
    """The URL of a new, empty database on the backend named by ``request.param``."""
    with new_database(getattr(request, "param", "sqlite"), tmp_path) as url:
        yield url


@pytest.fixture
def engine(database_url) -> Iterator[Engine]:
    """An engine on a new database, migrated to the newest schema."""
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def pytest_generate_tests(metafunc) -> None:
    """Run every test that uses a database once per available backend."""
    if "database_url" in metafunc.fixturenames:
        metafunc.parametrize("database_url", BACKENDS, indirect=True)


NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
"""The fixed time conversation tests run at."""
UNLIMITED = Limits(commands_burst=1_000_000, needs_per_room_per_hour=1_000_000)
"""Limits no test meets, but the tests of the limits themselves."""


def _seeded_file(directory: Path, *, demo: bool) -> Path:
    path = directory / "seeded.db"
    engine = make_engine(str(path))
    migrate.upgrade(engine)
    with unit_of_work(engine) as session:
        seed_reference(session)
        if demo:
            seed_demo(session)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def reference_db(tmp_path_factory) -> Path:
    """A SQLite file with the reference data (capacities, territories...), made once."""
    return _seeded_file(tmp_path_factory.mktemp("reference"), demo=False)


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    """A SQLite file with the reference data and the demo community, made once."""
    return _seeded_file(tmp_path_factory.mktemp("demo"), demo=True)


def _core_on_copy(template: Path, directory: Path) -> Iterator[Core]:
    path = directory / "capx.db"
    shutil.copyfile(template, path)
    engine = make_engine(str(path))
    core = Core(engine, clock=lambda: NOW, limits=UNLIMITED)
    yield core
    core.close()
    engine.dispose()


@pytest.fixture
def core(reference_db, tmp_path) -> Iterator[Core]:
    """The core on a private copy of the reference database, its clock fixed at ``NOW``."""
    yield from _core_on_copy(reference_db, tmp_path)


@pytest.fixture(params=BACKENDS)
def core_on_every_backend(request, reference_db, tmp_path) -> Iterator[Core]:
    """Like ``core``, once on SQLite and once on a new, seeded PostgreSQL database when its URL
    is set. A test module opts in by naming this fixture ``core``."""
    if request.param == "sqlite":
        yield from _core_on_copy(reference_db, tmp_path)
        return
    with new_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        with unit_of_work(engine) as session:
            seed_reference(session)
        core = Core(engine, clock=lambda: NOW, limits=UNLIMITED)
        yield core
        core.close()
        engine.dispose()


@pytest.fixture
def demo_core(demo_db, tmp_path) -> Iterator[Core]:
    """The core on a private copy of the database with the demo community."""
    yield from _core_on_copy(demo_db, tmp_path)
