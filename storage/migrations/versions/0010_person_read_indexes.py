"""person read indexes: the people of a country, of an affiliate or of both, in id order,
with every column a matching cell read filters on (so that PostgreSQL reads them index-only
and stops at the tenth match, instead of fetching all of a large country's rows)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 05:10:00.000000
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

READ_INDEXES = {
    "ix_person_territory_read": [
        "territory_code",
        "id",
        "discoverable",
        "last_active_at",
        "organization_id",
    ],
    "ix_person_organization_read": [
        "organization_id",
        "id",
        "discoverable",
        "last_active_at",
        "territory_code",
    ],
    "ix_person_territory_organization_read": [
        "territory_code",
        "organization_id",
        "id",
        "discoverable",
        "last_active_at",
    ],
}
"""Each replaces the index on its leading columns alone (0002)."""
REPLACED = {
    "ix_person_territory_code": ["territory_code"],
    "ix_person_organization_id": ["organization_id"],
    "ix_person_territory_organization": ["territory_code", "organization_id"],
}


def upgrade() -> None:
    for name, columns in READ_INDEXES.items():
        op.create_index(name, "person", columns)
    for name in REPLACED:
        op.drop_index(name, table_name="person")


def downgrade() -> None:
    for name, columns in REPLACED.items():
        op.create_index(name, "person", columns)
    for name in READ_INDEXES:
        op.drop_index(name, table_name="person")
