"""help requests lose needs_attention: it only ever repeated unreachable_count >= 3

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 03:20:00

The flag was set by the third "could not reach" and nothing else, so the
attention list asks unreachable_count itself (app/requests/attention.py,
UNREACHABLE_LIMIT). A downgrade sets it again from the count.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNREACHABLE_LIMIT = 3  # as it was when this revision was written


def upgrade() -> None:
    # SQLite drops a plain column in place (3.35+): a batch copy of help_requests
    # would have to carry its partial indexes over by hand.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE help_requests DROP COLUMN needs_attention")
    else:
        op.drop_column("help_requests", "needs_attention")


def downgrade() -> None:
    op.add_column(
        "help_requests",
        sa.Column("needs_attention", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.execute(
        sa.text(
            "UPDATE help_requests SET needs_attention = :yes WHERE unreachable_count >= :limit"
        ).bindparams(yes=True, limit=UNREACHABLE_LIMIT)
    )
