"""users get email_confirmed_at: a sign-up waits for its address to be confirmed

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 04:10:00

Operators see a volunteer's own sign-up only once its owner followed the link
mailed to the address (app/accounts/confirmation.py). Every account that exists
already counts as confirmed (from when it was made), so no pending sign-up
disappears from the operators' list with this upgrade.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.database

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (nullable, no index): SQLite does it in place, no batch copy.
    op.add_column(
        "users",
        sa.Column("email_confirmed_at", app.database.UTCDateTime(timezone=True), nullable=True),
    )
    op.execute("UPDATE users SET email_confirmed_at = created_at")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE users DROP COLUMN email_confirmed_at")
    else:
        op.drop_column("users", "email_confirmed_at")
