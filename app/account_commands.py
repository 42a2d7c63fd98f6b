"""Commands about accounts' passwords and the first operator: `hotline users password`,
and what `hotline setup` and `hotline users add` say about a refused password or address."""

from __future__ import annotations

import os
import secrets
import sys

import click
from flask import current_app
from flask_babel import force_locale

from app import password_policy
from app.account_sessions import change_password
from app.database import get_db
from app.users import WeakPassword, find_by_email, new_password

# Read by `hotline setup` (and so `make run`) when no --operator-email is given.
OPERATOR_EMAIL_VARIABLE = "HOTLINE_OPERATOR_EMAIL"


def weak_password_message(error: WeakPassword) -> str:
    """The password rule's own sentence, in English as the command line speaks it."""
    with force_locale("en"):
        return f"password refused: {password_policy.MESSAGES[error.weakness]}"


@click.command("password")
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
