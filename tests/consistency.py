"""What must hold in the database whatever the phone line was sent: no half-written rows.

Checked after every example of the hostile-input tests and after the fault tests.
Every rule is one a person would notice broken: a call log line with a postcode
that is in no zone, a request on the board that the call log does not know of,
a status that is not Twilio's (or our `unknown`), a voice message link that is not Twilio's.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.models import (
    Call,
    CallOutcome,
    CallStatus,
    CallStep,
    HelpRequest,
    Postcode,
    RequestStatus,
)
from app.requests.intake import REFERENCE_ALPHABET
from voice.views import is_twilio_recording

REFERENCE = re.compile(f"[{REFERENCE_ALPHABET}]{{3}}-[{REFERENCE_ALPHABET}]{{3}}")
INT32 = 2**31 - 1


def assert_database_consistent(session: Session, settings: Settings) -> None:
    """Fail with the offending row when the calls or requests tables are inconsistent."""
    session.expire_all()
    # Postcodes are a helpline's own: the same code may be in another helpline's zone.
    zone_of = {
        (helpline_id, code): zone_id
        for helpline_id, code, zone_id in session.execute(
            select(Postcode.helpline_id, Postcode.code, Postcode.zone_id)
        )
    }
    languages = set(settings.phone_languages)
    request_types = {t.code for t in settings.request_types}
    requests = {r.call_sid: r for r in session.scalars(select(HelpRequest))}
    calls = {c.call_sid: c for c in session.scalars(select(Call))}
    api = settings.twilio_api_base_url

    for call in calls.values():
        where = f"call {call.call_sid!r}: "
        assert _printable(call.call_sid) and 0 < len(call.call_sid) <= 64, where + "call sid"
        assert call.status in set(CallStatus), where + f"status {call.status!r}"
        assert call.last_step in {"", *CallStep}, where + f"last step {call.last_step!r}"
        assert call.outcome in {"", *CallOutcome}, where + f"outcome {call.outcome!r}"
        assert call.language in {"", *languages}, where + f"language {call.language!r}"
        assert 0 <= call.step_seq <= INT32, where + f"turn {call.step_seq}"
        assert -1 <= call.status_sequence <= INT32, where + f"sequence {call.status_sequence}"
        assert call.duration_seconds is None or 0 <= call.duration_seconds <= INT32, where
        assert call.request_type in {"", *request_types}, where + f"type {call.request_type!r}"
        # A logged postcode is one of the zones', with its zone; no postcode, no zone.
        assert call.helpline_id is not None, where + "answered by no helpline"
        placed = zone_of.get((call.helpline_id, call.postcode))
        assert placed == call.zone_id, where + f"postcode {call.postcode!r}"
        assert len(call.to_number) <= 32 and _printable(call.to_number or "x"), where + "to"
        if call.from_number is not None:
            assert re.fullmatch(r"\+?[0-9]{3,20}", call.from_number), where + "from number"
        if call.callback_number is not None:
            assert re.fullmatch(r"[0-9]{6,15}", call.callback_number), where + "callback number"
        if call.request_reference:
            stored = requests.get(call.call_sid)
            assert stored is not None, where + "logs a request that was never stored"
            assert stored.reference == call.request_reference, where + "logs another request"
        if call.operator_message_url is not None:
            assert is_twilio_recording(call.operator_message_url, api), where + "message URL"
            assert 0 < (call.operator_message_seconds or 0) <= INT32, where

    for request in requests.values():
        where = f"request {request.reference!r}: "
        assert REFERENCE.fullmatch(request.reference), where + "reference"
        assert re.fullmatch(r"[0-9]{4}", request.verification_code or ""), where + "code"
        assert request.request_type in request_types, where + f"type {request.request_type!r}"
        assert request.language in languages, where + f"language {request.language!r}"
        placed = zone_of.get((request.helpline_id, request.postcode))
        assert placed == request.zone_id, where + "postcode, zone and helpline"
        assert request.status in set(RequestStatus), where + f"status {request.status!r}"
        if request.caller_number is not None:
            assert re.fullmatch(r"\+?[0-9]{3,20}", request.caller_number), where + "number"
        if request.voice_message_url is not None:
            assert is_twilio_recording(request.voice_message_url, api), where + "message URL"
            assert 0 < (request.voice_message_seconds or 0) <= INT32, where + "message length"
        # Made by a call: the call log knows the call, and which request it made.
        if request.call_sid is not None:
            logged = calls.get(request.call_sid)
            assert logged is not None, where + "stored by a call the log does not know"
            assert logged.request_reference == request.reference, where + "not in the call log"
            assert logged.helpline_id == request.helpline_id, where + "another helpline's call"


def _printable(text: str) -> bool:
    return text.isprintable()
