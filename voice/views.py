"""The webhooks Twilio calls. Thin: HTTP in, the flow's turn, TwiML out.

Every route checks Twilio's signature first (403, nothing written, when it is
missing or wrong). Every error after that still answers TwiML: the caller
hears an apology in their language and a person or the helpline hours, never
Twilio's "an application error has occurred". The database work of a webhook
has a deadline (app/database_guard.py); what Twilio told us that the database
could not take then is kept in the call spool (app/calls/spool.py) and written
once the database is back.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, unquote, urlsplit

from flask import abort, current_app, request
from sqlalchemy import Connection
from werkzeug.exceptions import BadRequest, HTTPException

from app.calls import call_log
from app.calls.outbound import OUTBOUND
from app.database import get_db, utcnow
from app.database_guard import database_failed, is_database_trouble
from app.models import CallStep
from app.phone_numbers import caller_number
from voice import bp, current_line, flow
from voice.signature import is_from_twilio
from voice.stored_call import StoredCall
from voice.twiml import (
    ON_ARRIVE,
    ON_NO_ANSWER,
    acknowledge,
    respond,
    state_from_query,
    whole_number,
)

# Twilio's CallSids are "CA" and 32 hex digits. Anything that is not a short word of
# ASCII letters and digits cannot be the call log's key: too long for its column, or
# holding characters PostgreSQL refuses (NUL) or a log line should not (line breaks).
CALL_SID = re.compile(r"[A-Za-z0-9_-]{1,64}")
STEPS = frozenset(CallStep)
# Twilio's recordings are at https://api.twilio.com/2010-04-01/Accounts/<AccountSid>/
# Recordings/<RecordingSid>: what fits the column, in the characters of a URL (no
# spaces, quotes or backslashes, which browsers read in ways parsers do not).
RECORDING_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]{1,480}")
RECORDINGS_PATH = "/2010-04-01/Accounts/"


def is_twilio_recording(url: str, api_base_url: str) -> bool:
    """True for a recording on Twilio's API (twilio.api_base_url), the only kind kept.

    Its address becomes a link and a player on the board, so it must be
    Twilio's: the same scheme, host and port as the API, and no user name in
    front of the host (https://api.twilio.com@evil.example is evil.example).
    Whoever holds the auth token could name any address, and a volunteer
    would open it trusting the board.
    """
    if not RECORDING_URL.fullmatch(url):
        return False
    api = urlsplit(api_base_url)
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}[parts.scheme]
        api_port = api.port or {"http": 80, "https": 443}[api.scheme]
    except (ValueError, KeyError):
        return False
    segments = [unquote(segment) for segment in parts.path.split("/")]
    return (
        (parts.scheme, parts.hostname, port) == (api.scheme, api.hostname, api_port)
        and "@" not in parts.netloc
        and parts.path.startswith(RECORDINGS_PATH)
        and len(parts.path) > len(RECORDINGS_PATH)
        and "." not in segments
        and ".." not in segments
    )


@bp.before_request
def only_twilio():
    if not is_from_twilio(request, current_app.config["HOTLINE"]):
        abort(403)


@bp.post("/incoming")
def incoming():
    """A call comes in: log it, then greet the caller."""
    line = current_line()
    form = request.form.to_dict()
    call_sid = _call_sid(form)
    number = caller_number(form.get("From"))
    with get_db().connect() as connection:
        call_log.start_call(
            connection,
            call_sid=call_sid,
            from_number=number,
            to_number=form.get("To", ""),
            helpline=line.helpline,
        )
        connection.commit()  # the call is in the log, whatever the flow does next
        call = _stored_call(connection, call_sid, number)
        reply = _play(call, flow.start(line, call))
    return respond(line, reply)


@bp.post("/step")
def step():
    """Every later step of a call: the state is in the (signed) URL, the answer in the form."""
    line = current_line()
    # Plain dicts: werkzeug's get() raises and catches an exception (a whole HTTP 400
    # error object) for every parameter that is not there, and a step asks for several.
    query, form = request.args.to_dict(), request.form.to_dict()
    state = state_from_query(query, line)
    placed = form.get("Direction") == OUTBOUND
    # On a call the line placed, the person is the one it called.
    number = caller_number(form.get("To" if placed else "From"))
    call_sid = _call_sid(form)
    event = _event(query, form)
    with get_db().connect() as connection:
        call = _stored_call(connection, call_sid, number, placed)
        reply = _play(call, flow.advance(line, state, event, call))
    return respond(line, reply)


@bp.post("/status")
def status():
    """Twilio's status callback: the call's progress, its end and its duration."""
    form = request.form.to_dict()
    call_sid = _call_sid(form)
    fact = {
        "status": form.get("CallStatus", ""),
        "sequence": whole_number(form.get("SequenceNumber")),
        "duration_seconds": whole_number(form.get("CallDuration")),
        "from_number": caller_number(form.get("From")),
        "to_number": form.get("To", ""),
        "helpline": current_line().helpline,
    }
    at = _timestamp(form.get("Timestamp"))
    try:
        with get_db().connect() as connection:
            applied = call_log.record_status(connection, call_sid, at=at, **fact)
            connection.commit()
    except Exception as error:
        if not (is_database_trouble(error) or database_failed()):
            raise
        # Twilio sends a status once: kept on disk, written when the database is back.
        _keep("status", call_sid, ended_at=(at or utcnow()).isoformat(), **fact)
        current_app.logger.warning("Kept the status of call %s for later: %s", call_sid, error)
        return acknowledge()
    if not applied:
        current_app.logger.warning(
            "Ignored a status callback for call %s with an unknown CallStatus %r",
            form["CallSid"],
            form.get("CallStatus"),
        )
    return acknowledge()


@bp.post("/fallback")
def fallback():
    """Twilio could not get TwiML from us: apologise without touching the database."""
    failed = parse_qs(urlsplit(request.form.get("ErrorUrl", "")).query)
    # %r: whatever the form holds (line breaks included) stays one line of the log.
    current_app.logger.error(
        "Twilio used the fallback URL for call %r: error %r at %r",
        request.form.get("CallSid", "?"),
        request.form.get("ErrorCode", "?"),
        request.form.get("ErrorUrl", "?"),
    )
    language = (failed.get("lang") or [""])[0]
    step = (failed.get("step") or [""])[0]
    call_sid = request.form.get("CallSid", "")
    if CALL_SID.fullmatch(call_sid):
        # The call must not go missing from the log: kept on disk, written later.
        form = request.form
        _keep(
            "start",
            call_sid,
            from_number=caller_number(form.get("From")),
            to_number=form.get("To", ""),
            helpline=current_line().helpline,
        )
        _keep(
            "error",
            call_sid,
            step=_known_step(step),
            language=_known_language(language),
            helpline=current_line().helpline,
        )
    return respond(current_line(), _apology(language, step))


@bp.errorhandler(Exception)
def apologise(error: Exception):
    if isinstance(error, HTTPException) and not isinstance(error, BadRequest):
        # The signature check's 403 (and routing's 404/405) stay what they are. A 400
        # comes from our own code reading the request: the caller hears an apology.
        return error
    call_sid = request.form.get("CallSid", "")
    call_sid = call_sid if CALL_SID.fullmatch(call_sid) else ""
    if is_database_trouble(error) or database_failed():
        current_app.logger.error(
            "Voice webhook %s for call %s: the database failed (%s)", request.path, call_sid, error
        )
    else:
        current_app.logger.exception("Voice webhook %s failed for call %s", request.path, call_sid)
    _log_error(call_sid)
    if request.endpoint == "voice.status":
        # Nobody listens to a status callback: acknowledge it, the error is logged.
        return acknowledge()
    language = request.args.get("lang", "")
    return respond(current_line(), _apology(language, request.args.get("step", "")))


def _stored_call(
    connection: Connection, call_sid: str, number: str | None, placed: bool = False
) -> StoredCall:
    places = current_app.extensions["hotline_places"]
    return StoredCall(
        connection, places, call_sid, number, placed=placed, helpline=current_line().helpline
    )


def _play(call: StoredCall, turn: flow.Turn) -> tuple[flow.Verb, ...]:
    """Store what the turn asks for and log the step; what the caller hears next."""
    reference = ""
    for effect in turn.effects:
        reference = call.perform(effect) or reference
    state = turn.state
    if call.placed:
        call.connection.commit()
        return turn.reply
    place = call.place(state.postcode) if state.postcode else None
    call_log.record_step(
        call.connection,
        call.call_sid,
        turn=state.turn,
        step=state.step,
        language=state.language,
        postcode=state.postcode,
        zone_id=place.zone_id if place else None,
        request_type=state.request_type,
        outcome=turn.outcome,
        request_reference=reference,
        helpline=call.helpline,
    )
    call.connection.commit()
    return turn.reply


def _call_sid(form: dict[str, str]) -> str:
    """The request's CallSid; a 400 (which the caller hears as the apology) if it has none."""
    call_sid = form.get("CallSid", "")
    if not CALL_SID.fullmatch(call_sid):
        raise BadRequest("the request has no valid CallSid")
    return call_sid


def _event(query: dict[str, str], form: dict[str, str]) -> flow.Event:
    on = query.get("on")
    if on == ON_ARRIVE:
        return flow.Arrive()
    if on == ON_NO_ANSWER:
        return flow.NoAnswer()
    if "DialCallStatus" in form:
        answered = form["DialCallStatus"] in ("completed", "answered")
        seconds = whole_number(form.get("DialCallDuration")) or 0
        return flow.DialEnded(answered=answered, seconds=seconds)
    if "RecordingUrl" in form:
        url = form["RecordingUrl"]
        api = current_app.config["HOTLINE"].twilio_api_base_url
        if not is_twilio_recording(url, api):
            # Never stored, never a link on the board: the caller goes on as if silent.
            current_app.logger.warning(
                "Ignored a recording at %r: not on Twilio's API %s", url, api
            )
            return flow.NoAnswer()
        return flow.Recording(url=url, seconds=whole_number(form.get("RecordingDuration")) or 0)
    return flow.Keys(form.get("Digits", ""))


def _apology(language: str, step: str) -> tuple[flow.Verb, ...]:
    line = current_line()
    language = language if language in line.catalogs else line.default_language
    # Not straight back to an operator who just did not answer.
    offer_operator = step not in (CallStep.OPERATOR, CallStep.OPERATOR_MESSAGE)
    return flow.apology(line, language, offer_operator)


def _log_error(call_sid: str) -> None:
    """Note the error in the call log, or in the spool when the database is what failed.

    Never a second wait on a database that already failed this webhook: the
    caller must hear the apology before Twilio gives up (app/database_guard.py).
    """
    if not call_sid or request.endpoint in ("voice.status", "voice.fallback"):
        return
    step = _known_step(request.args.get("step", ""))
    language = _known_language(request.args.get("lang", ""))
    line = current_line()
    if not database_failed():
        try:
            with get_db().connect() as connection:
                call_log.record_error(
                    connection, call_sid, step=step, language=language, helpline=line.helpline
                )
                connection.commit()
            return
        except Exception:
            current_app.logger.warning("Could not log the error of call %s", call_sid)
    if request.endpoint == "voice.incoming":
        form = request.form
        number = caller_number(form.get("From"))
        _keep(
            "start",
            call_sid,
            from_number=number,
            to_number=form.get("To", ""),
            helpline=current_line().helpline,
        )
    _keep("error", call_sid, step=step, language=language, helpline=line.helpline)


def _keep(kind: str, call_sid: str, **fields) -> None:
    """Keep a fact for the call log on disk until the database takes it (app/calls/spool.py)."""
    spool = current_app.extensions["hotline_call_spool"]
    try:
        spool.keep(kind, call_sid, **fields)
    except OSError:
        # A full or read-only disk: the caller still hears the apology; the log says what.
        current_app.logger.exception("Could not keep %s of call %s in the spool", kind, call_sid)
        return
    spool.replay_soon(current_app.extensions["hotline_spool_writer"])


def _known_language(language: str) -> str:
    return language if language in current_line().catalogs else ""


def _known_step(step: str) -> str:
    return step if step in STEPS else ""


def _timestamp(value: str | None) -> datetime | None:
    """Twilio's Timestamp (RFC 2822, UTC) as an aware datetime; None if it is not one.

    A time more than a day away from ours is not the moment a call ended (and one
    in the year 9999 does not even survive the conversion to UTC): the log then
    notes when the callback arrived instead.
    """
    try:
        at = parsedate_to_datetime(value) if value else None
        if at is None:
            return None
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except (TypeError, ValueError, OverflowError):
        return None
    return at if abs(at - utcnow()) <= timedelta(days=1) else None
