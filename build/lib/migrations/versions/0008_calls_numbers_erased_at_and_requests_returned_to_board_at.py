"""calls say when retention erased their numbers; requests when an operator put them back

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-26 05:05:31.230958

Calls purged before this revision keep NULL: nothing recorded which of their
empty numbers were withheld and which were erased, so they still read "withheld".
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.database

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("numbers_erased_at", app.database.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("help_requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "returned_to_board_at", app.database.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("help_requests", schema=None) as batch_op:
        batch_op.drop_column("returned_to_board_at")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("numbers_erased_at")
