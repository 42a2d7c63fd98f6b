"""Data retention: erase callers' personal data once the configured days have passed.

What goes, from a request closed (done, cancelled, expired) more than
`retention_days` ago: the caller's number, the verification code, the voice
message, the outcome note, and the notes volunteers and operators typed about
it into the audit log. From a call that started more than `retention_days`
ago: the number (or typed callback number) and the voice message for the
operators. What stays: every row, so counts, zones, request types, outcomes
and the audit trail (who did what, when) still add up. Open and claimed
requests keep their numbers however old they are: someone still has to call back.

Notes are free text, and people write what they need to: "Mrs K. on the 3rd
floor, key under the mat, diabetic". So they are personal data of the caller
and go with the number. What the system wrote into the audit log ("attempt
2", "not done within 24 hours", a release reason from the fixed list) stays.
Operators' notes on approving or suspending a volunteer stay too: they are
about the volunteer's account, not a caller, and are needed as long as the
account exists.

Each erasure is one UPDATE that only touches rows still holding data, so a
second run erases nothing, and a request being closed at the same moment is
either in this run or in tomorrow's, never half-erased.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app import audit
from app.database import utcnow
from app.models import AuditEvent, Call, HelpRequest, RequestStatus, User

CLOSED = (RequestStatus.DONE, RequestStatus.CANCELLED)
# Audit events whose whole detail is a note a person typed about the request:
# a volunteer finishing it, an operator putting it back or closing it.
TYPED_DETAIL = (
    audit.Action.COMPLETED,
    audit.Action.RETURNED_TO_BOARD,
    audit.Action.CLOSED_BY_OPERATOR,
)
# A volunteer giving a request back writes "<reason>: <note>", the reason
# from the board's fixed list ("no_time"): the reason stays, the note goes.
RELEASE_NOTE = re.compile(r"([a-z_]+):\s*\S.*", re.DOTALL)


@dataclass(frozen=True)
class PurgeResult:
    cutoff: datetime
    dry_run: bool
    request_numbers: int
    verification_codes: int
    request_voice_messages: int
    call_numbers: int
    operator_messages: int
    outcome_notes: int
    audit_notes: int

    @property
    def total(self) -> int:
        return (
            self.request_numbers
            + self.verification_codes
            + self.request_voice_messages
            + self.outcome_notes
            + self.audit_notes
            + self.call_numbers
            + self.operator_messages
        )

    def report(self) -> list[str]:
        """What was (or, in a dry run, would be) erased, for the command line and the audit."""
        verb = "Would erase" if self.dry_run else "Erased"
        before = self.cutoff.strftime("%Y-%m-%d %H:%M UTC")
        return [
            f"{verb}, from requests closed before {before}: "
            f"{self.request_numbers} caller numbers, {self.verification_codes} verification "
            f"codes, {self.request_voice_messages} voice messages, {self.outcome_notes} outcome "
            f"notes; {self.audit_notes} notes in the audit log.",
            f"{verb}, from calls started before {before}: "
            f"{self.call_numbers} caller numbers, {self.operator_messages} voice messages "
            "for the operators.",
        ]


def purge(
    session: Session,
    *,
    retention_days: int,
    now: datetime | None = None,
    dry_run: bool = False,
    operator: User | None = None,
) -> PurgeResult:
    """Erase what is older than the retention period (or only count it, in a dry run).

    A real run writes an audit event even when there was nothing to erase
    (the trail then shows that the daily purge ran). Flushed, not committed:
    the command commits, so the erasures and their audit event land together.
    """
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    now = now or utcnow()
    cutoff = now - timedelta(days=retention_days)
    old_request = (HelpRequest.status.in_(CLOSED), HelpRequest.closed_at < cutoff)
    old_call = (Call.started_at < cutoff,)
    erasures = {
        "request_numbers": (
            HelpRequest,
            (*old_request, HelpRequest.caller_number.is_not(None)),
            {"caller_number": None},
        ),
        "verification_codes": (
            HelpRequest,
            (*old_request, HelpRequest.verification_code.is_not(None)),
            {"verification_code": None},
        ),
        "request_voice_messages": (
            HelpRequest,
            (*old_request, HelpRequest.voice_message_url.is_not(None)),
            {"voice_message_url": None, "voice_message_seconds": None},
        ),
        "call_numbers": (
            Call,
            # A withheld caller typed the number to be called back on: erased alike.
            (*old_call, or_(Call.from_number.is_not(None), Call.callback_number.is_not(None))),
            # The marker tells an erased number from a withheld one (both NULL).
            {"from_number": None, "callback_number": None, "numbers_erased_at": now},
        ),
        "operator_messages": (
            Call,
            (*old_call, Call.operator_message_url.is_not(None)),
            {"operator_message_url": None, "operator_message_seconds": None},
        ),
        "outcome_notes": (
            HelpRequest,
            (*old_request, HelpRequest.outcome_note != ""),
            {"outcome_note": ""},
        ),
    }
    counts = {}
    for name, (model, conditions, values) in erasures.items():
        if dry_run:
            counts[name] = session.scalar(
                select(func.count()).select_from(model).where(*conditions)
            )
        else:
            erased = session.execute(update(model).where(*conditions).values(**values))
            counts[name] = erased.rowcount
    old_request_ids = select(HelpRequest.id).where(*old_request)
    counts["audit_notes"] = _erase_audit_notes(session, old_request_ids, dry_run)
    result = PurgeResult(cutoff=cutoff, dry_run=dry_run, **counts)
    if not dry_run:
        audit.record(session, audit.Action.PURGED, user=operator, detail=" ".join(result.report()))
        session.flush()
    return result


def _erase_audit_notes(session: Session, request_ids, dry_run: bool) -> int:
    """Erase what people typed into the audit events of these requests; how many."""
    of_requests = AuditEvent.request_id.in_(request_ids)
    typed = (of_requests, AuditEvent.action.in_(TYPED_DETAIL), AuditEvent.detail != "")
    if dry_run:
        erased = session.scalar(select(func.count()).select_from(AuditEvent).where(*typed))
    else:
        erased = session.execute(update(AuditEvent).where(*typed).values(detail="")).rowcount
    # A release note follows its reason: which part is typed only Python can
    # tell portably. Few rows (one per release of an old request), and audit
    # events are never changed by anything else, so there is nothing to race.
    releases = session.execute(
        select(AuditEvent.id, AuditEvent.detail).where(
            of_requests, AuditEvent.action == audit.Action.RELEASED, AuditEvent.detail.contains(":")
        )
    ).all()
    reasons = [
        {"id": event_id, "detail": match.group(1)}
        for event_id, detail in releases
        if (match := RELEASE_NOTE.fullmatch(detail))
    ]
    if reasons and not dry_run:
        session.execute(update(AuditEvent), reasons)
    return erased + len(reasons)
