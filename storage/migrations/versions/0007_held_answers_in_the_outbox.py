"""answers held for a deep link live in the outbox

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 21:26:38.476776
"""

import json

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # What was held moves over, as messages that wait for their person to be seen again.
    bind = op.get_bind()
    held = sa.table(
        "held_reply",
        sa.column("token", sa.String),
        sa.column("platform", sa.String),
        sa.column("account_id", sa.String),
        sa.column("content", sa.Text),
        sa.column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime),
    )
    outbox = sa.table(
        "outbox",
        sa.column("platform", sa.String),
        sa.column("account_id", sa.String),
        sa.column("content", sa.Text),
        sa.column("dedupe_key", sa.String),
        sa.column("state", sa.String),
        sa.column("not_before", sqlmodel.sql.sqltypes.UTCDateTime),
        sa.column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime),
        sa.column("attempts", sa.Integer),
        sa.column("created_at", sqlmodel.sql.sqltypes.UTCDateTime),
    )
    for row in bind.execute(sa.select(held)).mappings():
        for number, reply in enumerate(json.loads(row["content"])):
            bind.execute(
                outbox.insert().values(
                    platform=row["platform"],
                    account_id=row["account_id"],
                    content=json.dumps([reply], ensure_ascii=False),
                    dedupe_key=f"held:{row['token']}:{number}",
                    state="pending",
                    not_before=row["expires_at"],
                    expires_at=row["expires_at"],
                    attempts=0,
                    created_at=row["expires_at"],
                )
            )
    with op.batch_alter_table("held_reply", schema=None) as batch_op:
        batch_op.drop_index("ix_held_reply_account")
        batch_op.drop_index(batch_op.f("ix_held_reply_expires_at"))
    op.drop_table("held_reply")


def downgrade() -> None:
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
