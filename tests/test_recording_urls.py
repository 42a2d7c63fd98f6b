"""Voice messages are Twilio's recordings, at Twilio's API, and nothing else.

A recording's address becomes a link and a player on the board, which a
volunteer or an operator opens trusting it. So the phone line keeps only one on
the configured `twilio.api_base_url`, under /2010-04-01/Accounts/; anything else
is ignored (and logged), and the caller goes on as if they had said nothing.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import Call, HelpRequest
from tests.conftest import TEST_AUTH_TOKEN
from voice.simulator.phone import Phone

CALLER = "+4930123456"
OPERATOR = "+4930999000"
EN = {"Accept-Language": "en"}
PATH = "/2010-04-01/Accounts/AC0/Recordings/RE1"
NOT_TWILIOS = [
    f"https://evil.example{PATH}",
    f"https://api.twilio.com.evil.example{PATH}",
    f"https://evil.example/api.twilio.com{PATH}",
    f"https://api.twilio.com@evil.example{PATH}",
    f"https://api.twilio.com:443@evil.example{PATH}",
    f"https://api.twilio.com\\@evil.example{PATH}",
    f"https://evil.example#@api.twilio.com{PATH}",
    f"//evil.example{PATH}",
    f"http://api.twilio.com{PATH}",  # not the scheme configured
    f"https://api.twilio.com:8443{PATH}",  # nor the port
    "https://api.twilio.com/2010-04-01/Calls/RE1",  # not under Accounts/
    "https://api.twilio.com/2010-04-01/Accounts/../../../evil",
    "https://api.twilio.com/2010-04-01/Accounts/%2e%2e/%2e%2e/evil",
    "javascript:alert(1)",
    "javascript://api.twilio.com/2010-04-01/Accounts/%0Aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "",
]


def leaves_a_message(phone: Phone, url: str | None = None, caller: str = CALLER):
    """German, Mitte, shopping, then a message of 12 seconds at `url`."""
    call = phone.call(caller)
    for keys in ("1", "10115", "1", "1"):
        call.press(keys)
    call.speak(seconds=12, url=url)
    return call


def the_request(db) -> HelpRequest:
    [request] = db.scalars(select(HelpRequest)).all()
    return request


def claimed_page(client, auth, request: HelpRequest) -> str:
    auth.post(f"/requests/{request.reference}/claim")
    return client.get(f"/requests/{request.reference}", headers=EN).text


@pytest.mark.parametrize("url", NOT_TWILIOS)
def test_a_message_anywhere_else_is_not_kept_and_the_request_is(
    phone, berlin, client, auth, signed_in, caplog, url
):
    call = leaves_a_message(phone, url)

    request = the_request(berlin)
    assert "Ihr Code lautet" in call.text, "the caller still hears the code"
    assert (request.voice_message_url, request.voice_message_seconds) == (None, None)
    page = claimed_page(client, auth, request)
    assert "evil" not in page and "<audio" not in page and "javascript:" not in page
    assert "Ignored a recording" in caplog.text


def test_a_message_on_twilios_api_is_linked_for_the_volunteer(
    phone, berlin, client, auth, signed_in
):
    leaves_a_message(phone)

    request = the_request(berlin)
    assert request.voice_message_url.startswith("https://api.twilio.com/2010-04-01/Accounts/")
    page = claimed_page(client, auth, request)
    assert f'<audio controls preload="none" src="{request.voice_message_url}"' in page


@pytest.mark.parametrize("url", NOT_TWILIOS)
def test_a_message_for_the_operators_anywhere_else_is_not_kept(
    another_app, berlin, login, operator, url
):
    app = another_app(operator_phone=OPERATOR)
    call = Phone.for_app(app).call(CALLER)
    call.press("1")
    call.press("0")
    call.operator_does_not_answer()
    call.speak(seconds=20, url=url)

    assert call.ended and "montags bis freitags" in call.text, "the hours, as after silence"
    [logged] = berlin.scalars(select(Call)).all()
    assert (logged.operator_message_url, logged.outcome) == (None, "gave_up")
    page = login(operator).get("/operator/attention", headers=EN).text
    assert "evil" not in page and "<audio" not in page


def test_the_configured_api_address_is_the_one_kept(another_app, berlin, client, auth, signed_in):
    """A stand-in for Twilio's API on this machine (a test server): its recordings are
    kept, and Twilio's own address is then someone else's."""
    local = "http://127.0.0.1:8099"
    app = another_app(
        twilio={
            "auth_token": TEST_AUTH_TOKEN,
            "account_sid": "AC" + "0" * 32,
            "api_base_url": local,
        }
    )
    phone = Phone.for_app(app)
    leaves_a_message(phone)
    leaves_a_message(phone, f"https://api.twilio.com{PATH}", caller="+4930654321")

    kept, ignored = berlin.scalars(select(HelpRequest).order_by(HelpRequest.id)).all()
    assert kept.voice_message_url.startswith(f"{local}/2010-04-01/Accounts/AC")
    assert ignored.voice_message_url is None
    assert f'src="{kept.voice_message_url}"' in claimed_page(client, auth, kept)
