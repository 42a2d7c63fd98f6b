"""`hotline retention`: erase personal data after the retention period."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app import retention
from app.database import get_db


@click.group("retention", cls=AppGroup, help="Erase personal data after the retention period.")
def retention_group() -> None:
    pass


@retention_group.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would be erased.")
def retention_purge(dry_run: bool) -> None:
    """Erase callers' numbers, codes, voice messages and notes older than retention_days.

    Safe to run again at any time: what is erased stays erased, and anonymous
    counts (calls, requests, zones, outcomes) stay. Meant for a daily cron job.
    """
    days = current_app.config["HOTLINE"].retention_days
    with get_db().session() as session:
        result = retention.purge(session, retention_days=days, dry_run=dry_run)
        session.commit()
    click.echo(f"Retention: {days} days.")
    for line in result.report():
        click.echo(line)
    if dry_run:
        click.echo("Dry run: nothing was changed.")
