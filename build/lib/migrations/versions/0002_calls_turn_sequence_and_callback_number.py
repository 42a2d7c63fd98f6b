"""calls: the phone menu's turn sequence and a typed callback number

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 03:50:25.548472
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        # server_default: calls logged before this revision start at turn 0.
        batch_op.add_column(sa.Column("step_seq", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("callback_number", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("callback_number")
        batch_op.drop_column("step_seq")
