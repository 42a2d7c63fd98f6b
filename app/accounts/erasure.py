"""A volunteer deletes their account: the right to erasure.

The row in `users` stays, emptied of everything personal (name, e-mail, phone,
password hash, language, zones) and marked deleted, rather than being removed:
audit events and past requests point at it (audit_events.user_id and
subject_user_id, help_requests.claimed_by_id), and with the row kept the trail
still reads "a deleted volunteer claimed it, then gave it back" instead of
turning into the phone line's or nobody's doing. The id left behind is linked
to nothing that says who it was.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app import audit
from app.accounts.users import AccountError
from app.models import AccountStatus, AuditEvent, HelpRequest, RequestStatus, Role, User
from app.requests.claims import ReleaseResult, release_request

# What the audit log says about a claim a volunteer gave back by deleting their account.
RELEASE_REASON = "account deleted"
# Stands where the e-mail address or phone number was, in audit events that named them.
ERASED = "[erased]"


def erased_email(user_id: int) -> str:
    """The e-mail column of a deleted account: unique, and no address (no @), so
    nobody can sign up or sign in with it."""
    return f"deleted-{user_id}"


def delete_volunteer_account(session: Session, volunteer: User, *, by: User | None) -> int:
    """Erase a volunteer's personal data and return their claims to the board.

    How many claims went back to the board. `by` is who asked: the volunteer
    themselves (the web, after their password), or None (a command). Flushed:
    the caller commits, and signs the volunteer out.
    """
    if volunteer.role != Role.VOLUNTEER:
        raise AccountError("only a volunteer's account can be deleted here")
    if volunteer.status == AccountStatus.DELETED:
        raise AccountError("this account is already deleted")
    held = session.scalars(
        select(HelpRequest).where(
            HelpRequest.claimed_by_id == volunteer.id,
            HelpRequest.status == RequestStatus.CLAIMED,
        )
    ).all()
    # The one way a claim goes back to the board, so whatever returning a claim
    # does (a new code for the caller, a note to the operators) happens here too.
    returned = sum(
        release_request(session, request, volunteer, RELEASE_REASON) == ReleaseResult.RELEASED
        for request in held
    )
    _erase_from_audit_trail(session, volunteer)
    volunteer.name = ""
    volunteer.email = erased_email(volunteer.id)
    volunteer.phone = ""
    # No hash at all: no password can match it (werkzeug's check fails on it).
    volunteer.password_hash = ""
    volunteer.language = ""
    volunteer.failed_logins = 0
    volunteer.locked_until = None
    volunteer.status = AccountStatus.DELETED
    volunteer.zones = []
    audit.record(session, audit.Action.ACCOUNT_DELETED, user=by, subject=volunteer)
    session.flush()
    return returned


def _erase_from_audit_trail(session: Session, volunteer: User) -> None:
    """Leave no personal data about the volunteer in the audit log.

    Events about their account (approved, suspended, zones changed) may carry
    their e-mail address or an operator's note about them: those details go.
    Any other event that names their address or phone number (say, a note
    typed by an operator) keeps its detail with them blanked out. Their own
    actions' details stay: they are about requests, not about them.
    """
    session.execute(
        update(AuditEvent)
        .where(AuditEvent.subject_user_id == volunteer.id)
        .values(detail="")
        .execution_options(synchronize_session=False)
    )
    for personal in (volunteer.email, volunteer.phone.strip()):
        if len(personal) < 5:  # an empty phone, or too short to be anybody's
            continue
        session.execute(
            update(AuditEvent)
            .where(AuditEvent.detail.contains(personal, autoescape=True))
            .values(detail=func.replace(AuditEvent.detail, personal, ERASED))
            .execution_options(synchronize_session=False)
        )
