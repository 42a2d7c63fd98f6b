"""`hotline setup`: the first run (and every `make run`): schema, zones, an operator, the URLs."""

from __future__ import annotations

import os
import secrets
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from app import migrations_runner
from app.accounts import users
from app.database import get_db
from app.helplines import sync_helplines
from app.models import Role, Zone
from app.zones.profiles import import_profile, profile_path, read_profile

# Where `make run` serves the app when no public address is configured.
LOCAL_BASE_URL = "http://127.0.0.1:5000"
# Read by `hotline setup` (and so `make run`) when no --operator-email is given.
OPERATOR_EMAIL_VARIABLE = "HOTLINE_OPERATOR_EMAIL"


@click.command("setup")
@click.option(
    "--base-url",
    default=LOCAL_BASE_URL,
    show_default=True,
    help="Where the server will listen, for the URLs printed (public_base_url wins).",
)
@click.option(
    "--operator-email",
    help="The first operator's e-mail (else $HOTLINE_OPERATOR_EMAIL, else asked for).",
)
@with_appcontext
def setup_command(base_url: str, operator_email: str | None) -> None:
    """First-run set-up: upgrade the database, import the zone profile, make an operator."""

    settings = current_app.config["HOTLINE"]
    db = get_db()
    migrations_runner.upgrade(db.url, "head")
    with db.session() as session:
        ids = sync_helplines(session, settings.helplines)
        session.commit()
        for helpline in settings.helplines:
            # A helpline's profile on its first run only: later imports are the operator's.
            if session.scalar(select(Zone.id).where(Zone.helpline_id == ids[helpline.slug])):
                continue
            profile = read_profile(profile_path(helpline.zone_profile))
            result = import_profile(session, profile, ids[helpline.slug])
            session.commit()
            if len(settings.helplines) > 1:
                click.echo(f"Helpline {helpline.slug} ({helpline.name}):")
            for line in result.report():
                click.echo(line)
        login = None
        if users.operator_count(session) == 0:
            email, source = first_operator_email(operator_email)
            login = (email, users.new_password(), source)
            try:
                users.create_user(
                    session,
                    name="Operator",
                    email=email,
                    password=login[1],
                    hash_cost=settings.password_hash_cost,
                    # The first operator runs every helpline, those added later too,
                    # and makes the others (`hotline users add --role operator`).
                    role=Role.ADMIN,
                    approved=True,
                )
            except users.AccountError as e:
                raise click.ClickException(f"first operator {email!r}: {e}") from None
            session.commit()
    base = settings.public_base_url or base_url.rstrip("/")
    # The command as it was started (.venv/bin/hotline under `make run`), so
    # the example can be pasted into a shell without activating the venv.
    hotline = sys.argv[0] if sys.argv and sys.argv[0].endswith("hotline") else "hotline"
    click.echo("")
    click.echo(f"Board:            {base}/")
    click.echo(f"Operators:        {base}/operator/")
    if len(settings.helplines) > 1:
        # One set of URLs for every number: the number dialled chooses the helpline.
        numbers = ", ".join(h.phone_number for h in settings.helplines)
        click.echo(f"Paste into the voice configuration of each helpline number ({numbers}):")
    else:
        click.echo("Paste into your Twilio number's voice configuration:")
    click.echo(f"  A call comes in:  {base}/voice/incoming  (HTTP POST)")
    click.echo(f"  Call status:      {base}/voice/status    (HTTP POST)")
    click.echo(f"  Primary fails:    {base}/voice/fallback  (HTTP POST)")
    click.echo("Try the helpline without a phone:")
    if settings.test_phone != "off":
        who = "for everyone" if settings.test_phone == "everyone" else "sign in as an operator"
        click.echo(f"  Test phone:       {base}/phone  ({who})")
    click.echo(f'  In a terminal:    {hotline} call --keys "1 10115 1 1 #"')
    if login:
        click.echo("")
        click.echo(
            "First run: an operator account (admin: every helpline) was created. "
            "Its password is shown only now:"
        )
        click.echo(f"  e-mail:   {login[0]}  ({login[2]})")
        click.echo(f"  password: {login[1]}")
    click.echo("")


def first_operator_email(given: str | None) -> tuple[str, str]:
    """The first operator's e-mail for `hotline setup`, and where it came from.

    From --operator-email, else $HOTLINE_OPERATOR_EMAIL, else asked for at a
    terminal. Without any of them (`make run` started by a script, CI) an
    address nobody can guess is made up, operator-XXXXXXXX@localhost: a fixed
    one (operator@localhost, as before) told attackers which account to guess.
    """
    if given:
        return given.strip(), "--operator-email"
    if os.environ.get(OPERATOR_EMAIL_VARIABLE, "").strip():
        return os.environ[OPERATOR_EMAIL_VARIABLE].strip(), OPERATOR_EMAIL_VARIABLE
    made_up = f"operator-{secrets.token_hex(4)}@localhost"
    if sys.stdin.isatty():
        typed = click.prompt(
            "E-mail address of the first operator (Enter: a made-up one)",
            default=made_up,
            show_default=False,
        )
        return typed.strip(), "typed"
    return made_up, "made up: no terminal to ask at, nor --operator-email"
