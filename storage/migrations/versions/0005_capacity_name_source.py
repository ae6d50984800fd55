"""capacity name source

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every name stored so far came from CapX's data: the server default says so for them.
    with op.batch_alter_table("capacity_name", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "source",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="capx",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("capacity_name", schema=None) as batch_op:
        batch_op.drop_column("source")
