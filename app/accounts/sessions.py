"""Ending every session of an account, and setting a new password (which does so too).

A session cookie names the account's session version (User.get_id); raising
it makes every cookie of the account, copies included, open nothing
(board/sessions.py). Suspension and rejection raise it in the same statement
that changes the status (app/approval.py).
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from app import audit
from app.accounts import password_policy
from app.accounts.users import AccountError, WeakPassword, hash_password, password_matches
from app.models import User


def end_sessions(session: Session, user_id: int) -> None:
    """Every session of the account ends: on every device, copied cookies included. Flushes."""
    # In the database, not from a loaded value: two sign-outs at once both count.
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(session_version=User.session_version + 1)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    user = session.get(User, user_id)
    if user is not None:
        session.refresh(user, ["session_version"])


def change_password(
    session: Session,
    user: User,
    password: str,
    hash_cost: int,
    *,
    current: str | None = None,
    by: User | None = None,
) -> None:
    """Give the account a new password (under the password rule) and end its sessions. Flushes.

    `current`: the password the person typed to prove it is them (the account
    page); None when an operator sets one (`hotline users password`). Raises
    WeakPassword when the rule refuses the new one, AccountError when
    `current` is not right or the password changed meanwhile; nothing changes
    then. One conditional UPDATE on the hash that was checked: two changes at
    once (two tabs) cannot both pass the check of the same old password.
    """
    if current is not None and not password_matches(user, current):
        raise AccountError("the current password is not right")
    found = password_policy.weakness(password, email=user.email, name=user.name, phone=user.phone)
    if found is not None:
        raise WeakPassword(found)
    changed = session.execute(
        update(User)
        .where(User.id == user.id, User.password_hash == user.password_hash)
        .values(password_hash=hash_password(password, hash_cost))
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        raise AccountError("the password was changed meanwhile")
    session.expire(user, ["password_hash"])
    audit.record(session, audit.Action.PASSWORD_CHANGED, user=by, subject=user)
    end_sessions(session, user.id)
