"""buttons, direct rooms, held replies, room needs

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 20:00:14.439597
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "button",
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("owner_platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("owner_account", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("confirms", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token"),
    )
    with op.batch_alter_table("button", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_button_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index("ix_button_owner", ["owner_platform", "owner_account"], unique=False)

    op.create_table(
        "direct_room",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("room_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "room_id"),
    )
    with op.batch_alter_table("direct_room", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_direct_room_account_id"), ["account_id"], unique=False)

    op.create_table(
        "held_reply",
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token"),
    )
    with op.batch_alter_table("held_reply", schema=None) as batch_op:
        batch_op.create_index("ix_held_reply_account", ["platform", "account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_held_reply_expires_at"), ["expires_at"], unique=False)

    with op.batch_alter_table("chat_identity", schema=None) as batch_op:
        batch_op.alter_column("handle", existing_type=sa.VARCHAR(length=255), nullable=True)
    # Telegram handles were display names for people without a username, and anyone can
    # choose a display name: forget them all; each is set again, from the username, when its
    # person next speaks.
    op.execute("UPDATE chat_identity SET handle = NULL WHERE platform = 'telegram'")

    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True)
        )
        batch_op.add_column(
            sa.Column("needs_public", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.drop_column("needs_public")
        batch_op.drop_column("title")

    op.execute("UPDATE chat_identity SET handle = account_id WHERE handle IS NULL")
    with op.batch_alter_table("chat_identity", schema=None) as batch_op:
        batch_op.alter_column("handle", existing_type=sa.VARCHAR(length=255), nullable=False)

    with op.batch_alter_table("held_reply", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_held_reply_expires_at"))
        batch_op.drop_index("ix_held_reply_account")

    op.drop_table("held_reply")
    with op.batch_alter_table("direct_room", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_direct_room_account_id"))

    op.drop_table("direct_room")
    with op.batch_alter_table("button", schema=None) as batch_op:
        batch_op.drop_index("ix_button_owner")
        batch_op.drop_index(batch_op.f("ix_button_expires_at"))

    op.drop_table("button")
