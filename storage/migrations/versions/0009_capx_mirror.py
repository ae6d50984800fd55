"""capx mirror: CapX ids on people and organizations, a mirrored profile's freshness and
contact links

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 18:06:15.370010
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.add_column(sa.Column("capx_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint("uq_organization_capx_id", ["capx_id"])
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("capx_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("capx_updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("capx_seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("contact_links", sa.Text(), nullable=True))
        batch_op.create_unique_constraint("uq_person_capx_id", ["capx_id"])


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_constraint("uq_person_capx_id", type_="unique")
        batch_op.drop_column("contact_links")
        batch_op.drop_column("capx_seen_at")
        batch_op.drop_column("capx_updated_at")
        batch_op.drop_column("capx_id")
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.drop_constraint("uq_organization_capx_id", type_="unique")
        batch_op.drop_column("capx_id")
