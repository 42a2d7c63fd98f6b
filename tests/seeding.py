"""Test data made the way the phone line and the board make it: through the models."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from app.accounts.users import create_user
from app.models import Call, CallOutcome, HelpRequest, RequestStatus, User, Zone
from app.requests import intake
from app.requests.intake import new_reference
from tests.conftest import TEST_PASSWORD_HASH_COST

_sids = itertools.count(1)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def zone(db, slug: str) -> Zone:
    from sqlalchemy import select

    return db.scalars(select(Zone).where(Zone.slug == slug)).one()


def call(
    db,
    started_at: datetime,
    *,
    seconds: int | None = 95,
    number: str | None = "+4930123456",
    outcome: str = CallOutcome.REQUEST_CREATED,
    last_step: str = "done",
    status: str = "completed",
    postcode: str = "10115",
    zone_slug: str | None = "mitte",
    request_type: str = "shopping",
    reference: str = "",
    language: str = "de",
    operator_message_url: str | None = None,
    sid: str | None = None,
    to_number: str = "+4930555000",
) -> Call:
    from app.zones.postcodes import oldest_helpline_id

    the_zone = zone(db, zone_slug) if zone_slug else None
    row = Call(
        call_sid=sid or f"CA{next(_sids):032d}",
        from_number=number,
        to_number=to_number,
        # The line rung, as the call log records it: the zone's, else the only one.
        helpline_id=the_zone.helpline_id if the_zone else oldest_helpline_id(db),
        started_at=started_at,
        ended_at=started_at + timedelta(seconds=seconds) if seconds is not None else None,
        duration_seconds=seconds,
        status=status,
        language=language,
        postcode=postcode,
        zone_id=the_zone.id if the_zone else None,
        request_type=request_type,
        last_step=last_step,
        outcome=outcome,
        request_reference=reference,
        operator_message_url=operator_message_url,
        operator_message_seconds=20 if operator_message_url else None,
    )
    db.add(row)
    db.commit()
    return row


def help_request(
    db,
    *,
    created_at: datetime,
    status: str = RequestStatus.OPEN,
    zone_slug: str = "mitte",
    claimed_at: datetime | None = None,
    closed_at: datetime | None = None,
    claimed_by: User | None = None,
    number: str | None = "+4930123456",
    voice_message_url: str | None = None,
    **extra,
) -> HelpRequest:
    the_zone = zone(db, zone_slug)
    code = the_zone.postcodes[0].code
    row = HelpRequest(
        reference=new_reference(),
        postcode=code,
        zone_id=the_zone.id,
        helpline_id=the_zone.helpline_id,
        request_type="shopping",
        language="de",
        caller_number=number,
        verification_code="4711",
        status=status,
        created_at=created_at,
        claimed_at=claimed_at,
        closed_at=closed_at,
        claimed_by_id=claimed_by.id if claimed_by else None,
        voice_message_url=voice_message_url,
        voice_message_seconds=12 if voice_message_url else None,
        call_sid=f"CA{next(_sids):032d}",
        **extra,
    )
    db.add(row)
    db.commit()
    return row


def volunteer(db, email: str, *, zones=(), approved: bool = False, name: str = "") -> User:
    user = create_user(
        db,
        name=name or email.split("@")[0].title(),
        email=email,
        password="correct horse battery",
        hash_cost=TEST_PASSWORD_HASH_COST,
        zones=[zone(db, slug) for slug in zones],
        approved=approved,
    )
    db.commit()
    return user


def operator_account(db, email: str, *, status: str = "approved") -> User:
    """Another operator (the `operator` fixture is the one signed in)."""
    from app.models import Role

    user = create_user(
        db,
        name=email.split("@")[0].title(),
        email=email,
        password="night shift lantern",
        hash_cost=TEST_PASSWORD_HASH_COST,
        role=Role.OPERATOR,
        approved=True,
    )
    user.status = status
    db.commit()
    return user


def cancel_request(db, request: HelpRequest) -> bool:
    """Cancel a request as a caller does on the phone, committed; False if already closed."""
    cancelled = intake.cancel(db, request.id)
    db.commit()
    db.refresh(request)
    return cancelled
