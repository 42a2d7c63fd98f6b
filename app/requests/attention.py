"""What needs an operator: requests volunteers could not resolve, and voice messages.

A request needs attention while it is open or claimed and volunteers could
not reach the caller three times, or neither "still need help?" call reached
them (app/calls/calldown.py),
or claims on it expired repeatedly, or nobody has taken it for
`unclaimed_alert_hours` (counted from the call, or from when an operator last
put it back on the board). An operator then calls the caller and either puts
the request back on the board with fresh counters, or closes it. Nothing
leaves the board by itself: a caller still waiting is never silently dropped.
A voice message left for the operators (a transfer that found nobody) waits
until an operator marks it handled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from app import audit
from app.accounts.operator_scope import in_scope
from app.calls import calldown
from app.database import utcnow
from app.models import Call, HelpRequest, RequestStatus, User
from app.requests.intake import ACTIVE, renewed_verification_code

# After this many calls that reached nobody a request needs an operator: it is listed
# here, the board flags it (app/requests/claims.py) and tells the volunteer so.
UNREACHABLE_LIMIT = 3
EXPIRED_CLAIMS_LIMIT = 2


class Reason:
    UNREACHABLE = "unreachable"
    EXPIRED = "expired"
    UNCLAIMED = "unclaimed"
    CALLDOWN = "calldown"


@dataclass(frozen=True)
class AttentionItem:
    request: HelpRequest
    reasons: tuple[str, ...]
    unclaimed_for: timedelta | None = None  # how long it has waited open, if that is a reason


@dataclass(frozen=True)
class AttentionCounts:
    """What the dashboard tells the operators about the "Needs attention" page."""

    requests: int  # every request on that page, the unclaimed ones included
    unclaimed: int  # of those, open for longer than unclaimed_alert_hours
    messages: int  # voice messages not yet handled


def waiting_since(request: HelpRequest) -> datetime:
    """Since when an open request has waited for a volunteer, as the unclaimed alert counts."""
    return request.returned_to_board_at or request.created_at


def _waiting_since():
    # Counted from the operator's return, not the call: the operator has just
    # spoken to the caller, so the request must not come straight back here.
    return func.coalesce(HelpRequest.returned_to_board_at, HelpRequest.created_at)


def _unclaimed_too_long(unclaimed_since: datetime):
    return and_(HelpRequest.status == RequestStatus.OPEN, _waiting_since() < unclaimed_since)


def _needs_attention(unclaimed_since: datetime):
    return (
        HelpRequest.status.in_(ACTIVE),
        or_(
            HelpRequest.unreachable_count >= UNREACHABLE_LIMIT,
            HelpRequest.expired_claims >= EXPIRED_CLAIMS_LIMIT,
            _unclaimed_too_long(unclaimed_since),
            calldown.not_reached(),
        ),
    )


def _unclaimed_since(unclaimed_alert_hours: int, now: datetime | None) -> datetime:
    return (now or utcnow()) - timedelta(hours=unclaimed_alert_hours)


def requests_needing_attention(
    session: Session,
    *,
    unclaimed_alert_hours: int,
    now: datetime | None = None,
    viewer: User | None = None,
) -> list[AttentionItem]:
    """Open or claimed requests that need an operator, the longest-waiting first.

    Open requests nobody has taken for `unclaimed_alert_hours` are among them.
    `viewer`: the operator asking, who sees their helplines' only
    (app/accounts/operator_scope.py); None: every helpline's.
    """
    now = now or utcnow()
    unclaimed_since = _unclaimed_since(unclaimed_alert_hours, now)
    requests = session.scalars(
        select(HelpRequest)
        .options(joinedload(HelpRequest.zone), joinedload(HelpRequest.claimed_by))
        .where(*_needs_attention(unclaimed_since), in_scope(viewer, HelpRequest.helpline_id))
        .order_by(HelpRequest.created_at, HelpRequest.id)
    )
    requests = list(requests)
    not_reached = set(
        session.scalars(
            select(HelpRequest.id).where(
                HelpRequest.id.in_([r.id for r in requests]), calldown.not_reached()
            )
        )
    )
    items = []
    for request in requests:
        reasons = _reasons(request, unclaimed_since)
        if request.id in not_reached:
            reasons += (Reason.CALLDOWN,)
        unclaimed_for = now - waiting_since(request) if Reason.UNCLAIMED in reasons else None
        items.append(AttentionItem(request, reasons, unclaimed_for))
    return items


def unhandled_operator_messages(session: Session, *, viewer: User | None = None) -> list[Call]:
    """Voice messages callers left for the operators (of `viewer`'s helplines), not yet
    handled, oldest first."""
    return list(
        session.scalars(
            select(Call)
            .options(joinedload(Call.zone))
            .where(*_unhandled_message(), in_scope(viewer, Call.helpline_id))
            .order_by(Call.started_at)
        )
    )


def _unhandled_message():
    return Call.operator_message_url.is_not(None), Call.operator_message_handled_at.is_(None)


def attention_counts(
    session: Session,
    *,
    unclaimed_alert_hours: int,
    now: datetime | None = None,
    viewer: User | None = None,
) -> AttentionCounts:
    """How much waits on the "Needs attention" page (of `viewer`), for the dashboard."""
    unclaimed_since = _unclaimed_since(unclaimed_alert_hours, now)
    requests, unclaimed = session.execute(
        select(
            func.count(HelpRequest.id),
            func.count(case((_unclaimed_too_long(unclaimed_since), 1))),
        ).where(*_needs_attention(unclaimed_since), in_scope(viewer, HelpRequest.helpline_id))
    ).one()
    messages = session.scalar(
        select(func.count(Call.id)).where(*_unhandled_message(), in_scope(viewer, Call.helpline_id))
    )
    return AttentionCounts(requests=requests, unclaimed=unclaimed, messages=messages)


def record_number_shown(
    session: Session,
    operator: User,
    *,
    request: HelpRequest | None = None,
    call: Call | None = None,
) -> None:
    """Write to the audit log that `operator` is shown a caller's number (the caller commits).

    The same trail a volunteer leaves (claims.record_number_viewed), written
    before the number is rendered, so no number is ever shown that the log
    does not know of. Only when an operator asks to see it: the page lists
    numbers masked, so merely opening it writes nothing.
    """
    if request is not None:
        audit.record(session, audit.Action.NUMBER_VIEWED, user=operator, request=request)
    if call is not None:
        # A call has no request to point to: the detail names it.
        detail = f"caller number of call {call.call_sid}"
        audit.record(session, audit.Action.NUMBER_VIEWED, user=operator, detail=detail)
    session.flush()


def mark_message_handled(session: Session, call_id: int, operator: User | None) -> bool:
    """Mark an operator voice message as dealt with; False if it already was (or is gone,
    or is another helpline's than the operator runs).

    Conditional, so two operators clicking at once record it once.
    """
    result = session.execute(
        update(Call)
        .where(
            Call.id == call_id,
            Call.operator_message_url.is_not(None),
            Call.operator_message_handled_at.is_(None),
            in_scope(operator, Call.helpline_id),
        )
        .values(operator_message_handled_at=utcnow())
    )
    if result.rowcount != 1:
        return False  # nothing written
    call = session.get(Call, call_id)
    audit.record(
        session,
        audit.Action.MESSAGE_HANDLED,
        user=operator,
        detail=f"voice message of call {call.call_sid}",
    )
    session.flush()
    return True


def return_to_board(session: Session, request_id: int, operator: User, note: str = "") -> bool:
    """Put a request back among the open ones, unclaimed and with its counters reset.

    For when the operator reached the caller and help is still wanted. One
    conditional UPDATE: a request closed meanwhile is left alone (False). A
    request taken from a volunteer's claim gets a new verification code (its
    claimer knew the old one, app/requests/intake.py).
    """
    known = session.get(HelpRequest, request_id)
    new_code = renewed_verification_code(known.verification_code if known else None)
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
        returned_to_board_at=utcnow(),
        verification_code=case(
            (HelpRequest.status == RequestStatus.CLAIMED, new_code),
            else_=HelpRequest.verification_code,
        ),
    )


def close_request(session: Session, request_id: int, operator: User, note: str = "") -> bool:
    """Close a request the operator resolved (or the caller no longer needs); False if closed."""
    values = {"status": RequestStatus.CANCELLED, "closed_at": utcnow()}
    if note:
        values["outcome_note"] = note
    return _operator_update(
        session, request_id, operator, audit.Action.CLOSED_BY_OPERATOR, note, **values
    )


def _operator_update(
    session: Session, request_id: int, operator: User, action: audit.Action, note: str, **values
) -> bool:
    # Another helpline's request is left alone as one closed meanwhile: no operator
    # changes, or learns of, a request of a line they do not run.
    result = session.execute(
        update(HelpRequest)
        .where(
            HelpRequest.id == request_id,
            HelpRequest.status.in_(ACTIVE),
            in_scope(operator, HelpRequest.helpline_id),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False  # nothing written
    request = session.get(HelpRequest, request_id)
    session.refresh(request)
    audit.record(session, action, user=operator, request=request, detail=note.strip())
    session.flush()
    return True


def _reasons(request: HelpRequest, unclaimed_since: datetime) -> tuple[str, ...]:
    reasons = []
    if request.status == RequestStatus.OPEN and waiting_since(request) < unclaimed_since:
        reasons.append(Reason.UNCLAIMED)
    if request.unreachable_count >= UNREACHABLE_LIMIT:
        reasons.append(Reason.UNREACHABLE)
    if request.expired_claims >= EXPIRED_CLAIMS_LIMIT:
        reasons.append(Reason.EXPIRED)
    return tuple(reasons)
