"""The Alembic migrations: they reach the head, are idempotent, reversible, and match the models.

Each test runs on SQLite and, when ``CAPX_TEST_POSTGRES_URL`` is set, on PostgreSQL too.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlmodel import SQLModel, select

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from storage import migrate
from storage.db import make_engine, unit_of_work
from storage.models import Language


def schema_diff(engine: Engine) -> list[Any]:
    """What autogenerate would change to make the database match the models (empty when equal)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "compare_server_default": True},
        )
        return compare_metadata(context, SQLModel.metadata)


def user_tables(engine: Engine) -> set[str]:
    """The tables in the database, leaving out Alembic's own bookkeeping table."""
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_reaches_head(engine: Engine) -> None:
    """A fresh database migrated by the fixture is at the newest revision, with every table."""
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert user_tables(engine) == set(SQLModel.metadata.tables)


def test_empty_database_has_no_revision(database_url: str) -> None:
    """Before any migration the database reports no revision."""
    engine = make_engine(database_url)
    try:
        assert migrate.current_revision(engine) is None
    finally:
        engine.dispose()


def test_upgrade_again_is_a_no_op_that_keeps_data(engine: Engine) -> None:
    """Upgrading a database already at the head changes nothing and loses no row."""
    with unit_of_work(engine) as session:
        session.add(Language(code="pt-br", name_en="Brazilian Portuguese", autonym="português"))

    migrate.upgrade(engine)

    assert migrate.current_revision(engine) == migrate.head_revision()
    with unit_of_work(engine) as session:
        rows = session.exec(select(Language.code, Language.autonym)).all()
    assert [tuple(row) for row in rows] == [("pt-br", "português")]


def test_migrated_schema_matches_models(engine: Engine) -> None:
    """The migrations build exactly the schema that the SQLModel classes describe."""
    assert schema_diff(engine) == []


def test_downgrade_to_base_then_upgrade(engine: Engine) -> None:
    """Every migration can be undone, and the schema can then be built again from nothing."""
    migrate.downgrade(engine, "base")

    assert migrate.current_revision(engine) is None
    assert user_tables(engine) == set()

    migrate.upgrade(engine)

    assert migrate.current_revision(engine) == migrate.head_revision()
    assert user_tables(engine) == set(SQLModel.metadata.tables)
    assert schema_diff(engine) == []


def test_schema_comparison_sees_a_missing_index(engine: Engine) -> None:
    """The comparison above is not vacuous: an index dropped by hand shows up as a difference."""
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_need_status"))

    diff = schema_diff(engine)

    assert [(entry[0], entry[1].name) for entry in diff] == [("add_index", "ix_need_status")]


def test_answers_held_before_the_outbox_move_into_it(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine, "0006")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO held_reply (token, platform, account_id, content, expires_at) "
                    "VALUES ('tok', 'telegram', '42', :content, :expires)"
                ),
                {
                    "content": '[{"paragraphs": ["one"]}, {"paragraphs": ["two"]}]',
                    "expires": "2030-01-01 00:00:00",
                },
            )
        migrate.upgrade(engine)
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT account_id, content, state FROM outbox ORDER BY id")
            ).all()
        assert [(r[0], r[2]) for r in rows] == [("42", "pending"), ("42", "pending")]
        assert '"one"' in rows[0][1] and '"two"' in rows[1][1]
        assert "held_reply" not in user_tables(engine)
    finally:
        engine.dispose()
