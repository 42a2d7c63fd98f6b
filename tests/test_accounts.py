"""Volunteer accounts: signing up with zones, signing in and out, the first operator."""

import contextvars
import re

import pytest
from sqlalchemy import func, select

from app.accounts.users import _stand_in_hash, hash_password
from app.config import DEFAULTS
from app.database import get_db
from app.models import AccountStatus, Role, User, Zone
from app.zones.postcodes import postcodes_in_text
from tests.conftest import (
    PASSWORD,
    TEST_PASSWORD_HASH_COST,
    AuthActions,
    add_request,
    make_test_app,
)

REFUSED = "The e-mail address or the password is not right."


@pytest.fixture(autouse=True)
def english(client):
    """Every request of these tests comes from an English browser, unless a test says otherwise."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def sign_up(client, auth, headers=None, **fields):
    data = {
        "name": "Jan Kowalski",
        "email": "jan@example.org",
        "phone": "0151 2345678",
        "password": PASSWORD,
        "password_again": PASSWORD,
        "csrf_token": auth.csrf_token("/signup"),
    }
    data.update(fields)
    return client.post("/signup", data=data, headers=headers or {})


def user_named(db, email):
    db.expire_all()
    return db.scalars(select(User).where(User.email == email)).first()


def test_signing_up_with_boroughs_makes_a_pending_account_that_waits(client, auth, berlin):
    mitte, pankow = zone_id(berlin, "mitte"), zone_id(berlin, "pankow")
    response = sign_up(client, auth, zones=[str(mitte), str(pankow)])
    assert response.status_code == 302
    assert response.headers["Location"] == "/signup/thanks"
    assert "An operator checks every new volunteer" in client.get("/signup/thanks").text

    # Signing up signs nobody in (a taken address could not be): the volunteer signs in.
    assert client.get("/account").status_code == 302
    assert auth.login("jan@example.org", PASSWORD).headers["Location"] == "/account"
    page = client.get("/account")
    assert "Waiting for approval" in page.text
    assert "Mitte" in page.text and "Pankow" in page.text
    user = user_named(berlin, "jan@example.org")
    assert user.status == AccountStatus.PENDING
    assert sorted(z.slug for z in user.zones) == ["mitte", "pankow"]
    assert user.password_hash.startswith("scrypt:")
    assert PASSWORD not in user.password_hash


def zone_id(db, slug):
    return db.scalar(select(Zone.id).where(Zone.slug == slug))


def test_typed_postcodes_become_zones_and_the_volunteer_is_told_which(client, auth, berlin):
    response = sign_up(client, auth, postcodes="10115, 12043", headers={"Accept-Language": "en"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert "Postcode 10115 belongs to Mitte." in page.text
    assert "Postcode 12043 belongs to Neukölln." in page.text
    user = user_named(berlin, "jan@example.org")
    assert sorted(z.slug for z in user.zones) == ["mitte", "neukoelln"]


def test_sign_up_remembers_the_language_of_the_page(client, auth, berlin):
    client.get("/signup", headers={"Accept-Language": "pl"})
    sign_up(client, auth, postcodes="10115", headers={"Accept-Language": "pl"})
    assert user_named(berlin, "jan@example.org").language == "pl"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "Please enter your name."),
        ({"email": "jan at example.org"}, "Please enter an e-mail address such as"),
        ({"phone": "call me"}, "Please enter a phone number"),
        ({"phone": "123"}, "Please enter a phone number"),
        ({"password": "short", "password_again": "short"}, "at least 10 characters"),
        ({"password": "aaaaaaaaaa", "password_again": "aaaaaaaaaa"}, "one repeated pattern"),
        ({"password": "1234567890", "password_again": "1234567890"}, "most common ones"),
        ({"password": "iloveyou2024", "password_again": "iloveyou2024"}, "most common ones"),
        (
            {"password": "jan@example.org", "password_again": "jan@example.org"},
            "must not be your e-mail address, your name or your phone number",
        ),
        (
            {"password": "Jan Kowalski!", "password_again": "Jan Kowalski!"},
            "must not be your e-mail address, your name or your phone number",
        ),
        (
            {"password": "0151 2345678", "password_again": "0151 2345678"},
            "must not be your e-mail address, your name or your phone number",
        ),
        ({"password_again": "something else entirely"}, "The two passwords are not the same."),
        ({"postcodes": ""}, "Please choose at least one borough or type a postcode."),
        ({"postcodes": "99999"}, "We do not know these postcodes in our area: 99999."),
        ({"postcodes": "10115, Berlin"}, "We do not know these postcodes in our area: Berlin."),
        ({"zones": ["999999"]}, "is not a valid choice"),
        ({"zones": ["mitte"]}, "Invalid choice"),
    ],
)
def test_bad_sign_ups_say_what_is_wrong_and_create_nothing(client, auth, berlin, fields, message):
    fields = {"postcodes": "10115", **fields}
    response = sign_up(client, auth, headers={"Accept-Language": "en"}, **fields)
    assert response.status_code == 422
    assert message in response.text
    assert 'aria-invalid="true"' in response.text
    assert berlin.scalar(select(func.count()).select_from(User)) == 0


def test_a_taken_address_gets_the_same_answer_as_a_new_one_and_changes_nothing(
    app, berlin, make_person
):
    """Sign-up never tells whether an address has an account: the same status, the same
    page, the same cookie's contents, and the account (its password too) stays as it was."""
    make_person("Jan@Example.org", name="Jan")
    before = user_named(berlin, "jan@example.org").password_hash

    def answer(email):
        browser = app.test_client()
        browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        response = sign_up(browser, AuthActions(browser), email=email, postcodes="10115")
        page = browser.get(response.headers["Location"])
        # Every page's forms carry this browser's own CSRF token: not part of the answer.
        text = re.sub(r'name="csrf_token" value="[^"]*"', "", page.text)
        with browser.session_transaction() as session:
            kept = sorted(k for k in session if k not in ("csrf_token",))
        return response.status_code, response.headers["Location"], text, kept

    taken = answer("JAN@example.org ")
    new = answer("someone.new@example.org")
    assert taken == new
    assert "There is already an account" not in taken[2]
    assert berlin.scalar(select(func.count()).select_from(User)) == 2
    assert user_named(berlin, "jan@example.org").password_hash == before


def test_a_taken_address_costs_the_same_password_hash_as_a_new_one(
    app, berlin, make_person, monkeypatch
):
    """No timing worth measuring: a taken address hashes the typed password just as an
    account being made does (the one slow step). Counted around the real hash, not timed."""
    import board.accounts
    from app.accounts import users

    make_person("jan@example.org", name="Jan")
    costs = []

    def counted(password, cost, real=users.hash_password):
        costs.append(cost)
        return real(password, cost)

    monkeypatch.setattr(users, "hash_password", counted)
    monkeypatch.setattr(board.accounts, "hash_password", counted)
    for email in ("jan@example.org", "new@example.org"):
        browser = app.test_client()
        sign_up(browser, AuthActions(browser), email=email, postcodes="10115")
    assert costs == [TEST_PASSWORD_HASH_COST, TEST_PASSWORD_HASH_COST]


def test_a_sign_up_shows_every_error_at_once_the_zones_included(client, auth, berlin):
    response = sign_up(
        client,
        auth,
        headers={"Accept-Language": "en"},
        name="",
        email="jan at example.org",
        password_again="something else entirely",
        postcodes="",
    )
    assert response.status_code == 422
    for message in (
        "Please enter your name.",
        "Please enter an e-mail address such as",
        "The two passwords are not the same.",
        "Please choose at least one borough or type a postcode.",
    ):
        assert message in response.text
    unknown = sign_up(client, auth, headers={"Accept-Language": "en"}, name="", postcodes="99999")
    assert "Please enter your name." in unknown.text
    assert "We do not know these postcodes in our area: 99999." in unknown.text
    assert berlin.scalar(select(func.count()).select_from(User)) == 0


def test_sign_up_needs_the_csrf_token(client, berlin):
    response = client.post("/signup", data={"name": "X", "email": "x@example.org"})
    assert response.status_code == 400
    assert "Nothing was changed" in response.text
    assert berlin.scalar(select(func.count()).select_from(User)) == 0


def test_postcodes_are_read_as_people_type_them():
    assert postcodes_in_text("10115, 12043;10115  80-001\n") == ["10115", "12043", "80001"]
    assert postcodes_in_text("1011 Mitte") == ["1011", "Mitte"]
    assert postcodes_in_text("") == []


# --- Signing in ---------------------------------------------------------------------


def test_signing_in_leads_an_approved_volunteer_to_the_board(client, auth, volunteer):
    response = auth.login(volunteer.email, volunteer.password)
    assert response.status_code == 302
    assert response.headers["Location"] == "/requests"
    assert client.get("/requests").status_code == 200


def test_the_e_mail_is_not_case_sensitive(client, auth, volunteer):
    assert auth.login("  ADA@example.ORG", volunteer.password).status_code == 302


def test_an_account_hashed_at_the_production_cost_signs_in_where_hashing_is_cheaper(
    app, database_url, tmp_path, client, auth, berlin
):
    """The one test at the production password_hash_cost: an account made by an app with
    the built-in cost still signs in after the cost is changed (the tests' app is cheaper),
    and a password set afterwards gets the new cost."""
    production = make_test_app(
        database_url, tmp_path / "production", password_hash_cost=DEFAULTS["password_hash_cost"]
    )
    # In a context of its own: the command would run in the test's app context otherwise.
    added = contextvars.Context().run(
        production.test_cli_runner().invoke,
        args=[
            "users",
            "add",
            "--name",
            "Ada",
            "--email",
            "ada@example.org",
            "--password",
            PASSWORD,
        ],
    )
    assert added.exit_code == 0, added.output
    # Werkzeug's default scrypt parameters: N = 2**15, r = 8, p = 1.
    assert user_named(berlin, "ada@example.org").password_hash.startswith("scrypt:32768:8:1$")

    assert auth.login("ada@example.org", PASSWORD).status_code == 302

    newcomer = app.test_client()
    assert sign_up(newcomer, AuthActions(newcomer), postcodes="10115").status_code == 302
    cheap = f"scrypt:{2**TEST_PASSWORD_HASH_COST}:8:1$"
    assert user_named(berlin, "jan@example.org").password_hash.startswith(cheap)


@pytest.mark.parametrize("cost", [TEST_PASSWORD_HASH_COST, TEST_PASSWORD_HASH_COST + 1])
def test_an_unknown_address_costs_the_same_password_check_as_an_account(cost):
    """Signing in with an address that has no account checks the password against a
    stand-in hash, so that the answer takes as long as for an account: it must be made at
    the configured cost, as every password set now is. (Its parameters decide the time; a
    stopwatch in a test on a shared machine could not.)"""
    parameters = hash_password("correct horse battery", cost).split("$")[0]
    assert parameters == f"scrypt:{2**cost}:8:1"
    assert _stand_in_hash(cost).split("$")[0] == parameters


def test_the_first_run_operator_can_sign_in_without_a_dot_in_the_domain(runner, client, auth):
    output = runner.invoke(args=["setup", "--operator-email", "olga@localhost"]).output
    password = output.split("password: ")[1].split()[0]
    response = auth.login("olga@localhost", password)
    assert response.status_code == 302, response.text
    # Operators start on their dashboard, and find it and the test phone in the menu.
    assert response.headers["Location"] == "/operator/"
    menu = client.get("/operator/").text
    assert 'href="/operator/"' in menu and 'href="/phone"' in menu


def test_setup_without_a_terminal_or_an_address_makes_up_one_nobody_can_guess(
    runner, db, monkeypatch
):
    monkeypatch.delenv("HOTLINE_OPERATOR_EMAIL", raising=False)
    first = runner.invoke(args=["setup"])  # the test runner's input is no terminal
    assert first.exit_code == 0, first.output
    email = first.output.split("e-mail:   ")[1].split()[0]
    assert email.startswith("operator-") and email.endswith("@localhost")
    assert email != "operator@localhost"
    assert "made up" in first.output
    # The first operator is the admin: an operator of every helpline.
    operators = db.scalars(select(User).where(User.role == Role.ADMIN)).all()
    assert [u.email for u in operators] == [email]
    # Run again (make run, every time): nothing new, no password shown.
    again = runner.invoke(args=["setup"])
    assert again.exit_code == 0 and "password:" not in again.output


def test_setup_takes_the_operator_address_from_the_environment(runner, db, monkeypatch):
    monkeypatch.setenv("HOTLINE_OPERATOR_EMAIL", "ops@helpline.example")
    result = runner.invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    assert "ops@helpline.example  (HOTLINE_OPERATOR_EMAIL)" in result.output
    assert db.scalar(select(User.email).where(User.role == Role.ADMIN)) == ("ops@helpline.example")


def test_setup_refuses_an_operator_address_that_is_none(runner, db):
    result = runner.invoke(args=["setup", "--operator-email", "olga"])
    assert result.exit_code != 0
    assert "first operator 'olga'" in result.output and "not an e-mail address" in result.output
    assert db.scalar(select(func.count()).select_from(User)) == 0


def test_a_volunteers_menu_has_no_operator_pages(client, auth, volunteer):
    auth.login(volunteer.email, volunteer.password)
    menu = client.get("/requests").text
    assert 'href="/operator/"' not in menu and 'href="/phone"' not in menu


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("ada@example.org", "wrong password!"),
        ("nobody@example.org", PASSWORD),
        ("nobody@example.org", "wrong password!"),
    ],
)
def test_a_refused_sign_in_never_tells_whether_the_account_exists(
    client, auth, volunteer, email, password
):
    response = auth.login(email, password)
    assert response.status_code == 422
    assert REFUSED in response.text
    assert "Sign in" in response.text
    # Only the one message: nothing that differs between existing and unknown e-mails.
    assert "no account" not in response.text.lower()


def test_empty_sign_in_fields_are_form_errors(client, auth, volunteer):
    response = client.post(
        "/login", data={"email": "", "password": "", "csrf_token": auth.csrf_token()}
    )
    assert response.status_code == 422
    assert "Please enter your e-mail address." in response.text
    assert "Please enter your password." in response.text


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("/my-requests", "/my-requests"),
        ("//evil.example/phish", "/requests"),
        ("https://evil.example/", "/requests"),
        ("/\\evil.example", "/requests"),
        ("/\t/evil.example", "/requests"),  # a browser drops the tab: //evil.example
        ("/\n/evil.example", "/requests"),
        ("/requests?zone=mitte", "/requests?zone=mitte"),
    ],
)
def test_after_sign_in_only_local_pages_are_followed(client, volunteer, auth, target, landing):
    token = auth.csrf_token()
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"email": volunteer.email, "password": volunteer.password, "csrf_token": token},
    )
    assert response.headers["Location"] == landing


def test_pages_of_the_board_ask_to_sign_in_first(client, berlin):
    response = client.get("/requests?zone=mitte")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert (
        "Please sign in to see this page."
        in client.get(response.headers["Location"], headers={"Accept-Language": "en"}).text
    )


def test_signing_out_ends_the_session(client, auth, signed_in):
    response = auth.logout()
    assert response.status_code == 302
    assert client.get("/requests").status_code == 302
    assert client.get("/account").status_code == 302


def test_signing_out_needs_the_csrf_token(client, signed_in):
    assert client.post("/logout").status_code == 400
    assert client.get("/requests").status_code == 200


def test_session_cookies_are_secure_http_only_and_same_site(database_url, tmp_path, volunteer):
    app = make_test_app(database_url, tmp_path, public_base_url="https://hotline.example.org")
    try:
        auth = AuthActions(app.test_client())
        response = auth.login(volunteer.email, volunteer.password)
        cookie = response.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        get_db(app).engine.dispose()


# --- Accounts that may not see requests -----------------------------------------------


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (AccountStatus.PENDING, "Waiting for approval"),
        (AccountStatus.REJECTED, "Your account was not approved"),
        (AccountStatus.SUSPENDED, "Your account is suspended"),
    ],
)
def test_accounts_not_approved_see_no_requests_at_all(
    client, auth, berlin, make_person, status, words
):
    request = add_request(berlin, postcode="10115", caller_number="+4930999888")
    person = make_person("new@example.org", status=status)
    response = auth.login(person.email, person.password)
    assert response.headers["Location"] == "/account"
    assert words in client.get("/account").text

    for path in ["/requests", "/requests/list", "/my-requests", f"/requests/{request.reference}"]:
        page = client.get(path)
        assert page.status_code == 403, path
        assert words in page.text
        assert 'class="card"' not in page.text and "Einkäufe" not in page.text
        assert "+4930999888" not in page.text
    claim = auth.post(f"/requests/{request.reference}/claim")
    assert claim.status_code == 403
    berlin.refresh(request)
    assert request.status == "open" and request.claimed_by_id is None


def test_a_suspension_takes_effect_on_the_next_page(client, signed_in, db):
    assert client.get("/requests").status_code == 200
    db.get(User, signed_in.id).status = AccountStatus.SUSPENDED
    db.commit()
    assert client.get("/requests").status_code == 403


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("anna@example.org", True),
        ("hotline@localhost", True),
        ("jörg@müller.de", True),
        ("anna example@example.org", False),
        ("anna@@example.org", False),
        ("anna@example..org", False),
        ('"anna"@example.org', False),
        ("anna@example.org>\r\nBcc: x@y.z", False),
    ],
)
def test_one_rule_says_what_an_email_address_is(text, ok):
    from app.email_addresses import is_email_address

    assert is_email_address(text) is ok
