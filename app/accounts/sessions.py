"""Ending every session of an account, and setting a new password (which does so too).

A session cookie names the account's session version (User.get_id); raising
it makes every cookie of the account, copies included, open nothing
(board/sessions.py). Suspension and rejection raise it in the same statement
that changes the status (app/approval.py).
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.accounts import password_policy
from app.accounts.users import WeakPassword, hash_password
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


def change_password(session: Session, user: User, password: str, hash_cost: int) -> None:
    """Give the account a new password (under the password rule) and end its sessions. Flushes.

    Raises WeakPassword when the rule refuses it; nothing changes then.
    """
    found = password_policy.weakness(password, email=user.email, name=user.name, phone=user.phone)
    if found is not None:
        raise WeakPassword(found)
    user.password_hash = hash_password(password, hash_cost)
    session.flush()
    end_sessions(session, user.id)
