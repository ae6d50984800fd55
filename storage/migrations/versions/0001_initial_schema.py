"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 10:47:48.605577
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "capacity",
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("parent_code", sa.Integer(), nullable=True),
        sa.Column("root_code", sa.Integer(), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("wikidata_qid", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["capacity.code"],
        ),
        sa.PrimaryKeyConstraint("code"),
    )
    with op.batch_alter_table("capacity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_capacity_parent_code"), ["parent_code"], unique=False)

    op.create_table(
        "language",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("name_en", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("autonym", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "organization",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("acronym", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("acronym"),
    )
    op.create_table(
        "room",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("room_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "room_id"),
    )
    op.create_table(
        "sync_state",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "territory",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("name_en", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("parent_code", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["territory.code"],
        ),
        sa.PrimaryKeyConstraint("code"),
    )
    with op.batch_alter_table("territory", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_territory_parent_code"), ["parent_code"], unique=False)

    op.create_table(
        "capacity_name",
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("lang", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["code"],
            ["capacity.code"],
        ),
        sa.PrimaryKeyConstraint("code", "lang"),
    )
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("about", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("territory_code", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("discoverable", sa.Boolean(), nullable=False),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_active_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
        ),
        sa.ForeignKeyConstraint(
            ["territory_code"],
            ["territory.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "chat_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("handle", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "account_id"),
    )
    with op.batch_alter_table("chat_identity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_identity_person_id"), ["person_id"], unique=False)

    op.create_table(
        "need",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("capacity_code", sa.Integer(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("room_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["capacity_code"],
            ["capacity.code"],
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("need", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_need_capacity_code"), ["capacity_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_need_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_need_status"), ["status"], unique=False)

    op.create_table(
        "person_capacity",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("capacity_code", sa.Integer(), nullable=False),
        sa.Column("relation", sqlmodel.sql.sqltypes.AutoString(length=9), nullable=False),
        sa.ForeignKeyConstraint(
            ["capacity_code"],
            ["capacity.code"],
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
        ),
        sa.PrimaryKeyConstraint("person_id", "capacity_code", "relation"),
    )
    with op.batch_alter_table("person_capacity", schema=None) as batch_op:
        batch_op.create_index(
            "ix_person_capacity_match", ["capacity_code", "relation", "person_id"], unique=False
        )

    op.create_table(
        "person_language",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("lang", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
        ),
        sa.PrimaryKeyConstraint("person_id", "lang"),
    )
    with op.batch_alter_table("person_language", schema=None) as batch_op:
        batch_op.create_index(
            "ix_person_language_match", ["lang", "level", "person_id"], unique=False
        )

    op.create_table(
        "need_response",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("need_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["need_id"],
            ["need.id"],
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("need_id", "person_id"),
    )
    with op.batch_alter_table("need_response", schema=None) as batch_op:
        batch_op.create_index("ix_need_response_load", ["person_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_need_response_need_id"), ["need_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("need_response", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_need_response_need_id"))
        batch_op.drop_index("ix_need_response_load")

    op.drop_table("need_response")
    with op.batch_alter_table("person_language", schema=None) as batch_op:
        batch_op.drop_index("ix_person_language_match")

    op.drop_table("person_language")
    with op.batch_alter_table("person_capacity", schema=None) as batch_op:
        batch_op.drop_index("ix_person_capacity_match")

    op.drop_table("person_capacity")
    with op.batch_alter_table("need", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_need_status"))
        batch_op.drop_index(batch_op.f("ix_need_person_id"))
        batch_op.drop_index(batch_op.f("ix_need_capacity_code"))

    op.drop_table("need")
    with op.batch_alter_table("chat_identity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_identity_person_id"))

    op.drop_table("chat_identity")
    op.drop_table("person")
    op.drop_table("capacity_name")
    with op.batch_alter_table("territory", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_territory_parent_code"))

    op.drop_table("territory")
    op.drop_table("sync_state")
    op.drop_table("room")
    op.drop_table("organization")
    op.drop_table("language")
    with op.batch_alter_table("capacity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_capacity_parent_code"))

    op.drop_table("capacity")
