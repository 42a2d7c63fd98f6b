"""Account e-mails end to end, through the worker and a real SMTP server: password reset,
the sign-up's confirmation, a taken address, decisions, and the operators' daily mail."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.accounts.confirmation import confirm_link
from app.accounts.password_reset import reset_link
from app.accounts.sessions import change_password
from app.database import utcnow
from app.jobs.worker import Worker
from app.models import User
from tests.conftest import PASSWORD, TEST_PASSWORD_HASH_COST, AuthActions, make_test_app
from tests.smtp_server import SmtpServer, plain_text

NEW_PASSWORD = "lantern over the canal"
OTHER = "mallory was here 9"
LINK = re.compile(r"http://hotline\.test/\S+")


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def app(database_url, tmp_path, smtp):
    """The test app, sending its mail to the SMTP server; no quiet hours."""
    return make_test_app(
        database_url,
        tmp_path,
        mail={"url": smtp.url, "from_address": "hotline@example.org"},
        alerts={"quiet_hours": ""},
    )


@pytest.fixture(autouse=True)
def english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def browser(app):
    """Another browser, in English too."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def without_csrf(page: str) -> str:
    """A page without its CSRF tokens, which differ from browser to browser."""
    return re.sub(r'name="csrf_token" value="[^"]*"', "", page)


def work(app) -> None:
    with app.app_context():
        Worker(app).run_until_empty()


def links_in(message) -> list[str]:
    return LINK.findall(plain_text(message))


def speaking(db, person, language: str) -> None:
    db.get(User, person.id).language = language
    db.commit()


def forgot(client, email: str):
    token = AuthActions(client).csrf_token("/password/forgot")
    return client.post("/password/forgot", data={"email": email, "csrf_token": token})


def set_password(client, link: str, password: str = NEW_PASSWORD, again: str | None = None):
    token = AuthActions(client).csrf_token(link)
    return client.post(
        link,
        data={"password": password, "password_again": again or password, "csrf_token": token},
    )


# --- Password reset ---------------------------------------------------------------------


def test_the_login_page_leads_to_the_forgot_password_form(client):
    page = client.get("/login")
    assert 'href="/password/forgot"' in page.text
    assert "Forgot your password?" in client.get("/password/forgot").text


def test_a_reset_link_sets_a_new_password_once_and_ends_every_session(
    app, client, make_person, db, smtp
):
    ada = make_person()
    speaking(db, ada, "en")
    elsewhere = browser(app)
    assert AuthActions(elsewhere).login(ada.email, PASSWORD).status_code == 302

    answer = forgot(client, "ADA@example.org ")
    assert answer.status_code == 200
    assert "If this address belongs to an account" in answer.text
    assert smtp.messages == []  # the worker sends it
    work(app)
    [message] = smtp.wait_for(1)
    assert message["To"] == ada.email
    assert message["Subject"] == "Choose a new password for the neighbourhood helpline"
    assert "Hello Ada," in plain_text(message)
    [link, _again] = links_in(message)
    path = link.removeprefix("http://hotline.test")

    assert "Choose a new password" in client.get(path).text
    done = set_password(client, path)
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert "Your new password is set" in client.get("/login").text

    # The other browser was signed out; the old password opens nothing, the new one does.
    assert elsewhere.get("/account").status_code == 302
    auth = AuthActions(browser(app))
    assert auth.login(ada.email, PASSWORD).status_code == 422
    assert auth.login(ada.email, NEW_PASSWORD).status_code == 302

    # A second use of the same link fails, and changes nothing.
    again = client.get(path)
    assert again.status_code == 410
    assert "This link no longer works" in again.text
    assert set_password(client, path, "another long passphrase").status_code == 410
    assert AuthActions(browser(app)).login(ada.email, NEW_PASSWORD).status_code == 302


def test_a_reset_link_an_hour_old_no_longer_works(app, client, make_person, db):
    ada = make_person()
    settings = app.config["HOTLINE"]
    with app.app_context():
        user = db.get(User, ada.id)
        fresh = reset_link(settings, user, now=utcnow() - timedelta(minutes=59))
        stale = reset_link(settings, user, now=utcnow() - timedelta(minutes=61))
    base = "http://hotline.test"
    assert client.get(fresh.removeprefix(base)).status_code == 200
    assert client.get(stale.removeprefix(base)).status_code == 410
    assert set_password(client, stale.removeprefix(base)).status_code == 410
    assert AuthActions(browser(app)).login(ada.email, PASSWORD).status_code == 302


def test_after_a_password_change_an_earlier_reset_link_fails(app, client, make_person, db):
    ada = make_person()
    with app.app_context():
        user = db.get(User, ada.id)
        link = reset_link(app.config["HOTLINE"], user).removeprefix("http://hotline.test")
        change_password(db, user, "a brand new passphrase", TEST_PASSWORD_HASH_COST)
        db.commit()
    assert client.get(link).status_code == 410
    assert set_password(client, link).status_code == 410


@pytest.mark.parametrize(
    ("password", "again", "message"),
    [
        ("short", "short", "at least 10 characters"),
        ("ada@example.org", "ada@example.org", "must not be your e-mail address"),
        (NEW_PASSWORD, "something else entirely", "The two passwords are not the same."),
    ],
)
def test_a_weak_new_password_is_refused_and_the_link_still_works(
    app, client, make_person, db, password, again, message
):
    ada = make_person()
    with app.app_context():
        link = reset_link(app.config["HOTLINE"], db.get(User, ada.id))
    path = link.removeprefix("http://hotline.test")
    refused = set_password(client, path, password, again)
    assert refused.status_code == 422
    assert message in refused.text
    assert set_password(client, path).status_code == 302


@pytest.mark.parametrize("token", ["nonsense", "", "a" * 300, "eyJhIjoxfQ.forged"])
def test_a_made_up_reset_link_is_answered_plainly(client, token, berlin):
    answer = client.get(f"/password/reset/{token}")
    assert answer.status_code in (404, 410)
    if answer.status_code == 410:
        assert "This link no longer works" in answer.text


def test_the_forgot_form_answers_the_same_for_unknown_and_known_addresses(
    app, client, make_person, smtp
):
    make_person()
    known = forgot(client, "ada@example.org")
    unknown = forgot(browser(app), "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert without_csrf(known.text) == without_csrf(unknown.text)
    work(app)
    assert [m["To"] for m in smtp.wait_for(1)] == ["ada@example.org"]


def test_a_bad_address_in_the_forgot_form_is_a_form_error(client, berlin):
    answer = forgot(client, "not an address")
    assert answer.status_code == 422
    assert "Please enter an e-mail address such as" in answer.text


def test_reset_mails_are_throttled_per_address_and_per_client(app, client, make_person, smtp):
    make_person()
    # One address gets at most three mails an hour, whoever asks; the page says nothing.
    for n in range(4):
        answer = forgot(browser(app) if n % 2 else client, "ada@example.org")
        assert answer.status_code == 200
    work(app)
    assert len(smtp.wait_for(3)) == 3
    # One client may ask five times in a quarter hour, then waits.
    answer = forgot(client, "x@example.org")
    answer = forgot(client, "y@example.org")
    assert answer.status_code == 429
    assert "Too many requests. Please wait" in answer.text
    assert int(answer.headers["Retry-After"]) > 0


def test_hotline_users_reset_link_prints_a_working_link(app, runner, make_person, client):
    ada = make_person()
    result = runner.invoke(args=["users", "reset-link", ada.email])
    assert result.exit_code == 0, result.output
    [link] = LINK.findall(result.output)
    assert set_password(client, link.removeprefix("http://hotline.test")).status_code == 302
    elsewhere = runner.invoke(
        args=["users", "reset-link", ada.email, "--base-url", "https://h.example"]
    )
    assert "https://h.example/password/reset/" in elsewhere.output


def test_hotline_users_reset_link_needs_a_known_account_and_an_address(
    database_url, tmp_path, make_person
):
    make_person()
    unknown = (
        make_test_app(database_url, tmp_path / "x")
        .test_cli_runner()
        .invoke(args=["users", "reset-link", "nobody@example.org"])
    )
    assert unknown.exit_code == 1
    assert "no account for nobody@example.org" in unknown.output
    bare = make_test_app(database_url, tmp_path / "y", public_base_url="")
    with bare.app_context():  # the command runs in the context that is pushed
        result = bare.test_cli_runner().invoke(args=["users", "reset-link", "ada@example.org"])
    assert result.exit_code == 1
    assert "public_base_url" in result.output and "--base-url" in result.output


# --- Sign-up: the address is confirmed first ------------------------------------------------


def sign_up(client, email: str = "jan@example.org", language: str = "en", **fields):
    token = AuthActions(client).csrf_token("/signup")
    data = {
        "name": "Jan Kowalski",
        "email": email,
        "phone": "0151 2345678",
        "password": PASSWORD,
        "password_again": PASSWORD,
        "postcodes": "10115",
        "csrf_token": token,
        **fields,
    }
    return client.post("/signup", data=data, headers={"Accept-Language": language})


def volunteers_page(app, operator) -> str:
    client = browser(app)
    AuthActions(client).login_without_password(operator.id)
    return client.get("/operator/volunteers", headers={"Accept-Language": "en"}).text


def test_a_sign_up_is_confirmed_by_its_link_before_operators_see_it(
    app, client, operator, smtp, db
):
    answer = sign_up(client)
    assert answer.headers["Location"] == "/signup/thanks"
    assert "Jan Kowalski" not in volunteers_page(app, operator)
    work(app)
    [message] = smtp.wait_for(1)
    assert message["To"] == "jan@example.org"
    assert message["Subject"] == "Please confirm your e-mail address"
    [link] = links_in(message)
    path = link.removeprefix("http://hotline.test")

    # Opening the link (a mail scanner does) confirms nothing; the button does.
    page = browser(app).get(path, headers={"Accept-Language": "en"})
    assert "Yes, confirm my address" in page.text
    assert "Jan Kowalski" not in volunteers_page(app, operator)
    done = browser(app).post(path, headers={"Accept-Language": "en"})
    assert "Thank you: your address is confirmed" in done.text
    assert "Jan Kowalski" in volunteers_page(app, operator)


def test_an_old_confirmation_link_fails_and_an_unconfirmed_sign_up_expires(
    app, client, operator, db
):
    sign_up(client)
    jan = db.scalars(select(User).where(User.email == "jan@example.org")).one()
    with app.app_context():
        old = confirm_link(app.config["HOTLINE"], jan, now=utcnow() - timedelta(days=8))
    assert client.post(old.removeprefix("http://hotline.test")).status_code == 410
    jan.created_at = utcnow() - timedelta(days=8)
    db.commit()
    work(app)
    db.expire_all()
    assert db.scalar(select(func.count()).where(User.email == "jan@example.org")) == 0
    # The address is free again.
    assert sign_up(browser(app)).status_code == 302
    assert db.scalar(select(func.count()).where(User.email == "jan@example.org")) == 1


def test_a_taken_address_mails_its_owner_and_the_page_says_the_same_as_for_a_new_one(
    app, make_person, smtp, db
):
    owner = make_person("ada@example.org", name="Ada")
    speaking(db, owner, "en")
    hash_before = db.get(User, owner.id).password_hash
    new, taken = browser(app), browser(app)
    first = sign_up(new, "new@example.org")
    second = sign_up(taken, "ada@example.org", name="Mallory", password=OTHER, password_again=OTHER)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert without_csrf(new.get("/signup/thanks").text) == without_csrf(
        taken.get("/signup/thanks").text
    )
    work(app)
    mails = {m["To"]: m for m in smtp.wait_for(2)}
    notice = mails["ada@example.org"]
    assert notice["Subject"] == "Someone tried to sign up with your e-mail address"
    assert "http://hotline.test/password/forgot" in plain_text(notice)
    assert "Mallory" not in plain_text(notice)
    db.expire_all()
    assert db.get(User, owner.id).password_hash == hash_before
    assert db.get(User, owner.id).name == "Ada"


# --- Decisions, in the volunteer's language -------------------------------------------------


def test_approval_mails_arrive_in_the_volunteers_language(app, operator, make_person, smtp, db):
    ola = make_person("ola@example.org", status="pending", name="Ola")
    speaking(db, ola, "pl")
    client = browser(app)
    auth = AuthActions(client)
    auth.login_without_password(operator.id)
    auth.post(f"/operator/volunteers/{ola.id}", {"decision": "approve"})
    work(app)
    [message] = smtp.wait_for(1)
    assert message["To"] == "ola@example.org"
    assert message["Subject"] == "Twoje konto zostało zatwierdzone"
    assert "Cześć Ola," in plain_text(message)
    assert "http://hotline.test/login" in plain_text(message)


def test_rejection_and_suspension_are_mailed_too(app, runner, make_person, smtp, db):
    max_ = make_person("max@example.org", status="pending", name="Max")
    speaking(db, max_, "de")
    eve = make_person("eve@example.org", name="Eve")
    speaking(db, eve, "en")
    assert runner.invoke(args=["users", "reject", max_.email, "--note", "odd"]).exit_code == 0
    assert runner.invoke(args=["users", "suspend", eve.email]).exit_code == 0
    work(app)
    mails = {m["To"]: m for m in smtp.wait_for(2)}
    assert mails["max@example.org"]["Subject"] == "Ihre Anmeldung wurde nicht freigeschaltet"
    assert "odd" not in plain_text(mails["max@example.org"])  # the note is for the audit log
    assert mails["eve@example.org"]["Subject"] == "Your account is suspended"


def test_a_decision_rolled_back_mails_nobody(app, make_person, smtp, db):
    from app.accounts import approval

    ola = make_person("ola@example.org", status="pending", name="Ola")
    with app.app_context():
        approval.decide(db, ola.id, approval.Decision.APPROVE, operator=None)
        db.rollback()
    work(app)
    assert smtp.messages == []


# --- The operators' daily mail --------------------------------------------------------------


def test_operators_get_one_mail_a_day_while_confirmed_sign_ups_wait(
    app, operator, make_person, smtp, db
):
    client = browser(app)
    sign_up(client)  # not confirmed: nobody is told yet
    work(app)
    assert [m["To"] for m in smtp.wait_for(1)] == ["jan@example.org"]  # its confirmation

    make_person("ola@example.org", status="pending", name="Ola")
    make_person("max@example.org", status="pending", name="Max")
    work(app)
    [_, digest] = smtp.wait_for(2)
    assert digest["To"] == operator.email
    text = plain_text(digest)
    assert "http://hotline.test/operator/volunteers" in text
    assert "Ola" not in text and "max@example.org" not in text

    make_person("kai@example.org", status="pending", name="Kai")
    work(app)
    work(app)
    assert len(smtp.messages) == 2  # once a day, however many more sign up


def test_hotline_users_list_marks_unconfirmed_sign_ups(app, client, runner, make_person):
    make_person("ola@example.org", status="pending", name="Ola")
    sign_up(client)
    lines = runner.invoke(args=["users", "list", "--status", "pending"]).output.splitlines()
    [jan] = [line for line in lines if "jan@example.org" in line]
    [ola] = [line for line in lines if "ola@example.org" in line]
    assert jan.endswith("(e-mail not confirmed)")
    assert "not confirmed" not in ola


def test_the_confirmation_mail_is_in_the_language_of_the_sign_up(app, client, smtp, berlin):
    sign_up(client, language="pl")
    work(app)
    [message] = smtp.wait_for(1)
    assert message["Subject"] == "Potwierdź swój adres e-mail"
    assert "Cześć Jan Kowalski," in plain_text(message)


@pytest.mark.parametrize("token", ["nonsense", "a" * 300, "WzEsMl0.forged"])
def test_a_made_up_confirmation_link_confirms_nothing(app, client, token, operator):
    sign_up(client)
    assert browser(app).post(f"/signup/confirm/{token}").status_code == 410
    assert "Jan Kowalski" not in volunteers_page(app, operator)
