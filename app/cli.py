"""The `hotline` command: this app's Flask CLI, with the helpline's own commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext
from sqlalchemy.exc import OperationalError

from app.config import ConfigError, config_path, load_settings
from app.database import get_db

# Where `make run` serves the app when no public address is configured.
LOCAL_BASE_URL = "http://127.0.0.1:5000"


def main() -> None:
    """Entry point of the `hotline` console script."""
    # The call log export runs from cron on big days: it builds only what it
    # uses (see export_app()), not the phone line and the web.
    export = sys.argv[1:3] == ["calls", "export"]
    # Check the configuration before Flask tries to build the app, so that a
    # mistake is one clear line and exit code 2, not a traceback.
    try:
        settings = load_settings(config_path())
        if not export:
            from voice import build_line

            build_line(settings)  # the phone prompts of every configured language
    except ConfigError as e:
        click.echo(f"Configuration error: {e}", err=True)
        sys.exit(2)
    if export:
        create_app = export_app
    else:
        from app import create_app

    HotlineGroup(create_app=create_app, name="hotline", help="Hotline Board")(prog_name="hotline")


def export_app() -> Flask:
    """The app for `hotline calls export`: configuration, database, translations, `calls`."""
    from app import core_app, operator_commands

    app = core_app()
    app.cli.add_command(operator_commands.calls_group)
    return app


class HotlineGroup(FlaskGroup):
    """The Flask CLI, with a database that cannot be reached said in one line, not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except OperationalError as e:
            reason = str(e.orig).strip().splitlines()[0] if e.orig else str(e)
            raise click.ClickException(f"cannot use the database: {reason}") from None


def register(app: Flask) -> None:
    from app import operator_commands

    app.cli.add_command(db_group)
    app.cli.add_command(zones_group)
    app.cli.add_command(users_group)
    app.cli.add_command(requests_group)
    app.cli.add_command(setup_command)
    app.cli.add_command(operator_commands.calls_group)
    app.cli.add_command(operator_commands.retention_group)
    for command in operator_commands.USERS_COMMANDS:
        users_group.add_command(command)
    from app.account_commands import users_password

    users_group.add_command(users_password)
    from voice.call_command import call_command

    app.cli.add_command(call_command)


@click.group("db", cls=AppGroup, help="Create and upgrade the database schema.")
def db_group() -> None:
    pass


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Bring the database schema up to REVISION (default: the newest)."""
    from app import migrations_runner

    migrations_runner.upgrade(get_db().url, revision)
    click.echo(f"Database at {migrations_runner.current(get_db().url) or 'empty'}.")


@db_group.command("analyze")
def db_analyze() -> None:
    """Refresh the statistics the database plans the board's queries with (nightly, from cron)."""
    from app import planner_statistics

    planner_statistics.analyze(get_db().engine)
    click.echo("Statistics refreshed.")


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Step the schema back to REVISION (for example -1)."""
    from app import migrations_runner

    migrations_runner.downgrade(get_db().url, revision)
    click.echo(f"Database at {migrations_runner.current(get_db().url) or 'empty'}.")


@db_group.command("current")
def db_current() -> None:
    """Show the schema revision of the database."""
    from app import migrations_runner

    click.echo(migrations_runner.current(get_db().url) or "empty (run: hotline db upgrade)")


@click.group("zones", cls=AppGroup, help="Zones (postcode areas) volunteers serve.")
def zones_group() -> None:
    pass


@zones_group.command("import")
@click.argument("path", required=False)
def zones_import(path: str | None) -> None:
    """Import a zone profile: a .toml profile, a Berlin-format .csv, or the configured one."""
    from app import zones

    source = Path(path) if path else zones.profile_path(current_app.config["HOTLINE"].zone_profile)
    try:
        profile = zones.read_profile(source)
    except zones.ZoneImportError as e:
        raise click.ClickException(f"{e}. Nothing was imported.") from None
    with get_db().session() as session:
        result = zones.import_profile(session, profile)
        session.commit()
    if "hotline_places" in current_app.extensions:  # this app's phone line, if it has one
        current_app.extensions["hotline_places"].forget()
    for line in result.report():
        click.echo(line)


@zones_group.command("list")
def zones_list() -> None:
    """List the zones and how many postcodes each holds."""
    from app import zones

    with get_db().session() as session:
        rows = zones.zone_counts(session)
    if not rows:
        click.echo("No zones yet. Run: hotline zones import")
        return
    for zone, count in rows:
        click.echo(f"{zone.area:<12} {zone.slug:<28} {zone.name:<30} {count:>5} postcodes")


@click.group("users", cls=AppGroup, help="Volunteer and operator accounts.")
def users_group() -> None:
    pass


@users_group.command("add")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(["volunteer", "operator"]), default="volunteer")
@click.option("--phone", default="")
@click.option("--password", help="Leave out to get a random one, shown once.")
def users_add(name: str, email: str, role: str, phone: str, password: str | None) -> None:
    """Create an approved account (operators create accounts they vouch for)."""
    from app import users
    from app.account_commands import weak_password_message

    shown = password or users.new_password()
    with get_db().session() as session:
        try:
            users.create_user(
                session,
                name=name,
                email=email,
                password=shown,
                hash_cost=current_app.config["HOTLINE"].password_hash_cost,
                role=role,
                phone=phone,
                approved=True,
            )
        except users.WeakPassword as e:
            raise click.ClickException(weak_password_message(e)) from None
        except users.AccountError as e:
            raise click.ClickException(str(e)) from None
        session.commit()
    click.echo(f"Created {role} {email}.")
    if not password:
        click.echo(f"Password (shown once): {shown}")


@click.group("requests", cls=AppGroup, help="Help requests on the board.")
def requests_group() -> None:
    pass


@requests_group.command("expire")
def requests_expire() -> None:
    """Return claims not done within claim_timeout_hours to the board (run it from cron).

    The board does the same whenever it is used; this keeps the counts right
    on quiet nights too.
    """
    from app import claims

    hours = current_app.config["HOTLINE"].claim_timeout_hours
    with get_db().session() as session:
        returned = claims.expire_stale_claims(session, hours)
    click.echo(f"Returned {returned} claim(s) older than {hours} hours to the board.")


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
    from app import migrations_runner, users, zones
    from app.account_commands import first_operator_email

    settings = current_app.config["HOTLINE"]
    db = get_db()
    migrations_runner.upgrade(db.url, "head")
    with db.session() as session:
        if not zones.zone_counts(session):
            profile = zones.read_profile(zones.profile_path(settings.zone_profile))
            result = zones.import_profile(session, profile)
            session.commit()
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
                    role="operator",
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
        click.echo("First run: an operator account was created. Its password is shown only now:")
        click.echo(f"  e-mail:   {login[0]}  ({login[2]})")
        click.echo(f"  password: {login[1]}")
    click.echo("")
