"""Who decided about a volunteer's account, and when: read from the audit trail.

The audit log is where every decision is written anyway (app/accounts/approval.py),
so the volunteers page reads it from there rather than from a copy in `users`.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from app import audit
from app.models import AuditEvent

DECISIONS = (audit.Action.APPROVED, audit.Action.REJECTED, audit.Action.SUSPENDED)


def last_decisions(session: Session, volunteer_ids: list[int]) -> dict[int, AuditEvent]:
    """The latest approval, rejection or suspension of each volunteer, with who made it.

    A volunteer nobody has decided about yet (pending, or made approved by
    `hotline users add`) has none. The event's `user` is None for a decision
    made with `hotline users approve` and its siblings.
    """
    if not volunteer_ids:
        return {}
    latest = (
        select(func.max(AuditEvent.id))
        .where(
            AuditEvent.subject_user_id.in_(volunteer_ids),
            AuditEvent.action.in_([str(action) for action in DECISIONS]),
        )
        .group_by(AuditEvent.subject_user_id)
    )
    events = session.scalars(
        select(AuditEvent).options(joinedload(AuditEvent.user)).where(AuditEvent.id.in_(latest))
    )
    return {event.subject_user_id: event for event in events}
