"""Migrations build the schema on both databases and agree with the models."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from app import migrations_runner
from app.database import Base, get_db


def test_upgrade_creates_every_table(app):
    engine = get_db(app).engine
    tables = set(inspect(engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    assert migrations_runner.current(get_db(app).url) is not None


def test_models_and_migrations_agree(app):
    with get_db(app).engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], f"models differ from migrations: {differences}"


def test_downgrade_to_empty_and_up_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrations_runner.upgrade(url)
    migrations_runner.downgrade(url, "base")
    assert migrations_runner.current(url) is None
    migrations_runner.upgrade(url)
    assert migrations_runner.current(url) is not None


def test_board_query_uses_its_index(app):
    indexes = {i["name"] for i in inspect(get_db(app).engine).get_indexes("help_requests")}
    assert "ix_help_requests_zone_status_created" in indexes
    call_indexes = {i["name"] for i in inspect(get_db(app).engine).get_indexes("calls")}
    assert "ix_calls_started_at" in call_indexes
