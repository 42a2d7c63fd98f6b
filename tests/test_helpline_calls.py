"""Calls the line places about a request come from the number of the request's helpline,
and speak as that helpline's line: Berlin's and the Tri-City's side by side, end to end
through the Twilio emulator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.accounts.users import create_user
from app.calls import bridge, claim_notice
from app.calls.calldown import CALLDOWN_JOB
from app.calls.outbound import place_call
from app.database import get_db, utcnow
from app.jobs.worker import Worker
from app.models import Delivery, HelpRequest, Job, RequestStatus
from tests.conftest import TEST_PASSWORD_HASH_COST
from tests.test_helplines import BERLIN_NUMBER, TRICITY_NUMBER, dial, run, two_helplines
from tests.twilio_emulator import Callee, account_settings, through_flask
from voice.flow import spell
from voice.simulator.phone import FlaskTransport

TWILIO_NUMBER = "+4930555000"  # [twilio] phone_number: neither helpline's
CALLER = "+48501234567"
TRICITY_OPERATOR = "+48583000999"


@pytest.fixture
def two_lines(another_app, berlin, twilio):
    """Berlin's and the Tri-City's lines in one app, its Twilio account at the emulator."""
    app = another_app(
        helpline=two_helplines(),
        twilio=account_settings(twilio, TWILIO_NUMBER),
        calldown={"after_hours": 1, "hours": "", "retry_after_hours": 4},
    )
    result = run(app, "zones", "import")
    assert result.exit_code == 0, result.output
    twilio.deliver = through_flask(app)
    twilio.calls_through = FlaskTransport(app.test_client())
    return app


def ask_for_help(app, number: str, postcode: str, caller: str = CALLER) -> HelpRequest:
    """A caller rings `number`, takes the first language and asks for the first kind of help."""
    call = dial(app, number).call(caller)
    for keys in ("1", postcode, "1", "1", "#"):
        call.press(keys)
    call.hang_up()
    with get_db(app).session() as session:
        return session.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first()


def waiting(app, request: HelpRequest) -> None:
    """Nobody has taken it for two hours: its calldown is due."""
    with get_db(app).session() as session:
        session.execute(
            update(HelpRequest)
            .where(HelpRequest.id == request.id)
            .values(created_at=utcnow() - timedelta(hours=2))
        )
        session.commit()


def run_worker(app) -> None:
    with app.app_context():
        Worker(app).run_until_empty()


def test_a_tricity_calldown_comes_from_the_tricity_number_and_speaks_polish(two_lines, twilio):
    request = ask_for_help(two_lines, TRICITY_NUMBER, "80001")
    assert request.language == "pl"
    waiting(two_lines, request)
    twilio.phones[CALLER] = Callee(keys=["0"])  # a person, please
    run_worker(two_lines)
    [call] = twilio.wait_for_calls(1)
    assert (call["to"], call["from"]) == (CALLER, TRICITY_NUMBER)
    assert "poprosili Państwo o pomoc: zakupy" in " ".join(call["heard"])
    # The Tri-City's line answered the keys: 0 reaches its own operator.
    [operator] = twilio.bridges
    assert (operator["to"], operator["caller_id"]) == (TRICITY_OPERATOR, TRICITY_NUMBER)


def test_a_berlin_calldown_comes_from_the_berlin_number_and_speaks_german(two_lines, twilio):
    request = ask_for_help(two_lines, BERLIN_NUMBER, "10115")
    assert request.language == "de"
    waiting(two_lines, request)
    twilio.phones[CALLER] = Callee(keys=["1"])
    run_worker(two_lines)
    [call] = twilio.wait_for_calls(1)
    assert (call["to"], call["from"]) == (CALLER, BERLIN_NUMBER)
    heard = " ".join(call["heard"])
    assert "haben Sie uns um Hilfe gebeten: Einkäufe" in heard
    assert "Ihre Anfrage bleibt bestehen" in heard


def test_the_code_is_called_back_from_the_number_the_caller_rang(two_lines, twilio):
    request = ask_for_help(two_lines, TRICITY_NUMBER, "80001")
    again = dial(two_lines, TRICITY_NUMBER).call(CALLER)
    again.press("1")  # polski
    again.press("1")  # the code, on a call back
    assert "Zaraz oddzwonimy na ten numer" in again.text
    twilio.phones[CALLER] = Callee(keys=[])
    run_worker(two_lines)
    [call] = twilio.wait_for_calls(1)
    assert (call["to"], call["from"]) == (CALLER, TRICITY_NUMBER)
    heard = " ".join(call["heard"])
    assert "Oddzwaniamy zgodnie z prośbą" in heard
    assert spell(request.verification_code) in heard


def claimed_by_volunteer(app, request: HelpRequest, phone: str):
    """The request taken by a volunteer whose own phone is `phone` (as typed)."""
    with get_db(app).session() as session:
        user = create_user(
            session,
            name="Ola",
            email="ola@example.org",
            password="correct horse battery",
            hash_cost=TEST_PASSWORD_HASH_COST,
            phone=phone,
            approved=True,
        )
        session.execute(
            update(HelpRequest)
            .where(HelpRequest.id == request.id)
            .values(status=RequestStatus.CLAIMED, claimed_by_id=user.id, claimed_at=utcnow())
        )
        session.commit()
        return user


def test_a_call_through_a_tricity_request_shows_the_tricity_number(two_lines, twilio):
    request = ask_for_help(two_lines, TRICITY_NUMBER, "80001")
    # Typed without a country code: in the helpline's country, Poland.
    user = claimed_by_volunteer(two_lines, request, "501 234 568")
    with get_db(two_lines).session() as session:
        settings = two_lines.config["HOTLINE"]
        assert bridge.start(session, session.get(HelpRequest, request.id), user, settings)
        session.commit()
    twilio.phones["+48501234568"] = Callee(keys=["1"])
    twilio.phones[CALLER] = Callee(talk_seconds=60)
    run_worker(two_lines)
    [call] = twilio.wait_for_calls(1)
    assert (call["to"], call["from"]) == ("+48501234568", TRICITY_NUMBER)
    assert call["heard"][0].startswith("Infolinia: zgłoszenie")
    [bridged] = twilio.bridges
    assert (bridged["to"], bridged["caller_id"]) == (CALLER, TRICITY_NUMBER)


def test_the_claim_notice_comes_from_the_requests_helpline(two_lines, twilio):
    request = ask_for_help(two_lines, TRICITY_NUMBER, "80001")
    claimed_by_volunteer(two_lines, request, "")
    with get_db(two_lines).session() as session:
        assert claim_notice.queue(session, request.reference)
        session.commit()
    twilio.phones[CALLER] = Callee(keys=[])
    run_worker(two_lines)
    [call] = twilio.wait_for_calls(1)
    assert (call["to"], call["from"]) == (CALLER, TRICITY_NUMBER)
    assert "Ktoś z sąsiedztwa podjął Państwa zgłoszenie" in " ".join(call["heard"])


@pytest.mark.parametrize(
    ("earlier_from", "calls_placed"),
    [(TRICITY_NUMBER, 0), (BERLIN_NUMBER, 1)],
    ids=["from-the-same-helpline", "from-another-helpline"],
)
def test_a_call_left_unsure_is_looked_up_with_its_own_from(
    two_lines, twilio, earlier_from, calls_placed
):
    """A worker died after asking Twilio for the call: Twilio's list, searched with the
    same From, says whether it left. Another helpline's call to the same person does not
    count."""
    request = ask_for_help(two_lines, TRICITY_NUMBER, "80001")
    waiting(two_lines, request)
    twilio.phones[CALLER] = Callee(answers="busy")
    with two_lines.app_context():
        Worker(two_lines).run_periodic(every=True)  # queues the calldown, places nothing
    settings = two_lines.config["HOTLINE"]
    db = get_db(two_lines)
    earlier = place_call(db, settings, CALLER, "http://hotline.test/x", earlier_from)
    with db.session() as session:
        job = session.scalars(select(Job).where(Job.kind == CALLDOWN_JOB)).one()
        recipient = f"caller:{request.id}"
        session.add(
            Delivery(
                key=f"{job.key}:{recipient}",
                channel="call",
                recipient=recipient,
                state="attempting",
                error="",
            )
        )
        session.commit()
    run_worker(two_lines)
    calls = twilio.wait_for_calls(1 + calls_placed)
    assert len(calls) == 1 + calls_placed
    with db.session() as session:
        [delivery] = session.scalars(select(Delivery)).all()
        assert delivery.state == "sent"
        assert (delivery.provider_id == earlier) is (calls_placed == 0)
    assert calls[-1]["from"] == (TRICITY_NUMBER if calls_placed else earlier_from)


def test_a_tricity_calldown_rings_the_test_phone_from_the_tricity_number_in_polish(
    two_lines, twilio
):
    """A fictional caller never reaches Twilio: the simulator answers (the test phone, or
    `hotline call --answer-outbound`), and still hears the Tri-City line in Polish."""
    from voice.simulator import answering

    fictional = "+493023125042"
    call = dial(two_lines, TRICITY_NUMBER).call(fictional)
    for keys in ("1", "80001", "1", "1", "#"):
        call.press(keys)
    call.hang_up()
    with get_db(two_lines).session() as session:
        request = session.scalars(select(HelpRequest)).one()
    waiting(two_lines, request)
    run_worker(two_lines)  # the worker lets it ring, for the simulator
    assert twilio.calls == []
    with get_db(two_lines).session() as session:
        [rings] = answering.waiting_calls(session, two_lines)
        session.rollback()
    assert (rings.to, rings.placement.from_number) == (fictional, TRICITY_NUMBER)
    taken = answering.take(two_lines, rings.job_id)
    answered = answering.answer(two_lines, taken)
    assert "poprosili Państwo o pomoc: zakupy" in answered.text
    answered.press("2")
    with get_db(two_lines).session() as session:
        assert session.get(HelpRequest, request.id).status == RequestStatus.CANCELLED


def test_calldowns_keep_each_helplines_calling_hours_in_its_own_time_zone(
    another_app, berlin, twilio
):
    """At 10:00 UTC it is 11:00 in Berlin (calling) and 19:00 in Tokyo (over)."""
    from app.calls.calldown import schedule_calldowns
    from app.models import Calldown

    app = another_app(
        helpline=two_helplines(timezone="Asia/Tokyo"),
        twilio=account_settings(twilio, TWILIO_NUMBER),
        calldown={"after_hours": 1, "hours": "09:00-19:00", "retry_after_hours": 4},
    )
    assert run(app, "zones", "import").exit_code == 0
    in_berlin = ask_for_help(app, BERLIN_NUMBER, "10115")
    in_tricity = ask_for_help(app, TRICITY_NUMBER, "80001", caller="+48501234568")
    ten_utc = utcnow().replace(hour=10, minute=0, second=0, microsecond=0)
    with get_db(app).session() as session:
        session.execute(update(HelpRequest).values(created_at=ten_utc - timedelta(hours=3)))
        schedule_calldowns(session, app, ten_utc)
        session.commit()
        called = set(session.scalars(select(Calldown.request_id)))
    assert called == {in_berlin.id}
    with get_db(app).session() as session:  # at 01:00 UTC it is 10:00 in Tokyo
        schedule_calldowns(session, app, ten_utc + timedelta(hours=15))
        session.commit()
        called = set(session.scalars(select(Calldown.request_id)))
    assert called == {in_berlin.id, in_tricity.id}
