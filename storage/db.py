"""Engines and units of work.

SQLite (a file) is the embedded default; PostgreSQL is reached through a URL such as
``postgresql+psycopg://user@host/db``. A plain ``postgresql://`` URL is taken to mean psycopg 3.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, Executable, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session


def normalize_url(url_or_path: str) -> str:
    """Turn a file path or a database URL into a SQLAlchemy URL string."""
    if "://" not in url_or_path:
        return f"sqlite:///{Path(url_or_path).expanduser()}"
    if url_or_path.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url_or_path.split("://", 1)[1]
    return url_or_path


def make_engine(url_or_path: str) -> Engine:
    """An engine for the URL; a SQLite file's directory is created when missing. Errors
    never show a statement's parameters (they hold what people typed)."""
    url = make_url(normalize_url(url_or_path))
    if url.get_backend_name() != "sqlite":
        # A server that does not answer is one clear error in seconds, not the OS's minutes.
        return create_engine(
            url, pool_pre_ping=True, hide_parameters=True, connect_args={"connect_timeout": 10}
        )
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)
    event.listen(engine, "connect", _tune_sqlite)
    return engine


def _tune_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def read(session: Session, statement: Executable, params: Mapping[str, Any]) -> CursorResult:
    """The rows of ``statement`` (built once, with bound parameters), read on the session's
    connection: no ORM objects and none of the ORM's work per call. What the session holds
    unwritten is flushed first, so the rows are those the session would see."""
    session.flush()
    return session.connection().execute(statement, params)


@contextmanager
def unit_of_work(bind: Engine | Connection) -> Iterator[Session]:
    """A session that commits when the block ends normally and rolls back on any error; on
    a connection of the engine's pool, or on ``bind`` itself when it is a connection."""
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def scratch_database(server_url: str, prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database ``<prefix>_<random>`` on the server at
    ``server_url`` (whose role may create databases), dropped when the block ends."""
    server = make_url(normalize_url(server_url))
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            _drop(admin, name)
    finally:
        admin.dispose()


def _drop(admin: Engine, name: str) -> None:
    """Drop the database ``name``, ending the role's own connections to it. An autovacuum
    worker busy in it cannot be ended so by a role that is not a superuser: a plain drop, a
    moment later, cancels the worker itself."""
    for attempt in range(5):
        force = " WITH (FORCE)" if attempt == 0 else ""
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"{force}'))
            return
        except DBAPIError:
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
