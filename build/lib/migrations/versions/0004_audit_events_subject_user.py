"""audit events name the account they are about (a volunteer approved, suspended)

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-26 03:49:02.306586
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject_user_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_audit_events_subject_user_id"), ["subject_user_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_audit_events_subject_user_id_users"),
            "users",
            ["subject_user_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_audit_events_subject_user_id_users"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_audit_events_subject_user_id"))
        batch_op.drop_column("subject_user_id")
