"""Operators vet volunteers: approve, reject, suspend (and approve again).

Only a volunteer's account is changed here; operators are made from the
command line. Every change is one conditional UPDATE on the status it starts
from, so two operators acting on the same account at once cannot both
succeed, and each change writes an audit event naming the volunteer.
"""

from __future__ import annotations

import enum

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from app import audit
from app.accounts import account_mail
from app.accounts.operator_scope import volunteer_in_scope
from app.database import utcnow
from app.models import AccountStatus, HelpRequest, RequestStatus, Role, User
from app.requests.intake import renewed_verification_code


class Decision(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    SUSPEND = "suspend"


# decision -> (the statuses it may start from, the status it leads to, the audit action)
TRANSITIONS = {
    Decision.APPROVE: (
        (AccountStatus.PENDING, AccountStatus.REJECTED, AccountStatus.SUSPENDED),
        AccountStatus.APPROVED,
        audit.Action.APPROVED,
    ),
    Decision.REJECT: ((AccountStatus.PENDING,), AccountStatus.REJECTED, audit.Action.REJECTED),
    Decision.SUSPEND: ((AccountStatus.APPROVED,), AccountStatus.SUSPENDED, audit.Action.SUSPENDED),
}


# A sign-up operators see: its owner confirmed the address (app/accounts/confirmation.py).
CONFIRMED = User.email_confirmed_at.is_not(None)


class ApprovalError(ValueError):
    """The decision does not apply to this account (any more); the message says why."""


def volunteers(
    session: Session, status: str | None = None, *, viewer: User | None = None
) -> list[User]:
    """Volunteers with their zones, oldest sign-up first; all of them or those with `status`.

    `viewer`: the operator asking, who sees the volunteers of their helplines only
    (app/accounts/operator_scope.py); None: every volunteer.
    """
    query = (
        select(User)
        .options(selectinload(User.zones))
        .where(User.role == Role.VOLUNTEER, volunteer_in_scope(viewer))
        .order_by(User.created_at, User.id)
    )
    if status is not None:
        query = query.where(User.status == status)
    if status == AccountStatus.PENDING:
        query = query.where(CONFIRMED)
    return list(session.scalars(query))


def status_counts(session: Session, *, viewer: User | None = None) -> dict[str, int]:
    """How many volunteers' accounts (of `viewer`'s helplines) are pending (confirmed),
    approved, suspended, rejected."""
    rows = session.execute(
        select(User.status, func.count(User.id))
        .where(
            User.role == Role.VOLUNTEER,
            or_(User.status != AccountStatus.PENDING, CONFIRMED),
            volunteer_in_scope(viewer),
        )
        .group_by(User.status)
    )
    return {status: 0 for status in AccountStatus} | dict(rows.all())


def allowed_decisions(volunteer: User) -> list[Decision]:
    """What an operator can decide about this account now (the buttons to show)."""
    return [d for d, (sources, _, _) in TRANSITIONS.items() if volunteer.status in sources]


def decide(
    session: Session,
    volunteer_id: int,
    decision: Decision,
    *,
    operator: User | None,
    note: str = "",
) -> User:
    """Apply an operator's decision to a volunteer's account, with an audit event; commits.

    Suspending also puts the volunteer's claimed requests back on the board
    with new verification codes, so no caller waits on someone who can no
    longer sign in, and the codes they saw are worthless.
    `operator` is None when the decision comes from the command line; an
    operator decides only about the volunteers of their helplines, and another
    helpline's is "no such volunteer" to them.
    """
    sources, target, action = TRANSITIONS[Decision(decision)]
    volunteer = session.scalar(
        select(User).where(
            User.id == volunteer_id,
            User.role == Role.VOLUNTEER,
            volunteer_in_scope(operator),
        )
    )
    if volunteer is None:
        raise ApprovalError("no such volunteer")
    before = volunteer.status
    values = {"status": target}
    if target == AccountStatus.APPROVED:
        values["approved_at"] = utcnow()
    else:
        # Rejected or suspended: every session of the account ends now (board/sessions.py).
        values["session_version"] = User.session_version + 1
    result = session.execute(
        update(User)
        .where(User.id == volunteer_id, User.role == Role.VOLUNTEER, User.status.in_(sources))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        # Nothing was written: the account had moved on (another operator, another tab).
        session.refresh(volunteer)
        raise ApprovalError(f"cannot {decision} an account that is {volunteer.status}")
    session.refresh(volunteer)
    detail = f"{volunteer.email}: {before} -> {target}"
    if note.strip():
        detail += f" ({note.strip()})"
    event = audit.record(session, action, user=operator, subject=volunteer, detail=detail)
    account_mail.decision_made(session, volunteer, event)  # in this transaction, as the decision
    if target == AccountStatus.SUSPENDED:
        _release_claims(session, volunteer, operator)
    session.flush()  # the caller commits: the web request or the command
    return volunteer


def _release_claims(session: Session, volunteer: User, operator: User | None) -> None:
    claimed = session.execute(
        select(HelpRequest.id, HelpRequest.verification_code).where(
            HelpRequest.claimed_by_id == volunteer.id, HelpRequest.status == RequestStatus.CLAIMED
        )
    ).all()
    for request_id, code in claimed:
        # Conditional per request: one the volunteer marks done at this very
        # moment stays done.
        released = session.execute(
            update(HelpRequest)
            .where(HelpRequest.id == request_id, HelpRequest.status == RequestStatus.CLAIMED)
            .values(
                status=RequestStatus.OPEN,
                claimed_by_id=None,
                claimed_at=None,
                verification_code=renewed_verification_code(code),
            )
            .execution_options(synchronize_session=False)
        )
        if released.rowcount == 1:
            audit.record(
                session,
                audit.Action.RELEASED,
                user=operator,
                request=session.get(HelpRequest, request_id),
                subject=volunteer,
                detail="claim released: the volunteer was suspended; new verification code",
            )
