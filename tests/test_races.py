"""Everything at once: fifty volunteers on one request, Twilio delivering a webhook
several times in parallel, status callbacks before, after and during the webhooks.

Each race runs real threads released together by a barrier, with a test client (one
server thread each) of their own, on SQLite and on PostgreSQL: the day the number is
announced on television.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, select

from app.audit import Action
from app.models import AuditEvent, Call, HelpRequest
from tests.conftest import PASSWORD, AuthActions, add_request
from tests.consistency import assert_database_consistent
from tests.test_claims import run_at_once as at_once
from tests.test_voice_webhooks import incoming_params
from voice.flow import spell
from voice.simulator.phone import FlaskTransport

# Timed: run alone, after the other tests (Makefile, `make test`).
pytestmark = pytest.mark.serial

CLAIMERS = 50
NUMBER = "+4930111222"
CALLER = "+4930123456"


def claims_of(db, request) -> list[AuditEvent]:
    db.expire_all()
    query = select(AuditEvent).where(
        AuditEvent.action == Action.CLAIMED, AuditEvent.request_id == request.id
    )
    return list(db.scalars(query))


# -- fifty volunteers, one request ----------------------------------------------------


def test_fifty_browsers_pressing_take_it_at_once_make_exactly_one_claim(
    app, berlin, many_volunteers
):
    """Through the board's own form and CSRF token, each browser a server thread of its own.
    (tests/test_claims.py has the same race with fifty sessions, without HTTP.)"""
    people = [p.id for p in many_volunteers(CLAIMERS)]
    request = add_request(berlin, caller_number=NUMBER)
    browsers = []
    for i, person in enumerate(people):
        auth = AuthActions(app.test_client())
        auth.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        if i == 0:
            assert auth.login(f"v{i}@example.org", PASSWORD).status_code == 302
        else:
            auth.login_without_password(person)  # the race is about the claim
        browsers.append((auth.client, auth.csrf_token("/requests")))

    def press(i):
        client, token = browsers[i]
        response = client.post(f"/requests/{request.reference}/claim", data={"csrf_token": token})
        assert response.status_code == 302, response.text
        return response.headers["Location"], client.get(response.headers["Location"]).text

    outcomes = at_once(CLAIMERS, press)
    winners = [page for where, page in outcomes if where == f"/requests/{request.reference}"]
    losers = [page for where, page in outcomes if where == "/requests"]
    assert len(winners) == 1 and len(losers) == CLAIMERS - 1
    assert NUMBER in winners[0]
    for page in losers:
        assert "Another volunteer has just taken this request." in page
        assert NUMBER not in page
    berlin.refresh(request)
    assert request.claimed_by_id in people
    assert len(claims_of(berlin, request)) == 1


# -- Twilio delivering the same webhook several times at once ---------------------------

DELIVERIES = 8


def deliver_at_once(app, exchange) -> list:
    """The same signed request, posted by `DELIVERIES` server threads at once."""
    clients = [FlaskTransport(app.test_client()) for _ in range(DELIVERIES)]
    return at_once(
        DELIVERIES, lambda i: clients[i].post(exchange.url, exchange.params, exchange.headers)
    )


def sorry(app) -> str:
    return app.extensions["hotline_line"].catalogs["de"].say("technical_problem")


def test_an_incoming_call_delivered_several_times_at_once_is_logged_once(app, phone, berlin):
    for _ in range(3):  # a race may go either way: run it a few times
        call = phone.call(CALLER)
        answers = deliver_at_once(app, call.exchanges[0])
        assert {a.status for a in answers} == {200}
        assert {a.body for a in answers} == {call.exchanges[0].body}
        assert sorry(app) not in call.exchanges[0].body
        count = select(func.count()).select_from(Call).where(Call.call_sid == call.call_sid)
        assert berlin.scalar(count) == 1
    assert_database_consistent(berlin, app.config["HOTLINE"])


def test_the_step_that_stores_the_request_delivered_at_once_stores_one(app, phone, berlin):
    call = phone.call(CALLER)
    for keys in ("1", "10115", "1", "2"):
        call.press(keys)
    assert call.waiting_for == "recording"
    # Answer the message by hand (the simulator would follow the redirect at once).
    record = call.waiting.verb
    params = {
        **call._params(),
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE1",
        "RecordingDuration": "9",
        "Digits": "#",
    }
    action = record.get("action")
    exchange = phone.post(action, params)  # the first delivery, then seven more at once
    answers = deliver_at_once(app, exchange)
    assert {a.status for a in answers} == {200}
    assert {a.body for a in answers} == {exchange.body}  # all: "on to the code"
    [stored] = berlin.scalars(select(HelpRequest)).all()
    assert (stored.request_type, stored.voice_message_seconds) == ("pharmacy", 9)
    [redirect] = ET.fromstring(exchange.body).iter("Redirect")
    done = phone.post(redirect.text, call._params())
    assert spell(stored.verification_code) in done.body
    log = berlin.scalars(select(Call)).one()
    assert (log.outcome, log.request_reference) == ("request_created", stored.reference)
    assert_database_consistent(berlin, app.config["HOTLINE"])


# -- status callbacks before, during and after the webhooks -----------------------------


def the_log(db, call) -> Call:
    db.expire_all()
    return db.scalars(select(Call).where(Call.call_sid == call.call_sid)).one()


def test_a_status_callback_before_the_first_webhook_is_kept_and_the_call_goes_on(phone, berlin):
    """Twilio's "ringing" callback can overtake the incoming webhook (another server)."""
    call = phone.call(CALLER)
    # Rewind: the same call as if its status callback had come first.
    berlin.execute(Call.__table__.delete())
    berlin.commit()
    early = call.send_status("ringing", sequence=0)
    assert early.status == 200
    assert the_log(berlin, call).status == "ringing"
    incoming = phone.transport.post(*_replay(call.exchanges[0]))
    assert incoming.status == 200 and sorry(phone_app(phone)) not in incoming.body
    for keys in ("1", "10115", "1", "1", "#"):
        call.press(keys)
    call.send_status("completed", sequence=1, duration=60)
    log = the_log(berlin, call)
    assert (log.status, log.outcome, log.from_number) == ("completed", "request_created", CALLER)
    assert log.ended_at is not None and log.last_step == "done"


def test_the_end_of_a_call_arriving_during_its_last_step_keeps_both(app, phone, berlin):
    """The caller hangs up as the request is being stored: the log ends completed, with
    the request; whichever of the two Twilio requests wins the race."""
    for _ in range(3):
        call = phone.call(CALLER + str(_))
        for keys in ("1", "10115", "1", "2"):
            call.press(keys)
        params = {
            **call._params(),
            "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE2",
            "RecordingDuration": "5",
        }
        action = call.waiting.verb.get("action")
        status = {**call._params(), "CallStatus": "completed", "SequenceNumber": "0"}
        status_url = phone.url("/voice/status")
        answers = race(
            app,
            (action, params, _signed(phone, action, params)),
            (status_url, status, _signed(phone, status_url, status)),
        )
        assert [a.status for a in answers] == [200, 200]
        log = the_log(berlin, call)
        stored = berlin.scalars(
            select(HelpRequest).where(HelpRequest.call_sid == call.call_sid)
        ).one()
        assert (log.status, log.outcome) == ("completed", "request_created")
        assert log.request_reference == stored.reference and log.ended_at is not None
    assert_database_consistent(berlin, app.config["HOTLINE"])


def test_the_first_webhook_and_its_status_callback_at_once_make_one_log_row(app, phone, berlin):
    for i in range(12):  # a race may go either way: run it several times
        call_sid = f"CA{i:032x}"
        params = {**incoming_params(call_sid), "CallStatus": "ringing"}
        incoming_url, status_url = phone.url("/voice/incoming"), phone.url("/voice/status")
        status = {**params, "SequenceNumber": "0"}
        answers = race(
            app,
            (incoming_url, params, _signed(phone, incoming_url, params)),
            (status_url, status, _signed(phone, status_url, status)),
        )
        assert [a.status for a in answers] == [200, 200]
        assert sorry(app) not in answers[0].body
        rows = berlin.scalars(select(Call).where(Call.call_sid == call_sid)).all()
        assert len(rows) == 1
        # The line answered it, whichever came first: in progress, ringing no more.
        assert (rows[0].status, rows[0].from_number, rows[0].outcome) == (
            "in-progress",
            CALLER,
            "",
        )
    assert_database_consistent(berlin, app.config["HOTLINE"])


def race(app, *requests: tuple[str, dict, dict]) -> list:
    """Different signed requests, posted by as many server threads at once."""
    clients = [FlaskTransport(app.test_client()) for _ in requests]
    return at_once(len(requests), lambda i: clients[i].post(*requests[i]))


def _signed(phone, url, params) -> dict[str, str]:
    return {"X-Twilio-Signature": phone.validator.compute_signature(url, params)}


def _replay(exchange):
    return exchange.url, exchange.params, exchange.headers


def phone_app(phone):
    return phone.transport.client.application


@pytest.fixture(autouse=True)
def _no_stray_threads():
    """Every race joins its threads; a test that left one running would say so here."""
    before = threading.active_count()
    yield
    assert threading.active_count() <= before
