"""Calls the hotline places through Twilio's REST API (Calls.json), each exactly once.

The real client (twilio.rest.Client, app/messaging/sms.py) talks to `[twilio]
api_base_url`. A call is placed from a job, so a worker that dies after Twilio
took the call and before the job's commit runs the job again: every call goes
through deliver_once() (app/messaging/deliveries.py) keyed by the job, and a
run that finds an `attempting` record asks Twilio's call list before placing it.

A call about a request is placed from the number of the request's helpline
(caller_id): the person called knows it, and the webhooks find that helpline's
line (languages, voices) by `From` (voice/__init__.py current_line). Calls are
paced to one a second per Twilio account across every worker (app/calls/pacing.py).

A call to a fictional number (app/phone_numbers.py), and in a deployment without
Twilio a call to a volunteer's own number, never goes to Twilio: it rings the
simulator instead (voice/simulator/answering.py), which the browser test phone
and `hotline call --answer-outbound` answer: rings_simulator() is the rule.

The call's TwiML comes from the phone line's own webhooks: `Url` is
/voice/outbound with the call flow's first state in the query string, so what
the person who picks up hears is the same state machine as an incoming call
(voice/flow.py), signed by Twilio like every other webhook.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from app.calls import pacing
from app.config import Settings
from app.database import Database
from app.helplines import helpline_by_slug
from app.jobs.handlers import JobRun, handler
from app.jobs.queue import enqueue
from app.messaging import sms
from app.messaging.deliveries import deliver_once
from app.messaging.links import public_url
from app.models import CallStep, HelplineRow, HelpRequest
from app.phone_numbers import is_fictional
from app.requests import intake

CODE_CALLBACK_JOB = "calls.code_callback"
# Twilio's Direction of a call placed through the REST API, on every webhook of it.
OUTBOUND = "outbound-api"
# How long a placed call may ring before Twilio gives up (no-answer).
RING_SECONDS = 30
# How long a call rings for the simulator: a person at the test phone has to notice
# it in a browser tab first (the page asks every few seconds).
SIMULATOR_RING_SECONDS = 90


@dataclass(frozen=True)
class Placement:
    """A call a job is to place: whom, which flow, and who that is in the records."""

    to: str
    url: str
    recipient: str  # "caller:<request id>" or "user:<id>": never the number itself
    from_number: str  # the caller ID: the request's helpline's number (caller_id)
    status_callback: str | None = None
    machine_detection: bool = False


# Each kind of job that places a call: what it would place now (None: nothing, any more).
# `hotline call --answer-outbound` plays a placement with the simulator instead of Twilio.
PLACEMENTS: dict[str, Callable[[JobRun], Placement | None]] = {}


def placed_call(kind: str):
    """Register `prepare(run) -> Placement | None` for jobs of `kind`, and the handler
    that places what it returns, once."""

    def register(prepare: Callable[[JobRun], Placement | None]):
        PLACEMENTS[kind] = prepare

        @handler(kind)
        def place(run: JobRun) -> None:
            placement = prepare(run)
            if placement is not None and rings_simulator(run.settings, placement):
                # Imported here: the simulator builds on this module.
                from voice.simulator import answering

                answering.keep_ringing(run, placement)
            elif placement is not None:
                place_once(
                    run,
                    placement.to,
                    placement.url,
                    recipient=placement.recipient,
                    from_number=placement.from_number,
                    status_callback=placement.status_callback,
                    machine_detection=placement.machine_detection,
                )

        return prepare

    return register


def twilio_configured(settings: Settings) -> bool:
    """True when the deployment has a Twilio account to place calls through.

    The auth token alone does not count: the app makes one up on its first run
    (instance/twilio_auth_token) to sign the simulator's requests with.
    """
    return bool(settings.twilio_account_sid and settings.twilio_auth_token)


def rings_simulator(settings: Settings, placement: Placement) -> bool:
    """True for a call the simulator answers instead of Twilio (voice/simulator/answering.py).

    The rule: a fictional number never goes to Twilio, whatever the deployment;
    it waits for the test phone or `hotline call --answer-outbound`. A volunteer's
    own number (a call through the hotline rings it) waits for their test phone
    only when the test phone is on and no Twilio account is configured: in
    production, with Twilio, a real number always goes to Twilio, so a volunteer's
    real phone is never left silent because someone might have a browser tab open.
    """
    to = e164(placement.to, placement.from_number) or placement.to
    if is_fictional(to):
        return True
    volunteer = placement.recipient.startswith("user:")
    return volunteer and settings.test_phone != "off" and not twilio_configured(settings)


def delivery_key(job_key: str, recipient: str) -> str:
    """The key that keeps a job's call to `recipient` placed once (app/messaging/deliveries.py)."""
    return f"{job_key}:{recipient}"


def queue_code_callback(
    connection: Session | Connection, *, reference: str, language: str, key: str
) -> int | None:
    """Queue the call that tells the caller of `reference` their code, on the number on
    record (None: queued already).

    `key` names the cause (the incoming call's sid): Twilio delivering the same
    webhook twice queues one call. No number in the job: jobs outlive the retention
    of callers' numbers (a parked one stays until handled).
    """
    payload = {"reference": reference, "language": language}
    return enqueue(connection, CODE_CALLBACK_JOB, payload, key=f"{CODE_CALLBACK_JOB}:{key}")


@placed_call(CODE_CALLBACK_JOB)
def code_callback(run: JobRun) -> Placement | None:
    """Call the number on record back; the flow reads the code (voice/flow.py CALLBACK_CODE)."""
    payload = run.job.payload
    request = run.session.scalars(
        select(HelpRequest).where(HelpRequest.reference == payload["reference"])
    ).first()
    if request is None or request.status not in intake.ACTIVE or not request.caller_number:
        return None  # closed (or erased) meanwhile: there is no code to tell
    url = flow_url(run.settings, CallStep.CALLBACK_CODE, payload["language"], ref=request.reference)
    return Placement(
        request.caller_number,
        url,
        recipient=f"caller:{request.id}",
        from_number=caller_id(run.session, run.settings, request.helpline_id),
    )


def caller_id(session: Session, settings: Settings, helpline_id: int | None) -> str:
    """The number a call about a request of that helpline is placed from: the helpline's
    (Helpline.caller_id), or `[twilio] phone_number` for one no longer configured."""
    slug = session.scalar(select(HelplineRow.slug).where(HelplineRow.id == helpline_id))
    helpline = helpline_by_slug(settings.helplines, slug) if slug else None
    return (helpline.caller_id if helpline else "") or settings.twilio_phone_number


def flow_url(settings: Settings, step: CallStep, language: str, **state: str) -> str:
    """The first webhook of a placed call: the call flow at `step`, in `language`."""
    query = {"step": step.value, "lang": language, "turn": "1", **state}
    return public_url(settings, "/voice/outbound?" + urlencode(query))


def e164(typed: str, hotline_number: str) -> str | None:
    """A phone number as typed ('030 1234567') in E.164, as Twilio dials it; None if it is
    not a valid number. Without a country code it is taken to be in the hotline's country."""
    region = None
    if hotline_number:
        with contextlib.suppress(NumberParseException):
            region = phonenumbers.region_code_for_number(phonenumbers.parse(hotline_number))
    try:
        number = phonenumbers.parse(typed.strip(), region)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def place_once(
    run: JobRun, to: str, url: str, *, recipient: str, from_number: str, **options
) -> bool:
    """Place the call to `to` from `from_number` once for this job, however often it runs;
    True if placed now.

    `recipient` names who is called in the record that keeps it once ("caller:<request
    id>", "user:<id>"): a caller's number is never written outside their request, whose
    retention erases it. A number that cannot be dialled (typed wrongly) places nothing;
    one without a country code is taken to be in the country of `from_number`.
    """
    settings, db = run.settings, run.db
    to = e164(to, from_number) or ""
    if not to:
        return False
    return deliver_once(
        db,
        key=delivery_key(run.job.key, recipient),
        channel="call",
        recipient=recipient,
        send=lambda _delivery_id: place_call(db, settings, to, url, from_number, **options),
        find_sent=lambda since: find_placed(settings, to, from_number, since),
    )


def place_call(
    db: Database,
    settings: Settings,
    to: str,
    url: str,
    from_number: str,
    *,
    status_callback: str | None = None,
    machine_detection: bool = False,
) -> str:
    """Ask Twilio to call `to` from `from_number` in the account's next free slot; the CallSid."""
    if not from_number:
        raise RuntimeError("no [twilio] phone_number is configured to place calls from")
    options: dict = {"timeout": RING_SECONDS}
    if status_callback:
        options.update(
            status_callback=status_callback,
            status_callback_method="POST",
            status_callback_event=["initiated", "ringing", "answered", "completed"],
        )
    if machine_detection:
        options["machine_detection"] = "Enable"
    twilio = sms.client(settings)
    pacing.wait_for_slot(db, settings.twilio_account_sid)
    call = twilio.calls.create(to=to, from_=from_number, url=url, method="POST", **options)
    return call.sid


def find_placed(settings: Settings, to: str, from_number: str, since: datetime) -> str | None:
    """The CallSid of a call from `from_number` to `to` Twilio has since `since` (a run that
    died); the same From as it was placed with, or a call of another helpline would count."""
    recent = sms.client(settings).calls.list(to=to, from_=from_number, limit=50)
    for call in recent:
        created = call.date_created
        if created is None or created >= since - sms.CLOCK_SLACK:
            return call.sid
    return None
