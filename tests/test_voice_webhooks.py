"""The webhooks' guarantees: signatures, duplicate deliveries, callbacks in any order, errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from app.database import Database, get_db
from app.models import Call, HelpRequest
from tests.conftest import TEST_AUTH_TOKEN, make_test_app
from voice import flow, views
from voice.simulator.phone import FlaskTransport, Phone
from voice.stored_call import StoredCall

OPERATOR = "+4930999000"
CALLER = "+4930123456"


def count(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def the_call(db) -> Call:
    db.expire_all()
    return db.scalars(select(Call)).one()


def says(exchange) -> list[ET.Element]:
    return list(ET.fromstring(exchange.body).iter("Say"))


# -- signatures -------------------------------------------------------------------------


def incoming_params(call_sid="CA" + "1" * 32) -> dict[str, str]:
    return {
        "AccountSid": "AC" + "0" * 32,
        "CallSid": call_sid,
        "From": CALLER,
        "To": "+4930000000000",
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }


ROUTES = [
    "/voice/incoming",
    "/voice/step?step=postcode&lang=de&turn=2",
    "/voice/status",
    "/voice/fallback",
]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "signature",
    ["", "bm90IGEgc2lnbmF0dXJl", "other-token"],
    ids=["missing", "forged", "signed-with-another-token"],
)
def test_a_request_without_twilios_signature_is_refused_and_changes_nothing(
    phone, db, route, signature
):
    params = {**incoming_params(), "Digits": "10115", "CallStatus": "completed"}
    if signature == "other-token":
        other = RequestValidator("not-the-token")
        signature = other.compute_signature(phone.url(route), params)
    response = phone.post(route, params, signature=signature)
    assert response.status == 403
    assert count(db, Call) == 0 and count(db, HelpRequest) == 0


def test_a_signed_request_with_changed_parameters_is_refused(phone, db):
    signed_for = incoming_params()
    signature = phone.validator.compute_signature(phone.url("/voice/incoming"), signed_for)
    changed = {**signed_for, "From": "+4930666666"}
    assert phone.post("/voice/incoming", changed, signature=signature).status == 403
    assert count(db, Call) == 0


def test_a_signed_action_url_with_a_forged_state_is_refused(phone, db):
    call = phone.call(CALLER)
    call.press("1")
    real = call.exchanges[-1]  # the language menu's answer, turn 1
    forged_url = real.url.replace("turn=1", "turn=7")
    assert forged_url != real.url
    response = phone.transport.post(forged_url, real.params, real.headers)
    assert response.status == 403
    assert the_call(db).step_seq == 2


class BehindProxy(FlaskTransport):
    """Delivers to the app's internal address, as a reverse proxy would."""

    def post(self, url, params, headers):
        parts = urlsplit(url)
        internal = f"http://10.0.0.5:8000{parts.path}" + (f"?{parts.query}" if parts.query else "")
        headers = {**headers, "X-Forwarded-Proto": parts.scheme, "X-Forwarded-Host": parts.netloc}
        return super().post(internal, params, headers)


@pytest.mark.parametrize(
    ("config", "accepted"),
    [
        ({"public_base_url": "https://hotline.example.org"}, True),
        ({"public_base_url": ""}, False),
        ({"public_base_url": "", "trusted_proxies": 1}, True),
    ],
)
def test_signatures_are_checked_against_the_public_url_behind_a_proxy(
    database_url, tmp_path, berlin, config, accepted
):
    app = make_test_app(database_url, tmp_path / "proxied", **config)
    phone = Phone(BehindProxy(app.test_client()), TEST_AUTH_TOKEN, "https://hotline.example.org")
    response = phone.post("/voice/incoming", incoming_params())
    assert response.status == (200 if accepted else 403)
    get_db(app).engine.dispose()


def test_relative_action_urls_without_a_public_address(database_url, tmp_path, berlin):
    app = make_test_app(database_url, tmp_path / "local", public_base_url="")
    call = Phone.for_app(app).call(CALLER)
    [gather] = ET.fromstring(call.exchanges[0].body).iter("Gather")
    assert gather.get("action").startswith("/voice/step?")
    for keys in ("1", "10115", "1", "1", "#"):
        call.press(keys)
    assert "Ihr Code lautet" in call.text
    get_db(app).engine.dispose()


# -- duplicate deliveries --------------------------------------------------------------------


def test_every_webhook_delivered_twice_answers_the_same_and_stores_once(phone, db):
    call = phone.call(CALLER)
    for keys in ("1", "10115", "1", "2", "#"):
        first = call.exchanges[-1]
        assert call.redeliver().body == first.body
        call.press(keys)
    # The message step answered with a redirect; both deliveries of it made one request.
    assert call.redeliver().body == call.exchanges[-2].body
    assert count(db, HelpRequest) == 1
    stored = db.scalars(select(HelpRequest)).one()
    assert call.text.count(", ".join(stored.verification_code)) == 2
    log = the_call(db)
    assert log.outcome == "request_created" and log.request_reference == stored.reference


def test_a_duplicate_wrong_answer_is_not_counted_twice(phone, db):
    call = phone.call(CALLER)
    call.press("1")
    call.press("123#")
    call.redeliver()
    call.redeliver()
    call.press("456#")  # the second wrong answer, whatever Twilio repeated
    assert not call.ended and call.waiting_for == "keys"
    call.press("789#")
    assert call.ended


def test_a_late_delivery_of_an_earlier_step_does_not_move_the_log_back(phone, db):
    call = phone.call(CALLER)
    call.press("1")
    postcode_step = call.exchanges[-1]
    call.press("10115")
    call.press("1")
    phone.transport.post(postcode_step.url, postcode_step.params, postcode_step.headers)
    assert the_call(db).last_step == "request_type"


def test_an_incoming_call_delivered_twice_is_logged_once(phone, db):
    call = phone.call(CALLER)
    call.redeliver()
    assert count(db, Call) == 1


# -- status callbacks ---------------------------------------------------------------------------


def test_status_callbacks_in_any_order_end_the_log_right(phone, db):
    call = phone.call(CALLER)
    call.press("1")
    call.send_status("completed", sequence=3, duration=42)
    call.send_status("in-progress", sequence=1)
    call.send_status("ringing", sequence=0)
    log = the_call(db)
    assert (log.status, log.duration_seconds, log.status_sequence) == ("completed", 42, 3)
    assert (log.outcome, log.last_step) == ("abandoned", "postcode")


def test_a_repeated_status_callback_changes_nothing(phone, db):
    call = phone.call(CALLER)
    call.hang_up()
    ended = the_call(db).ended_at
    call.send_status("completed", sequence=0, duration=999)
    log = the_call(db)
    assert log.ended_at == ended and log.duration_seconds != 999


def test_status_callbacks_without_a_sequence_never_undo_the_end(phone, db):
    call = phone.call(CALLER)
    call.send_status("completed", duration=12)
    call.send_status("in-progress")
    log = the_call(db)
    assert (log.status, log.duration_seconds) == ("completed", 12)


def test_the_end_keeps_an_outcome_the_call_reached(phone, db):
    call = phone.call(CALLER)
    for keys in ("1", "10115", "1", "1", "#"):
        call.press(keys)
    call.hang_up()
    assert the_call(db).outcome == "request_created"


def test_a_status_callback_for_a_call_never_logged_keeps_it_as_an_error(phone, db):
    response = phone.post(
        "/voice/status",
        {
            **incoming_params(),
            "CallStatus": "completed",
            "CallDuration": "7",
            "SequenceNumber": "0",
        },
    )
    assert response.status == 200
    log = the_call(db)
    assert (log.outcome, log.status, log.duration_seconds) == ("error", "completed", 7)
    assert log.from_number == CALLER


# -- errors -------------------------------------------------------------------------------------


def explode(*args, **kwargs):
    raise RuntimeError("a bug")


def test_an_error_in_a_step_apologises_in_the_callers_language(phone, db, monkeypatch):
    call = phone.call(CALLER)
    call.press("3")  # Polish: from now on in every action URL, so in the apology too
    monkeypatch.setattr(flow, "advance", explode)
    heard = call.press("10115")
    assert heard[0].text == "Przepraszamy, mamy teraz problem techniczny."
    assert heard[0].language == "pl-PL"
    assert "od poniedziałku do piątku" in call.text and call.ended
    assert the_call(db).outcome == "error"


def test_an_error_transfers_to_the_operator_when_there_is_one(database_url, tmp_path, berlin):
    app = make_test_app(database_url, tmp_path / "op", operator_phone=OPERATOR)
    call = Phone.for_app(app).call(CALLER)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(StoredCall, "perform", explode)
        for keys in ("2", "10115", "1", "1"):
            call.press(keys)
        call.press("#")
    assert "Sorry, we have a technical problem right now." in call.text
    [dial] = ET.fromstring(call.exchanges[-1].body).iter("Dial")
    assert dial.text == OPERATOR and dial.get("action") is None
    call.operator_does_not_answer()  # no action: the goodbye follows, no loop
    assert call.ended and "Please call again." in call.text
    get_db(app).engine.dispose()


def broken_database(tmp_path):
    """A database that cannot be opened: every connection raises OperationalError."""
    return Database(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")


@pytest.mark.parametrize("route", ["/voice/incoming", "/voice/step?step=postcode&lang=en&turn=2"])
def test_a_database_that_is_down_still_gets_an_apology(phone, monkeypatch, tmp_path, route):
    monkeypatch.setattr(views, "get_db", lambda: broken_database(tmp_path))
    response = phone.post(route, {**incoming_params(), "Digits": "10115"})
    assert response.status == 200 and response.content_type == "text/xml"
    [sorry, *_] = says(response)
    if "lang=en" in route:
        assert (sorry.get("language"), sorry.text) == (
            "en-GB",
            "Sorry, we have a technical problem right now.",
        )
    else:
        assert sorry.get("language") == "de-DE" and sorry.text.startswith("Entschuldigung")
    assert ET.fromstring(response.body)[-1].tag == "Hangup"


def test_a_status_callback_during_an_outage_is_acknowledged(phone, monkeypatch, tmp_path):
    monkeypatch.setattr(views, "get_db", lambda: broken_database(tmp_path))
    response = phone.post("/voice/status", {**incoming_params(), "CallStatus": "completed"})
    assert response.status == 200 and ET.fromstring(response.body).tag == "Response"


@pytest.mark.parametrize(
    ("operator", "dials"), [("", False), (OPERATOR, True)], ids=["alone", "operator"]
)
def test_the_fallback_apologises_without_the_database(
    database_url, tmp_path, berlin, monkeypatch, operator, dials
):
    app = make_test_app(database_url, tmp_path / "fb", operator_phone=operator)
    monkeypatch.setattr(views, "get_db", explode)
    params = {
        **incoming_params(),
        "ErrorCode": "11200",
        "ErrorUrl": "https://hotline.test/voice/step?step=postcode&lang=pl&turn=3",
    }
    response = Phone.for_app(app).post("/voice/fallback", params)
    assert response.status == 200 and response.content_type == "text/xml"
    assert says(response)[0].text == "Przepraszamy, mamy teraz problem techniczny."
    assert says(response)[0].get("voice") == "Polly.Ewa"
    assert bool(list(ET.fromstring(response.body).iter("Dial"))) is dials
    get_db(app).engine.dispose()


def test_the_fallback_speaks_the_default_language_when_it_cannot_tell(phone):
    response = phone.post("/voice/fallback", {**incoming_params(), "ErrorCode": "11205"})
    assert says(response)[0].get("language") == "de-DE"
