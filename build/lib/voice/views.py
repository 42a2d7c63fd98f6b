"""The webhooks Twilio calls. Thin: HTTP in, the flow's turn, TwiML out.

Every route checks Twilio's signature first (403, nothing written, when it is
missing or wrong). Every error after that still answers TwiML: the caller
hears an apology in their language and a person or the helpline hours, never
Twilio's "an application error has occurred".
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, urlsplit

from flask import abort, current_app, request
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import BadRequest, HTTPException

from app import call_log
from app.database import db_session, get_db
from app.models import CallStep
from voice import bp, current_line, flow
from voice.signature import is_from_twilio
from voice.stored_call import StoredCall
from voice.twiml import ON_ARRIVE, ON_NO_ANSWER, respond, state_from_query, twiml_response


@bp.before_request
def only_twilio():
    if not is_from_twilio(request, current_app.config["HOTLINE"]):
        abort(403)


@bp.post("/incoming")
def incoming():
    """A call comes in: log it, then greet the caller."""
    line = current_line()
    session = db_session()
    call_sid = request.form["CallSid"]
    number = call_log.caller_number(request.form.get("From"))
    call_log.start_call(
        session, call_sid=call_sid, from_number=number, to_number=request.form.get("To", "")
    )
    call = StoredCall(session, call_sid, number)
    return _reply(call, flow.start(line, call))


@bp.post("/step")
def step():
    """Every later step of a call: the state is in the (signed) URL, the answer in the form."""
    line = current_line()
    state = state_from_query(request.args, line)
    number = call_log.caller_number(request.form.get("From"))
    call = StoredCall(db_session(), request.form["CallSid"], number)
    return _reply(call, flow.advance(line, state, _event(), call))


@bp.post("/status")
def status():
    """Twilio's status callback: the call's progress, its end and its duration."""
    form = request.form
    call_log.record_status(
        db_session(),
        form["CallSid"],
        status=form.get("CallStatus", ""),
        sequence=_whole_number(form.get("SequenceNumber")),
        duration_seconds=_whole_number(form.get("CallDuration")),
        at=_timestamp(form.get("Timestamp")),
        from_number=call_log.caller_number(form.get("From")),
        to_number=form.get("To", ""),
    )
    return twiml_response(VoiceResponse())


@bp.post("/fallback")
def fallback():
    """Twilio could not get TwiML from us: apologise without touching the database."""
    failed = parse_qs(urlsplit(request.form.get("ErrorUrl", "")).query)
    current_app.logger.error(
        "Twilio used the fallback URL for call %s: error %s at %s",
        request.form.get("CallSid", "?"),
        request.form.get("ErrorCode", "?"),
        request.form.get("ErrorUrl", "?"),
    )
    language = (failed.get("lang") or [""])[0]
    step = (failed.get("step") or [""])[0]
    return respond(current_line(), _apology(language, step))


@bp.errorhandler(Exception)
def apologise(error: Exception):
    if isinstance(error, HTTPException) and not isinstance(error, BadRequest):
        # The signature check's 403 (and routing's 404/405) stay what they are. A 400
        # comes from our own code reading the request: the caller hears an apology.
        return error
    call_sid = request.form.get("CallSid", "")
    current_app.logger.exception("Voice webhook %s failed for call %s", request.path, call_sid)
    _log_error(call_sid)
    if request.endpoint == "voice.status":
        # Nobody listens to a status callback: acknowledge it, the error is logged.
        return twiml_response(VoiceResponse())
    language = request.args.get("lang", "")
    return respond(current_line(), _apology(language, request.args.get("step", "")))


def _reply(call: StoredCall, turn: flow.Turn):
    reference = ""
    for effect in turn.effects:
        reference = call.perform(effect) or reference
    state = turn.state
    place = call.place(state.postcode) if state.postcode else None
    call_log.record_step(
        call.session,
        call.call_sid,
        turn=state.turn,
        step=state.step,
        language=state.language,
        postcode=state.postcode,
        zone_id=place.zone_id if place else None,
        request_type=state.request_type,
        outcome=turn.outcome,
        request_reference=reference,
    )
    return respond(current_line(), turn.reply)


def _event() -> flow.Event:
    on = request.args.get("on")
    if on == ON_ARRIVE:
        return flow.Arrive()
    if on == ON_NO_ANSWER:
        return flow.NoAnswer()
    form = request.form
    if "DialCallStatus" in form:
        return flow.DialEnded(answered=form["DialCallStatus"] in ("completed", "answered"))
    if "RecordingUrl" in form:
        seconds = _whole_number(form.get("RecordingDuration")) or 0
        return flow.Recording(url=form["RecordingUrl"], seconds=seconds)
    return flow.Keys(form.get("Digits", ""))


def _apology(language: str, step: str) -> tuple[flow.Verb, ...]:
    line = current_line()
    language = language if language in line.catalogs else line.default_language
    # Not straight back to an operator who just did not answer.
    offer_operator = step not in (CallStep.OPERATOR, CallStep.OPERATOR_MESSAGE)
    return flow.apology(line, language, offer_operator)


def _log_error(call_sid: str) -> None:
    """Note the error in the call log if the database is there; never fail because of it."""
    if not call_sid or request.endpoint in ("voice.status", "voice.fallback"):
        return
    try:
        db_session().rollback()
        with get_db().session() as session:
            call_log.record_error(session, call_sid)
    except Exception:
        current_app.logger.warning("Could not log the error of call %s", call_sid, exc_info=True)


def _whole_number(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _timestamp(value: str | None) -> datetime | None:
    """Twilio's Timestamp (RFC 2822, UTC) as an aware datetime."""
    try:
        at = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at
