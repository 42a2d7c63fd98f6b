"""operator_helplines: operators run helplines; the first operator becomes the admin

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 06:20:00

Nothing changes for a deployment of one helpline: every operator stored so far
runs every helpline stored so far, and the oldest operator (the one `hotline
setup` made) becomes the admin, who runs every helpline, later ones included.
The role is a VARCHAR (app.database.StatusType): "admin" needs no type change.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operator_helplines",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("helpline_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["helpline_id"],
            ["helplines.id"],
            name=op.f("fk_operator_helplines_helpline_id_helplines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_operator_helplines_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "helpline_id", name=op.f("pk_operator_helplines")),
    )
    op.execute(
        "INSERT INTO operator_helplines (user_id, helpline_id) "
        "SELECT users.id, helplines.id FROM users CROSS JOIN helplines "
        "WHERE users.role = 'operator'"
    )
    op.execute(
        "UPDATE users SET role = 'admin' WHERE id = ("
        "SELECT id FROM users WHERE role = 'operator' ORDER BY created_at, id LIMIT 1)"
    )


def downgrade() -> None:
    # Before this revision every operator saw every helpline: the admin is one again.
    op.execute("UPDATE users SET role = 'operator' WHERE role = 'admin'")
    op.drop_table("operator_helplines")
