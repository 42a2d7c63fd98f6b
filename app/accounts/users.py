"""Accounts of volunteers and operators."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts import operator_scope, password_policy
from app.database import utcnow
from app.email_addresses import normalised_email
from app.models import OPERATOR_ROLES, AccountStatus, HelplineRow, Role, User


class AccountError(ValueError):
    """An account cannot be created or changed as asked; the message says why."""


class WeakPassword(AccountError):
    """The password breaks app/accounts/password_policy.py's rule; `weakness` says which part."""

    def __init__(self, weakness: password_policy.Weakness):
        super().__init__(f"the password is too weak ({weakness.value})")
        self.weakness = weakness


def hash_password(password: str, cost: int) -> str:
    """The password's scrypt hash at work factor 2**cost (the setting password_hash_cost).

    scrypt: memory-hard, in the standard library, Werkzeug's default. The hash
    names its own parameters, so a check never needs the cost it was made with.
    """
    return generate_password_hash(password, method=f"scrypt:{2**cost}:8:1")


def password_matches(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def find_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == normalised_email(email))).first()


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
    helplines: Sequence[str] = (),
) -> User:
    """A new account; volunteers start pending until an operator approves them.

    `hash_cost` is the configured password_hash_cost. An operator runs the
    helplines `helplines` (slugs); named none, the only helpline when there is
    one, and with several the caller must choose: nobody sees another line's
    callers by default. An admin runs every helpline.
    """
    email = normalised_email(email)
    if "@" not in email or len(email) > 254:
        raise AccountError(f"{email!r} is not an e-mail address")
    if not name.strip():
        raise AccountError("a name is required")
    if role not in (Role.VOLUNTEER, *OPERATOR_ROLES):
        raise AccountError(f"unknown role {role!r}")
    if helplines and role != Role.OPERATOR:
        raise AccountError("only an operator runs chosen helplines (an admin runs them all)")
    found = password_policy.weakness(password, email=email, name=name, phone=phone)
    if found is not None:
        raise WeakPassword(found)
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
        email_confirmed_at=utcnow(),  # register_volunteer() unsets it: a sign-up confirms
        zones=list(zones),
    )
    session.add(user)
    if role == Role.OPERATOR:
        _give_helplines(session, user, list(helplines))
    session.flush()
    return user


def _give_helplines(session: Session, operator: User, slugs: list[str]) -> None:
    if not slugs:
        every = list(session.scalars(select(HelplineRow.slug)))
        if len(every) > 1:
            raise AccountError(
                f"name the helplines the operator runs (known: {', '.join(sorted(every))})"
            )
        slugs = every
    if not slugs:
        return  # no helpline yet (before `hotline setup`): nothing to run
    try:
        operator_scope.set_helplines(session, operator, slugs)
    except operator_scope.ScopeError as e:
        raise AccountError(str(e)) from None


def operator_count(session: Session) -> int:
    """How many operators there are, admins included."""
    return session.scalar(
        select(func.count()).select_from(User).where(User.role.in_(OPERATOR_ROLES))
    )


def new_password() -> str:
    """A random password for an account made from the command line, shown once."""
    return secrets.token_urlsafe(12)


@functools.cache
def _stand_in_hash(cost: int) -> str:
    """A hash of no one's password, checked for an unknown e-mail. At the configured
    cost, as every new password is: a cheaper check would answer sooner, and the
    timing would tell that the address has no account."""
    return hash_password(secrets.token_hex(16), cost)


def authenticate(session: Session, email: str, password: str, hash_cost: int) -> User | None:
    """The account if e-mail and password match; None otherwise. Writes nothing.

    Callers show one message for every refusal, and an unknown e-mail costs
    the same password check as a known one: neither the answer nor its timing
    tells whether an account exists. Guessing is slowed down by the caller
    (board/throttle.py), never by locking the account, which would let anyone
    lock its owner out. Any status may sign in (a pending volunteer sees that
    they wait); what an account may see is decided by its status, page by page.
    """
    user = find_by_email(session, email)
    if user is None:
        check_password_hash(_stand_in_hash(hash_cost), password)
        return None
    return user if password_matches(user, password) else None


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

    Flushed in a savepoint; the caller commits. Two sign-ups with one e-mail
    at the same moment: the unique index lets one through and the other gets
    AccountError, with the rest of the caller's transaction intact.
    """
    try:
        with session.begin_nested():
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
            user.email_confirmed_at = None  # until its owner follows the link we mail
            session.flush()
    except IntegrityError:
        raise AccountError(f"an account for {normalised_email(email)} already exists") from None
    return user
