"""bridged_calls and calldowns: calls the hotline places (through the hotline; "still need help?")

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 04:10:00

New tables only: help_requests is not copied, so its partial indexes stay.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.database import UTCDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bridged_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("talk_seconds", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["help_requests.id"],
            name=op.f("fk_bridged_calls_request_id_help_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_bridged_calls_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridged_calls")),
    )
    op.create_index(
        op.f("ix_bridged_calls_request_id"), "bridged_calls", ["request_id"], unique=False
    )
    op.create_table(
        "calldowns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["help_requests.id"], name=op.f("fk_calldowns_request_id_help_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calldowns")),
        sa.UniqueConstraint("request_id", "attempt", name=op.f("uq_calldowns_request_id")),
    )
    op.create_index(op.f("ix_calldowns_request_id"), "calldowns", ["request_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_calldowns_request_id"), table_name="calldowns")
    op.drop_table("calldowns")
    op.drop_index(op.f("ix_bridged_calls_request_id"), table_name="bridged_calls")
    op.drop_table("bridged_calls")
