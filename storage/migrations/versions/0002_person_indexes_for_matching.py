"""person indexes for matching

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 12:17:38.781296
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_person_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_person_territory_code"), ["territory_code"], unique=False
        )
        batch_op.create_index(
            "ix_person_territory_organization", ["territory_code", "organization_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index("ix_person_territory_organization")
        batch_op.drop_index(batch_op.f("ix_person_territory_code"))
        batch_op.drop_index(batch_op.f("ix_person_organization_id"))
