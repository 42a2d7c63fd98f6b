"""A person's own account: name and phone, zones, password, deleting it; operators' zone edits."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.accounts import approval
from app.audit import Action
from app.models import AccountStatus, AuditEvent, HelpRequest, RequestStatus, User
from tests.conftest import PASSWORD, AuthActions, add_request, csrf_token
from tests.seeding import volunteer as seeded_volunteer

NEW_PASSWORD = "a much longer new secret"


@pytest.fixture(autouse=True)
def english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def fresh(db, user_id: int) -> User:
    db.expire_all()
    return db.get(User, user_id)


def events(db, action: str) -> list[AuditEvent]:
    db.expire_all()
    return db.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


# -- name and phone ----------------------------------------------------------------------------


def test_a_volunteer_changes_their_name_and_phone(client, auth, berlin, signed_in):
    form = client.get("/account/details").text
    assert 'value="Ada"' in form, "the form starts with what is saved"
    response = auth.post("/account/details", {"name": "Ada Lovelace", "phone": "030 1234567"})
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    page = client.get("/account").text
    assert "Your name and phone number are saved." in page
    assert "Ada Lovelace" in page and "030 1234567" in page
    user = fresh(berlin, signed_in.id)
    assert (user.name, user.phone) == ("Ada Lovelace", "030 1234567")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "", "phone": "030 1234567"}, "Please enter your name."),
        ({"name": "Ada", "phone": "call me"}, "Please enter a phone number such as 0151 2345678."),
        ({"name": "A" * 121, "phone": "030 1234567"}, "Field cannot be longer than 120 characters"),
    ],
)
def test_bad_details_get_a_form_error_and_change_nothing(auth, berlin, signed_in, fields, message):
    response = auth.post("/account/details", fields)
    assert response.status_code == 422
    assert message in response.text
    user = fresh(berlin, signed_in.id)
    assert (user.name, user.phone) == ("Ada", "")


# -- zones ---------------------------------------------------------------------------------------


def zone_slugs(db, user_id: int) -> list[str]:
    return sorted(zone.slug for zone in fresh(db, user_id).zones)


def test_a_volunteer_changes_their_zones_by_postcode_as_at_sign_up(client, auth, berlin, signed_in):
    form = client.get("/account/zones").text
    assert form.count("checked") == 2, "Mitte and Neukölln are ticked to start with"
    response = auth.post("/account/zones", {"postcodes": "13187, 10-115"})
    assert response.status_code == 302
    page = client.get("/account").text
    assert "Postcode 13187 belongs to Pankow." in page
    assert "Your zones are saved." in page
    assert zone_slugs(berlin, signed_in.id) == ["mitte", "pankow"]
    (event,) = events(berlin, Action.ZONES_CHANGED)
    assert (event.user_id, event.subject_user_id) == (signed_in.id, signed_in.id)
    assert event.detail == "Mitte, Pankow"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"postcodes": "99999"}, "We do not know these postcodes in our area: 99999."),
        ({"postcodes": "10115 abc"}, "We do not know these postcodes in our area: abc."),
        ({}, "Please choose at least one borough or type a postcode."),
    ],
)
def test_unknown_postcodes_or_no_zone_get_a_form_error_and_change_nothing(
    auth, berlin, signed_in, fields, message
):
    response = auth.post("/account/zones", fields)
    assert response.status_code == 422
    assert message in response.text
    assert zone_slugs(berlin, signed_in.id) == ["mitte", "neukoelln"]
    assert events(berlin, Action.ZONES_CHANGED) == []


def test_a_claim_stays_with_its_volunteer_after_they_leave_its_zone(
    client, auth, berlin, signed_in
):
    request = add_request(berlin, postcode="12043")  # Neukölln
    assert auth.post(f"/requests/{request.reference}/claim").status_code == 302
    assert auth.post("/account/zones", {"postcodes": "10115"}).status_code == 302
    page = client.get(f"/requests/{request.reference}")
    assert page.status_code == 200 and "+4930111222" in page.text


# -- password ------------------------------------------------------------------------------------


def test_a_new_password_needs_the_current_one_and_then_signs_in(client, auth, berlin, signed_in):
    response = auth.post(
        "/account/password",
        {"current": PASSWORD, "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert "Your new password is saved." in client.get("/account").text
    assert [e.user_id for e in events(berlin, Action.PASSWORD_CHANGED)] == [signed_in.id]
    auth.logout()
    assert auth.login(signed_in.email, PASSWORD).status_code == 422
    assert auth.login(signed_in.email, NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"current": "wrong password", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
            "This is not your current password.",
        ),
        (
            {"current": PASSWORD, "password": "short", "password_again": "short"},
            "The password needs at least 10 characters.",
        ),
        (
            {"current": PASSWORD, "password": NEW_PASSWORD, "password_again": NEW_PASSWORD + "x"},
            "The two passwords are not the same.",
        ),
        (
            {"current": "", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
            "Please enter your current password.",
        ),
    ],
)
def test_a_refused_password_change_keeps_the_old_password(
    client, auth, berlin, signed_in, fields, message
):
    before = fresh(berlin, signed_in.id).password_hash
    response = auth.post("/account/password", fields)
    assert response.status_code == 422
    assert message in response.text
    assert fresh(berlin, signed_in.id).password_hash == before
    assert events(berlin, Action.PASSWORD_CHANGED) == []


# -- deleting the account ------------------------------------------------------------------------


@pytest.fixture
def vetted(berlin, operator):
    """A volunteer who signed up with a phone number, approved by an operator with a note."""
    user = seeded_volunteer(berlin, "zoe@example.org", zones=["mitte"], name="Zoe Zimmermann")
    user.phone = "0151 2345678"
    approval.decide(
        berlin, user.id, approval.Decision.APPROVE, operator=operator, note="knows Zoe Zimmermann"
    )
    berlin.commit()
    return user


def test_deleting_an_account_erases_it_returns_its_claims_and_signs_out(
    app, client, auth, berlin, vetted, make_person
):
    claimed = add_request(berlin, postcode="10115")
    auth.login("zoe@example.org", PASSWORD)
    assert auth.post(f"/requests/{claimed.reference}/claim").status_code == 302
    # The same volunteer, signed in on a second device as well.
    other_device = app.test_client()
    AuthActions(other_device).login("zoe@example.org", PASSWORD)

    response = auth.post("/account/delete", {"password": PASSWORD})

    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/").text
    assert "Your account and your personal data are deleted." in page
    assert "The request you had taken is back on the board" in page
    assert client.get("/account").status_code == 302, "signed out"
    assert other_device.get("/account").status_code == 302, "signed out everywhere"

    berlin.expire_all()
    request = berlin.get(HelpRequest, claimed.id)
    assert (request.status, request.claimed_by_id) == (RequestStatus.OPEN, None)
    anna = make_person("anna@example.org", zones=["mitte"], name="Anna")
    AuthActions(other_device).login(anna.email, anna.password)
    assert AuthActions(other_device).post(f"/requests/{claimed.reference}/claim").status_code == 302

    user = fresh(berlin, vetted.id)
    assert user.status == AccountStatus.DELETED
    assert (user.name, user.phone, user.password_hash, user.zones) == ("", "", "", [])
    assert "zoe" not in user.email and "@" not in user.email
    for event in berlin.scalars(select(AuditEvent)):
        for personal in ("zoe", "Zoe", "Zimmermann", "2345678"):
            assert personal not in event.detail, (event.action, event.detail)
    actions = [
        e.action
        for e in berlin.scalars(select(AuditEvent).where(AuditEvent.subject_user_id == vetted.id))
    ]
    assert actions == [Action.APPROVED, Action.ACCOUNT_DELETED]


def test_a_deleted_volunteer_cannot_sign_in_and_may_sign_up_again(client, auth, berlin, vetted):
    auth.login("zoe@example.org", PASSWORD)
    auth.post("/account/delete", {"password": PASSWORD})
    assert auth.login("zoe@example.org", PASSWORD).status_code == 422
    assert auth.login(f"deleted-{vetted.id}", "").status_code == 422
    response = client.post(
        "/signup",
        data={
            "name": "Zoe",
            "email": "zoe@example.org",
            "phone": "0151 2345678",
            "password": PASSWORD,
            "password_again": PASSWORD,
            "postcodes": "10115",
            "csrf_token": csrf_token(client, "/signup"),
        },
    )
    assert response.status_code == 302
    assert fresh(berlin, vetted.id).status == AccountStatus.DELETED, "a new account, not the old"


def test_the_audit_log_names_a_deleted_volunteer_without_their_name(
    client, auth, berlin, vetted, operator, login
):
    claimed = add_request(berlin, postcode="10115")
    auth.login("zoe@example.org", PASSWORD)
    auth.post(f"/requests/{claimed.reference}/claim")
    auth.post("/account/delete", {"password": PASSWORD})
    page = login(operator).get("/operator/audit").text
    assert "a deleted volunteer" in page
    assert "Zoe" not in page and "zoe@" not in page
    assert "account deleted" in page, "the returned claim says why it came back"


def test_deleting_needs_the_password(client, auth, berlin, vetted):
    claimed = add_request(berlin, postcode="10115")
    auth.login("zoe@example.org", PASSWORD)
    auth.post(f"/requests/{claimed.reference}/claim")
    response = auth.post("/account/delete", {"password": "not my password"})
    assert response.status_code == 422
    assert "This is not your password." in response.text
    user = fresh(berlin, vetted.id)
    assert (user.status, user.name) == (AccountStatus.APPROVED, "Zoe Zimmermann")
    assert berlin.get(HelpRequest, claimed.id).status == RequestStatus.CLAIMED
    assert client.get("/account").status_code == 200, "still signed in"


def test_an_operator_has_no_zones_or_delete_page(login, operator):
    client = login(operator)
    assert client.get("/account/zones").status_code == 404
    assert client.get("/account/delete").status_code == 404
    page = client.get("/account").text
    assert "/account/password" in page and "/account/delete" not in page


def test_the_account_pages_need_a_sign_in(client):
    for path in ("/account/details", "/account/zones", "/account/password", "/account/delete"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


def test_the_account_pages_speak_german_and_polish(client, signed_in):
    german = client.get("/account/delete", headers={"Accept-Language": "de"}).text
    assert "Konto löschen" in german
    polish = client.get("/account/password", headers={"Accept-Language": "pl"}).text
    assert "Obecne hasło" in polish


# -- operators: a volunteer's zones, and who decided -------------------------------------------


def test_an_operator_changes_a_volunteers_zones_and_it_is_audited(berlin, login, operator, vetted):
    client = login(operator)
    listing = client.get("/operator/volunteers?status=approved").text
    assert f"/operator/volunteers/{vetted.id}/zones" in listing
    form = client.get(f"/operator/volunteers/{vetted.id}/zones")
    assert form.status_code == 200 and "Zones of Zoe Zimmermann" in form.text
    response = client.post(
        f"/operator/volunteers/{vetted.id}/zones",
        data={"postcodes": "12043", "csrf_token": csrf_token(client, "/operator/volunteers")},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/operator/volunteers?status=approved"
    assert zone_slugs(berlin, vetted.id) == ["neukoelln"]
    (event,) = events(berlin, Action.ZONES_CHANGED)
    assert (event.user_id, event.subject_user_id, event.detail) == (
        operator.id,
        vetted.id,
        "Neukölln",
    )
    log = client.get("/operator/audit?action=zones_changed").text
    assert "changed the zones" in log and "Olga Operator" in log and "Neukölln" in log


def test_a_volunteer_cannot_change_anothers_zones(berlin, login, vetted, make_person):
    anna = make_person("anna@example.org", zones=["mitte"], name="Anna")
    client = login(berlin.get(User, anna.id))
    response = client.post(
        f"/operator/volunteers/{vetted.id}/zones",
        data={"postcodes": "12043", "csrf_token": csrf_token(client, "/account")},
    )
    assert response.status_code == 403
    assert zone_slugs(berlin, vetted.id) == ["mitte"]


def test_an_operators_zone_form_refuses_unknown_postcodes(berlin, login, operator, vetted):
    client = login(operator)
    response = client.post(
        f"/operator/volunteers/{vetted.id}/zones",
        data={"postcodes": "99999", "csrf_token": csrf_token(client, "/operator/volunteers")},
    )
    assert response.status_code == 422
    assert "We do not know these postcodes in our area: 99999." in response.text
    assert zone_slugs(berlin, vetted.id) == ["mitte"]


def test_no_zone_page_for_an_operator_or_a_deleted_account(login, operator, berlin):
    client = login(operator)
    assert client.get(f"/operator/volunteers/{operator.id}/zones").status_code == 404
    assert client.get("/operator/volunteers/999999/zones").status_code == 404


def test_the_volunteers_list_shows_who_decided_and_when(client, login, operator, berlin):
    piotr = seeded_volunteer(berlin, "piotr@example.org", zones=["mitte"], name="Piotr")
    berlin.commit()
    client = login(operator)
    client.post(
        f"/operator/volunteers/{piotr.id}",
        data={"decision": "approve", "csrf_token": csrf_token(client, "/operator/volunteers")},
    )
    row = client.get("/operator/volunteers?status=approved").text.split("Piotr</th>")[1]
    row = row.split("</tr>")[0]
    assert "Approved by Olga Operator" in " ".join(row.split())
    assert "<time datetime=" in row.split("Olga Operator")[1]

    approval.decide(berlin, piotr.id, approval.Decision.SUSPEND, operator=None)
    berlin.commit()
    row = client.get("/operator/volunteers?status=suspended").text.split("Piotr</th>")[1]
    assert "Suspended from the command line" in " ".join(row.split("</tr>")[0].split())
