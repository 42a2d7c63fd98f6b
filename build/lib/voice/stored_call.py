"""The database side of one call: the facts the flow reads, the effects it asks for."""

from __future__ import annotations

from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import call_log
from app.help_requests import (
    active_request_for_caller,
    cancel_request,
    create_request,
    request_for_call,
)
from app.models import HelpRequest
from app.zones import postcode_place, zone_for_postcode
from voice.flow import (
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

    def __init__(self, session: Session, call_sid: str, caller_number: str | None):
        self.session = session
        self.call_sid = call_sid
        self.caller_number = caller_number  # None: withheld
        self.place = cache(self._place)

    # -- facts -----------------------------------------------------------------------

    @property
    def caller_withheld(self) -> bool:
        return self.caller_number is None

    def active_request(self) -> RequestInfo | None:
        return _info(active_request_for_caller(self.session, self.caller_number))

    def request(self, reference: str) -> RequestInfo | None:
        return _info(self._own_request(reference))

    def _place(self, postcode: str) -> Place | None:
        found = postcode_place(self.session, postcode)
        if found is None:
            return None
        code, name, zone_id = found
        return Place(postcode=code, name=name, zone_id=zone_id)

    def stored_request(self) -> RequestInfo | None:
        return _info(request_for_call(self.session, self.call_sid))

    def callback_number(self) -> str:
        call = call_log.call_for(self.session, self.call_sid)
        return (call.callback_number or "") if call else ""

    # -- effects ---------------------------------------------------------------------

    def perform(self, effect: Effect) -> str:
        """Carry out what the flow asked for; returns a new request's reference, else ''.

        Every effect is safe to repeat: Twilio may deliver the same webhook twice.
        """
        match effect:
            case CreateRequest():
                postcode = zone_for_postcode(self.session, effect.postcode)
                if postcode is None:
                    raise LookupError(f"postcode {effect.postcode} left the zones mid-call")
                number = self.caller_number or self.callback_number() or None
                request = create_request(
                    self.session,
                    call_sid=self.call_sid,
                    caller_number=number,
                    postcode=postcode,
                    request_type=effect.request_type,
                    language=effect.language,
                    voice_message_url=effect.message_url,
                    voice_message_seconds=effect.message_seconds,
                )
                return request.reference
            case CancelRequest():
                request = self._own_request(effect.reference)
                if request is not None:
                    cancel_request(self.session, request)
            case SaveCallbackNumber():
                call_log.save_callback_number(self.session, self.call_sid, effect.number)
            case SaveOperatorMessage():
                call_log.save_operator_message(
                    self.session, self.call_sid, effect.url, effect.seconds
                )
            case _:
                raise TypeError(f"not an effect: {effect!r}")
        return ""

    def _own_request(self, reference: str) -> HelpRequest | None:
        # Only the caller's own requests: a reference alone is not proof of anything.
        if not reference or self.caller_number is None:
            return None
        query = select(HelpRequest).where(
            HelpRequest.reference == reference, HelpRequest.caller_number == self.caller_number
        )
        return self.session.scalars(query).first()


def _info(request: HelpRequest | None) -> RequestInfo | None:
    if request is None:
        return None
    return RequestInfo(
        reference=request.reference,
        request_type=request.request_type,
        status=request.status,
        verification_code=request.verification_code or "",
    )
