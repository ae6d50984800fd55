"""events, introductions and reminders

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 22:45:31.153362
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asker_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("capacity_code", sa.Integer(), nullable=True),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("answered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["asker_id"],
            ["person.id"],
        ),
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
    with op.batch_alter_table("contact_request", schema=None) as batch_op:
        batch_op.create_index("ix_contact_request_asked", ["person_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_contact_request_asker_id"), ["asker_id"], unique=False)
        batch_op.create_index("ix_contact_request_open", ["state", "expires_at"], unique=False)

    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("starts_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ends_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("mode", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("link", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("organizer_id", sa.Integer(), nullable=True),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("room_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("source_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("planned_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organizer_id"],
            ["person.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "source_id"),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_organizer_id"), ["organizer_id"], unique=False)
        batch_op.create_index("ix_event_upcoming", ["status", "starts_at"], unique=False)

    op.create_table(
        "event_capacity",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("capacity_code", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["capacity_code"],
            ["capacity.code"],
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
        ),
        sa.PrimaryKeyConstraint("event_id", "capacity_code"),
    )
    with op.batch_alter_table("event_capacity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_capacity_capacity_code"), ["capacity_code"], unique=False
        )

    op.create_table(
        "rsvp",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
        ),
        sa.PrimaryKeyConstraint("event_id", "person_id"),
    )
    with op.batch_alter_table("rsvp", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rsvp_person_id"), ["person_id"], unique=False)

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_event_id"), ["event_id"], unique=False)

    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("contacts_open", sa.Boolean(), server_default=sa.true(), nullable=False)
        )

    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reminders_on", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "reminder_offsets",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                server_default="1440,60",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("reminder_capacities", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.drop_column("reminder_capacities")
        batch_op.drop_column("reminder_offsets")
        batch_op.drop_column("reminders_on")

    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("contacts_open")
        batch_op.drop_column("timezone")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_event_id"))
        batch_op.drop_column("event_id")

    with op.batch_alter_table("rsvp", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rsvp_person_id"))

    op.drop_table("rsvp")
    with op.batch_alter_table("event_capacity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_capacity_capacity_code"))

    op.drop_table("event_capacity")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index("ix_event_upcoming")
        batch_op.drop_index(batch_op.f("ix_event_organizer_id"))

    op.drop_table("event")
    with op.batch_alter_table("contact_request", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_request_open")
        batch_op.drop_index(batch_op.f("ix_contact_request_asker_id"))
        batch_op.drop_index("ix_contact_request_asked")

    op.drop_table("contact_request")
