"""The audit trail: who did what to which request, for the operators who answer for it."""

from __future__ import annotations

import enum

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from app.accounts.operator_scope import event_in_scope
from app.models import AuditEvent, HelpRequest, User


class Action(enum.StrEnum):
    CLAIMED = "claimed"
    RELEASED = "released"
    COMPLETED = "completed"
    REOPENED = "reopened"  # "done" undone by its volunteer, soon after
    UNREACHABLE = "unreachable"
    NUMBER_VIEWED = "number_viewed"
    EXPIRED = "expired"
    EXPORTED = "exported"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    PURGED = "purged"
    RETURNED_TO_BOARD = "returned_to_board"
    CLOSED_BY_OPERATOR = "closed_by_operator"
    MESSAGE_HANDLED = "message_handled"
    ZONES_CHANGED = "zones_changed"
    PASSWORD_CHANGED = "password_changed"
    ACCOUNT_DELETED = "account_deleted"
    HELPLINES_CHANGED = "helplines_changed"  # the helplines an operator runs
    CALL_BRIDGED = "call_bridged"  # a call through the hotline reached the caller


def record(
    session: Session,
    action: Action,
    *,
    user: User | None = None,
    request: HelpRequest | None = None,
    subject: User | None = None,
    detail: str = "",
) -> AuditEvent:
    """Add an audit event to the session; it is committed with the change it describes.

    `user` is who acted (None: the phone line or a command), `subject` the
    account the action was about (a volunteer approved or suspended).
    """
    event = AuditEvent(
        action=action,
        user_id=user.id if user else None,
        request_id=request.id if request else None,
        subject_user_id=subject.id if subject else None,
        detail=detail,
    )
    session.add(event)
    return event


def find_events(
    session: Session,
    *,
    user_id: int | None = None,
    request_id: int | None = None,
    action: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
    viewer: User | None = None,
) -> list[AuditEvent]:
    """The newest audit events first, filtered; page on with before_id (the last id shown).

    Filtering by a person finds what they did and what was done to their account.
    `viewer`: the operator reading, who reads their helplines' events only
    (app/accounts/operator_scope.py); None: every event.
    """

    query = (
        select(AuditEvent)
        .options(
            joinedload(AuditEvent.user),
            joinedload(AuditEvent.subject_user),
            joinedload(AuditEvent.request),
        )
        .where(event_in_scope(viewer))
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    if user_id is not None:
        query = query.where(
            or_(AuditEvent.user_id == user_id, AuditEvent.subject_user_id == user_id)
        )
    if request_id is not None:
        query = query.where(AuditEvent.request_id == request_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return list(session.scalars(query))
