"""The phone simulator itself: typing key by key, snapshots, fictional callers, failures."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.models import Call, HelpRequest
from app.phone_numbers import is_fictional
from tests.browser import closed_port_url
from tests.conftest import add_request
from voice.flow import spell
from voice.simulator.phone import (
    FlaskTransport,
    LineUnreachable,
    Phone,
    SignatureRefused,
    fictional_number,
)

CALLER = "+4930123456"


def test_typing_key_by_key_waits_for_the_whole_postcode(phone):
    call = phone.call(CALLER)
    call.press("1")
    for key in "101":
        call.type(key)
    assert call.typed == "101" and call.waiting_for == "keys"
    assert "1, 0, 1" not in call.text  # nothing sent yet
    call.type("1")
    call.type("5")
    assert call.typed == ""
    assert call.heard[-2].text == "Sie haben eingegeben: 1, 0, 1, 1, 5, Mitte."


def test_the_timeout_sends_what_was_typed(phone):
    call = phone.call(CALLER)
    call.press("1")
    call.type("12")
    before = call.clock
    [told, *_] = call.wait()
    assert told.text == "Eine Postleitzahl hat fünf Ziffern."
    assert told.at - before == 10  # the postcode question's patient timeout


def test_a_snapshot_survives_json_and_the_call_goes_on_elsewhere(phone, db):
    call = phone.call(CALLER)
    call.press("1")
    call.type("101")
    snapshot = json.loads(json.dumps(call.snapshot()))
    # A Gather's prompts have been heard: the snapshot carries only what comes next.
    assert "Postleitzahl" not in snapshot["waiting"]["twiml"]
    assert len(json.dumps(snapshot)) < 1200

    later = phone.resume(snapshot)
    assert (later.call_sid, later.typed, later.waiting_for) == (call.call_sid, "101", "keys")
    later.type("15")
    assert later.heard[0].text == "Sie haben eingegeben: 1, 0, 1, 1, 5, Mitte."
    for keys in ("1", "1", "#"):
        later = phone.resume(json.loads(json.dumps(later.snapshot())))
        later.press(keys)
    later = phone.resume(later.snapshot())
    later.wait()
    assert later.ended and later.heard[-1].text == "Auf Wiederhören!"

    db.expire_all()
    [request] = db.scalars(select(HelpRequest)).all()
    [logged] = db.scalars(select(Call)).all()
    assert request.call_sid == call.call_sid == logged.call_sid
    assert logged.status == "completed" and logged.duration_seconds == round(later.clock)


def test_a_snapshot_keeps_what_follows_the_question(phone, db):
    """After the code, silence means goodbye: the <Say> after the <Gather> travels along."""
    call = phone.call(CALLER)
    for keys in ("1", "10115", "1", "1", "#"):
        call.press(keys)
    later = phone.resume(json.loads(json.dumps(call.snapshot())))
    later.wait()
    assert [h.text for h in later.heard] == ["Auf Wiederhören!"] and later.ended


def test_fictional_numbers_come_from_the_range_kept_free_for_films(berlin):
    number = fictional_number()
    assert number.startswith("+493023125") and len(number) == 13 and is_fictional(number)
    # A number with an open request is avoided: it would hear the repeat-caller menu.
    for last in range(500):
        add_request(berlin, caller_number=f"+493023125{last:03d}")
    assert all(int(fictional_number(berlin)[-3:]) >= 500 for _ in range(20))


@pytest.mark.parametrize(
    ("number", "fictional"),
    [
        ("+493023125000", True),
        ("+493023125999", True),
        ("+49302312500", False),
        ("+4930231250000", False),
        ("+4930123456", False),
        ("+49302312a000", False),
        ("493023125000", False),
    ],
)
def test_is_fictional(number, fictional):
    assert is_fictional(number) is fictional


def test_a_wrong_auth_token_is_refused_not_played(app, berlin):
    phone = Phone(FlaskTransport(app.test_client()), "not-the-token", "http://hotline.test")
    with pytest.raises(SignatureRefused, match="403"):
        phone.call(CALLER)


def test_a_server_that_is_not_there_is_unreachable():
    phone = Phone.over_http(closed_port_url(), auth_token="x")
    with pytest.raises(LineUnreachable, match="[Rr]efused"):
        phone.call(CALLER)


def test_the_code_is_heard_in_full_after_typing(phone, db):
    call = phone.call(CALLER)
    call.press("1")
    for key in "10115":
        call.type(key)
    call.type("1")
    call.type("2")
    call.type("#")
    db.expire_all()
    [request] = db.scalars(select(HelpRequest)).all()
    assert request.request_type == "pharmacy"
    assert call.text.count(spell(request.verification_code)) == 2
