"""`hotline users`: add, list and vet volunteer and operator accounts."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.accounts import approval, operator_scope, password_policy, users
from app.accounts.password_reset import reset_link
from app.accounts.sessions import change_password
from app.accounts.users import WeakPassword, find_by_email, new_password
from app.cli.who import cli_user
from app.database import get_db
from app.helplines import sync_helplines
from app.models import AccountStatus, Role, User


@click.group("users", cls=AppGroup, help="Volunteer and operator accounts.")
def users_group() -> None:
    pass


@users_group.command("add")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default="volunteer",
    help="An admin is an operator of every helpline.",
)
@click.option(
    "--helpline",
    "helplines",
    multiple=True,
    help="A helpline an operator runs (its slug); repeat for several. "
    "Needed when there are several helplines.",
)
@click.option("--phone", default="")
@click.option("--password", help="Leave out to get a random one, shown once.")
def users_add(
    name: str, email: str, role: str, helplines: tuple[str, ...], phone: str, password: str | None
) -> None:
    """Create an approved account (operators create accounts they vouch for)."""
    shown = password or users.new_password()
    with get_db().session() as session:
        sync_helplines(session, current_app.config["HOTLINE"].helplines)
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
                helplines=helplines,
            )
        except WeakPassword as e:
            raise click.ClickException(weak_password_message(e)) from None
        except users.AccountError as e:
            raise click.ClickException(str(e)) from None
        session.commit()
    click.echo(f"Created {role} {email}.")
    if not password:
        click.echo(f"Password (shown once): {shown}")


@users_group.command("helplines")
@click.argument("email")
@click.argument("slugs", nargs=-1, required=True)
def users_helplines(email: str, slugs: tuple[str, ...]) -> None:
    """Set the helplines an operator runs (their slugs): they see those helplines' only."""
    with get_db().session() as session:
        sync_helplines(session, current_app.config["HOTLINE"].helplines)
        operator = find_by_email(session, email)
        if operator is None:
            raise click.ClickException(f"no account for {email}")
        try:
            rows, _changed = operator_scope.change_helplines(
                session, operator, list(slugs), by=None
            )
        except operator_scope.ScopeError as e:
            raise click.ClickException(str(e)) from None
        session.commit()
        click.echo(f"{operator.email} runs {', '.join(row.slug for row in rows)}.")


@users_group.command("list")
@click.option("--status", type=click.Choice([s.value for s in AccountStatus]))
@click.option("--role", type=click.Choice([r.value for r in Role]))
def users_list(status: str | None, role: str | None) -> None:
    """List accounts: status, role, e-mail, name and zones."""
    query = (
        select(User)
        .options(selectinload(User.zones), selectinload(User.helplines))
        .order_by(User.created_at, User.id)
    )
    if status:
        query = query.where(User.status == status)
    if role:
        query = query.where(User.role == role)
    with get_db().session() as session:
        accounts = list(session.scalars(query))
        if not accounts:
            click.echo("No accounts match.")
            return
        for user in accounts:
            zones = ", ".join(z.name for z in user.zones) or "-"
            if user.role == Role.OPERATOR:  # what an operator sees: their helplines
                zones = ", ".join(h.slug for h in user.helplines) or "no helpline"
            elif user.is_admin:
                zones = "every helpline"
            # Operators' pages list a sign-up only once its address is confirmed.
            unconfirmed = "  (e-mail not confirmed)" if user.email_confirmed_at is None else ""
            click.echo(
                f"{user.status:<10} {user.role:<10} {user.email:<32} {user.name}  [{zones}]"
                + unconfirmed
            )


def _decision_command(decision: approval.Decision, doc: str) -> click.Command:
    @click.command(decision.value, help=doc)
    @click.argument("email")
    @click.option("--note", default="", help="Why, for the audit log.")
    def command(email: str, note: str) -> None:
        with get_db().session() as session:
            volunteer = find_by_email(session, email)
            if volunteer is None:
                raise click.ClickException(f"no account for {email}")
            try:
                volunteer = approval.decide(
                    session,
                    volunteer.id,
                    decision,
                    operator=None,
                    note="; ".join(filter(None, [note.strip(), f"via {cli_user()}"])),
                )
            except approval.ApprovalError as e:
                raise click.ClickException(f"{email}: {e}") from None
            session.commit()
            click.echo(f"{volunteer.email} is now {volunteer.status}.")

    return command


users_group.add_command(
    _decision_command(approval.Decision.APPROVE, "Approve a volunteer's account.")
)
users_group.add_command(_decision_command(approval.Decision.REJECT, "Reject a pending volunteer."))
users_group.add_command(
    _decision_command(
        approval.Decision.SUSPEND,
        "Suspend a volunteer; their claimed requests go back to the board.",
    )
)


def weak_password_message(error: WeakPassword) -> str:
    """The password rule's own sentence, in English as the command line speaks it."""
    with force_locale("en"):
        return f"password refused: {password_policy.MESSAGES[error.weakness]}"


@users_group.command("password")
@click.argument("email")
@click.option("--password", help="The new password. Leave out to get a random one, shown once.")
def users_password(email: str, password: str | None) -> None:
    """Give an account a new password; every session of the account ends."""
    shown = password or new_password()
    with get_db().session() as session:
        user = find_by_email(session, email)
        if user is None:
            raise click.ClickException(f"no account for {email}")
        try:
            change_password(session, user, shown, current_app.config["HOTLINE"].password_hash_cost)
        except WeakPassword as e:
            raise click.ClickException(weak_password_message(e)) from None
        session.commit()
    click.echo(f"New password set for {user.email}; every session of the account has ended.")
    if not password:
        click.echo(f"Password (shown once): {shown}")


@users_group.command("reset-link")
@click.argument("email")
@click.option("--base-url", help="The board's public address, when public_base_url is not set.")
def users_reset_link(email: str, base_url: str | None) -> None:
    """Print a link that sets a new password (one hour, once): for helping someone by phone."""
    settings = current_app.config["HOTLINE"]
    base = (base_url or settings.public_base_url or "").strip()
    if not base.startswith(("http://", "https://")):
        raise click.ClickException(
            "the link needs the board's public address: set public_base_url in the "
            "configuration or give --base-url https://..."
        )
    with get_db().session() as session:
        user = find_by_email(session, email)
        if user is None or user.status == AccountStatus.DELETED:
            raise click.ClickException(f"no account for {email}")
        link = reset_link(settings, user, base_url=base)
    click.echo(f"A link for {user.email} to choose a new password (valid for one hour, once):")
    click.echo(link)
