"""A volunteer's own sign-up: its address is confirmed by a mailed link before operators see it.

    queue_confirmation(session, settings, user, "de")    # with the new account
    queue_taken_notice(session, settings, owner)         # the address had an account
    confirm(session, settings, token)                    # the link's page, on its button

A sign-up with an address that has an account answers the same page as a new
one (issue 13) and mails the owner instead: "someone tried to sign up with your
address". Both mails are queued at most once an hour per account (their job
key names the hour), so nobody can fill a stranger's inbox with sign-ups.

A sign-up nobody confirms within a week is deleted (expire_unconfirmed(), a
periodic task of the worker): the address is free again, and operators never
see it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session

from app.accounts.tokens import make, read
from app.config import Settings
from app.database import utcnow
from app.jobs.handlers import periodic
from app.messaging.links import public_url
from app.messaging.mail import render
from app.messaging.outbox import queue_mail
from app.models import AccountStatus, AuditEvent, Role, User

SALT = "email-confirm"
VALID_FOR = timedelta(days=7)


def queue_confirmation(session: Session, settings: Settings, user: User, language: str) -> None:
    """Queue the mail with the confirmation link (flushed with the caller's transaction)."""
    mail = render(
        "signup_confirm",
        user.language or language,
        name=user.name,
        link=confirm_link(settings, user),
        days=VALID_FOR.days,
    )
    queue_mail(session, user.email, mail, key=f"signup-confirm:{user.id}:{_hour()}")


def queue_taken_notice(session: Session, settings: Settings, owner: User, language: str) -> None:
    """Tell an address's owner that someone signed up with it (an unconfirmed one: the link)."""
    if owner.email_confirmed_at is None:
        # Their own sign-up, not confirmed yet (or someone else's with their address):
        # the link again is what helps either way.
        queue_confirmation(session, settings, owner, language)
        return
    mail = render(
        "signup_taken",
        owner.language or language,
        name=owner.name,
        login=public_url(settings, "/login"),
        forgot=public_url(settings, "/password/forgot"),
    )
    queue_mail(session, owner.email, mail, key=f"signup-taken:{owner.id}:{_hour()}")


def confirm_link(settings: Settings, user: User, now: datetime | None = None) -> str:
    """The address of the page that confirms `user`'s e-mail address, valid for a week."""
    token = make(settings, SALT, [user.id, user.email], issued_at=now)
    return public_url(settings, f"/signup/confirm/{token}")


def user_of_link(
    session: Session, settings: Settings, token: str, now: datetime | None = None
) -> User | None:
    """The account a confirmation token is for, while the address is still the one mailed."""
    payload = read(settings, SALT, token, VALID_FOR, now)
    if payload is None or len(payload) != 2 or not isinstance(payload[0], int):
        return None
    user = session.get(User, payload[0])
    if user is None or user.status == AccountStatus.DELETED or user.email != payload[1]:
        return None
    return user


def confirm(session: Session, user: User) -> bool:
    """Mark the address confirmed; False when it was already. Flushes."""
    # Conditional: the first confirmation's time stays, however often the link is used.
    done = session.execute(
        update(User)
        .where(User.id == user.id, User.email_confirmed_at.is_(None))
        .values(email_confirmed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.flush()
    session.refresh(user, ["email_confirmed_at"])
    return done.rowcount == 1


@periodic(every_seconds=3600)
def expire_unconfirmed(session: Session, app: Flask, now: datetime) -> int:
    """Delete volunteers' sign-ups not confirmed within a week; how many."""
    stale = session.scalars(
        select(User).where(
            User.role == Role.VOLUNTEER,
            User.status == AccountStatus.PENDING,
            User.email_confirmed_at.is_(None),
            User.created_at < now - VALID_FOR,
            # Nothing in the audit trail points at it (nobody decided about it).
            ~exists().where(
                or_(AuditEvent.user_id == User.id, AuditEvent.subject_user_id == User.id)
            ),
        )
    ).all()
    for user in stale:
        session.delete(user)  # its zones go with it (user_zones)
    session.flush()
    return len(stale)


def _hour() -> str:
    return utcnow().strftime("%Y-%m-%dT%H")
