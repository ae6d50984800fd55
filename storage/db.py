"""Engines and units of work.

SQLite (a file) is the embedded default; PostgreSQL is reached through a URL such as
``postgresql+psycopg://user@host/db``. A plain ``postgresql://`` URL is taken to mean psycopg 3.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session


def normalize_url(url_or_path: str) -> str:
    """Turn a file path or a database URL into a SQLAlchemy URL string."""
    if "://" not in url_or_path:
        return f"sqlite:///{Path(url_or_path).expanduser()}"
    if url_or_path.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url_or_path.split("://", 1)[1]
    return url_or_path


def make_engine(url_or_path: str) -> Engine:
    """An engine for the URL; a SQLite file's directory is created when missing."""
    url = make_url(normalize_url(url_or_path))
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _tune_sqlite)
    return engine


def _tune_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block ends normally and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
