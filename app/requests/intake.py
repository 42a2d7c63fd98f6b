"""Help requests: created from a call, found again when the caller rings back, cancelled."""

from __future__ import annotations

import secrets
from functools import cache

from sqlalchemy import Connection, Insert, Row, Select, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.audit import Action
from app.database import utcnow
from app.models import AuditEvent, HelplineRow, HelpRequest, RequestStatus, Zone

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


def renewed_verification_code(old: str | None) -> str:
    """A new code for a request that leaves a volunteer's hands, never equal to `old`.

    Whoever held the claim saw the number and the code together: with the old
    code they could phone the caller later and pass as the helpline. So every
    return to the board (a give-back, an expiry, a suspension, an operator
    taking a claim back) draws a new one, which the caller hears on their next
    call (the repeat-caller menu reads the current code).
    """
    while (code := new_verification_code()) == old:
        pass  # one chance in 10,000: the old code must not stay valid
    return code


def code_renewed(session: Session, request_id: int) -> bool:
    """Whether the request's code changed since the call: the caller heard another one.

    Told from the audit log (a give-back, a suspension's release, an expiry), so
    that the volunteer who calls can explain it (the caller hears the new code
    when they ring the helpline again).
    """
    query = select(AuditEvent.id).where(
        AuditEvent.request_id == request_id,
        AuditEvent.action.in_((Action.RELEASED, Action.EXPIRED)),
    )
    return session.scalar(query.limit(1)) is not None


def store_request(
    connection: Connection,
    *,
    call_sid: str,
    caller_number: str | None,
    postcode: str,
    zone_id: int,
    request_type: str,
    language: str,
    helpline_id: int | None = None,
    voice_message_url: str | None = None,
    voice_message_seconds: int | None = None,
    caller_number_typed: bool = False,
) -> Row:
    """Store the request a call produced, once per call; its id, reference and code.

    Twilio may deliver the same webhook twice, and two app servers may handle
    the two deliveries at once: the unique call_sid makes the database, not a
    check in Python, decide that only one request exists. The INSERT does
    nothing when the call has its request already (or the random reference is
    taken), so nothing fails half-way; a second delivery gets the request the
    first one stored. `caller_number_typed`: the number is what a caller who
    withheld theirs typed, not caller ID (the board marks it "not verified").
    `helpline_id`: the line the caller rang (None: the zone's, looked up here).
    The caller commits.
    """
    if helpline_id is None:
        helpline_id = connection.scalar(select(Zone.helpline_id).where(Zone.id == zone_id))
    insert = _new_request(connection.dialect.name)
    for _ in range(5):
        values = {
            "reference": new_reference(),
            "postcode": postcode,
            "zone_id": zone_id,
            "helpline_id": helpline_id,
            "request_type": request_type,
            "language": language,
            "caller_number": caller_number,
            "caller_number_typed": caller_number_typed,
            "verification_code": new_verification_code(),
            "status": RequestStatus.OPEN,
            "created_at": utcnow(),
            "call_sid": call_sid,
            "voice_message_url": voice_message_url,
            "voice_message_seconds": voice_message_seconds,
        }
        stored = connection.execute(insert, values).first()
        if stored is None:
            stored = request_for_call(connection, call_sid)
        if stored is not None:
            return stored
        # Otherwise the random reference collided: draw another.
    raise RuntimeError("could not store the request: reference collisions")


def request_for_call(connection: Connection | Session, call_sid: str) -> Row | None:
    """The request a call stored (id, reference, type, status, code), if any."""
    return connection.execute(_for_call_query(), {"call_sid_": call_sid}).first()


def active_request(
    connection: Connection | Session, caller_number: str | None, helpline: str | None = None
) -> Row | None:
    """The caller's newest open or claimed request, if any (a withheld number has none).

    `helpline`: only a request made on that helpline (its slug); None: on any.
    """
    if not caller_number:
        return None
    query = _active_query() if helpline is None else _active_on_line_query()
    return connection.execute(query, {"number_": caller_number, "helpline_": helpline}).first()


def active_request_count(
    connection: Connection | Session, number: str | None, helpline: str
) -> int:
    """How many open or claimed requests carry `number`, verified or typed (0 for none),
    on one helpline (its slug): the cap is each line's, a Berlin request takes no
    place from the Tri-City's."""
    if not number:
        return 0
    values = {"number_": number, "helpline_": helpline}
    return connection.execute(_active_count_query(), values).scalar_one()


def own_request(connection: Connection, reference: str, caller_number: str) -> Row | None:
    """One of the caller's own requests by its reference (a reference alone proves nothing)."""
    requests = HelpRequest.__table__
    query = select(*_info_columns()).where(
        requests.c.reference == reference, requests.c.caller_number == caller_number
    )
    return connection.execute(query).first()


def cancel(connection: Connection | Session, request_id: int) -> bool:
    """Cancel an open or claimed request at the caller's wish; False if it was already closed.

    A single conditional UPDATE, so a volunteer marking it done at the same
    moment cannot be overwritten. The caller commits.
    """
    requests = HelpRequest.__table__
    result = connection.execute(
        update(requests)
        .where(requests.c.id == request_id, requests.c.status.in_(ACTIVE))
        .values(status=RequestStatus.CANCELLED, closed_at=utcnow())
    )
    return result.rowcount == 1


# What the phone line reads of a request. The statements are built once, with bound
# parameters: SQLAlchemy then finds them in its compiled cache on every webhook.
def _info_columns() -> tuple:
    requests = HelpRequest.__table__
    return (
        requests.c.id,
        requests.c.reference,
        requests.c.request_type,
        requests.c.status,
        requests.c.verification_code,
    )


@cache
def _new_request(dialect: str) -> Insert:
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    return insert(HelpRequest.__table__).on_conflict_do_nothing().returning(*_info_columns())


@cache
def _for_call_query() -> Select:
    requests = HelpRequest.__table__
    return select(*_info_columns()).where(requests.c.call_sid == bindparam("call_sid_"))


@cache
def _active_query() -> Select:
    requests = HelpRequest.__table__
    return (
        select(*_info_columns())
        .where(requests.c.caller_number == bindparam("number_"), requests.c.status.in_(ACTIVE))
        .order_by(requests.c.created_at.desc())
        .limit(1)
    )


@cache
def _active_on_line_query() -> Select:
    return _active_query().where(HelpRequest.__table__.c.helpline_id == _helpline_id())


@cache
def _active_count_query() -> Select:
    requests = HelpRequest.__table__
    return select(func.count()).where(
        requests.c.caller_number == bindparam("number_"),
        requests.c.status.in_(ACTIVE),
        requests.c.helpline_id == _helpline_id(),
    )


def _helpline_id():
    """The id of the helpline whose slug is the parameter `helpline_`."""
    helplines = HelplineRow.__table__
    return (
        select(helplines.c.id).where(helplines.c.slug == bindparam("helpline_")).scalar_subquery()
    )
