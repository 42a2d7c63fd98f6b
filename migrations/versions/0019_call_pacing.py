"""call_pacing: the next free moment to place a call, per Twilio account, shared by every worker

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 06:10:00

A new table only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_pacing",
        sa.Column("account_sid", sa.String(length=64), nullable=False),
        sa.Column("next_slot_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_sid", name=op.f("pk_call_pacing")),
    )


def downgrade() -> None:
    op.drop_table("call_pacing")
