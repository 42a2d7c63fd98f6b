"""The `hotline` command: this app's Flask CLI, with the helpline's own command groups.

One module per group (calls, db, requests, retention, setup, users, zones);
each is a thin wrapper over the domain services the web pages use as well.
"""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup
from sqlalchemy.exc import OperationalError

from app.config import ConfigError, config_path, load_settings


def main() -> None:
    """Entry point of the `hotline` console script."""
    # Check the configuration before Flask tries to build the app, so that a
    # mistake is one clear line and exit code 2, not a traceback.
    try:
        settings = load_settings(config_path())
        from voice import build_line

        for helpline in settings.helplines:  # the prompts of every language of every line
            build_line(settings, helpline)
    except ConfigError as e:
        click.echo(f"Configuration error: {e}", err=True)
        sys.exit(2)
    from app import create_app

    HotlineGroup(create_app=create_app, name="hotline", help="Hotline Board")(prog_name="hotline")


class HotlineGroup(FlaskGroup):
    """The Flask CLI, with a database that cannot be reached said in one line, not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except OperationalError as e:
            reason = str(e.orig).strip().splitlines()[0] if e.orig else str(e)
            raise click.ClickException(f"cannot use the database: {reason}") from None


def register(app: Flask) -> None:
    """Add the helpline's command groups to the app's `flask`/`hotline` command."""
    from app.cli import calls, db, requests, retention, setup, users, zones
    from app.jobs.command import worker_command
    from voice.simulator.command import call_command

    for command in (
        db.db_group,
        zones.zones_group,
        users.users_group,
        requests.requests_group,
        setup.setup_command,
        calls.calls_group,
        retention.retention_group,
        call_command,
        worker_command,
    ):
        app.cli.add_command(command)
