"""help_requests say whether the caller's number was typed; audit events by person and action

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10 10:00:00

A caller who withholds their number types one to be called back on; anyone can
type anyone's number, so the board marks such a request "not verified". Existing
requests are marked from the call log: a request whose call typed a callback
number, or whose call came from a withheld number (not one the retention purge
erased), carries a typed number. Every other request keeps caller ID: verified.

The index serves the hourly limits on claims and give-backs, counted per
volunteer from the audit log on every claim.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("help_requests", schema=None) as batch_op:
        # A plain "0" (false on both databases), not sa.false(): for an expression
        # as default, SQLite's batch mode copies the whole table, and the copy
        # recreates the indexes in another order, which tips SQLite's board plan
        # (tests/test_claims.py, with fresh statistics) to a sort.
        batch_op.add_column(
            sa.Column("caller_number_typed", sa.Boolean(), nullable=False, server_default="0")
        )
    requests = sa.table(
        "help_requests",
        sa.column("call_sid", sa.String),
        sa.column("caller_number", sa.String),
        sa.column("caller_number_typed", sa.Boolean),
    )
    calls = sa.table(
        "calls",
        sa.column("call_sid", sa.String),
        sa.column("from_number", sa.String),
        sa.column("callback_number", sa.String),
        sa.column("numbers_erased_at", sa.DateTime),
    )
    typed_calls = sa.select(calls.c.call_sid).where(
        sa.or_(
            calls.c.callback_number.is_not(None),
            sa.and_(calls.c.from_number.is_(None), calls.c.numbers_erased_at.is_(None)),
        )
    )
    op.execute(
        requests.update()
        .where(requests.c.caller_number.is_not(None), requests.c.call_sid.in_(typed_calls))
        .values(caller_number_typed=sa.true())
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_events_user_action_at", ["user_id", "action", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_user_action_at")
    with op.batch_alter_table("help_requests", schema=None) as batch_op:
        batch_op.drop_column("caller_number_typed")
