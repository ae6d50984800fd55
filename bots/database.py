"""The database a subcommand was given, checked before it is used, so that every mistake is
one line for the operator: a URL that names no database, a driver that is not installed, a
directory that cannot be made, a file that cannot be written, a capacity directory never
seeded.

Each check raises :class:`DatabaseProblem` with that line; :func:`reason` turns any other
database error into one.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from storage.db import make_engine, normalize_url
from storage.models import Capacity

POSTGRES_INSTALL = "pip install -e '.[postgres]'"
DRIVERS = {
    ("sqlite", "pysqlite"): ("sqlite3", "Python's sqlite3 module,", "use a Python with SQLite"),
    ("postgresql", "psycopg"): ("psycopg", "psycopg 3, PostgreSQL's driver,", POSTGRES_INSTALL),
}
"""(backend, driver) -> (module to import, what it is, how to get it)."""
DEFAULT_DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg"}
"""The driver of a URL that names none (``storage.db`` makes ``postgresql://`` psycopg's)."""
EXAMPLE = "a file path (SQLite) or postgresql://user:password@host/database"
USAGE = 2
"""Exit status of a mistake in what was asked (the URL); other problems exit with 1."""


class DatabaseProblem(Exception):
    """The database cannot be used; the message is one line for an operator."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Target:
    """A checked database URL, and how to name it to an operator."""

    url: URL
    source: str
    """Where it came from: ``--db``, ``CAPX_DATABASE_URL``, ``[database] url in FILE``..."""
    given: str
    """As the operator wrote it."""

    @property
    def shown(self) -> str:
        """The database as the operator wrote it, without its password."""
        return _masked(self.given)

    @property
    def file(self) -> Path | None:
        """The SQLite file, for a SQLite database kept in one."""
        name = self.url.database
        if self.url.get_backend_name() != "sqlite" or not name or name == ":memory:":
            return None
        if self.url.query.get("mode") == "memory" or name.startswith("file:"):
            return None
        return Path(name)


def _masked(raw: str) -> str:
    """``raw`` with the password of a ``scheme://user:password@`` part hidden."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", raw)


def parse(
    raw: str, source: str, import_module: Callable[[str], object] = importlib.import_module
) -> Target:
    """The database ``raw`` names (a file path or a URL), once its driver is known to be
    installed; ``import_module`` imports the driver (another one only in tests)."""
    try:
        url = make_url(normalize_url(raw))
    except (ArgumentError, ValueError):
        raise DatabaseProblem(
            f"{source} {_masked(raw)} is not a database URL: give {EXAMPLE}", USAGE
        ) from None
    target = Target(url, source, raw)
    backend = url.get_backend_name()
    driver = url.drivername.partition("+")[2] or DEFAULT_DRIVERS.get(backend, "")
    if backend not in DEFAULT_DRIVERS:
        raise DatabaseProblem(
            f"{source} {target.shown}: unknown kind of database {backend!r}: give {EXAMPLE}",
            USAGE,
        )
    if (backend, driver) not in DRIVERS:
        raise DatabaseProblem(
            f"{source} {target.shown}: the driver {driver!r} is not supported: "
            f"write {backend}:// without a driver",
            USAGE,
        )
    if backend == "postgresql" and not url.database:
        raise DatabaseProblem(f"{source} {target.shown} names no database: give {EXAMPLE}", USAGE)
    check_driver(target, import_module)
    return target


def check_driver(
    target: Target, import_module: Callable[[str], object] = importlib.import_module
) -> None:
    """A :class:`DatabaseProblem` saying how to install the driver when it cannot be
    imported."""
    url = target.url
    backend = url.get_backend_name()
    driver = url.drivername.partition("+")[2] or DEFAULT_DRIVERS[backend]
    module, what, remedy = DRIVERS[(backend, driver)]
    try:
        import_module(module)
    except ImportError:
        raise DatabaseProblem(
            f"{target.source} {target.shown} needs {what} which is not installed: {remedy}"
        ) from None


def open_engine(target: Target) -> Engine:
    """An engine for ``target``; for a SQLite file, its directory is made first when missing,
    and a problem when it cannot be."""
    path = target.file
    if path is not None:
        if path.is_dir():
            raise DatabaseProblem(f"{target.source} {path} is a directory, not a database file")
        parent = path.parent
        nearest = next(p for p in (parent, *parent.parents) if p.exists())
        if not nearest.is_dir():
            raise DatabaseProblem(
                f"{target.source} {path}: cannot make its directory, {nearest} is a file"
            )
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DatabaseProblem(
                f"{target.source} {path}: cannot make its directory {parent}: {error.strerror}"
            ) from None
    return make_engine(target.url.render_as_string(hide_password=False))


def check_writable(engine: Engine, target: Target) -> None:
    """A :class:`DatabaseProblem` when the (migrated) database takes no writes: a read-only
    file or directory, a read-only server or role. Nothing is changed: the write is rolled
    back."""
    try:
        with engine.connect() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = version_num"))
            connection.rollback()
    except SQLAlchemyError as error:
        raise DatabaseProblem(f"cannot write to the database {explained(target, error)}") from None


def is_seeded(engine: Engine) -> bool:
    """Whether the capacity directory has been loaded (``capx-bot seed``)."""
    with engine.connect() as connection:
        return connection.execute(select(Capacity.code).limit(1)).first() is not None


def reason(error: BaseException) -> str:
    """A database error in one line: the driver's own message when there is one."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    return " ".join(str(cause).split()) or type(cause).__name__


def explained(target: Target, error: BaseException) -> str:
    """``target`` and what went wrong with it, in one line: for a SQLite file that could not
    be opened or written, where to look."""
    said = reason(error)
    if target.file is not None and ("readonly" in said or "unable to open" in said):
        said += f" (check who may write to {target.file} and to its directory)"
    return f"{target.shown}: {said}"
