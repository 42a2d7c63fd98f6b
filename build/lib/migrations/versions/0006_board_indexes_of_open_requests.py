"""help_requests: partial indexes over open requests, for the board's counts and pages

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-26 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    with op.batch_alter_table("help_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_help_requests_open_zone",
            ["zone_id", "created_at", "id"],
            unique=False,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )
        batch_op.create_index(
            "ix_help_requests_open_created",
            ["created_at", "id", "zone_id", "postcode", "request_type", "language"],
            unique=False,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )


def downgrade() -> None:
    with op.batch_alter_table("help_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_help_requests_open_created")
        batch_op.drop_index("ix_help_requests_open_zone")
