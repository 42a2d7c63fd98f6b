"""A lived-in helpline for the eye: people, requests in every state, a month of calls.

The accessibility tests (tests/test_board_accessibility.py) look at every page with
it, and `make screenshots` photographs it (docs/tools/screenshots.py). Made through
the app's own services (a claim, "could not reach", an approval), so the audit log
holds what real use leaves there. Deterministic: the same scene every time.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from app.accounts import approval
from app.accounts.users import create_user
from app.database import utcnow
from app.models import CallOutcome, HelpRequest, Role, User, Zone
from app.requests import intake
from app.requests.claims import (
    claim_request,
    complete_request,
    record_unreachable,
    release_request,
)
from app.zones.postcodes import zone_for_postcode
from tests.seeding import call

PASSWORD = "correct horse battery"


@dataclass
class Demo:
    operator: User
    volunteer: User  # Ada: approved, holding claims
    pending: User  # Piotr: waiting for approval
    claimed: HelpRequest  # Ada's, with a voice message
    open: HelpRequest  # on Ada's board


def seed_demo(session, *, hash_cost: int, max_open_claims: int = 3) -> Demo:
    """Fill a database that has Berlin's zones with the demo scene; committed."""
    rng = random.Random(16)
    now = utcnow()

    def person(name, email, zones, role=Role.VOLUNTEER, approved=False, phone=""):
        chosen = list(session.scalars(select(Zone).where(Zone.slug.in_(zones))))
        user = create_user(
            session,
            name=name,
            email=email,
            password=PASSWORD,
            hash_cost=hash_cost,
            role=role,
            approved=approved,
            zones=chosen,
            phone=phone,
        )
        session.flush()
        return user

    operator = person("Olga Operator", "olga@example.org", [], Role.OPERATOR, approved=True)
    ada = person("Ada Lovelace", "ada@example.org", ["mitte", "neukoelln"], phone="0151 2345678")
    ben = person("Ben Schulz", "ben@example.org", ["pankow", "mitte"], phone="+48 58 123 45 67")
    piotr = person("Piotr Nowak", "piotr@example.org", ["mitte"], phone="0176 98765432")
    person("Fatma Yılmaz", "fatma@example.org", ["neukoelln", "friedrichshain-kreuzberg"])
    for volunteer in (ada, ben):
        approval.decide(session, volunteer.id, approval.Decision.APPROVE, operator=operator)
    session.commit()

    def request(postcode, kind, language="de", hours_ago=1.0, message=0, number=None):
        place = zone_for_postcode(session, postcode)
        stored = intake.store_request(
            session.connection(),
            call_sid=f"CA{uuid.uuid4().hex}",
            caller_number=number or f"+49302312{rng.randrange(5000, 5999)}",
            postcode=place.code,
            zone_id=place.zone_id,
            request_type=kind,
            language=language,
            voice_message_url=(
                f"https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE{uuid.uuid4().hex}"
                if message
                else None
            ),
            voice_message_seconds=message or None,
        )
        row = session.get(HelpRequest, stored.id)
        row.created_at = now - timedelta(hours=hours_ago)
        session.commit()
        return row

    waiting = [
        request("12043", "shopping", hours_ago=0.2, message=14),
        request("10115", "pharmacy", "pl", hours_ago=1.5),
        request("10117", "chat", "en", hours_ago=5),
        request("12045", "pets", hours_ago=26),
        request("10405", "shopping", hours_ago=60),  # Pankow: nobody took it for 60 hours
    ]
    claimed = request("10119", "shopping", hours_ago=3, message=21, number="+493023125388")
    done = request("12047", "pharmacy", "pl", hours_ago=9)
    hard = request("10407", "chat", hours_ago=30)
    given_back = request("12049", "shopping", hours_ago=4)

    for row in (claimed, done):
        claim_request(session, row.reference, ada, max_open_claims=max_open_claims)
    record_unreachable(session, claimed, ada, now=now - timedelta(minutes=40))
    complete_request(session, done, ada, "Brought the medicine; she was glad to talk.")
    claim_request(session, given_back.reference, ben, max_open_claims=max_open_claims)
    release_request(session, given_back, ben, "too_far: lives at the other end of Neukölln")
    claim_request(session, hard.reference, ben, max_open_claims=max_open_claims)
    for minutes in (120, 60, 15):
        record_unreachable(session, hard, ben, now=now - timedelta(minutes=minutes))
    session.commit()

    # A month of calls, busier on weekdays, and today's so far.
    outcomes = [CallOutcome.REQUEST_CREATED] * 6 + [
        CallOutcome.ABANDONED,
        CallOutcome.TRANSFERRED,
        CallOutcome.CANCELLED,
    ]
    for days_ago in range(30):
        day = now - timedelta(days=days_ago)
        count = rng.randrange(2, 9) + (4 if day.weekday() < 5 else 0)
        if days_ago == 0:
            count = 5
        for _ in range(count):
            started = day - timedelta(minutes=rng.randrange(0, 600 if days_ago else 120))
            call(session, started, outcome=rng.choice(outcomes), seconds=rng.randrange(40, 140))
    call(
        session,
        now - timedelta(minutes=25),
        number="+48581234567",
        language="pl",
        outcome=CallOutcome.OPERATOR_MESSAGE,
        operator_message_url="https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE1",
    )
    session.commit()
    return Demo(operator, ada, piotr, claimed, waiting[0])
