"""Data retention: erase callers' personal data once the configured days have passed.

What goes: the caller's number, the verification code and the voice message
of a request closed (done, cancelled, expired) more than `retention_days`
ago; the number (or typed callback number) and the operator voice message of
a call that started more
than `retention_days` ago. What stays: every row, so counts, zones, request
types, outcomes and the audit trail still add up. Open and claimed requests
keep their numbers however old they are: someone still has to call back.

Each erasure is one UPDATE that only touches rows still holding data, so a
second run erases nothing, and a request being closed at the same moment is
either in this run or in tomorrow's, never half-erased.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app import audit
from app.database import utcnow
from app.models import Call, HelpRequest, RequestStatus, User

CLOSED = (RequestStatus.DONE, RequestStatus.CANCELLED, RequestStatus.EXPIRED)


@dataclass(frozen=True)
class PurgeResult:
    cutoff: datetime
    dry_run: bool
    request_numbers: int
    verification_codes: int
    request_voice_messages: int
    call_numbers: int
    operator_messages: int

    @property
    def total(self) -> int:
        return (
            self.request_numbers
            + self.verification_codes
            + self.request_voice_messages
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
            f"codes, {self.request_voice_messages} voice messages.",
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

    A real run commits, with an audit event even when there was nothing to
    erase: the trail then shows that the daily purge ran.
    """
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
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
            {"from_number": None, "callback_number": None},
        ),
        "operator_messages": (
            Call,
            (*old_call, Call.operator_message_url.is_not(None)),
            {"operator_message_url": None, "operator_message_seconds": None},
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
    result = PurgeResult(cutoff=cutoff, dry_run=dry_run, **counts)
    if not dry_run:
        audit.record(session, audit.Action.PURGED, user=operator, detail=" ".join(result.report()))
        session.commit()
    return result
