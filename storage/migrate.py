"""Schema migrations (Alembic), run from code: ``capx-bot db upgrade`` and the test fixtures."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def _config(engine: Engine, connection=None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` (the newest by default)."""
    with engine.begin() as connection:
        command.upgrade(_config(engine, connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database schema back to ``revision`` (``base`` removes every table)."""
    with engine.begin() as connection:
        command.downgrade(_config(engine, connection), revision)


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision shipped with this code."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def make_revision(engine: Engine, message: str) -> None:
    """Autogenerate a new revision from the models (a developer tool: ``capx-bot db revision``)."""
    with engine.begin() as connection:
        command.revision(_config(engine, connection), message=message, autogenerate=True)
