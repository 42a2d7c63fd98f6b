"""help_requests: ix_help_requests_open_zone covers the board's filtered counts

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-05 01:50:00

The board's counts narrowed by postcode, kind or language were made to read
ix_help_requests_open_created by an index hint; without hints they read this
index, which now holds those columns (and `status`, so that SQLite sees it
covers the query; see app/models.py, HelpRequest).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")


def _open_zone_index(batch_op, columns: list[str]) -> None:
    batch_op.create_index(
        "ix_help_requests_open_zone",
        columns,
        unique=False,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def upgrade() -> None:
    with op.batch_alter_table("help_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_help_requests_open_zone")
        _open_zone_index(
            batch_op,
            ["zone_id", "status", "created_at", "id", "postcode", "request_type", "language"],
        )


def downgrade() -> None:
    with op.batch_alter_table("help_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_help_requests_open_zone")
        _open_zone_index(batch_op, ["zone_id", "created_at", "id"])
