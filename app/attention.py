"""What needs an operator: requests volunteers could not resolve, and voice messages.

A request needs attention while it is open or claimed and the board flagged
it (needs_attention), or volunteers could not reach the caller three times,
or claims on it expired repeatedly. An operator then calls the caller and
either puts the request back on the board with fresh counters, or closes it.
A voice message left for the operators (a transfer that found nobody) waits
until an operator marks it handled.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from app import audit
from app.database import utcnow
from app.help_requests import ACTIVE
from app.models import Call, HelpRequest, RequestStatus, User

UNREACHABLE_LIMIT = 3
EXPIRED_CLAIMS_LIMIT = 2


class Reason:
    FLAGGED = "flagged"
    UNREACHABLE = "unreachable"
    EXPIRED = "expired"


@dataclass(frozen=True)
class AttentionItem:
    request: HelpRequest
    reasons: tuple[str, ...]


def _needs_attention():
    return (
        HelpRequest.status.in_(ACTIVE),
        or_(
            HelpRequest.needs_attention.is_(True),
            HelpRequest.unreachable_count >= UNREACHABLE_LIMIT,
            HelpRequest.expired_claims >= EXPIRED_CLAIMS_LIMIT,
        ),
    )


def requests_needing_attention(session: Session) -> list[AttentionItem]:
    """Open or claimed requests that need an operator, the longest-waiting first."""
    requests = session.scalars(
        select(HelpRequest)
        .options(joinedload(HelpRequest.zone), joinedload(HelpRequest.claimed_by))
        .where(*_needs_attention())
        .order_by(HelpRequest.created_at)
    )
    return [AttentionItem(request, _reasons(request)) for request in requests]


def unhandled_operator_messages(session: Session) -> list[Call]:
    """Voice messages callers left for the operators, not yet handled, oldest first."""
    return list(
        session.scalars(
            select(Call)
            .options(joinedload(Call.zone))
            .where(*_unhandled_message())
            .order_by(Call.started_at)
        )
    )


def _unhandled_message():
    return Call.operator_message_url.is_not(None), Call.operator_message_handled_at.is_(None)


def attention_counts(session: Session) -> tuple[int, int]:
    """(requests needing attention, unhandled voice messages), for the dashboard."""
    requests = session.scalar(select(func.count(HelpRequest.id)).where(*_needs_attention()))
    messages = session.scalar(select(func.count(Call.id)).where(*_unhandled_message()))
    return requests, messages


def mark_message_handled(session: Session, call_id: int, operator: User) -> bool:
    """Mark an operator voice message as dealt with; False if it already was (or is gone).

    Conditional, so two operators clicking at once record it once.
    """
    result = session.execute(
        update(Call)
        .where(
            Call.id == call_id,
            Call.operator_message_url.is_not(None),
            Call.operator_message_handled_at.is_(None),
        )
        .values(operator_message_handled_at=utcnow())
    )
    if result.rowcount != 1:
        session.rollback()
        return False
    call = session.get(Call, call_id)
    audit.record(
        session,
        audit.Action.MESSAGE_HANDLED,
        user=operator,
        detail=f"voice message of call {call.call_sid}",
    )
    session.commit()
    return True


def return_to_board(session: Session, request_id: int, operator: User, note: str = "") -> bool:
    """Put a request back among the open ones, unclaimed and with its counters reset.

    For when the operator reached the caller and help is still wanted. One
    conditional UPDATE: a request closed meanwhile is left alone (False).
    """
    return _operator_update(
        session,
        request_id,
        operator,
        audit.Action.RETURNED_TO_BOARD,
        note,
        status=RequestStatus.OPEN,
        claimed_by_id=None,
        claimed_at=None,
        unreachable_count=0,
        expired_claims=0,
        needs_attention=False,
    )


def close_request(session: Session, request_id: int, operator: User, note: str = "") -> bool:
    """Close a request the operator resolved (or the caller no longer needs); False if closed."""
    values = {"status": RequestStatus.CANCELLED, "closed_at": utcnow(), "needs_attention": False}
    if note:
        values["outcome_note"] = note
    return _operator_update(
        session, request_id, operator, audit.Action.CLOSED_BY_OPERATOR, note, **values
    )


def _operator_update(
    session: Session, request_id: int, operator: User, action: audit.Action, note: str, **values
) -> bool:
    result = session.execute(
        update(HelpRequest)
        .where(HelpRequest.id == request_id, HelpRequest.status.in_(ACTIVE))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.rollback()
        return False
    request = session.get(HelpRequest, request_id)
    session.refresh(request)
    audit.record(session, action, user=operator, request=request, detail=note.strip())
    session.commit()
    return True


def _reasons(request: HelpRequest) -> tuple[str, ...]:
    reasons = []
    if request.unreachable_count >= UNREACHABLE_LIMIT:
        reasons.append(Reason.UNREACHABLE)
    if request.expired_claims >= EXPIRED_CLAIMS_LIMIT:
        reasons.append(Reason.EXPIRED)
    if request.needs_attention and not reasons:
        reasons.append(Reason.FLAGGED)
    return tuple(reasons)
