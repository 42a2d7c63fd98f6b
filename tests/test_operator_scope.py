"""An operator runs one or more helplines and sees theirs only; an admin sees all.

Berlin's line and the Tri-City's side by side, each with a caller whose request
needs attention, a voice message for the operators, volunteers and audit
events. Berlin's operator walks every operator page and export: the Tri-City
caller's number is on none of them, in any formatting, while Berlin's is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from sqlalchemy import create_engine, select, text, update

from app import migrations_runner
from app.accounts.users import create_user
from app.calls.export import local_today
from app.database import utcnow
from app.models import (
    AccountStatus,
    AuditEvent,
    Call,
    HelplineRow,
    HelpRequest,
    RequestStatus,
    Role,
    User,
    Zone,
)
from app.phone_numbers import masked_number
from app.requests.claims import claim_request
from tests.conftest import TEST_PASSWORD_HASH_COST, csrf_token, signed_in_keys
from tests.seeding import call, help_request, volunteer
from tests.test_helplines import BERLIN_NUMBER, TRICITY_NUMBER, dial, run, two_helplines

TRICITY_CALLER = "+48501234597"
BERLIN_CALLER = "+4930901820"
EN = {"Accept-Language": "en"}


def spellings(number: str) -> list[str]:
    """The ways a page or a file may write a number: E.164 (and its digits), spaced in the
    international and national formats, and masked to its country and last two digits."""
    parsed = phonenumbers.parse(number)
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    spaced = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    national_digits = re.sub(r"[^0-9]", "", national).lstrip("0")
    return [number, number[1:], spaced, national, national_digits, masked_number(number)]


def absent(number: str, page: str) -> list[str]:
    """The spellings of `number` found on `page` (none, when it is absent)."""
    return [spelling for spelling in spellings(number) if spelling in page]


@dataclass
class World:
    app: object
    berlin_request: HelpRequest
    tricity_request: HelpRequest
    tricity_claimed: HelpRequest
    berlin_message: Call
    tricity_message: Call
    kasia: User  # Tri-City, pending
    piotr: User  # Tri-City, approved, holds a claim
    anna: User  # Berlin, approved
    bernd: User  # Berlin, pending
    ola: User  # both lines
    berlin_operator: User
    both_operator: User
    admin: User


def _account(db, email: str, role: str, **extra) -> User:
    return create_user(
        db,
        name=email.split("@")[0].title(),
        email=email,
        password="night shift lantern",
        hash_cost=TEST_PASSWORD_HASH_COST,
        role=role,
        approved=True,
        **extra,
    )


def _request_by_phone(app, number: str, caller: str, keys: list[str]) -> None:
    call_ = dial(app, number).call(caller)
    call_.ring()
    for key in keys:
        call_.press(key)


@pytest.fixture
def world(another_app, berlin) -> World:
    db = berlin
    app = another_app(helpline=two_helplines())
    imported = run(app, "zones", "import")
    assert imported.exit_code == 0, imported.output
    # One request through each line's phone menu; both then need an operator.
    _request_by_phone(app, TRICITY_NUMBER, TRICITY_CALLER, ["1", "80001", "1", "2", "#"])
    _request_by_phone(app, BERLIN_NUMBER, BERLIN_CALLER, ["1", "10115", "1", "1", "#"])
    db.expire_all()
    db.execute(update(HelpRequest).values(unreachable_count=3))
    db.commit()
    tricity_request = db.scalar(select(HelpRequest).where(HelpRequest.postcode == "80001"))
    berlin_request = db.scalar(select(HelpRequest).where(HelpRequest.postcode == "10115"))
    assert tricity_request.caller_number == TRICITY_CALLER
    assert berlin_request.caller_number == BERLIN_CALLER

    hour_ago = utcnow() - timedelta(hours=1)
    recording = "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE"
    tricity_message = call(
        db,
        hour_ago,
        number=TRICITY_CALLER,
        zone_slug="gdansk",
        to_number=TRICITY_NUMBER,
        operator_message_url=recording + "1",
        outcome="operator_message",
    )
    berlin_message = call(
        db,
        hour_ago,
        number=BERLIN_CALLER,
        zone_slug="mitte",
        to_number=BERLIN_NUMBER,
        operator_message_url=recording + "2",
        outcome="operator_message",
    )
    kasia = volunteer(db, "kasia@example.org", zones=["gdansk"])
    piotr = volunteer(db, "piotr@example.org", zones=["gdansk", "sopot"], approved=True)
    anna = volunteer(db, "anna@example.org", zones=["mitte"], approved=True)
    bernd = volunteer(db, "bernd@example.org", zones=["neukoelln"])
    ola = volunteer(db, "ola@example.org", zones=["mitte", "gdynia"], approved=True)
    tricity_claimed = help_request(
        db, created_at=utcnow(), zone_slug="gdansk", number=TRICITY_CALLER
    )
    assert claim_request(db, tricity_claimed.reference, piotr, max_open_claims=3) == "claimed"
    db.commit()

    world = World(
        app=app,
        berlin_request=berlin_request,
        tricity_request=tricity_request,
        tricity_claimed=tricity_claimed,
        berlin_message=berlin_message,
        tricity_message=tricity_message,
        kasia=kasia,
        piotr=piotr,
        anna=anna,
        bernd=bernd,
        ola=ola,
        berlin_operator=_account(db, "berta@example.org", Role.OPERATOR, helplines=["berlin"]),
        both_operator=_account(
            db, "bozena@example.org", Role.OPERATOR, helplines=["berlin", "trojmiasto"]
        ),
        admin=_account(db, "ada.admin@example.org", Role.ADMIN),
    )
    db.commit()
    return world


def signed_in(world: World, user: User):
    client = world.app.test_client()
    with client.session_transaction() as session:
        session.update(signed_in_keys(user.id, user.session_version))
    return client


def post(client, path: str, data: dict | None = None):
    return client.post(
        path, data={"csrf_token": csrf_token(client, "/account"), **(data or {})}, headers=EN
    )


def every_page(world: World, user: User) -> dict[str, str]:
    """Every operator page and export as `user` sees it, the numbers asked for included."""
    client = signed_in(world, user)
    pages = {}
    for path in (
        "/operator/",
        "/operator/attention",
        "/operator/volunteers",
        "/operator/volunteers?status=approved",
        "/operator/audit",
        "/operator/posters",
        "/requests",
        f"/requests/{world.berlin_request.reference}",
        f"/requests/{world.tricity_request.reference}",
        f"/requests/{world.tricity_claimed.reference}",
    ):
        pages[path] = client.get(path, headers=EN).text
    shown = {
        "requests": (world.berlin_request.id, world.tricity_request.id),
        "messages": (world.berlin_message.id, world.tricity_message.id),
    }
    for kind, ids in shown.items():
        for item_id in ids:
            path = f"/operator/attention/{kind}/{item_id}/number"
            answer = post(client, path)
            pages[path] = answer.text
            if answer.status_code == 302:  # not on their page: told so on the next one
                pages[path + " (after)"] = client.get(answer.location, headers=EN).text
    today = local_today(ZoneInfo("Europe/Berlin")).isoformat()
    for with_numbers in ("y", ""):
        answer = post(client, "/operator/export", {"first": today, "with_numbers": with_numbers})
        pages[f"export {with_numbers or 'masked'}"] = answer.get_data(as_text=True)
    return pages


def test_berlins_operator_never_sees_the_tricity_callers_number(world):
    pages = every_page(world, world.berlin_operator)
    for path, page in pages.items():
        assert absent(TRICITY_CALLER, page) == [], path
        # (A page for a reference names it in its own address, in the language form.)
        page = page.replace(f"/requests/{world.tricity_request.reference}", "")
        page = page.replace(f"/requests/{world.tricity_claimed.reference}", "")
        assert world.tricity_request.reference not in page, path
        assert world.tricity_claimed.reference not in page, path
        assert "kasia@example.org" not in page and "piotr@example.org" not in page, path
    # Berlin's caller is there: masked on the list, in full when asked for, and in the export.
    assert masked_number(BERLIN_CALLER) in pages["/operator/attention"]
    asked = pages[f"/operator/attention/requests/{world.berlin_request.id}/number"]
    assert BERLIN_CALLER in asked
    assert BERLIN_CALLER in pages["export y"]
    assert masked_number(BERLIN_CALLER) in pages["export masked"]
    assert world.berlin_request.reference in pages["/operator/attention"]
    assert "bernd@example.org" in pages["/operator/volunteers"]
    assert "anna@example.org" in pages["/operator/volunteers?status=approved"]
    # Ola serves zones of both lines: hers to see, with Berlin's zone.
    assert "ola@example.org" in pages["/operator/volunteers?status=approved"]
    assert "Gdańsk" not in pages["/operator/"] and "Mitte" in pages["/operator/"]
    assert "· Nachbarschaftshilfe Berlin" not in pages["/operator/"]  # one line: no need
    assert "Gdańsk" not in pages["/requests"] and "Gdańsk" not in pages["/operator/posters"]


def same_page(one: str, other: str) -> bool:
    """The same page but for the CSRF tokens (signed with the time: a second apart, unequal)."""
    token = re.compile(r'(name="csrf_token" value=")[^"]*"')
    return token.sub(r"\1", one) == token.sub(r"\1", other)


def test_another_helplines_request_is_not_found_for_berlins_operator(world):
    client = signed_in(world, world.berlin_operator)
    unknown = client.get("/requests/ZZZ-ZZZ", headers=EN)
    for reference in (world.tricity_request.reference, world.tricity_claimed.reference):
        answer = client.get(f"/requests/{reference}", headers=EN)
        assert answer.status_code == unknown.status_code == 404
        assert same_page(answer.text.replace(reference, "ZZZ-ZZZ"), unknown.text)
        assert post(client, f"/requests/{reference}/claim").status_code == 404
    assert client.get(f"/requests/{world.berlin_request.reference}").status_code == 200
    gone = post(client, f"/operator/attention/requests/{world.tricity_request.id}/number")
    nothing = post(client, "/operator/attention/requests/999999/number")
    assert (gone.status_code, gone.location) == (nothing.status_code, nothing.location)


def test_berlins_operator_cannot_act_on_the_tricity_line(world, db):
    client = signed_in(world, world.berlin_operator)
    post(client, f"/operator/attention/requests/{world.tricity_request.id}/close")
    post(client, f"/operator/attention/requests/{world.tricity_request.id}/return")
    post(client, f"/operator/attention/messages/{world.tricity_message.id}/handled")
    post(client, f"/operator/volunteers/{world.kasia.id}", {"decision": "approve"})
    zones = client.get(f"/operator/volunteers/{world.kasia.id}/zones", headers=EN)
    assert zones.status_code == 404
    audit = client.get(
        "/operator/audit", query_string={"reference": world.tricity_claimed.reference}, headers=EN
    )
    assert "No request has the reference" in audit.text

    db.expire_all()
    request = db.get(HelpRequest, world.tricity_request.id)
    assert (request.status, request.unreachable_count) == (RequestStatus.OPEN, 3)
    assert db.get(Call, world.tricity_message.id).operator_message_handled_at is None
    assert db.get(User, world.kasia.id).status == AccountStatus.PENDING
    assert (
        db.scalars(select(AuditEvent).where(AuditEvent.user_id == world.berlin_operator.id)).all()
        == []
    )

    # Their own line's, the same buttons work.
    post(client, f"/operator/attention/requests/{world.berlin_request.id}/close")
    post(client, f"/operator/volunteers/{world.bernd.id}", {"decision": "approve"})
    db.expire_all()
    assert db.get(HelpRequest, world.berlin_request.id).status == RequestStatus.CANCELLED
    assert db.get(User, world.bernd.id).status == AccountStatus.APPROVED


@pytest.mark.parametrize("who", ["admin", "both_operator"])
def test_the_admin_and_an_operator_of_both_lines_see_both(world, who):
    pages = every_page(world, getattr(world, who))
    attention = pages["/operator/attention"]
    assert masked_number(TRICITY_CALLER) in attention and masked_number(BERLIN_CALLER) in attention
    asked = pages[f"/operator/attention/requests/{world.tricity_request.id}/number"]
    assert TRICITY_CALLER in asked
    assert world.tricity_request.reference in attention
    assert "kasia@example.org" in pages["/operator/volunteers"]
    assert "Gdańsk" in pages["/operator/"] and "Mitte" in pages["/operator/"]
    # Zones of two lines on one dashboard: each named with its line.
    assert 'Gdańsk <span class="small">· Pomoc sąsiedzka Trójmiasto</span>' in pages["/operator/"]
    assert world.tricity_claimed.reference in pages["/operator/audit"]
    client = signed_in(world, getattr(world, who))
    assert client.get(f"/requests/{world.tricity_request.reference}").status_code == 200


def test_the_web_export_offers_and_returns_only_the_operators_helplines(world, db):
    ids = dict(db.execute(select(HelplineRow.slug, HelplineRow.id)).all())
    today = local_today(ZoneInfo("Europe/Berlin")).isoformat()

    def export(user: User, helpline: int | None):
        client = signed_in(world, user)
        data = {"first": today, "with_numbers": "y"}
        if helpline is not None:
            data["helpline"] = str(helpline)
        return post(client, "/operator/export", data)

    berta = signed_in(world, world.berlin_operator).get("/operator/export", headers=EN).text
    assert 'name="helpline"' not in berta  # one line: nothing to choose
    both = signed_in(world, world.both_operator).get("/operator/export", headers=EN).text
    assert 'name="helpline"' in both and "Every helpline" not in both
    assert "Pomoc sąsiedzka Trójmiasto" in both
    admin = signed_in(world, world.admin).get("/operator/export", headers=EN).text
    assert "Every helpline" in admin

    tricity = export(world.both_operator, ids["trojmiasto"]).get_data(as_text=True)
    assert TRICITY_CALLER in tricity and BERLIN_CALLER not in tricity
    # Berlin's operator asking for the Tri-City's calls gets Berlin's, theirs only.
    berlins = export(world.berlin_operator, ids["trojmiasto"]).get_data(as_text=True)
    assert BERLIN_CALLER in berlins and TRICITY_CALLER not in berlins
    # Every call is the admin's to ask for; an operator of both lines chooses one.
    assert export(world.both_operator, 0).status_code == 400
    every = export(world.admin, 0).get_data(as_text=True)
    assert TRICITY_CALLER in every and BERLIN_CALLER in every
    [event] = db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "exported", AuditEvent.user_id == world.both_operator.id
        )
    )
    assert "of helpline trojmiasto" in event.detail


def test_berlins_operator_changes_a_volunteers_berlin_zones_only(world, db):
    client = signed_in(world, world.berlin_operator)
    page = client.get(f"/operator/volunteers/{world.ola.id}/zones", headers=EN).text
    assert "Gdynia" not in page and "Mitte" in page
    neukoelln = db.scalar(select(Zone).where(Zone.slug == "neukoelln"))
    post(client, f"/operator/volunteers/{world.ola.id}/zones", {"zones": str(neukoelln.id)})
    db.expire_all()
    assert sorted(z.slug for z in db.get(User, world.ola.id).zones) == ["gdynia", "neukoelln"]


# -- the commands ------------------------------------------------------------------------


def test_an_operator_is_made_for_chosen_helplines(world, db):
    made = run(
        world.app,
        "users",
        "add",
        "--name",
        "Tomek",
        "--email",
        "tomek@example.org",
        "--role",
        "operator",
        "--password",
        "night shift lantern",
    )
    assert made.exit_code != 0
    assert "name the helplines the operator runs (known: berlin, trojmiasto)" in made.output
    wrong = run(
        world.app,
        "users",
        "add",
        "--name",
        "Tomek",
        "--email",
        "tomek@example.org",
        "--role",
        "operator",
        "--helpline",
        "krakow",
    )
    assert wrong.exit_code != 0 and "no helpline 'krakow'" in wrong.output
    made = run(
        world.app,
        "users",
        "add",
        "--name",
        "Tomek",
        "--email",
        "tomek@example.org",
        "--role",
        "operator",
        "--helpline",
        "trojmiasto",
    )
    assert made.exit_code == 0, made.output
    changed = run(world.app, "users", "helplines", "tomek@example.org", "berlin", "trojmiasto")
    assert changed.exit_code == 0, changed.output
    assert "tomek@example.org runs berlin, trojmiasto." in changed.output
    listed = run(world.app, "users", "list", "--role", "operator").output
    assert "tomek@example.org" in listed and "[berlin, trojmiasto]" in listed
    admin = run(
        world.app,
        "users",
        "add",
        "--name",
        "Zofia",
        "--email",
        "zofia@example.org",
        "--role",
        "admin",
    )
    assert admin.exit_code == 0, admin.output
    refused = run(world.app, "users", "helplines", "zofia@example.org", "berlin")
    assert refused.exit_code != 0 and "runs every helpline" in refused.output
    volunteer_ = run(world.app, "users", "helplines", "anna@example.org", "berlin")
    assert volunteer_.exit_code != 0 and "is not an operator" in volunteer_.output


# -- one helpline, as before -------------------------------------------------------------


def test_on_a_single_line_an_operator_runs_it_without_naming_it(berlin, runner):
    made = run_single(
        runner, "users", "add", "--name", "Uwe", "--email", "uwe@example.org", "--role", "operator"
    )
    assert made.exit_code == 0, made.output
    berlin.expire_all()
    uwe = berlin.scalar(select(User).where(User.email == "uwe@example.org"))
    assert [h.slug for h in uwe.helplines] == ["default"]


def run_single(runner, *args: str):
    return runner.invoke(args=list(args))


# -- the upgrade -------------------------------------------------------------------------


def test_the_upgrade_makes_every_operator_run_every_helpline_and_the_first_the_admin(
    database_url,
):
    migrations_runner.downgrade(database_url, "0018")
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM users"))
            connection.execute(
                text("INSERT INTO helplines (slug, name, phone_number) VALUES ('second', '', '')")
            )
            for i, (email, role) in enumerate(
                [("later@x.org", "operator"), ("first@x.org", "operator"), ("v@x.org", "volunteer")]
            ):
                connection.execute(
                    text(
                        "INSERT INTO users (name, email, phone, password_hash, role, status, "
                        "language, created_at, alert_channel, session_version) VALUES "
                        "(:n, :e, '', 'x', :r, 'approved', '', :at, 'email', 0)"
                    ),
                    {"n": email, "e": email, "r": role, "at": f"2026-0{3 - i}-01 09:00:00+00"},
                )
        migrations_runner.upgrade(database_url)
        with engine.connect() as connection:
            roles = dict(connection.execute(text("SELECT email, role FROM users")).all())
            assert roles == {
                "first@x.org": "admin",
                "later@x.org": "operator",
                "v@x.org": "volunteer",
            }
            runs = connection.execute(
                text(
                    "SELECT users.email, helplines.slug FROM operator_helplines "
                    "JOIN users ON users.id = operator_helplines.user_id "
                    "JOIN helplines ON helplines.id = operator_helplines.helpline_id "
                    "ORDER BY users.email, helplines.slug"
                )
            ).all()
            assert [tuple(r) for r in runs] == [
                ("first@x.org", "default"),
                ("first@x.org", "second"),
                ("later@x.org", "default"),
                ("later@x.org", "second"),
            ]
    finally:
        engine.dispose()
        migrations_runner.upgrade(database_url)


def test_each_operator_hears_of_the_sign_ups_of_their_helplines(world, db):
    from datetime import UTC, datetime

    from app.accounts.account_mail import mail_operators_about_sign_ups
    from app.models import Job

    db.execute(text("DELETE FROM jobs"))
    db.commit()
    noon = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)  # outside any quiet hours
    with world.app.app_context():
        assert mail_operators_about_sign_ups(db, world.app, noon) == 3
    db.commit()
    told = {
        job.payload["to"]: job.payload["subject"]
        for job in db.scalars(select(Job).where(Job.kind == "mail.send"))
    }
    # Berlin's operator: Bernd's sign-up only; the others: Kasia's too.
    assert sorted(told) == ["ada.admin@example.org", "berta@example.org", "bozena@example.org"]
    assert told["berta@example.org"].startswith("1 ")
    assert told["bozena@example.org"].startswith("2 ") and told["ada.admin@example.org"].startswith(
        "2 "
    )
