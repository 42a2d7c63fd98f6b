"""Calldowns: "do you still need help?" calls to the callers of requests nobody took.

A request left open for `[calldown] after_hours` gets one automated call in the
caller's language, within the calling hours (local time). The caller presses 1
to keep it (it stays, "still needed, confirmed <date>"), 2 if it is no longer
needed (cancelled by the caller), or 0 for a person. A machine (Twilio's
answering-machine detection) or no answer is tried once more after
`retry_after_hours`; a caller not reached then is listed under "Needs attention".

Every worker runs the scheduler (a periodic task): the unique (request, attempt)
row and the job's unique key let exactly one of them queue each call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import and_, exists, func, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from app.calls import outbound
from app.database import utcnow
from app.jobs.handlers import JobRun, periodic
from app.jobs.queue import enqueue
from app.messaging.links import public_url
from app.messaging.quiet_hours import quiet_until
from app.models import Calldown, CallStep, HelplineRow, HelpRequest, RequestStatus
from app.requests import intake

CALLDOWN_JOB = "calls.calldown"
ATTEMPTS = 2
QUEUED, KEPT, CLOSED, OPERATOR, NOT_REACHED = "queued", "kept", "closed", "operator", "not_reached"
# Twilio's final CallStatus values of a call that nobody (or a machine) took.
NOT_TAKEN = frozenset({"no-answer", "busy", "failed", "canceled", "completed"})


@dataclass(frozen=True)
class CalldownInfo:
    """What the caller hears about: the kind of help, and when they asked."""

    request_type: str
    asked_on: date


def calling_now(hours: tuple[time, time] | None, timezone: ZoneInfo, now: datetime) -> bool:
    """True when `now` is within the calling hours (local wall-clock time)."""
    if hours is None:
        return True
    start, end = hours
    # Outside the calling hours is a quiet time that runs from their end to their start.
    return quiet_until((end, start), timezone, now) is None


@periodic(60)
def schedule_calldowns(session: Session, app: Flask, now: datetime) -> None:
    """Queue the calls that are due: first calls, and second tries after a machine or silence."""
    settings = app.config["HOTLINE"]
    config = settings.calldown
    if not config.after_hours:
        return
    lines = calling_lines(settings, now)
    if lines is None:
        return
    for request_id, attempt in due(
        session, now, config.after_hours, config.retry_after_hours, lines
    ):
        queue(session, request_id, attempt)


def calling_lines(settings, now: datetime):
    """Which requests' callers may be called now, as a condition on their helpline: those
    of the helplines with a number to call from that are within the calling hours in
    their own time zone (Berlin's evening is Warsaw's too, but not every line's). A
    request of a helpline no longer configured goes by the top level. None: nobody."""
    config = settings.calldown
    calling = [
        h.slug
        for h in settings.helplines
        if h.caller_id and calling_now(config.hours, h.timezone, now)
    ]
    configured = [h.slug for h in settings.helplines]
    orphans = bool(settings.twilio_phone_number) and calling_now(
        config.hours, settings.timezone, now
    )
    if not calling and not orphans:
        return None
    of = HelpRequest.helpline_id.in_
    condition = of(select(HelplineRow.id).where(HelplineRow.slug.in_(calling)))
    if orphans:
        known = select(HelplineRow.id).where(HelplineRow.slug.in_(configured))
        condition = or_(condition, HelpRequest.helpline_id.is_(None), ~of(known))
    return condition


def due(
    session: Session,
    now: datetime,
    after_hours: float,
    retry_after_hours: float,
    lines=None,
) -> list[tuple[int, int]]:
    """(request id, attempt) of every call due now, among the requests `lines` allows."""
    waiting_since = func.coalesce(HelpRequest.returned_to_board_at, HelpRequest.created_at)
    open_unclaimed = (
        true() if lines is None else lines,
        HelpRequest.status == RequestStatus.OPEN,
        HelpRequest.caller_number.is_not(None),
        waiting_since < now - timedelta(hours=after_hours),
    )
    called = exists().where(Calldown.request_id == HelpRequest.id)
    first = session.scalars(select(HelpRequest.id).where(*open_unclaimed, ~called)).all()
    earlier = aliased(Calldown)
    retried = exists().where(Calldown.request_id == HelpRequest.id, Calldown.attempt == ATTEMPTS)
    second = session.scalars(
        select(HelpRequest.id)
        .join(earlier, and_(earlier.request_id == HelpRequest.id, earlier.attempt == 1))
        .where(
            *open_unclaimed,
            earlier.status == NOT_REACHED,
            earlier.ended_at < now - timedelta(hours=retry_after_hours),
            ~retried,
        )
    ).all()
    return [(request_id, 1) for request_id in first] + [(r, ATTEMPTS) for r in second]


def queue(session: Session, request_id: int, attempt: int) -> int | None:
    """Record the call and queue its job, once (None: another worker queued it)."""
    dialect = session.get_bind().dialect.name
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    calldown_id = session.execute(
        insert(Calldown.__table__)
        .values(request_id=request_id, attempt=attempt, status=QUEUED, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["request_id", "attempt"])
        .returning(Calldown.__table__.c.id)
    ).scalar()
    if calldown_id is not None:
        payload = {"calldown": calldown_id}
        enqueue(session, CALLDOWN_JOB, payload, key=f"{CALLDOWN_JOB}:{calldown_id}")
    return calldown_id


@outbound.placed_call(CALLDOWN_JOB)
def calldown_call(run: JobRun) -> outbound.Placement | None:
    """Call the caller, with answering-machine detection; the flow asks (CALLDOWN)."""
    calldown = run.session.get(Calldown, run.job.payload["calldown"])
    if calldown is None or calldown.status != QUEUED:
        return None
    request = run.session.get(HelpRequest, calldown.request_id)
    if request.status != RequestStatus.OPEN or not request.caller_number:
        calldown.status, calldown.ended_at = CLOSED, utcnow()  # taken or closed meanwhile
        return None
    url = outbound.flow_url(
        run.settings, CallStep.CALLDOWN, request.language, calldown=str(calldown.id)
    )
    status_callback = public_url(run.settings, f"/voice/calldown/status?calldown={calldown.id}")
    return outbound.Placement(
        request.caller_number,
        url,
        recipient=f"caller:{request.id}",
        from_number=outbound.caller_id(run.session, run.settings, request.helpline_id),
        status_callback=status_callback,
        machine_detection=True,
    )


def calldown_info(session: Session, calldown_id: int) -> CalldownInfo | None:
    """What the call is about; None once the request is no longer open, or the call is over."""
    row = session.execute(
        select(
            HelpRequest.request_type, HelpRequest.created_at, HelpRequest.status, Calldown.status
        )
        .join(Calldown, Calldown.request_id == HelpRequest.id)
        .where(Calldown.id == calldown_id)
    ).first()
    if row is None or row[2] != RequestStatus.OPEN or row[3] != QUEUED:
        return None
    return CalldownInfo(request_type=row[0], asked_on=row[1].date())


def record_answer(session: Session, calldown_id: int, result: str) -> None:
    """What the call came to (kept, closed, operator, not_reached); the first one counts.

    Closed: the request is cancelled as by the caller on the phone. Flushed.
    """
    changed = session.execute(
        update(Calldown)
        .where(Calldown.id == calldown_id, Calldown.status == QUEUED)
        .values(status=result, ended_at=utcnow())
    ).rowcount
    if changed and result == CLOSED:
        request_id = session.scalar(select(Calldown.request_id).where(Calldown.id == calldown_id))
        intake.cancel(session.connection(), request_id)
    session.flush()


def record_status(session: Session, calldown_id: int, call_status: str) -> None:
    """Twilio's final status of the call: one that ended without an answer is not_reached."""
    if call_status in NOT_TAKEN:
        record_answer(session, calldown_id, NOT_REACHED)


def confirmed_on(session: Session, request_id: int) -> datetime | None:
    """When the caller last said on a calldown that they still need help."""
    return session.scalar(
        select(func.max(Calldown.ended_at)).where(
            Calldown.request_id == request_id, Calldown.status == KEPT
        )
    )


def not_reached():
    """A condition on HelpRequest: its caller was not reached by either calldown."""
    return exists().where(
        Calldown.request_id == HelpRequest.id,
        Calldown.attempt == ATTEMPTS,
        Calldown.status == NOT_REACHED,
    )
