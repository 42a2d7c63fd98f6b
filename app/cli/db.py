"""`hotline db`: the database schema and its planner statistics."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app import migrations_runner, planner_statistics
from app.database import get_db


@click.group("db", cls=AppGroup, help="Create and upgrade the database schema.")
def db_group() -> None:
    pass


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Bring the database schema up to REVISION (default: the newest)."""
    migrations_runner.upgrade(get_db().url, revision)
    click.echo(f"Database at {migrations_runner.current(get_db().url) or 'empty'}.")


@db_group.command("analyze")
def db_analyze() -> None:
    """Refresh the statistics the database plans the board's queries with (nightly, from cron)."""
    planner_statistics.analyze(get_db().engine)
    click.echo("Statistics refreshed.")


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Step the schema back to REVISION (for example -1)."""
    migrations_runner.downgrade(get_db().url, revision)
    click.echo(f"Database at {migrations_runner.current(get_db().url) or 'empty'}.")


@db_group.command("current")
def db_current() -> None:
    """Show the schema revision of the database."""
    click.echo(migrations_runner.current(get_db().url) or "empty (run: hotline db upgrade)")
