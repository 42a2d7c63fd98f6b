"""Calling a caller through the hotline: the volunteer's phone rings, then the caller's,
who sees the hotline's number. End to end through the Twilio emulator (real HTTP to
its REST API; the call's webhooks played as Twilio plays them)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit import Action
from app.jobs.worker import Worker
from app.models import AuditEvent, HelpRequest, User
from tests.conftest import add_request, close_test_app, make_test_app
from tests.twilio_emulator import (
    HOTLINE_NUMBER,
    Callee,
    account_settings,
    through_flask,
)
from voice.simulator.phone import FlaskTransport

CALLER = "+4930231250007"
VOLUNTEER_PHONE = "+4930231250042"


@pytest.fixture
def app_settings() -> dict:
    """More settings for the app (a test parametrizes it)."""
    return {}


@pytest.fixture
def app(database_url, tmp_path, twilio, app_settings):
    """The app, its Twilio account at the emulator (the tests' own `app`, replaced)."""
    app = make_test_app(
        database_url,
        tmp_path,
        twilio=account_settings(twilio),
        **app_settings,
    )
    twilio.deliver = through_flask(app)
    twilio.calls_through = FlaskTransport(app.test_client())
    yield app
    close_test_app(app)


@pytest.fixture
def claimed(berlin, auth, signed_in):
    """A request in Mitte, taken by the signed-in volunteer, whose phone is on record."""
    user = berlin.get(User, signed_in.id)
    user.phone = "030 231250042"  # as typed on the account page: dialled in E.164
    berlin.commit()
    request = add_request(berlin, caller_number=CALLER, request_type="shopping")
    assert auth.post(f"/requests/{request.reference}/claim").status_code == 302
    return request


def call_through(app, auth, reference: str):
    response = auth.post(f"/requests/{reference}/call-through")
    assert response.status_code == 302
    with app.app_context():
        Worker(app).run_until_empty()


def page(client, reference: str) -> str:
    return client.get(f"/requests/{reference}", headers={"Accept-Language": "en"}).text


def test_a_call_through_the_hotline_connects_with_the_hotline_number_shown(
    app, twilio, auth, client, claimed, berlin
):
    twilio.phones[VOLUNTEER_PHONE] = Callee(keys=["1"])
    twilio.phones[CALLER] = Callee(talk_seconds=180)
    call_through(app, auth, claimed.reference)

    [placed] = twilio.wait_for_calls(1)
    assert (placed["to"], placed["from"]) == (VOLUNTEER_PHONE, HOTLINE_NUMBER)
    reference = claimed.reference
    spelled = ", ".join(reference.replace("-", ""))
    assert placed["heard"][0] == (
        f"Hotline: Anfrage {spelled}, Einkäufe, Mitte. Drücken Sie die 1, um jetzt mit "
        "der anrufenden Person verbunden zu werden."
    )
    [bridge] = twilio.bridges
    # The caller sees the hotline's number; the volunteer's is never given to Twilio.
    assert (bridge["to"], bridge["caller_id"], bridge["answered"]) == (
        CALLER,
        HOTLINE_NUMBER,
        True,
    )
    assert VOLUNTEER_PHONE not in {bridge["caller_id"], placed["from"]}
    assert "You talked 3 min." in page(client, reference)
    [event] = berlin.scalars(select(AuditEvent).where(AuditEvent.action == Action.CALL_BRIDGED))
    assert event.detail == "through the hotline, 180 s" and event.request_id == claimed.id


@pytest.mark.parametrize("answers", ["no-answer", "busy"])
def test_a_caller_who_does_not_answer_counts_as_could_not_reach(
    app, twilio, auth, client, claimed, berlin, answers
):
    twilio.phones[VOLUNTEER_PHONE] = Callee(keys=["1"])
    twilio.phones[CALLER] = Callee(answers=answers)
    call_through(app, auth, claimed.reference)
    [placed] = twilio.wait_for_calls(1)
    assert "Die Person hat nicht abgenommen." in " ".join(placed["heard"])
    berlin.expire_all()
    assert berlin.get(HelpRequest, claimed.id).unreachable_count == 1
    assert "the caller did not pick up. Counted as could not reach" in page(
        client, claimed.reference
    )
    unreachable = select(AuditEvent).where(AuditEvent.action == Action.UNREACHABLE)
    assert len(berlin.scalars(unreachable).all()) == 1


def test_a_volunteer_who_does_not_press_1_is_not_put_through(app, twilio, auth, client, claimed):
    """A voicemail picking up the volunteer's phone presses nothing: nobody is dialled."""
    twilio.phones[VOLUNTEER_PHONE] = Callee(answers="machine")
    call_through(app, auth, claimed.reference)
    twilio.wait_for_calls(1)
    assert twilio.bridges == []
    assert "your phone was not picked up" in page(client, claimed.reference)


def test_the_volunteer_needs_a_phone_number_of_their_own(
    app, twilio, auth, client, claimed, berlin
):
    user = berlin.scalars(select(User).where(User.phone != "")).one()
    user.phone = ""
    berlin.commit()
    response = auth.post(
        f"/requests/{claimed.reference}/call-through",
        follow_redirects=True,
        headers={"Accept-Language": "en"},
    )
    assert "needs the caller" in response.text
    with app.app_context():
        Worker(app).run_until_empty()
    assert twilio.calls == []


def test_only_the_claimer_can_call_through(app, twilio, auth, claimed, make_person):
    auth.logout()
    other = make_person("bea@example.org", zones=["mitte"])
    auth.login(other.email, other.password)
    response = auth.post(f"/requests/{claimed.reference}/call-through")
    assert response.status_code == 403
    with app.app_context():
        Worker(app).run_until_empty()
    assert twilio.calls == []


@pytest.mark.parametrize("app_settings", [{"show_caller_numbers": False}])
def test_callers_numbers_can_be_hidden_from_volunteers(app, client, claimed):
    shown = page(client, claimed.reference)
    assert CALLER not in shown
    assert "Call through the hotline" in shown


@pytest.mark.parametrize("app_settings", [{"notify_caller_on_claim": True}])
def test_the_caller_can_be_told_that_a_volunteer_took_the_request(app, twilio, claimed, berlin):
    with app.app_context():
        Worker(app).run_until_empty()
    [call] = twilio.wait_for_calls(1)
    assert (call["to"], call["from"]) == (CALLER, HOTLINE_NUMBER)
    heard = " ".join(call["heard"])
    assert "ruft Sie innerhalb von 24 Stunden an" in heard
    code = ", ".join(berlin.get(HelpRequest, claimed.id).verification_code)
    assert heard.count(code) == 2


def test_without_notify_caller_on_claim_the_caller_gets_no_call(app, twilio, claimed):
    with app.app_context():
        Worker(app).run_until_empty()
    assert twilio.calls == []
