"""The audit trail: who did what to which request, for the operators who answer for it."""

from __future__ import annotations

import enum

from sqlalchemy.orm import Session

from app.models import AuditEvent, HelpRequest, User


class Action(enum.StrEnum):
    CLAIMED = "claimed"
    RELEASED = "released"
    COMPLETED = "completed"
    UNREACHABLE = "unreachable"
    NUMBER_VIEWED = "number_viewed"
    EXPIRED = "expired"
    EXPORTED = "exported"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    PURGED = "purged"


def record(
    session: Session,
    action: Action,
    *,
    user: User | None = None,
    request: HelpRequest | None = None,
    detail: str = "",
) -> AuditEvent:
    """Add an audit event to the session; it is committed with the change it describes."""
    event = AuditEvent(
        action=action,
        user_id=user.id if user else None,
        request_id=request.id if request else None,
        detail=detail,
    )
    session.add(event)
    return event
