"""The browser test phone's server side: who may use it, and whole calls through its JSON."""

from __future__ import annotations

import contextvars
import json
import re

import pytest
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from app.accounts.users import create_user
from app.models import Call, HelpRequest
from app.phone_numbers import is_fictional
from board import test_phone
from tests.conftest import TEST_PASSWORD_HASH_COST, csrf_token, signed_in_keys
from voice.flow import spell

FICTIONAL = "+493023125042"


def client_of(app) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def people(berlin):
    """An approved operator, a volunteer, and an operator still waiting for approval."""
    made = {}
    for key, role, approved in [
        ("operator", "operator", True),
        ("volunteer", "volunteer", True),
        ("pending operator", "operator", False),
    ]:
        user = create_user(
            berlin,
            name=key,
            email=f"{key.replace(' ', '.')}@example.org",
            password="correct horse battery",
            hash_cost=TEST_PASSWORD_HASH_COST,
            role=role,
            approved=approved,
        )
        berlin.commit()
        made[key] = user.id
    return made


def sign_in(client, user_id: int | None) -> None:
    if user_id is None:
        return
    with client.session_transaction() as session:
        session.update(signed_in_keys(user_id))


class KeypadPage:
    """The page's script, in Python: the same JSON requests, the same snapshot handling."""

    def __init__(self, client):
        self.client = client
        self.token = csrf_token(client)
        self.snapshot = None
        self.heard: list[dict] = []
        self.last: dict = {}

    def post(self, path: str, body: dict):
        return self.client.post(path, json=body, headers={"X-CSRFToken": self.token})

    def call(self, **body) -> dict:
        return self._answered(self.post("/phone/call", body or {"from": FICTIONAL}))

    def key(self, key: str) -> dict:
        return self._answered(self.post("/phone/act", {"call": self.snapshot, "key": key}))

    def keys(self, keys: str) -> dict:
        for key in keys:
            self.key(key)
        return self.last

    def do(self, word: str) -> dict:
        return self._answered(self.post("/phone/act", {"call": self.snapshot, "do": word}))

    def _answered(self, response) -> dict:
        assert response.status_code == 200, response.text
        self.last = response.get_json()
        self.snapshot = self.last["call"]
        self.heard += self.last["heard"]
        return self.last

    @property
    def text(self) -> str:
        return " ".join(h["text"] for h in self.heard)


def stored_requests(db) -> list[HelpRequest]:
    db.expire_all()
    return list(db.scalars(select(HelpRequest)))


def logged_calls(db) -> list[Call]:
    db.expire_all()
    return list(db.scalars(select(Call)))


# -- who may use it ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("access", "who", "status"),
    [
        ("operators", "operator", 200),
        ("operators", "volunteer", 403),
        ("operators", "pending operator", 403),
        ("everyone", None, 200),
        ("everyone", "volunteer", 200),
        ("off", "operator", 404),
        ("off", None, 404),
    ],
)
def test_who_may_open_the_test_phone(another_app, people, access, who, status):
    client = client_of(another_app(test_phone=access))
    sign_in(client, people.get(who))
    page = client.get("/phone")
    assert page.status_code == status
    if status == 200:
        assert page.text.count('class="key"') == 12
    if status == 403:
        assert "Das Testtelefon ist nur für die Koordination." in page.text
        assert 'class="key"' not in page.text


@pytest.mark.parametrize(("who", "status"), [("operator", 200), ("volunteer", 403)])
def test_the_script_and_style_sheet_are_served_to_those_allowed(app, people, who, status):
    client = client_of(app)
    sign_in(client, people["operator"])
    page = client.get("/phone").text
    assets = re.findall(r'(?:src|href)="(/phone/static/[^"]+)"', page)
    assert sorted(assets) == ["/phone/static/test_phone.css", "/phone/static/test_phone.js"]
    sign_in(client, people[who])
    for asset in assets:
        assert client.get(asset).status_code == status


def test_signing_in_comes_first_for_a_visitor(app, people):
    page = client_of(app).get("/phone")
    assert page.status_code == 302
    assert "next=%2Fphone" in page.headers["Location"]


@pytest.mark.parametrize(
    ("access", "who", "status"),
    [
        ("operators", None, 401),
        ("operators", "volunteer", 403),
        ("off", "operator", 404),
        ("everyone", None, 200),
    ],
)
def test_who_may_place_a_call(another_app, people, db, access, who, status):
    client = client_of(another_app(test_phone=access))
    sign_in(client, people.get(who))
    response = KeypadPage(client).post("/phone/call", {"from": FICTIONAL})
    assert response.status_code == status
    if status in (401, 403):
        assert response.get_json()["error"]
    assert len(logged_calls(db)) == (status == 200)


def test_a_call_without_the_csrf_token_is_refused(app, people, db):
    client = client_of(app)
    sign_in(client, people["operator"])
    response = client.post("/phone/call", json={"from": FICTIONAL})
    assert response.status_code == 400
    assert len(logged_calls(db)) == 0


# -- a whole call --------------------------------------------------------------------------


def test_a_whole_call_from_the_browser_puts_a_request_on_the_board(app, people, berlin):
    client = client_of(app)
    sign_in(client, people["operator"])
    page = client.get("/phone").text
    caller = re.search(r'id="caller" name="caller" value="([^"]+)"', page).group(1)
    assert is_fictional(caller)

    phone = KeypadPage(client)
    first = phone.call(**{"from": caller})
    assert first["heard"][0] == {
        "text": "Guten Tag, hier ist die Nachbarschaftshilfe.",
        "lang": "de-DE",
    }
    assert {"text": "For English, press 2.", "lang": "en-GB"} in first["heard"]
    assert first["waiting_for"] == "keys" and first["call"]

    phone.key("1")
    typing = phone.keys("101")
    assert typing["typed"] == "101" and typing["heard"] == [] and typing["timeout"] == 10
    done = phone.keys("15")
    assert done["typed"] == ""
    assert done["heard"][0]["text"] == "Sie haben eingegeben: 1, 0, 1, 1, 5, Mitte."
    phone.key("1")
    assert phone.key("2")["waiting_for"] == "recording"
    phone.do("rec:12")
    end = phone.do("-")

    [request] = stored_requests(berlin)
    assert end["ended"] and end["call"] is None and end["waiting_for"] is None
    assert end["result"] == {
        "outcome": "Eine Anfrage wurde gespeichert.",
        "reference": request.reference,
        "reference_text": f"Die Anfrage {request.reference} steht auf dem Board.",
        "board_url": f"/requests/{request.reference}",
    }
    assert phone.text.count(spell(request.verification_code)) == 2
    assert (request.caller_number, request.request_type) == (caller, "pharmacy")
    assert request.voice_message_seconds == 12
    [logged] = logged_calls(berlin)
    assert (logged.outcome, logged.status) == ("request_created", "completed")


def test_the_call_lives_in_the_browser_not_in_one_server(app, another_app, people, berlin):
    """Two app servers sharing the secret key and the database take turns on one call."""
    first, second = client_of(app), client_of(another_app())
    for client in (first, second):
        sign_in(client, people["operator"])
    phone = KeypadPage(first)
    phone.call()
    phone.key("1")
    phone.client, phone.token = second, csrf_token(second)
    phone.keys("10115")
    phone.client, phone.token = first, csrf_token(first)
    phone.keys("11#")
    phone.do("-")
    [request] = stored_requests(berlin)
    assert phone.last["result"]["reference"] == request.reference


def test_hanging_up_midway(app, people, berlin):
    client = client_of(app)
    sign_in(client, people["operator"])
    phone = KeypadPage(client)
    phone.call()
    phone.keys("110115")
    end = phone.do("hangup")
    assert end["ended"]
    assert end["result"]["outcome"] == "Die anrufende Person hat vor dem Ende aufgelegt."
    assert end["result"]["reference"] == "" and end["result"]["reference_text"] == ""
    assert stored_requests(berlin) == []
    [logged] = logged_calls(berlin)
    assert (logged.outcome, logged.last_step, logged.status) == (
        "abandoned",
        "confirm_postcode",
        "completed",
    )


def test_a_withheld_number_is_asked_for_one(app, people, berlin):
    client = client_of(app)
    sign_in(client, people["operator"])
    phone = KeypadPage(client)
    phone.call(withheld=True)
    phone.key("1")
    assert phone.heard[-1]["text"].startswith("Ihre Telefonnummer wird uns nicht angezeigt.")
    [logged] = logged_calls(berlin)
    assert logged.from_number is None


def test_the_operator_on_the_test_phone(another_app, people, berlin):
    client = client_of(another_app(operator_phone="+4930999000"))
    sign_in(client, people["operator"])
    phone = KeypadPage(client)
    phone.call()
    phone.key("1")
    assert phone.key("0")["waiting_for"] == "keys"  # one digit of five: the timeout sends it
    assert phone.do("-")["waiting_for"] == "operator"
    assert phone.do("noanswer")["waiting_for"] == "recording"
    end = phone.do("rec:20")
    assert (
        end["result"]["outcome"]
        == "Die anrufende Person hat eine Nachricht für die Koordination hinterlassen."
    )


# -- what goes wrong -----------------------------------------------------------------------


@pytest.mark.parametrize("number", ["+4930123456", "", "grandma", "+493023125", "+49302312500042"])
def test_only_numbers_kept_free_for_fiction_may_call(app, people, db, number):
    """Nobody can make the line believe they are a real caller (and hear their code)."""
    client = client_of(app)
    sign_in(client, people["operator"])
    response = KeypadPage(client).post("/phone/call", {"from": number})
    assert response.status_code == 400
    assert "+49 30 23125 000" in response.get_json()["error"]
    assert logged_calls(db) == []


def forged(snapshot: str) -> str:
    payload, rest = snapshot.split(".", 1)
    return payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + rest


@pytest.mark.parametrize(
    "snapshot",
    [
        pytest.param(forged, id="changed"),
        pytest.param(
            lambda s: URLSafeTimedSerializer("another-key", salt=test_phone.SNAPSHOT_SALT).dumps(
                {"caller": "+4930123456"}
            ),
            id="signed-elsewhere",
        ),
        pytest.param(lambda s: 42, id="not-a-snapshot"),
        pytest.param(lambda s: None, id="none"),
    ],
)
def test_a_snapshot_that_is_not_ours_is_refused(app, people, berlin, snapshot):
    client = client_of(app)
    sign_in(client, people["operator"])
    phone = KeypadPage(client)
    phone.call()
    response = phone.post("/phone/act", {"call": snapshot(phone.snapshot), "key": "1"})
    assert response.status_code == 410
    assert "Bitte rufen Sie neu an." in response.get_json()["error"]
    assert logged_calls(berlin)[0].last_step == "language"  # the line never heard of it


def test_a_call_left_alone_too_long_is_over(app, people, monkeypatch):
    client = client_of(app)
    sign_in(client, people["operator"])
    phone = KeypadPage(client)
    phone.call()
    monkeypatch.setattr(test_phone, "SNAPSHOT_MAX_AGE", -1)
    response = phone.post("/phone/act", {"call": phone.snapshot, "key": "1"})
    assert response.status_code == 410


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"do": "answer"}, 409),
        ({"do": "rec:10"}, 409),
        ({"key": "x"}, 400),
        ({"key": "12"}, 400),
        ({"do": "dance"}, 400),
        ({}, 400),
    ],
)
def test_moves_that_do_not_fit_change_nothing(app, people, berlin, body, status):
    client = client_of(app)
    sign_in(client, people["operator"])
    phone = KeypadPage(client)
    phone.call()
    response = phone.post("/phone/act", {"call": phone.snapshot, **body})
    assert response.status_code == status
    assert response.get_json()["error"]
    phone.key("1")  # the call goes on from where it was
    assert phone.heard[-1]["text"] == "Bitte tippen Sie die fünf Ziffern Ihrer Postleitzahl ein."


def test_the_page_speaks_the_visitors_language(app, people):
    client = client_of(app)
    sign_in(client, people["operator"])
    page = client.get("/phone", headers={"Accept-Language": "pl"}).text
    assert "<h1>Telefon testowy</h1>" in page
    assert 'aria-label="Klawisz gwiazdka"' in page and ">Rozłącz się<" in page
    texts = re.search(r'id="test-phone-texts">(.*?)</script>', page).group(1)
    assert json.loads(texts)["hung_up"] == "Rozłączasz się."  # the script's texts too


def test_setup_points_to_the_test_phone(runner, another_app, db):
    result = runner.invoke(args=["setup"])
    assert "Test phone:       http://hotline.test/phone  (sign in as an operator)" in result.output
    assert 'hotline call --keys "1 10115 1 1 #"' in result.output
    off = contextvars.Context().run(
        another_app(test_phone="off").test_cli_runner().invoke, args=["setup"]
    )
    assert "Test phone" not in off.output and "hotline call" in off.output
