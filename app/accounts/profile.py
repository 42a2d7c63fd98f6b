"""A person's own account: name, phone and password; a volunteer's zones (by them or an operator).

Services take a session and plain values and only flush: the web request or the
command that calls them commits.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit
from app.accounts.operator_scope import volunteer_in_scope
from app.accounts.users import AccountError
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


def find_volunteer(session: Session, user_id: int, *, viewer: User | None = None) -> User | None:
    """A volunteer's account by id, or None (no such account, an operator's, a deleted one,
    or one of another helpline than the operator `viewer` runs)."""
    user = session.scalar(select(User).where(User.id == user_id, volunteer_in_scope(viewer)))
    if user is None or user.role != Role.VOLUNTEER or user.status == AccountStatus.DELETED:
        return None
    return user
