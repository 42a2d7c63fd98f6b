"""Sessions end when they should: sign-out, a new password, suspension, rejection, idleness.

A "copied cookie" is a second browser (test client) given the first one's session
cookie, as someone who copied it from a shared computer would hold it.
"""

from __future__ import annotations

import time

import pytest

from app.accounts.approval import Decision, decide
from app.models import AccountStatus, User
from tests.conftest import PASSWORD, AuthActions

SIGNED_OUT_IDLE = "You were signed out after 120 minutes without activity."


def english_browser(app):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def copy_of(app, client):
    """Another browser holding a copy of `client`'s session cookie."""
    name = app.config["SESSION_COOKIE_NAME"]
    thief = english_browser(app)
    thief.set_cookie(name, client.get_cookie(name).value)
    return thief


def signed_in_browser(app, person):
    client = english_browser(app)
    assert AuthActions(client).login(person.email, person.password).status_code == 302
    return client


def test_a_copied_cookie_opens_nothing_after_sign_out(app, volunteer):
    owner = signed_in_browser(app, volunteer)
    thief = copy_of(app, owner)
    assert thief.get("/requests").status_code == 200  # a copy works while the session lasts

    AuthActions(owner).logout()
    page = thief.get("/requests")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    assert thief.get("/account").status_code == 302
    assert owner.get("/requests").status_code == 302


def test_signing_out_ends_the_sessions_on_every_device(app, volunteer):
    phone, laptop = signed_in_browser(app, volunteer), signed_in_browser(app, volunteer)
    AuthActions(laptop).logout()
    assert phone.get("/requests").status_code == 302
    # Signing in again works as ever.
    assert signed_in_browser(app, volunteer).get("/requests").status_code == 200


def test_a_new_password_ends_every_session_and_only_the_new_one_opens(app, runner, volunteer):
    owner = signed_in_browser(app, volunteer)
    thief = copy_of(app, owner)
    result = runner.invoke(
        args=["users", "password", volunteer.email, "--password", "a new lantern at dusk"]
    )
    assert result.exit_code == 0, result.output
    assert "every session of the account has ended" in result.output
    assert owner.get("/requests").status_code == 302
    assert thief.get("/requests").status_code == 302
    again = AuthActions(english_browser(app))
    assert again.login(volunteer.email, PASSWORD).status_code == 422
    assert again.login(volunteer.email, "a new lantern at dusk").status_code == 302


@pytest.mark.parametrize(
    ("status", "decision", "words"),
    [
        (AccountStatus.APPROVED, Decision.SUSPEND, "Your account is suspended"),
        (AccountStatus.PENDING, Decision.REJECT, "Your account was not approved"),
    ],
)
def test_suspension_and_rejection_end_every_session(app, db, make_person, status, decision, words):
    person = make_person("piotr@example.org", status=status)
    volunteer = signed_in_browser(app, person)
    thief = copy_of(app, volunteer)
    decide(db, person.id, decision, operator=None)
    db.commit()

    for browser in (volunteer, thief):
        page = browser.get("/account")
        assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    # Signing in again shows what happened, and nothing more.
    again = signed_in_browser(app, person)
    assert words in again.get("/account").text
    assert again.get("/requests").status_code == 403


def test_approval_ends_no_session(app, db, make_person):
    person = make_person("piotr@example.org", status=AccountStatus.PENDING)
    waiting = signed_in_browser(app, person)
    decide(db, person.id, Decision.APPROVE, operator=None)
    db.commit()
    assert waiting.get("/requests").status_code == 200


def age_session(client, seconds: int) -> None:
    """As if the browser's last page had been `seconds` ago."""
    with client.session_transaction() as session:
        session["_seen"] = int(time.time()) - seconds


def test_after_the_idle_time_the_session_has_ended(app, volunteer):
    owner = signed_in_browser(app, volunteer)
    thief = copy_of(app, owner)
    age_session(owner, 121 * 60)
    page = owner.get("/requests")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    assert SIGNED_OUT_IDLE in owner.get(page.headers["Location"]).text
    assert owner.get("/requests").status_code == 302  # and stays ended
    # A copy made before keeps its own clock: it too ends when left alone long enough.
    age_session(thief, 121 * 60)
    assert thief.get("/requests").status_code == 302


def test_using_the_board_keeps_the_session_alive(app, volunteer):
    owner = signed_in_browser(app, volunteer)
    age_session(owner, 100 * 60)
    assert owner.get("/requests").status_code == 200  # renews the clock
    with owner.session_transaction() as session:
        assert int(time.time()) - session["_seen"] < 5
    assert owner.get("/requests").status_code == 200


def test_the_idle_time_is_configurable(another_app, volunteer):
    app = another_app(session_idle_minutes=5)
    owner = signed_in_browser(app, volunteer)
    age_session(owner, 4 * 60)
    assert owner.get("/requests").status_code == 200
    age_session(owner, 6 * 60)
    page = owner.get("/requests")
    assert page.status_code == 302
    assert "signed out after 5 minutes without activity" in owner.get("/login").text


@pytest.mark.parametrize("cookie_id", ["{id}", "{id}:", "{id}:x", "x:0", "{id}:0:1", ""])
def test_a_session_naming_an_account_otherwise_opens_nothing(app, db, volunteer, cookie_id):
    """A cookie from before session versions (a bare id) or a malformed one: signed out."""
    client = english_browser(app)
    with client.session_transaction() as session:
        session.update({"_user_id": cookie_id.format(id=volunteer.id), "_seen": int(time.time())})
    assert client.get("/requests").status_code == 302
    assert db.get(User, volunteer.id).session_version == 0
