"""Calldowns: "do you still need help?" calls to the callers of requests nobody took,
end to end through the Twilio emulator (answering-machine detection included)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from app.calls.calldown import calling_now
from app.database import get_db, utcnow
from app.jobs.worker import Worker
from app.models import Calldown, HelpRequest, RequestStatus
from app.requests.attention import Reason, requests_needing_attention
from tests.conftest import add_request, close_test_app, make_test_app
from tests.twilio_emulator import Callee, account_settings, through_flask
from voice.simulator.phone import FlaskTransport

CALLER = "+4930231250009"


@pytest.fixture
def app(database_url, tmp_path, twilio):
    app = make_test_app(
        database_url,
        tmp_path,
        twilio=account_settings(twilio),
        calldown={"after_hours": 1.5, "hours": "", "retry_after_hours": 4},
    )
    twilio.deliver = through_flask(app)
    twilio.calls_through = FlaskTransport(app.test_client())
    yield app
    close_test_app(app)


def waiting(berlin, hours: float, language: str = "de") -> HelpRequest:
    """A request nobody has taken for `hours`."""
    request = add_request(berlin, caller_number=CALLER, language=language, request_type="pharmacy")
    request.created_at = utcnow() - timedelta(hours=hours)
    berlin.commit()
    return request


def run_worker(app) -> None:
    with app.app_context():
        worker = Worker(app)
        worker.run_periodic(every=True)
        worker.run_until_empty()


def status(berlin, request: HelpRequest) -> str:
    berlin.expire_all()
    return berlin.get(HelpRequest, request.id).status


def test_a_calldown_answered_with_2_closes_the_request(app, twilio, berlin):
    request = waiting(berlin, hours=2)
    twilio.phones[CALLER] = Callee(keys=["2"])
    run_worker(app)
    [call] = twilio.wait_for_calls(1)
    assert call["to"] == CALLER and call["machine_detection"] == "Enable"
    heard = " ".join(call["heard"])
    assert "haben Sie uns um Hilfe gebeten: Apotheke" in heard
    assert "Ihre Anfrage ist zurückgezogen." in heard
    assert status(berlin, request) == RequestStatus.CANCELLED


def test_a_calldown_answered_with_1_keeps_it_marked_confirmed(
    app, twilio, berlin, client, signed_in
):
    request = waiting(berlin, hours=2, language="pl")
    twilio.phones[CALLER] = Callee(keys=["1"])
    run_worker(app)
    [call] = twilio.wait_for_calls(1)
    assert "poprosili Państwo o pomoc" in " ".join(call["heard"])  # the caller's language
    assert status(berlin, request) == RequestStatus.OPEN
    page = client.get(f"/requests/{request.reference}", headers={"Accept-Language": "en"})
    assert "Still needed: the caller confirmed it on" in page.text
    run_worker(app)  # nothing more is due: one call per request
    assert len(twilio.calls) == 1


def test_a_request_younger_than_calldown_after_hours_is_not_called(app, twilio, berlin):
    waiting(berlin, hours=1)
    run_worker(app)
    assert twilio.calls == []


def test_a_machine_answered_calldown_is_retried_then_flagged(app, twilio, berlin):
    request = waiting(berlin, hours=2)
    twilio.phones[CALLER] = Callee(answers="machine")
    run_worker(app)
    [first] = twilio.wait_for_calls(1)
    assert first["heard"] == []  # a machine hears nothing, so keeps nothing
    run_worker(app)
    assert len(twilio.calls) == 1, "retried only later"

    with get_db(app).session() as session:
        session.execute(update(Calldown).values(ended_at=utcnow() - timedelta(hours=5)))
        session.commit()
    twilio.phones[CALLER] = Callee(answers="no-answer")
    run_worker(app)
    twilio.wait_for_calls(2)
    with get_db(app).session() as session:
        attempts = session.scalars(select(Calldown).order_by(Calldown.attempt)).all()
        assert [(c.attempt, c.status) for c in attempts] == [
            (1, "not_reached"),
            (2, "not_reached"),
        ]
        [item] = requests_needing_attention(session, unclaimed_alert_hours=48)
        assert item.request.id == request.id and Reason.CALLDOWN in item.reasons
    run_worker(app)
    assert len(twilio.calls) == 2  # no third call
    assert status(berlin, request) == RequestStatus.OPEN  # a caller is never dropped


def test_the_operator_page_says_why_it_needs_attention(app, twilio, berlin, operator, login):
    request = waiting(berlin, hours=2)
    for attempt in (1, 2):
        berlin.add(Calldown(request_id=request.id, attempt=attempt, status="not_reached"))
    berlin.commit()
    page = login(operator).get("/operator/attention", headers={"Accept-Language": "en"}).text
    assert "not reached by either of the 2 calls asking whether help is still needed" in page


BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("utc_hour", "calling"),
    [(7, False), (8, True), (17, True), (18, False), (23, False)],  # Berlin: UTC+1 in December
)
def test_calls_go_out_only_within_the_calling_hours_local_time(utc_hour, calling):
    now = datetime(2026, 12, 5, utc_hour, 30, tzinfo=UTC)
    assert calling_now((time(9, 0), time(19, 0)), BERLIN, now) is calling
