"""help requests remember when a "could not reach" was last counted

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 03:30:00

Three taps on "could not reach" within seconds used to flag a request for the
operators. A report from the same claim within a few minutes of the last one
now counts once; the request remembers when that last one was counted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.database

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("help_requests") as batch:
        batch.add_column(
            sa.Column(
                "unreachable_noted_at", app.database.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    # SQLite drops a plain column in place (3.35+): a batch copy of help_requests
    # would have to carry its partial indexes over by hand.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE help_requests DROP COLUMN unreachable_noted_at")
    else:
        op.drop_column("help_requests", "unreachable_noted_at")
