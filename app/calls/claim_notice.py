"""The optional claim notice (`notify_caller_on_claim`): when a volunteer takes a request,
the caller gets a short call: "A neighbour will call you within 24 hours and will say
the code 1, 2, 3, 4." Read only on a call to the number on record, like every code."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.calls import outbound
from app.jobs.handlers import JobRun
from app.jobs.queue import enqueue
from app.models import CallStep, HelpRequest, RequestStatus

CLAIM_NOTICE_JOB = "calls.claim_notice"


def queue(session: Session, reference: str) -> int | None:
    """Queue the notice for the request's current claim, in the claim's transaction."""
    request = session.scalars(select(HelpRequest).where(HelpRequest.reference == reference)).one()
    if request.status != RequestStatus.CLAIMED or not request.caller_number:
        return None
    claimed_at = request.claimed_at.isoformat() if request.claimed_at else ""
    # One notice per claim: the key names the claim (the request and when it was taken).
    key = f"{CLAIM_NOTICE_JOB}:{request.id}:{claimed_at}"
    return enqueue(session, CLAIM_NOTICE_JOB, {"request": request.id}, key=key)


@outbound.placed_call(CLAIM_NOTICE_JOB)
def claim_notice(run: JobRun) -> outbound.Placement | None:
    """Call the caller; the flow (CLAIM_NOTICE) says who will call, and the code."""
    request = run.session.get(HelpRequest, run.job.payload["request"])
    if request is None or request.status != RequestStatus.CLAIMED or not request.caller_number:
        return None  # given back, done or cancelled meanwhile: nothing to announce
    url = outbound.flow_url(
        run.settings, CallStep.CLAIM_NOTICE, request.language, ref=request.reference
    )
    return outbound.Placement(
        request.caller_number,
        url,
        recipient=f"caller:{request.id}",
        from_number=outbound.caller_id(run.session, run.settings, request.helpline_id),
    )
