"""Help requests: created from a call, found again when the caller rings back, cancelled."""

from __future__ import annotations

import secrets

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.database import utcnow
from app.models import HelpRequest, Postcode, RequestStatus

# No 0/O, 1/I/L, 5/S, 2/Z, 8/B: a reference is read out over the phone and
# typed by people in a hurry.
REFERENCE_ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
ACTIVE = (RequestStatus.OPEN, RequestStatus.CLAIMED)


def new_reference() -> str:
    """A short public reference such as 'HX7-K4M'; random, so not guessable in sequence."""
    chars = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))
    return f"{chars[:3]}-{chars[3:]}"


def new_verification_code() -> str:
    """The four digits the volunteer says when calling back, so the caller knows it is genuine."""
    return f"{secrets.randbelow(10_000):04d}"


def create_request(
    session: Session,
    *,
    call_sid: str,
    caller_number: str | None,
    postcode: Postcode,
    request_type: str,
    language: str,
    voice_message_url: str | None = None,
    voice_message_seconds: int | None = None,
) -> HelpRequest:
    """Store the request a call produced, once per call.

    Twilio may deliver the same webhook twice, and two app servers may handle
    the two deliveries at once: the unique call_sid makes the database, not a
    check in Python, decide that only one request exists. A second delivery
    gets the request the first one stored. The caller's session is committed.
    """
    existing = request_for_call(session, call_sid)
    if existing is not None:
        return existing
    for _ in range(5):
        request = HelpRequest(
            reference=new_reference(),
            postcode=postcode.code,
            zone_id=postcode.zone_id,
            request_type=request_type,
            language=language,
            caller_number=caller_number,
            verification_code=new_verification_code(),
            status=RequestStatus.OPEN,
            created_at=utcnow(),
            call_sid=call_sid,
            voice_message_url=voice_message_url,
            voice_message_seconds=voice_message_seconds,
        )
        session.add(request)
        try:
            session.commit()
            return request
        except IntegrityError:
            session.rollback()
            existing = request_for_call(session, call_sid)
            if existing is not None:
                return existing
            # Otherwise the random reference collided: draw another.
    raise RuntimeError("could not store the request: reference collisions")


def request_for_call(session: Session, call_sid: str) -> HelpRequest | None:
    return session.scalars(select(HelpRequest).where(HelpRequest.call_sid == call_sid)).first()


def active_request_for_caller(session: Session, caller_number: str | None) -> HelpRequest | None:
    """The caller's newest open or claimed request, if any (a withheld number has none)."""
    if not caller_number:
        return None
    query = (
        select(HelpRequest)
        .where(HelpRequest.caller_number == caller_number, HelpRequest.status.in_(ACTIVE))
        .order_by(HelpRequest.created_at.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def cancel_request(session: Session, request: HelpRequest) -> bool:
    """Cancel an open or claimed request at the caller's wish; False if it was already closed.

    A single conditional UPDATE, so a volunteer marking it done at the same
    moment cannot be overwritten.
    """
    result = session.execute(
        update(HelpRequest)
        .where(HelpRequest.id == request.id, HelpRequest.status.in_(ACTIVE))
        .values(status=RequestStatus.CANCELLED, closed_at=utcnow())
    )
    session.commit()
    session.refresh(request)
    return result.rowcount == 1
