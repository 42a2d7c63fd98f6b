"""The database side of one call: the facts the flow reads, the effects it asks for.

Through a Core connection (no ORM session): a webhook reads a few columns and
writes single statements, each committed at once (app/calls/call_log.py).
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import Connection, Row
from sqlalchemy.orm import Session

from app.calls import bridge as bridged_calls
from app.calls import call_log, outbound
from app.calls import calldown as calldowns
from app.helplines import DEFAULT_SLUG
from app.jobs.queue import atomically
from app.messaging import alerts
from app.requests import intake
from app.zones.postcodes import PostcodePlaces
from voice.flow import (
    BridgeConnecting,
    BridgeEnded,
    CallBack,
    CalldownEnded,
    CancelRequest,
    CreateRequest,
    Effect,
    Place,
    RequestInfo,
    SaveCallbackNumber,
    SaveOperatorMessage,
)


class StoredCall:
    """One call as the database knows it; implements the flow's `Facts`."""

    def __init__(
        self,
        connection: Connection,
        places: PostcodePlaces,
        call_sid: str,
        caller_number: str | None,
        placed: bool = False,
        helpline: str = DEFAULT_SLUG,
    ):
        self.connection = connection
        # A call the line placed (Direction outbound-api): not in the call log, which
        # counts the calls people make to the line.
        self.placed = placed
        self.places = places
        self.call_sid = call_sid
        self.caller_number = caller_number  # None: withheld
        self.helpline = helpline  # the slug of the helpline dialled: its postcodes only

    # -- facts -----------------------------------------------------------------------

    @property
    def caller_withheld(self) -> bool:
        return self.caller_number is None

    def active_request(self) -> RequestInfo | None:
        return _info(intake.active_request(self.connection, self.caller_number, self.helpline))

    def request(self, reference: str) -> RequestInfo | None:
        return _info(self._own_request(reference))

    def place(self, postcode: str) -> Place | None:
        # From the app's copy of the postcodes: no query, so nothing to keep per call.
        found = self.places.get(self.connection, postcode, self.helpline)
        if found is None:
            return None
        code, name, zone_id, _ = found
        return Place(postcode=code, name=name, zone_id=zone_id)

    def stored_request(self) -> RequestInfo | None:
        return _info(intake.request_for_call(self.connection, self.call_sid))

    def callback_number(self) -> str:
        return call_log.callback_number(self.connection, self.call_sid)

    def open_request_count(self) -> int:
        return intake.active_request_count(self.connection, self._number_to_store(), self.helpline)

    def calldown(self, calldown_id: int) -> calldowns.CalldownInfo | None:
        if not self.placed or not calldown_id:
            return None
        with Session(bind=self.connection) as session:
            return calldowns.calldown_info(session, calldown_id)

    def bridge(self, bridge_id: int) -> bridged_calls.Bridge | None:
        # Only on a call the line placed: its URL (signed by Twilio) names the bridge.
        if not self.placed or not bridge_id:
            return None
        with Session(bind=self.connection) as session:
            return bridged_calls.bridge_info(session, bridge_id, current_app.config["HOTLINE"])

    # -- effects ---------------------------------------------------------------------

    def perform(self, effect: Effect) -> str:
        """Carry out what the flow asked for; returns a new request's reference, else ''.

        Every effect is safe to repeat: Twilio may deliver the same webhook twice.
        """
        match effect:
            case CreateRequest():
                place = self.places.get(self.connection, effect.postcode, self.helpline)
                if place is None:
                    raise LookupError(f"postcode {effect.postcode} left the zones mid-call")
                code, _, zone_id, helpline_id = place
                number = self._number_to_store()
                # The request and the job that alerts its volunteers: both or neither.
                with atomically(self.connection):
                    request = intake.store_request(
                        self.connection,
                        call_sid=self.call_sid,
                        caller_number=number,
                        # Not caller ID: what a caller who withheld theirs typed.
                        caller_number_typed=number is not None and self.caller_withheld,
                        postcode=code,
                        zone_id=zone_id,
                        helpline_id=helpline_id,
                        request_type=effect.request_type,
                        language=effect.language,
                        voice_message_url=effect.message_url,
                        voice_message_seconds=effect.message_seconds,
                    )
                    alerts.request_stored(self.connection, request.id)
                self.connection.commit()
                return request.reference
            case CancelRequest():
                request = self._own_request(effect.reference)
                if request is not None:
                    intake.cancel(self.connection, request.id)
                    self.connection.commit()
            case SaveCallbackNumber():
                call_log.save_callback_number(self.connection, self.call_sid, effect.number)
                self.connection.commit()
            case CallBack():
                request = self._own_request(effect.reference)
                if request is not None:
                    # Keyed by this call: Twilio delivering the webhook twice calls once.
                    outbound.queue_code_callback(
                        self.connection,
                        reference=request.reference,
                        language=effect.language,
                        key=self.call_sid,
                    )
                    self.connection.commit()
            case CalldownEnded() if self.placed:
                with Session(bind=self.connection) as session:
                    calldowns.record_answer(session, effect.calldown, effect.result)
                    session.commit()
                self.connection.commit()
            case BridgeConnecting() | BridgeEnded() if self.placed:
                # The services flush in a session on this connection. Its commit ends the
                # transaction it began (closing would roll it back); the connection's, one
                # that was open before.
                with Session(bind=self.connection) as session:
                    if isinstance(effect, BridgeConnecting):
                        bridged_calls.connecting(session, effect.bridge)
                    else:
                        bridged_calls.ended(session, effect.bridge, effect.answered, effect.seconds)
                    session.commit()
                self.connection.commit()
            case SaveOperatorMessage():
                call_log.save_operator_message(
                    self.connection, self.call_sid, effect.url, effect.seconds
                )
                self.connection.commit()
            case _:
                raise TypeError(f"not an effect: {effect!r}")
        return ""

    def _number_to_store(self) -> str | None:
        """The number a request of this call is stored under: caller ID, else the typed one."""
        return self.caller_number or self.callback_number() or None

    def _own_request(self, reference: str) -> Row | None:
        # Only the caller's own requests: a reference alone is not proof of anything.
        if not reference or self.caller_number is None:
            return None
        return intake.own_request(self.connection, reference, self.caller_number)


def _info(request: Row | None) -> RequestInfo | None:
    if request is None:
        return None
    return RequestInfo(
        reference=request.reference,
        request_type=request.request_type,
        status=request.status,
        verification_code=request.verification_code or "",
    )
