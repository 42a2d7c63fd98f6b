"""The phone that rings: calls the line places, answered by the simulator instead of Twilio.

A call the line places is a job (app/calls/outbound.py). One that rings the
simulator (outbound.rings_simulator: a fictional number, or a volunteer's own
number without Twilio) is never given to Twilio. The worker keeps it ringing
(keep_ringing) for SIMULATOR_RING_SECONDS and then reports no-answer to its
status callback, as Twilio reports a phone nobody picked up. Until then the
browser test phone (board/test_phone.py) or `hotline call --answer-outbound`
(command.py) may take it:

    calls = waiting_calls(session, app)      # every call waiting to be placed, oldest first
    taken = take(app, calls[0].job_id)       # it stops ringing everywhere (None: gone)
    call = answer(app, taken)                # its webhooks, played as Twilio plays them
    decline(app, taken)                      # or: no-answer to its status callback

Taking a call is one conditional UPDATE of its job (pending to done): the page,
the terminal and the worker's ring-out cannot all have the same call, and the
call is recorded as placed once (app/messaging/deliveries.py) like one Twilio placed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.calls.outbound import (
    OUTBOUND,
    PLACEMENTS,
    SIMULATOR_RING_SECONDS,
    Placement,
    delivery_key,
    e164,
)
from app.database import get_db, utcnow
from app.jobs import queue
from app.jobs.handlers import JobRun, Later, load
from app.jobs.queue import ClaimedJob
from app.messaging.deliveries import deliver_once
from app.models import Job, JobState
from voice.simulator.phone import HOTLINE_NUMBER, Phone, PhoneCall, PhoneError, new_sid


@dataclass(frozen=True)
class Waiting:
    """A call waiting to be placed: its job, and whom it would ring now."""

    job_id: int
    kind: str
    to: str  # E.164
    placement: Placement


@dataclass(frozen=True)
class Taken:
    """A call the simulator took from the queue: nobody else places it any more."""

    kind: str
    to: str
    placement: Placement | None  # None: no longer needed (its request moved on)
    call_sid: str


def waiting_calls(session: Session, app: Flask) -> list[Waiting]:
    """Every call waiting to be placed, oldest first, with whom it would ring now.

    Working out whom a call rings may write (a calldown whose request was taken
    meanwhile is closed): the caller rolls the session back, it only looks.
    """
    load()  # the modules that register the kinds of placed calls
    jobs = session.scalars(
        select(Job).where(Job.kind.in_(PLACEMENTS), Job.state == JobState.PENDING).order_by(Job.id)
    ).all()
    waiting = []
    for job in jobs:
        placement = PLACEMENTS[job.kind](JobRun(session, _claimed(job), app))
        if placement is not None:
            to = e164(placement.to, placement.from_number) or placement.to
            waiting.append(Waiting(job.id, job.kind, to, placement))
    return waiting


def oldest_job(session: Session) -> int | None:
    """The id of the oldest call waiting to be placed, whomever it rings."""
    load()
    return session.scalar(
        select(Job.id)
        .where(Job.kind.in_(PLACEMENTS), Job.state == JobState.PENDING)
        .order_by(Job.id)
        .limit(1)
    )


def take(app: Flask, job_id: int) -> Taken | None:
    """Take the call of job `job_id` off the queue, committed; None if it is not waiting
    (answered elsewhere, rung out, or a worker is placing it)."""
    load()
    with get_db(app).session() as session:
        job = session.get(Job, job_id)
        if job is None or job.kind not in PLACEMENTS:
            return None
        claimed = _claimed(job)
        if not queue.complete_pending(session, job_id):
            return None
        placement = PLACEMENTS[job.kind](JobRun(session, claimed, app))
        session.commit()
    call_sid = new_sid("CA")
    if placement is None:
        return Taken(job.kind, "", None, call_sid)
    to = e164(placement.to, placement.from_number) or placement.to
    # Placed once, as if Twilio had placed it: a ringing the worker began ends here.
    deliver_once(
        get_db(app),
        key=delivery_key(claimed.key, placement.recipient),
        channel="call",
        recipient=placement.recipient,
        send=lambda _delivery_id: call_sid,
        find_sent=lambda _since: None,
    )
    return Taken(job.kind, to, placement, call_sid)


def answer(app: Flask, taken: Taken) -> PhoneCall:
    """Pick the call up: Twilio requests its URL (Direction outbound-api), and the call
    waits at the flow's first question, or has ended."""
    placement = taken.placement
    assert placement is not None
    answered_by = "human" if placement.machine_detection else ""
    return _phone(app, placement).answer(
        taken.to, placement.url, taken.call_sid, placement.status_callback or "", answered_by
    )


def decline(app: Flask, taken: Taken, status: str = "no-answer") -> None:
    """Let the call ring out (or refuse it: status "busy"): its status callback hears it,
    as Twilio tells it of a phone nobody picked up. A call without one hears nothing."""
    placement = taken.placement
    if placement is None or not placement.status_callback:
        return
    call = PhoneCall(
        _phone(app, placement),
        caller=taken.to,
        call_sid=taken.call_sid,
        direction=OUTBOUND,
        status_url=placement.status_callback,
    )
    exchange = call.send_status(status)
    if exchange.status != 200:
        raise PhoneError(f"{exchange.url} answered HTTP {exchange.status}: {exchange.body}")


def keep_ringing(run: JobRun, placement: Placement) -> None:
    """The worker's part of a call for the simulator: the job waits (it rings) until the
    simulator takes it, or for SIMULATOR_RING_SECONDS: then nobody answered.

    When it began ringing is the attempt's record (deliver_once's `attempting`), so
    a worker that restarts meanwhile rings on to the same end.
    """
    ring = timedelta(seconds=SIMULATOR_RING_SECONDS)

    def start_ringing(_delivery_id: int) -> str:
        raise Later(utcnow() + ring)

    def rang_out(since) -> str:
        if utcnow() < since + ring:
            raise Later(since + ring)
        to = e164(placement.to, placement.from_number) or placement.to
        taken = Taken(run.job.kind, to, placement, new_sid("CA"))
        decline(run.app, taken)
        return taken.call_sid

    deliver_once(
        run.db,
        key=delivery_key(run.job.key, placement.recipient),
        channel="call",
        recipient=placement.recipient,
        send=start_ringing,
        find_sent=rang_out,
    )


def hotline_number(app: Flask) -> str:
    """The number the line calls from (Twilio's From): the simulator's own without one."""
    return app.config["HOTLINE"].twilio_phone_number or HOTLINE_NUMBER


def _phone(app: Flask, placement: Placement) -> Phone:
    """The phone line as the called person meets it: calling from the number the call is
    placed from (its helpline's), so the webhooks speak as that helpline."""
    return Phone.for_app(app, hotline_number=placement.from_number or hotline_number(app))


def _claimed(job: Job) -> ClaimedJob:
    return ClaimedJob(job.id, job.kind, job.key, job.payload or {}, job.attempts)
