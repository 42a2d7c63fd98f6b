"""Accounts of volunteers and operators."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.database import utcnow
from app.models import AccountStatus, Role, User

MIN_PASSWORD_LENGTH = 10


class AccountError(ValueError):
    """An account cannot be created or changed as asked; the message says why."""


def hash_password(password: str) -> str:
    # scrypt: memory-hard, in the standard library, Werkzeug's default.
    return generate_password_hash(password, method="scrypt")


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
    role: str = Role.VOLUNTEER,
    phone: str = "",
    approved: bool = False,
    zones=(),
) -> User:
    """A new account; volunteers start pending until an operator approves them."""
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
        password_hash=hash_password(password),
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
