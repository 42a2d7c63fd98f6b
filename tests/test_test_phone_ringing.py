"""The test phone rings: calls the line places to a fictional number (or, without Twilio,
to the signed-in volunteer's own number) wait for it instead of going to Twilio, and
Answer plays them through the real webhooks, Decline counts as not answered."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.calls import bridge
from app.calls.outbound import SIMULATOR_RING_SECONDS
from app.database import get_db, utcnow
from app.jobs.worker import Worker
from app.models import BridgedCall, Calldown, Delivery, HelpRequest, Job, RequestStatus, User
from tests.conftest import (
    TEST_AUTH_TOKEN,
    AuthActions,
    add_request,
    close_test_app,
    make_test_app,
)
from tests.twilio_emulator import HOTLINE_NUMBER, account_settings, through_flask
from voice.simulator.phone import FlaskTransport

FICTIONAL_CALLER = "+493023125417"
VOLUNTEER_PHONE = "+4915112345678"
EN = {"Accept-Language": "en"}
JSON = {"Accept": "application/json", **EN}


@pytest.fixture
def app(database_url, tmp_path, twilio):
    """Twilio configured (at the emulator): a fictional number still never reaches it."""
    app = make_test_app(
        database_url,
        tmp_path,
        twilio=account_settings(twilio),
        calldown={"after_hours": 1.5, "hours": "", "retry_after_hours": 4},
        test_phone="everyone",
    )
    twilio.deliver = through_flask(app)
    twilio.calls_through = FlaskTransport(app.test_client())
    yield app
    close_test_app(app)


@pytest.fixture
def without_twilio(database_url, tmp_path):
    """No Twilio account (only the auth token the app makes up): a local demo."""
    app = make_test_app(
        database_url,
        tmp_path / "demo",
        twilio={"auth_token": TEST_AUTH_TOKEN, "phone_number": HOTLINE_NUMBER},
        test_phone="everyone",
    )
    yield app
    close_test_app(app)


def run_worker(app) -> None:
    with app.app_context():
        worker = Worker(app)
        worker.run_periodic(every=True)
        worker.run_until_empty()


def waiting_calldown(berlin, app) -> HelpRequest:
    """A request from a fictional caller nobody took for two hours; its calldown is due."""
    request = add_request(berlin, caller_number=FICTIONAL_CALLER, request_type="pharmacy")
    request.created_at = utcnow() - timedelta(hours=2)
    berlin.commit()
    run_worker(app)
    return request


def ringing(client, number: str = "") -> dict | None:
    response = client.get("/phone/ringing", query_string={"number": number}, headers=JSON)
    assert response.status_code == 200
    return response.json["ringing"]


def csrf(client) -> dict:
    page = client.get("/phone", headers=EN).text
    return {"X-CSRFToken": page.split('data-csrf="')[1].split('"')[0]}


def pick_up(client, token: str, what: str = "answer"):
    return client.post(f"/phone/{what}", json={"ringing": token}, headers={**csrf(client), **EN})


def act(client, snapshot: str, **move):
    return client.post("/phone/act", json={"call": snapshot, **move}, headers=csrf(client))


def calldowns(app) -> list[Calldown]:
    with get_db(app).session() as session:
        return list(session.scalars(select(Calldown).order_by(Calldown.id)))


def request_status(berlin, request: HelpRequest) -> str:
    berlin.expire_all()
    return berlin.get(HelpRequest, request.id).status


def test_a_calldown_to_a_fictional_caller_rings_and_2_closes_the_request(
    app, twilio, berlin, client
):
    request = waiting_calldown(berlin, app)
    assert twilio.calls == [], "a fictional number never goes to Twilio"
    assert ringing(client, "+493023125418") is None  # another fictional number: silent
    call = ringing(client, FICTIONAL_CALLER)
    assert call["text"] == "Incoming call from 030 555000"

    answered = pick_up(client, call["token"])
    assert answered.status_code == 200, answered.text
    heard = " ".join(h["text"] for h in answered.json["heard"])
    assert "haben Sie uns um Hilfe gebeten: Apotheke" in heard
    assert answered.json["waiting_for"] == "keys"
    assert ringing(client, FICTIONAL_CALLER) is None  # answered: it rings no more

    pressed = act(client, answered.json["call"], key="2")
    assert pressed.status_code == 200, pressed.text
    assert "Ihre Anfrage ist zurückgezogen." in " ".join(h["text"] for h in pressed.json["heard"])
    assert pressed.json["ended"]
    assert request_status(berlin, request) == RequestStatus.CANCELLED
    [calldown] = calldowns(app)
    assert calldown.status == "closed"
    run_worker(app)  # the worker neither rings it out nor places it again
    assert twilio.calls == [] and len(calldowns(app)) == 1


def test_declining_a_calldown_counts_as_not_answered(app, twilio, berlin, client):
    request = waiting_calldown(berlin, app)
    call = ringing(client, FICTIONAL_CALLER)
    declined = pick_up(client, call["token"], "decline")
    assert declined.status_code == 200, declined.text
    assert declined.json["message"] == (
        "You declined the call: the line counts it as not answered."
    )
    [calldown] = calldowns(app)
    assert calldown.status == "not_reached"  # so it is tried once more later
    assert request_status(berlin, request) == RequestStatus.OPEN
    assert ringing(client, FICTIONAL_CALLER) is None
    again = pick_up(client, call["token"])
    assert again.status_code == 410 and again.json["error"] == "This call is no longer ringing."
    assert twilio.calls == []


def test_a_call_nobody_answers_rings_out_as_not_answered(app, twilio, berlin, client):
    waiting_calldown(berlin, app)
    assert ringing(client, FICTIONAL_CALLER) is not None
    run_worker(app)  # still ringing: the worker waits
    assert calldowns(app)[0].status == "queued"
    with get_db(app).session() as session:  # the ring time has passed
        past = utcnow() - timedelta(seconds=SIMULATOR_RING_SECONDS + 1)
        session.execute(update(Delivery).values(attempted_at=past))
        session.execute(update(Job).where(Job.state == "pending").values(run_at=past))
        session.commit()
    run_worker(app)
    assert calldowns(app)[0].status == "not_reached"
    assert ringing(client, FICTIONAL_CALLER) is None
    assert twilio.calls == []


def test_a_tampered_token_is_refused(app, twilio, berlin, client):
    waiting_calldown(berlin, app)
    token = ringing(client, FICTIONAL_CALLER)["token"]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for what in ("answer", "decline"):
        refused = pick_up(client, forged, what)
        assert refused.status_code == 410, refused.text
        assert refused.json["error"] == "This call is no longer ringing."
    assert calldowns(app)[0].status == "queued"
    assert ringing(client, FICTIONAL_CALLER) is not None  # still ringing for the real token


def test_without_script_the_ringing_page_answers_with_forms(app, twilio, berlin, client):
    request = waiting_calldown(berlin, app)
    quiet = client.get("/phone/ringing?number=%2B493023125418", headers=EN)
    assert "Nothing is ringing at the moment." in quiet.text
    assert "Check for incoming calls" in quiet.text  # a link to ask again
    page = client.get("/phone/ringing", query_string={"number": FICTIONAL_CALLER}, headers=EN).text
    assert "Incoming call from 030 555000" in page
    form = {
        "csrf_token": page.split('name="csrf_token" value="')[1].split('"')[0],
        "ringing": page.split('name="ringing" value="')[1].split('"')[0],
        "number": FICTIONAL_CALLER,
    }
    answered = client.post("/phone/answer", data=form)
    assert "haben Sie uns um Hilfe gebeten: Apotheke" in answered.text
    snapshot = answered.text.split('name="call" value="')[1].split('"')[0]
    pressed = client.post(
        "/phone/act",
        data={"csrf_token": form["csrf_token"], "call": snapshot, "keys": "2", "number": ""},
    )
    assert "Ihre Anfrage ist zurückgezogen." in pressed.text
    assert request_status(berlin, request) == RequestStatus.CANCELLED


# -- the signed-in volunteer's own phone, without Twilio ---------------------------------


@pytest.fixture
def demo(without_twilio, berlin, make_person):
    """Two volunteers with phone numbers; Ada took a request from a fictional caller."""
    ada = make_person("ada@example.org")
    bea = make_person("bea@example.org", name="Bea")
    berlin.get(User, ada.id).phone = VOLUNTEER_PHONE
    berlin.get(User, bea.id).phone = "+4915187654321"
    berlin.commit()
    client = without_twilio.test_client()
    auth = AuthActions(client)
    assert auth.login(ada.email, ada.password).status_code == 302
    request = add_request(berlin, caller_number=FICTIONAL_CALLER, request_type="shopping")
    assert auth.post(f"/requests/{request.reference}/claim").status_code == 302
    return client, auth, request, bea


def test_a_bridged_call_rings_the_volunteers_test_phone_then_the_caller(
    without_twilio, berlin, demo
):
    client, auth, request, _bea = demo
    assert "So do calls to your own number, 01511 2345678" in client.get("/phone", headers=EN).text
    assert auth.post(f"/requests/{request.reference}/call-through").status_code == 302
    run_worker(without_twilio)  # no Twilio to give it to: it rings the test phone

    call = ringing(client)  # the page's fictional number aside, the volunteer's own rings
    assert call is not None and call["text"] == "Incoming call from 030 555000"
    answered = pick_up(client, call["token"])
    assert answered.status_code == 200, answered.text
    assert "Drücken Sie die 1" in answered.json["heard"][0]["text"]
    connecting = act(client, answered.json["call"], key="1")
    assert connecting.json["waiting_for"] == "operator"  # the line rings the caller
    assert connecting.json["dialling"] is True
    with get_db(without_twilio).session() as session:
        assert session.scalars(select(BridgedCall)).one().status == bridge.CONNECTING
    talked = act(client, connecting.json["call"], do="answer")
    assert talked.json["ended"], talked.json
    page = client.get(f"/requests/{request.reference}", headers={"Accept-Language": "en"})
    assert "You talked 1 min." in page.text


def test_the_caller_not_answering_the_bridge_counts_as_could_not_reach(
    without_twilio, berlin, demo
):
    client, auth, request, _bea = demo
    assert auth.post(f"/requests/{request.reference}/call-through").status_code == 302
    run_worker(without_twilio)
    answered = pick_up(client, ringing(client)["token"])
    connecting = act(client, answered.json["call"], key="1")
    missed = act(client, connecting.json["call"], do="noanswer")
    assert "Die Person hat nicht abgenommen." in " ".join(h["text"] for h in missed.json["heard"])
    berlin.expire_all()
    assert berlin.get(HelpRequest, request.id).unreachable_count == 1
    page = client.get(f"/requests/{request.reference}", headers=EN).text
    assert "the caller did not pick up. Counted as could not reach" in page


def test_a_volunteer_declining_the_bridge_is_not_put_through(without_twilio, berlin, demo):
    client, auth, request, _bea = demo
    assert auth.post(f"/requests/{request.reference}/call-through").status_code == 302
    run_worker(without_twilio)
    assert pick_up(client, ringing(client)["token"], "decline").status_code == 200
    page = client.get(f"/requests/{request.reference}", headers=EN).text
    assert "your phone was not picked up" in page
    berlin.expire_all()
    assert berlin.get(HelpRequest, request.id).unreachable_count == 0


def test_another_volunteers_number_does_not_ring_your_page(
    without_twilio, berlin, demo, make_person
):
    client, auth, request, bea = demo
    assert auth.post(f"/requests/{request.reference}/call-through").status_code == 302
    run_worker(without_twilio)
    other = without_twilio.test_client()
    assert AuthActions(other).login(bea.email, bea.password).status_code == 302
    assert ringing(other) is None
    assert ringing(other, VOLUNTEER_PHONE) is None  # asking for Ada's number: still silent
    # Ada's token is bound to Ada: Bea cannot answer with it either.
    token = ringing(client)["token"]
    refused = pick_up(other, token)
    assert refused.status_code == 410
    assert ringing(client) is not None


def test_with_twilio_a_volunteers_real_number_goes_to_twilio(app, twilio, berlin, make_person):
    """In production (Twilio configured) a real number is always Twilio's to ring."""
    ada = make_person("ada@example.org")
    berlin.get(User, ada.id).phone = VOLUNTEER_PHONE
    berlin.commit()
    client = app.test_client()
    auth = AuthActions(client)
    assert auth.login(ada.email, ada.password).status_code == 302
    assert "So do calls to your own number" not in client.get("/phone", headers=EN).text
    request = add_request(berlin, caller_number=FICTIONAL_CALLER)
    assert auth.post(f"/requests/{request.reference}/claim").status_code == 302
    assert auth.post(f"/requests/{request.reference}/call-through").status_code == 302
    run_worker(app)
    [placed] = twilio.wait_for_calls(1)
    assert placed["to"] == VOLUNTEER_PHONE
    assert ringing(client) is None


def test_the_terminal_answers_a_call_ringing_for_the_simulator(app, twilio, berlin, client):
    """`hotline call --answer-outbound` and the test phone share one queue of ringing calls."""
    request = waiting_calldown(berlin, app)
    result = app.test_cli_runner().invoke(args=["call", "--answer-outbound", "--keys", "2"])
    assert result.exit_code == 0, result.output
    assert f"The helpline calls {FICTIONAL_CALLER} (calls.calldown)." in result.output
    assert "Ihre Anfrage ist zurückgezogen." in result.output
    assert request_status(berlin, request) == RequestStatus.CANCELLED
    assert ringing(client, FICTIONAL_CALLER) is None
    with get_db(app).session() as session:  # placed once, by the simulator
        [delivery] = session.scalars(select(Delivery).where(Delivery.channel == "call"))
        assert delivery.state == "sent" and delivery.provider_id.startswith("CA")
    assert twilio.calls == []


def test_without_twilio_the_claimed_page_sends_the_volunteer_to_the_test_phone(
    without_twilio, berlin, demo
):
    client, auth, request, _bea = demo
    page = client.get(f"/requests/{request.reference}", headers=EN).text
    assert "the test phone rings instead of your phone" in page
    assert 'href="/phone"' in page
    pressed = auth.post(f"/requests/{request.reference}/call-through", headers=EN)
    followed = client.get(pressed.headers["Location"], headers=EN).text
    assert "The test phone will ring in a moment. Answer it there and press 1." in followed


def test_without_twilio_or_a_test_phone_for_them_there_is_no_dead_end(
    database_url, tmp_path, berlin, make_person
):
    """A volunteer who may not use the test phone ("operators", the default) is not
    offered a call that would ring nowhere, and a forged press says why."""
    app = make_test_app(
        database_url,
        tmp_path / "plain",
        twilio={"auth_token": TEST_AUTH_TOKEN, "phone_number": HOTLINE_NUMBER},
        test_phone="operators",
    )
    try:
        ada = make_person("ada@example.org")
        berlin.get(User, ada.id).phone = VOLUNTEER_PHONE
        berlin.commit()
        client = app.test_client()
        auth = AuthActions(client)
        assert auth.login(ada.email, ada.password).status_code == 302
        request = add_request(berlin, caller_number=FICTIONAL_CALLER, request_type="shopping")
        assert auth.post(f"/requests/{request.reference}/claim").status_code == 302
        page = client.get(f"/requests/{request.reference}", headers=EN).text
        assert "Call through the hotline" not in page
        pressed = auth.post(f"/requests/{request.reference}/call-through", headers=EN)
        followed = client.get(pressed.headers["Location"], headers=EN).text
        assert "Calls through the hotline are not set up here." in followed
        with get_db(app).session() as session:
            assert session.scalars(select(BridgedCall)).all() == []
    finally:
        close_test_app(app)
