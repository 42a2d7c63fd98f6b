"""`hotline requests`: upkeep of the help requests on the board."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.database import get_db
from app.requests import claims


@click.group("requests", cls=AppGroup, help="Help requests on the board.")
def requests_group() -> None:
    pass


@requests_group.command("expire")
def requests_expire() -> None:
    """Return claims not done within claim_timeout_hours to the board (run it from cron).

    The board does the same before every change a volunteer makes; this
    keeps the board and its counts right between them.
    """

    hours = current_app.config["HOTLINE"].claim_timeout_hours
    with get_db().session() as session:
        returned = claims.expire_stale_claims(session, hours)
        session.commit()
    click.echo(f"Returned {returned} claim(s) older than {hours} hours to the board.")
