"""A volunteer's call to a caller through the hotline: neither sees the other's number.

    bridged = start(session, request, volunteer)   # the view commits; a job places it
    # the worker: Calls.json rings the volunteer's phone from the request's helpline's number
    # the volunteer hears "Hotline: request ABC-123, ..." and presses 1 (voice/flow.py)
    # <Dial callerId=that number> the caller
    # the status callbacks and the <Dial>'s end: ringing, connecting, talked, unreachable

The keypress keeps a voicemail that picks up the volunteer's phone from being
put through to the caller. A caller who does not answer (or is busy) counts as
"could not reach", exactly as the volunteer's button would (record_unreachable).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit import Action, record
from app.calls import outbound
from app.config import Settings
from app.database import utcnow
from app.jobs.handlers import JobRun
from app.jobs.queue import enqueue
from app.messaging.links import public_url
from app.models import BridgedCall, CallStep, HelpRequest, RequestStatus, User
from app.requests.claims import record_unreachable

BRIDGE_JOB = "calls.bridge"
# What the request's page shows, in a call's order; the last four are final.
QUEUED, RINGING, CONNECTING = "queued", "ringing", "connecting"
TALKED, MISSED, UNREACHABLE, FAILED = "talked", "missed", "unreachable", "failed"
FINAL = frozenset({TALKED, MISSED, UNREACHABLE, FAILED})
# Twilio's final CallStatus of the volunteer's own phone when it never got to the <Dial>.
NOT_TAKEN = frozenset({"no-answer", "busy", "failed", "canceled"})


@dataclass(frozen=True)
class Bridge:
    """What the volunteer hears about the request, and whom to dial."""

    reference: str
    request_type: str
    postcode: str
    caller_number: str


def start(
    session: Session, request: HelpRequest, user: User, settings: Settings
) -> BridgedCall | None:
    """Queue a call through the hotline for the claimer of `request`; None if it cannot be:
    not theirs, no caller number, or no phone number of their own that can be dialled."""
    held = request.status == RequestStatus.CLAIMED and request.claimed_by_id == user.id
    if not held or not request.caller_number:
        return None
    if not outbound.e164(user.phone, outbound.caller_id(session, settings, request.helpline_id)):
        return None
    bridged = BridgedCall(request_id=request.id, user_id=user.id, status=QUEUED)
    session.add(bridged)
    session.flush()
    enqueue(session, BRIDGE_JOB, {"bridge": bridged.id}, key=f"{BRIDGE_JOB}:{bridged.id}")
    return bridged


def latest(session: Session, request: HelpRequest, user: User) -> BridgedCall | None:
    """The volunteer's newest call through the hotline for `request`, for its page."""
    return session.scalars(
        select(BridgedCall)
        .where(BridgedCall.request_id == request.id, BridgedCall.user_id == user.id)
        .order_by(BridgedCall.id.desc())
        .limit(1)
    ).first()


def bridge_info(session: Session, bridge_id: int, settings: Settings) -> Bridge | None:
    """Whom a bridged call dials; None once the volunteer no longer holds the request."""
    row = session.execute(
        select(HelpRequest, BridgedCall)
        .join(BridgedCall, BridgedCall.request_id == HelpRequest.id)
        .where(BridgedCall.id == bridge_id)
    ).first()
    if row is None:
        return None
    request, bridged = row
    held = request.status == RequestStatus.CLAIMED and request.claimed_by_id == bridged.user_id
    line_number = outbound.caller_id(session, settings, request.helpline_id)
    caller = outbound.e164(request.caller_number or "", line_number)
    if not held or not caller or bridged.status in FINAL:
        return None
    return Bridge(request.reference, request.request_type, request.postcode, caller)


@outbound.placed_call(BRIDGE_JOB)
def bridged_call(run: JobRun) -> outbound.Placement | None:
    """Ring the volunteer's phone from the request's helpline's number; the flow offers
    the bridge, and <Dial>s the caller showing that number too (the line's hotline_number)."""
    bridged = run.session.get(BridgedCall, run.job.payload["bridge"])
    if bridged is None or bridged.status != QUEUED:
        return None
    user = run.session.get(User, bridged.user_id)
    request = run.session.get(HelpRequest, bridged.request_id)
    language = user.language or request.language
    url = outbound.flow_url(run.settings, CallStep.BRIDGE_OFFER, language, bridge=str(bridged.id))
    status_callback = public_url(run.settings, f"/voice/bridge/status?bridge={bridged.id}")
    return outbound.Placement(
        user.phone,
        url,
        recipient=f"user:{user.id}",
        from_number=outbound.caller_id(run.session, run.settings, request.helpline_id),
        status_callback=status_callback,
    )


def record_progress(session: Session, bridge_id: int, call_status: str) -> None:
    """Twilio's status of the volunteer's phone: ringing, in-progress, and how it ended.

    Callbacks may come late or twice: a final status is never replaced. Flushed.
    """
    bridged = session.get(BridgedCall, bridge_id)
    if bridged is None or bridged.status in FINAL:
        return
    if call_status == "ringing" and bridged.status == QUEUED:
        bridged.status = RINGING
    elif call_status in NOT_TAKEN:
        bridged.status, bridged.ended_at = MISSED, utcnow()
    elif call_status == "completed":
        # Hung up before pressing 1 (or the <Dial>'s end is still on its way).
        bridged.status, bridged.ended_at = MISSED, utcnow()
    session.flush()


def connecting(session: Session, bridge_id: int) -> None:
    """The volunteer pressed 1: the caller's phone rings. Flushed."""
    session.execute(
        update(BridgedCall)
        .where(BridgedCall.id == bridge_id, BridgedCall.status.in_((QUEUED, RINGING)))
        .values(status=CONNECTING)
    )
    session.flush()


def ended(session: Session, bridge_id: int, answered: bool, seconds: int) -> None:
    """The <Dial> to the caller ended: talked (audited), or "could not reach" counted.

    Once only: the conditional UPDATE lets one delivery of Twilio's webhook through.
    """
    final = TALKED if answered else UNREACHABLE
    changed = session.execute(
        update(BridgedCall)
        .where(BridgedCall.id == bridge_id, BridgedCall.status.not_in(FINAL))
        .values(status=final, talk_seconds=seconds if answered else None, ended_at=utcnow())
    ).rowcount
    if not changed:
        return
    bridged = session.get(BridgedCall, bridge_id)
    session.refresh(bridged)
    request = session.get(HelpRequest, bridged.request_id)
    user = session.get(User, bridged.user_id)
    if answered:
        detail = f"through the hotline, {seconds} s"
        record(session, Action.CALL_BRIDGED, user=user, request=request, detail=detail)
        session.flush()
    else:
        record_unreachable(session, request, user)
