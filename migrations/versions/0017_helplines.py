"""helplines: zones, postcodes, requests and calls belong to a helpline

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 04:10:00

Every zone, postcode, request and call stored so far belongs to one helpline,
made here with the slug "default" (app/helplines.py, DEFAULT_SLUG); start-up
fills in its name and number from the configuration. Postcodes become unique
within a helpline: their key is (helpline_id, code). Zone slugs likewise.

help_requests and calls get the column in place (SQLite's ALTER TABLE ADD
COLUMN), nullable: SQLite cannot add a NOT NULL foreign key in place, and a
batch copy of help_requests would have to carry its partial indexes over by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_SLUG = "default"  # as app/helplines.py had it when this revision was written


def upgrade() -> None:
    op.create_table(
        "helplines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone_number", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helplines")),
        sa.UniqueConstraint("slug", name=op.f("uq_helplines_slug")),
    )
    helplines = sa.table(
        "helplines",
        sa.column("id", sa.Integer),
        sa.column("slug", sa.String),
        sa.column("name", sa.String),
        sa.column("phone_number", sa.String),
    )
    op.bulk_insert(helplines, [{"id": 1, "slug": DEFAULT_SLUG, "name": "", "phone_number": ""}])
    if op.get_bind().dialect.name == "postgresql":
        # The row was given its id: the sequence must go on after it.
        op.execute("SELECT setval(pg_get_serial_sequence('helplines', 'id'), 1)")

    # Small tables: SQLite's batch copy is fine here (no partial indexes).
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.add_column(sa.Column("helpline_id", sa.Integer(), nullable=True))
    op.execute("UPDATE zones SET helpline_id = 1")
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.alter_column("helpline_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint("uq_zones_slug", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_zones_helpline_id"), ["helpline_id", "slug"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_zones_helpline_id_helplines"), "helplines", ["helpline_id"], ["id"]
        )

    with op.batch_alter_table("postcodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("helpline_id", sa.Integer(), nullable=True))
    op.execute("UPDATE postcodes SET helpline_id = 1")
    with op.batch_alter_table("postcodes", schema=None) as batch_op:
        batch_op.alter_column("helpline_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint("pk_postcodes", type_="primary")
        batch_op.create_primary_key("pk_postcodes", ["helpline_id", "code"])
        batch_op.create_foreign_key(
            batch_op.f("fk_postcodes_helpline_id_helplines"), "helplines", ["helpline_id"], ["id"]
        )

    for table in ("help_requests", "calls"):
        _add_helpline_in_place(table)
        op.execute(f"UPDATE {table} SET helpline_id = 1")


def _add_helpline_in_place(table: str) -> None:
    name = f"fk_{table}_helpline_id_helplines"
    if op.get_bind().dialect.name == "sqlite":
        # In place: a REFERENCES column with a NULL default is what SQLite can add.
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN helpline_id INTEGER "
            f"CONSTRAINT {name} REFERENCES helplines (id)"
        )
    else:
        op.add_column(table, sa.Column("helpline_id", sa.Integer(), nullable=True))
        op.create_foreign_key(name, table, "helplines", ["helpline_id"], ["id"])


def downgrade() -> None:
    # Only the default helpline's rows fit the schema before: a postcode of another
    # helpline could clash with one of the default's, and so could a zone's slug.
    for table in ("help_requests", "calls"):
        if op.get_bind().dialect.name == "sqlite":
            _drop_helpline_by_copy(table)
        else:
            op.drop_constraint(f"fk_{table}_helpline_id_helplines", table, type_="foreignkey")
            op.drop_column(table, "helpline_id")
    op.execute("DELETE FROM postcodes WHERE helpline_id <> 1")
    with op.batch_alter_table("postcodes", schema=None) as batch_op:
        batch_op.drop_constraint("fk_postcodes_helpline_id_helplines", type_="foreignkey")
        batch_op.drop_constraint("pk_postcodes", type_="primary")
        batch_op.create_primary_key("pk_postcodes", ["code"])
        batch_op.drop_column("helpline_id")
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.drop_constraint("fk_zones_helpline_id_helplines", type_="foreignkey")
        batch_op.drop_constraint("uq_zones_helpline_id", type_="unique")
        batch_op.create_unique_constraint("uq_zones_slug", ["slug"])
        batch_op.drop_column("helpline_id")
    op.drop_table("helplines")


# help_requests' partial indexes as revisions 0010 and 0006 left them: SQLite's batch
# copy would make them plain indexes, so they are dropped first and made again.
OPEN = sa.text("status = 'open'")
PARTIAL_INDEXES = {
    "ix_help_requests_open_zone": [
        "zone_id",
        "status",
        "created_at",
        "id",
        "postcode",
        "request_type",
        "language",
    ],
    "ix_help_requests_open_created": [
        "created_at",
        "id",
        "zone_id",
        "postcode",
        "request_type",
        "language",
    ],
}


def _drop_helpline_by_copy(table: str) -> None:
    """SQLite drops no column a foreign key uses in place: a batch copy, indexes kept."""
    partial = PARTIAL_INDEXES if table == "help_requests" else {}
    for name in partial:
        op.drop_index(name, table_name=table)
    with op.batch_alter_table(table, schema=None, recreate="always") as batch_op:
        # SQLite keeps no name for the column's inline REFERENCES: it goes with the column.
        batch_op.drop_column("helpline_id")
    for name, columns in partial.items():
        op.create_index(name, table, columns, unique=False, sqlite_where=OPEN)
