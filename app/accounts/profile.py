"""A person's own account: name, phone and password; a volunteer's zones (by them or an operator).

Services take a session and plain values and only flush: the web request or the
command that calls them commits.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from app import audit
from app.accounts.users import AccountError, hash_password, password_matches
from app.models import AccountStatus, Role, User, Zone


def update_details(session: Session, user: User, *, name: str, phone: str) -> None:
    """Change the name and phone number a person is known by to the operators."""
    if not name.strip():
        raise AccountError("a name is required")
    user.name = name.strip()
    user.phone = phone.strip()
    session.flush()


def set_zones(session: Session, volunteer: User, zones: list[Zone], *, by: User | None) -> bool:
    """Give a volunteer exactly `zones`; True if that changed anything.

    `by` is who changed them (the volunteer, an operator; None: a command). A
    change is audited with the zones it leaves, so operators can tell who
    serves where since when. Claims the volunteer holds stay theirs, whatever
    they serve now (app/requests/claims.py's access rule).
    """
    if volunteer.role != Role.VOLUNTEER or volunteer.status == AccountStatus.DELETED:
        raise AccountError("only a volunteer's account has zones")
    if not zones:
        raise AccountError("a volunteer serves at least one zone")
    wanted = sorted({zone.id: zone for zone in zones}.values(), key=lambda z: (z.area, z.name))
    if {z.id for z in wanted} == {z.id for z in volunteer.zones}:
        return False
    volunteer.zones = wanted
    audit.record(
        session,
        audit.Action.ZONES_CHANGED,
        user=by,
        subject=volunteer,
        detail=", ".join(zone.name for zone in wanted),
    )
    session.flush()
    return True


def change_password(
    session: Session, user: User, *, current: str, new: str, hash_cost: int
) -> None:
    """Replace a password, once the current one is given; AccountError if it is not right.

    The new one is checked by the form that asks for it (the sign-up's rules).
    One conditional UPDATE on the hash that was checked: two changes at once
    (two tabs) cannot both pass the check of the same old password.
    """
    if not password_matches(user, current):
        raise AccountError("the current password is not right")
    changed = session.execute(
        update(User)
        .where(User.id == user.id, User.password_hash == user.password_hash)
        .values(password_hash=hash_password(new, hash_cost))
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        raise AccountError("the password was changed meanwhile")
    session.expire(user, ["password_hash"])
    audit.record(session, audit.Action.PASSWORD_CHANGED, user=user, subject=user)
    session.flush()


def find_volunteer(session: Session, user_id: int) -> User | None:
    """A volunteer's account by id, or None (no such account, an operator's, a deleted one)."""
    user = session.get(User, user_id)
    if user is None or user.role != Role.VOLUNTEER or user.status == AccountStatus.DELETED:
        return None
    return user
