"""Setting a new password from a link sent by e-mail ("Forgot your password?").

    request_reset(session, "ada@example.org", "de")   # the form: always the same answer
    ... the worker mails the link, if the address has an account ...
    user = reset_password(session, settings, token, "new password")   # the link's page

No enumeration: the form only queues a job, for every address typed, and the
job looks the account up. So the page answers the same, after the same work,
whether or not the address has an account; only its owner's inbox tells.

The link is signed (app/accounts/tokens.py), expires after an hour, and is
single-use without a table of used tokens: it carries a fingerprint of the
password hash it was made for. Setting a password changes the hash (a new
salt even for the same password), so the link, and every other link made
before, is dead from then on; so is a link made before any other change of
the password (the account page, `hotline users password`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.accounts.sessions import change_password
from app.accounts.tokens import make, read
from app.accounts.users import AccountError, find_by_email
from app.config import Settings
from app.database import utcnow
from app.jobs.handlers import JobRun, handler
from app.jobs.queue import enqueue
from app.messaging.links import public_url
from app.messaging.mail import render
from app.messaging.outbox import queue_mail
from app.models import AccountStatus, User

RESET_JOB = "accounts.password_reset"
SALT = "password-reset"
VALID_FOR = timedelta(hours=1)


class InvalidResetLink(AccountError):
    """The link is not ours, expired, or was used (the password changed since)."""


def request_reset(session: Session, email: str, language: str) -> None:
    """Queue the reset mail for whatever address was typed (flushed; the view commits).

    `language`: the page's, for an account that has none of its own.
    """
    enqueue(session, RESET_JOB, {"email": email.strip().lower(), "language": language})


@handler(RESET_JOB)
def send_reset_mail(run: JobRun) -> None:
    """Mail a reset link to the account of the address typed; for no account, nothing."""
    payload = run.job.payload
    user = find_by_email(run.session, payload["email"]) if payload["email"] else None
    if user is None or user.status == AccountStatus.DELETED:
        return
    mail = render(
        "password_reset",
        user.language or payload.get("language", ""),
        name=user.name,
        link=reset_link(run.settings, user),
        minutes=int(VALID_FOR.total_seconds() // 60),
        forgot=public_url(run.settings, "/password/forgot"),
    )
    # The job's own key: a retried job queues the mail once.
    queue_mail(run.session, user.email, mail, key=f"password-reset:{run.job.id}")


def reset_link(settings: Settings, user: User, base_url: str | None = None, now=None) -> str:
    """The address of the page that sets a new password for `user`, valid for an hour."""
    token = make(settings, SALT, [user.id, _fingerprint(settings, user)], issued_at=now)
    path = f"/password/reset/{token}"
    return base_url.rstrip("/") + path if base_url else public_url(settings, path)


def user_of_link(
    session: Session, settings: Settings, token: str, now: datetime | None = None
) -> User | None:
    """The account a reset token is for, if it may still be used; else None."""
    payload = read(settings, SALT, token, VALID_FOR, now)
    if payload is None or len(payload) != 2 or not isinstance(payload[0], int):
        return None
    user = session.get(User, payload[0])
    if user is None or user.status == AccountStatus.DELETED:
        return None
    return user if _fingerprint(settings, user) == payload[1] else None


def reset_password(session: Session, settings: Settings, token: str, password: str) -> User:
    """Set the new password of the link's account; every session of it ends. Flushes.

    Raises InvalidResetLink (expired, used, not ours) or WeakPassword (the
    password rule); nothing changes then. Two uses of one link at the same
    moment: change_password()'s conditional UPDATE lets one through.
    """
    user = user_of_link(session, settings, token)
    if user is None:
        raise InvalidResetLink("the link has expired or was used")
    try:
        change_password(session, user, password, settings.password_hash_cost)
    except AccountError as error:
        if error.__class__ is AccountError:  # the password changed meanwhile: used
            raise InvalidResetLink("the link was used") from None
        raise
    if user.email_confirmed_at is None:
        # The mail reached its owner: as good as the sign-up's confirmation link.
        user.email_confirmed_at = utcnow()
    session.flush()
    return user


def _fingerprint(settings: Settings, user: User) -> str:
    # A keyed digest, not the hash: the link never carries what an attacker could
    # test passwords against offline.
    key = f"{settings.secret_key}:{user.password_hash}"
    return hashlib.sha256(key.encode()).hexdigest()[:20]
