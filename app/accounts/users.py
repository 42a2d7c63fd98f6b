"""Accounts of volunteers and operators."""

from __future__ import annotations

import functools
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.database import utcnow
from app.models import AccountStatus, Role, User

MIN_PASSWORD_LENGTH = 10


class AccountError(ValueError):
    """An account cannot be created or changed as asked; the message says why."""


def hash_password(password: str, cost: int) -> str:
    """The password's scrypt hash at work factor 2**cost (the setting password_hash_cost).

    scrypt: memory-hard, in the standard library, Werkzeug's default. The hash
    names its own parameters, so a check never needs the cost it was made with.
    """
    return generate_password_hash(password, method=f"scrypt:{2**cost}:8:1")


def password_matches(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def find_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == email.strip().lower())).first()


def create_user(
    session: Session,
    *,
    name: str,
    email: str,
    password: str,
    hash_cost: int,
    role: str = Role.VOLUNTEER,
    phone: str = "",
    approved: bool = False,
    zones=(),
) -> User:
    """A new account; volunteers start pending until an operator approves them.

    `hash_cost` is the configured password_hash_cost.
    """
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise AccountError(f"{email!r} is not an e-mail address")
    if not name.strip():
        raise AccountError("a name is required")
    if role not in (Role.VOLUNTEER, Role.OPERATOR):
        raise AccountError(f"unknown role {role!r}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if find_by_email(session, email):
        raise AccountError(f"an account for {email} already exists")
    user = User(
        name=name.strip(),
        email=email,
        phone=phone.strip(),
        password_hash=hash_password(password, hash_cost),
        role=role,
        status=AccountStatus.APPROVED if approved else AccountStatus.PENDING,
        approved_at=utcnow() if approved else None,
        zones=list(zones),
    )
    session.add(user)
    session.flush()
    return user


def operator_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User).where(User.role == Role.OPERATOR))


def new_password() -> str:
    """A random password for an account made from the command line, shown once."""
    return secrets.token_urlsafe(12)


# Failed sign-ins allowed before an account is locked, and for how long.
LOGIN_ATTEMPTS = 5
LOCK_MINUTES = 15


@functools.cache
def _stand_in_hash(cost: int) -> str:
    """A hash of no one's password, checked for an unknown e-mail. At the configured
    cost, as every new password is: a cheaper check would answer sooner, and the
    timing would tell that the address has no account."""
    return hash_password(secrets.token_hex(16), cost)


def authenticate(
    session: Session, email: str, password: str, hash_cost: int, now: datetime | None = None
) -> User | None:
    """The account if e-mail and password match and it is not locked; None otherwise.

    After LOGIN_ATTEMPTS wrong passwords the account is locked for
    LOCK_MINUTES, and while locked even the right password is refused. The
    count lives in the database and is changed by single UPDATE statements,
    so it holds across several app servers. Callers show one message for every
    refusal, and an unknown e-mail costs the same password check as a known
    one: neither the answer nor its timing tells whether an account exists.
    Any status may sign in (a pending volunteer sees that they wait); what an
    account may see is decided by its status, page by page.
    """
    now = now or utcnow()
    user = find_by_email(session, email)
    if user is None:
        check_password_hash(_stand_in_hash(hash_cost), password)
        return None
    matches = password_matches(user, password)
    if user.locked_until is not None and user.locked_until > now:
        return None
    if matches:
        if user.failed_logins or user.locked_until is not None:
            session.execute(
                update(User).where(User.id == user.id).values(failed_logins=0, locked_until=None)
            )
            session.commit()
            session.refresh(user)
        return user
    # Counted in the database, not from the value loaded above: attempts on
    # other servers at the same moment must all count.
    session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_logins=User.failed_logins + 1)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(User)
        .where(User.id == user.id, User.failed_logins >= LOGIN_ATTEMPTS)
        .values(failed_logins=0, locked_until=now + timedelta(minutes=LOCK_MINUTES))
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.expire(user)
    return None


def register_volunteer(
    session: Session,
    *,
    name: str,
    email: str,
    phone: str,
    password: str,
    hash_cost: int,
    zones,
    language: str = "",
) -> User:
    """A volunteer's own sign-up: a pending account until an operator approves it.

    Committed. Two sign-ups with one e-mail at the same moment: the unique
    index lets one through and the other gets AccountError.
    """
    try:
        user = create_user(
            session,
            name=name,
            email=email,
            password=password,
            hash_cost=hash_cost,
            phone=phone,
            zones=zones,
        )
        user.language = language
        session.commit()
    except IntegrityError:
        session.rollback()
        raise AccountError(f"an account for {email.strip().lower()} already exists") from None
    return user
