"""The code only by calling back: a repeat caller hears their code on a call *to* their number.

End to end: the caller rings (the phone simulator), the worker places the call
back through Twilio's REST API (tests/twilio_emulator.py, real HTTP), and the
emulator plays the call's webhooks as Twilio would.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from app.calls.outbound import CODE_CALLBACK_JOB, flow_url, place_call
from app.database import get_db, utcnow
from app.jobs.worker import Worker
from app.models import CallStep, Delivery, HelpRequest, Job, JobState, RequestStatus
from tests.conftest import make_test_app
from tests.twilio_emulator import (
    HOTLINE_NUMBER,
    Callee,
    account_settings,
    through_flask,
)
from voice.flow import spell
from voice.simulator.phone import FlaskTransport, Phone

CALLER = "+4930231250001"


@pytest.fixture
def line(database_url, tmp_path, twilio, berlin):
    app = make_test_app(
        database_url,
        tmp_path,
        twilio=account_settings(twilio),
        jobs={"first_retry_seconds": 1},
    )
    twilio.deliver = through_flask(app)
    twilio.calls_through = FlaskTransport(app.test_client())
    return app


def ask_for_help(app) -> HelpRequest:
    call = Phone.for_app(app).call(CALLER)
    for keys in ("1", "10115", "1", "1", "#"):
        call.press(keys)
    call.hang_up()
    return the_request(app)


def the_request(app) -> HelpRequest:
    with get_db(app).session() as session:
        return session.scalars(select(HelpRequest)).one()


def ring_again(app, keys: str):
    """The caller rings again and chooses `keys` in the repeat-caller menu."""
    call = Phone.for_app(app).call(CALLER)
    call.press("1")  # Deutsch
    call.press(keys)
    return call


def run_jobs(app) -> None:
    with app.app_context():
        Worker(app).run_until_empty()


def test_a_repeat_caller_gets_the_code_only_on_the_call_back(line, twilio):
    request = ask_for_help(line)
    code = spell(request.verification_code)
    twilio.phones[CALLER] = Callee(keys=[])  # picks up, listens, hangs up

    call = ring_again(line, "1")
    assert "Wir rufen Sie gleich unter dieser Nummer zurück" in call.text
    assert code not in call.text and call.ended

    run_jobs(line)
    [placed] = twilio.wait_for_calls(1)
    assert (placed["to"], placed["from"]) == (CALLER, HOTLINE_NUMBER)
    heard = " ".join(placed["heard"])
    assert "Wir rufen Sie zurück, wie Sie es gewünscht haben." in heard
    assert heard.count(code) == 2
    assert the_request(line).status == RequestStatus.OPEN


def test_cancelling_is_confirmed_with_1_on_the_call_back(line, twilio):
    ask_for_help(line)
    twilio.phones[CALLER] = Callee(keys=["1", "1"])  # cancel, and yes, really
    call = ring_again(line, "2")
    assert "zurückgezogen" not in call.text
    assert the_request(line).status == RequestStatus.OPEN

    run_jobs(line)
    [placed] = twilio.wait_for_calls(1)
    assert "Ihre Anfrage ist zurückgezogen." in " ".join(placed["heard"])
    assert the_request(line).status == RequestStatus.CANCELLED


def test_a_caller_from_a_forged_number_learns_nothing(line, twilio):
    """Whoever rings from the victim's number only starts a call to the victim."""
    request = ask_for_help(line)
    twilio.phones[CALLER] = Callee(answers="no-answer")
    call = ring_again(line, "1")
    run_jobs(line)
    [placed] = twilio.wait_for_calls(1)
    assert placed["to"] == CALLER and placed["heard"] == []
    assert spell(request.verification_code) not in call.text


def test_a_webhook_delivered_twice_calls_back_once(line, twilio):
    ask_for_help(line)
    call = ring_again(line, "1")
    call.redeliver()
    run_jobs(line)
    assert len(twilio.wait_for_calls(1)) == 1
    with get_db(line).session() as session:
        assert len(session.scalars(select(Job).where(Job.kind == "calls.code_callback")).all()) == 1


def test_a_retried_job_never_places_a_second_call(line, twilio):
    ask_for_help(line)
    ring_again(line, "1")
    run_jobs(line)
    twilio.wait_for_calls(1)
    with get_db(line).session() as session:
        # The job runs again (its commit was lost): the record says the call was placed.
        session.execute(update(Job).values(state=JobState.PENDING, run_at=utcnow()))
        session.commit()
    run_jobs(line)
    assert len(twilio.calls) == 1
    with get_db(line).session() as session:
        [delivery] = session.scalars(select(Delivery)).all()
        assert (delivery.channel, delivery.provider_id) == ("call", twilio.calls[0]["sid"])


def test_a_call_left_unsure_by_a_dead_worker_is_looked_up_at_twilio(line, twilio):
    """The worker died after Twilio took the call and before the record said so."""
    request = ask_for_help(line)
    ring_again(line, "1")
    settings = line.config["HOTLINE"]
    with get_db(line).session() as session:
        job = session.scalars(select(Job).where(Job.kind == CODE_CALLBACK_JOB)).one()
        url = flow_url(settings, CallStep.CALLBACK_CODE, "de", ref=job.payload["reference"])
        sid = place_call(get_db(line), settings, CALLER, url, HOTLINE_NUMBER)  # the dead worker
        session.add(
            Delivery(
                key=f"{job.key}:caller:{request.id}",
                channel="call",
                recipient=f"caller:{request.id}",
                state="attempting",
                error="",
            )
        )
        session.commit()
    run_jobs(line)
    assert len(twilio.wait_for_calls(1)) == 1
    with get_db(line).session() as session:
        [delivery] = session.scalars(select(Delivery)).all()
        assert (delivery.state, delivery.provider_id) == ("sent", sid)


def test_a_withheld_caller_never_reaches_the_menu(line, twilio):
    ask_for_help(line)
    call = Phone.for_app(line).call("anonymous")
    call.press("1")
    assert "tippen Sie bitte Ihre Nummer mit Vorwahl ein" in call.text
    assert "schon eine Anfrage" not in call.text


def test_calls_are_paced_to_one_a_second(line, twilio):
    settings = line.config["HOTLINE"]
    twilio.phones["+4930231250002"] = Callee(answers="busy")
    for _ in range(3):
        place_call(
            get_db(line),
            settings,
            "+4930231250002",
            "http://hotline.test/voice/outbound",
            HOTLINE_NUMBER,
        )
    times = [call["received_at"] for call in twilio.wait_for_calls(3)]
    # A second apart when they leave; the way to the emulator may take a little longer
    # for one than another on a busy machine.
    assert all(later - earlier >= 0.8 for earlier, later in zip(times, times[1:], strict=False))


def test_a_status_callback_without_twilios_signature_is_refused(line):
    client = line.test_client()
    for path in ("/voice/bridge/status?bridge=1", "/voice/calldown/status?calldown=1"):
        assert client.post(path, data={"CallStatus": "completed"}).status_code == 403


def test_the_first_webhook_of_a_placed_call_needs_twilios_signature(line):
    url = flow_url(line.config["HOTLINE"], CallStep.CALLBACK_CODE, "de", ref="ABC-DEF")
    response = line.test_client().post(url, data={"CallSid": "CA1", "To": CALLER})
    assert response.status_code == 403


def test_no_callers_number_is_kept_outside_their_request(line, twilio):
    """Jobs and delivery records outlive the retention that erases a caller's number."""
    ask_for_help(line)
    ring_again(line, "1")
    run_jobs(line)
    twilio.wait_for_calls(1)
    with get_db(line).session() as session:
        for job in session.scalars(select(Job)):
            assert CALLER not in f"{job.key} {job.payload}"
        for delivery in session.scalars(select(Delivery)):
            assert CALLER not in f"{delivery.key} {delivery.recipient}"
