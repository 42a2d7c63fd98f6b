"""Hostile use of the web board: forms posted without their token, volunteers reaching
for what is not theirs, injection strings in every filter and field, oversized posts,
and where a caller's number may appear.

Routes are enumerated from app.url_map, so a new page or form is covered the day it
is added (a URL argument this file does not know how to fill fails loudly rather than
being skipped). The phone line's routes are left out: they are checked by Twilio's
signature instead of a token, in tests/test_hostile_voice.py.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.database import Base, utcnow
from app.messaging.alerts import unsubscribe_link
from app.models import AccountStatus, AuditEvent, Call, HelpRequest, Role, User
from app.requests.claims import claim_request
from tests.conftest import PASSWORD, AuthActions, Person, add_request

EN = {"Accept-Language": "en"}
# Distinctive numbers, so that any way of printing them is found (see shows_number).
CLAIMED_NUMBER = "+4930555501234"
OPEN_NUMBER = "+4930555506789"
PANKOW_NUMBER = "+4930555504321"


def shows_number(page: str, number: str) -> bool:
    """Whether `page` shows `number` in any usual way: +49 30 5555 01234, 030/555501234..."""
    national = number.removeprefix("+49")
    digits = r"[\s\-/().]?".join(national)
    return re.search(digits, page) is not None


def snapshot(db) -> dict[str, list[tuple]]:
    """Every row of every table, to prove that a refused request changed nothing."""
    db.expire_all()
    return {
        table.name: sorted(map(tuple, db.execute(select(table)).all()), key=repr)
        for table in Base.metadata.sorted_tables
    }


def board_rules(app, method: str):
    """The web's routes for `method`: everything but the phone line and static files
    (/favicon.ico is one of those)."""
    return [
        rule
        for rule in app.url_map.iter_rules()
        if method in rule.methods
        and not rule.endpoint.startswith(("voice.", "sms."))  # signed by Twilio instead
        and not rule.endpoint.endswith("static")
        and rule.endpoint != "board.favicon"
    ]


def url(app, rule, **known) -> str:
    """The rule's URL with its arguments from `known`; a new kind of argument fails."""
    unknown = rule.arguments - set(known)
    if unknown:
        pytest.fail(f"{rule.rule}: this test does not know how to fill {sorted(unknown)}")
    adapter = app.url_map.bind("hotline.test")
    return adapter.build(rule.endpoint, {k: known[k] for k in rule.arguments})


@dataclass
class Scene:
    """Five people, three requests, a call with a message for the operators, and a
    signed-in browser for each person."""

    app: object
    db: object
    claimed: HelpRequest  # Mitte, claimed by Ada
    open: HelpRequest  # Mitte, open
    pankow: HelpRequest  # Pankow, open
    people: dict[str, Person]
    browsers: dict[str, AuthActions]
    call: Call

    def browser(self, who: str) -> AuthActions:
        return self.browsers[who]

    def url(self, rule, **given) -> str:
        """The rule's URL, its arguments filled from what this scene has."""
        known = {
            "reference": self.claimed.reference,
            "request_id": self.claimed.id,
            "user_id": self.people["dan"].id,  # waiting for approval
            "call_id": self.call.id,
            "action": "close",
            "kind": "requests",
            "item_id": self.claimed.id,
            "job_id": 1,
            "token": unsubscribe_link(self.app.config["HOTLINE"], self.people["ada"].id).rsplit(
                "/", 1
            )[1],
            "slug": "mitte",
            "language": "de",
            "size": "a4",
            **given,
        }
        return url(self.app, rule, **known)


@pytest.fixture
def scene(app, berlin, make_person) -> Scene:
    people = {
        "ada": make_person("ada@example.org", zones=["mitte"], name="Ada"),
        "bea": make_person("bea@example.org", zones=["mitte"], name="Bea"),
        "cem": make_person("cem@example.org", zones=["pankow"], name="Cem"),
        "dan": make_person("dan@example.org", zones=["mitte"], status=AccountStatus.PENDING),
        "eve": make_person("eve@example.org", zones=[], role=Role.OPERATOR, name="Eve"),
    }
    claimed = add_request(berlin, postcode="10115", caller_number=CLAIMED_NUMBER)
    claim_request(berlin, claimed.reference, berlin.get(User, people["ada"].id), max_open_claims=3)
    berlin.commit()
    opened = add_request(berlin, postcode="10117", caller_number=OPEN_NUMBER)
    pankow = add_request(berlin, postcode="13187", caller_number=PANKOW_NUMBER)
    call = Call(
        call_sid="CA" + "5" * 32,
        from_number=CLAIMED_NUMBER,
        operator_message_url="https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE5",
        operator_message_seconds=20,
    )
    berlin.add(call)
    berlin.commit()
    browsers = {"anonymous": english(AuthActions(app.test_client()))}
    for who, person in people.items():
        browsers[who] = english(AuthActions(app.test_client()))
        browsers[who].login_without_password(person.id)  # signing in itself: test_accounts
    return Scene(app, berlin, claimed, opened, pankow, people, browsers, call)


def english(auth: AuthActions) -> AuthActions:
    auth.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return auth


# Plausible form data for every form of the board, so that only the token is missing.
FORM_DATA = {
    "board.choose_language": {"language": "pl", "next": "/"},
    "board.login": {"email": "ada@example.org", "password": PASSWORD},
    "board.logout": {},
    "board.signup": {
        "name": "Fay",
        "email": "fay@example.org",
        "phone": "0151 2345678",
        "password": PASSWORD,
        "password_again": PASSWORD,
        "postcodes": "10115",
    },
    "board.claim": {},
    "board.mark_done": {"note": "Brought the shopping.", "confirmed": "yes"},
    "board.reopen": {},
    "board.release": {"reason": "no_time"},
    "board.unreachable": {},
    "board.call_through": {},
    "board.account_details": {"name": "Ada Lovelace", "phone": "030 1234567"},
    "board.account_zones": {"postcodes": "13187"},
    "board.account_password": {
        "current": PASSWORD,
        "password": "another long password",
        "password_again": "another long password",
    },
    "board.account_delete": {"password": PASSWORD},
    "operator.volunteer_zones": {"postcodes": "13187"},
    "operator.decide": {"decision": "approve", "status": "pending"},
    "operator.resolve_request": {"note": "Closed by phone."},
    "operator.message_handled": {},
    "operator.show_number": {},
    "operator.export": {"first": "2026-01-01", "with_numbers": "y"},
    "operator.retry_job": {},
    # (An admin's form: refused for its token before Eve's role or Dan's is asked.)
    "operator.operator_helplines": {"helplines": "default"},
    "board.change_alerts": {"channel": "none"},
    "board.forgot_password": {"email": "ada@example.org"},
    "board.reset_password_page": {
        "password": "another long password",
        "password_again": "another long password",
    },
}
# Links in e-mails that work without a session, so without a CSRF token: their signed
# token is the proof (mail programs' one-click unsubscribe posts no form token).
SIGNED_LINKS = {"board.stop_alerts", "board.confirm_email"}
# The test phone's posts are JSON, with the token in a header (as its script sends it).
JSON_DATA = {
    "test_phone.start_call": {"from": "+493023125417"},
    "test_phone.act": {"call": "snapshot", "key": "1"},
    "test_phone.answer": {"ringing": "token"},
    "test_phone.decline": {"ringing": "token"},
}
# Who could do each: a volunteer holding a claim on the board, the operator elsewhere.
ACTOR = {"board": "ada", "operator": "eve", "test_phone": "eve"}


def test_every_form_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(scene):
    """Posted by someone who could do it (Ada on the board, holding a claim; the operator on
    her pages and the test phone): with the right token every one would succeed."""
    other_session = AuthActions(scene.app.test_client()).csrf_token("/login")
    before = snapshot(scene.db)
    rules = [r for r in board_rules(scene.app, "POST") if r.endpoint not in SIGNED_LINKS]
    known = set(FORM_DATA) | set(JSON_DATA)
    assert {r.endpoint for r in rules} <= known, "a new form: add its data above"
    for rule in rules:
        auth = scene.browser(ACTOR[rule.endpoint.split(".")[0]])
        reference = scene.open if rule.endpoint == "board.claim" else scene.claimed
        target = scene.url(rule, reference=reference.reference)
        for token in (None, "", other_session, "not-a-token"):
            if rule.endpoint in JSON_DATA:
                headers = {} if token is None else {"X-CSRFToken": token}
                response = auth.client.post(target, json=JSON_DATA[rule.endpoint], headers=headers)
            else:
                data = dict(FORM_DATA[rule.endpoint])
                if token is not None:
                    data["csrf_token"] = token
                response = auth.client.post(target, data=data)
            assert response.status_code == 400, (rule.rule, token)
            assert "Nothing was changed" in response.text
    assert snapshot(scene.db) == before
    for who in ("ada", "eve"):  # still signed in
        assert scene.browser(who).client.get("/account").status_code == 200


PRIVATE = ("claimed", "open", "pankow")


def test_nobody_reaches_another_volunteers_request_or_another_zone(scene):
    """Bea (a colleague in Mitte) and Ada's claim; Cem (Pankow) and Mitte's open request;
    Dan (not yet approved) and all of them: every page is refused with 403, every action
    too (a claim of a taken request is told "taken"), and nothing changes."""
    before = snapshot(scene.db)
    attempts = [("bea", scene.claimed), ("cem", scene.open), ("cem", scene.claimed)]
    attempts += [("dan", r) for r in (scene.claimed, scene.open, scene.pankow)]
    attempts += [("ada", scene.pankow)]
    for who, request in attempts:
        auth = scene.browser(who)
        for rule in board_rules(scene.app, "GET"):
            if "reference" in rule.arguments:
                page = auth.client.get(url(scene.app, rule, reference=request.reference))
                assert page.status_code == 403, (who, rule.rule, request.postcode)
                assert not shows_number(page.text, request.caller_number)
        for rule in board_rules(scene.app, "POST"):
            if "reference" not in rule.arguments:
                continue
            data = {**FORM_DATA[rule.endpoint], "next": "/requests"}
            response = auth.post(url(scene.app, rule, reference=request.reference), data)
            if rule.endpoint == "board.claim" and who == "bea":
                assert response.headers["Location"] == "/requests"
                assert "Another volunteer" in auth.client.get("/requests").text
            else:
                assert response.status_code == 403, (who, rule.rule, request.postcode)
            assert not shows_number(response.text, request.caller_number)
    assert snapshot(scene.db) == before


def test_operator_pages_and_the_test_phone_are_refused_to_volunteers(scene):
    """Every /operator and /phone address, by every method it takes: a volunteer (Ada) and a
    pending account (Dan) get 403, a visitor is sent to sign in (the test phone's JSON
    answers 401), and nothing changes."""
    rules = [
        r
        for r in scene.app.url_map.iter_rules()
        if r.rule.startswith(("/operator", "/phone")) and not r.endpoint.endswith("static")
    ]
    assert {r.endpoint.split(".")[0] for r in rules} == {"operator", "test_phone"}
    before = snapshot(scene.db)
    for rule in rules:
        target = scene.url(rule)
        for method in sorted(rule.methods & {"GET", "POST"}):
            for who in ("ada", "dan", "anonymous"):
                auth = scene.browser(who)
                if method == "GET":
                    response = auth.client.get(target)
                else:
                    response = auth.post(target, FORM_DATA.get(rule.endpoint, {}))
                if who != "anonymous":
                    assert response.status_code == 403, (who, method, rule.rule)
                elif response.status_code == 302:
                    assert response.headers["Location"].startswith("/login")
                else:
                    assert response.status_code == 401 and rule.rule.startswith("/phone/")
                assert not shows_number(response.text, CLAIMED_NUMBER)
    assert snapshot(scene.db) == before


def test_the_callers_number_is_on_no_page_but_the_claimers(scene):
    """Every page of the board, for every one of its requests, seen by everyone."""
    numbers = {r.reference: r.caller_number for r in (scene.claimed, scene.open, scene.pankow)}
    seen = []
    for who, auth in scene.browsers.items():
        for rule in board_rules(scene.app, "GET"):
            for reference in numbers if "reference" in rule.arguments else [None]:
                target = scene.url(rule, reference=reference)
                page = auth.client.get(target, follow_redirects=True)
                assert page.status_code < 500, (who, target)
                for number in numbers.values():
                    if shows_number(page.text, number):
                        seen.append((who, target, number))
    # Operators may see numbers (their own pages, once there); on these pages Ada alone,
    # on her claim's page alone, and only its number.
    volunteers = [s for s in seen if s[0] != "eve"]
    assert volunteers == [("ada", f"/requests/{scene.claimed.reference}", CLAIMED_NUMBER)]


# -- injection strings ---------------------------------------------------------------------

INJECTIONS = [
    "' OR '1'='1",
    "%' OR 1=1 --",
    "mitte' --",
    "10115%",
    "1_1__",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "{{ 7*7 }}",
    "${7*7}",
    "Ünïcödé 🙂 ‮",
    "\r\nSet-Cookie: evil=1",
    "/\r\nSet-Cookie: evil=1",
    "\x00",
    "9" * 5000,
]


def assert_harmless(response, payload: str) -> None:
    """No 500, and nothing of the payload that a browser would run came back as markup."""
    assert response.status_code < 500, payload
    text = response.get_data(as_text=True)
    for markup in ("<script>alert(1)", "<img src=x", "onerror=alert(1)>"):
        if markup in payload:
            assert markup not in text, (payload, markup)
    # A line break in a value never reaches a header (as a cookie of its own, say).
    for name, value in response.headers.items():
        assert "evil" not in name.lower(), (name, value)
        assert name != "Set-Cookie" or "evil" not in value, value
        assert "\n" not in value and "\r" not in value, (name, value)


@pytest.mark.parametrize("path", ["/requests", "/requests/list"])
def test_injection_strings_in_every_filter_are_harmless(scene, path):
    ada = scene.browser("ada")
    before = snapshot(scene.db)
    for name in ("zone", "postcode", "type", "language", "page", "<b>"):
        for payload in INJECTIONS:
            response = ada.client.get(path, query_string={name: payload})
            assert_harmless(response, payload)
            if response.status_code == 200:
                assert scene.open.reference in response.text, (name, payload)  # not narrowed
                assert scene.pankow.reference not in response.text, (name, payload)
            else:
                assert response.status_code == 400 and "\x00" in payload
    assert snapshot(scene.db) == before


def test_injection_strings_in_a_reference_are_harmless(scene):
    ada = scene.browser("ada")
    before = snapshot(scene.db)
    for payload in INJECTIONS:
        for suffix in ("", "/claim", "/done", "/release", "/unreachable"):
            target = "/requests/" + payload.replace("/", "%2F") + suffix
            response = ada.post(target, {"reason": "no_time"}) if suffix else ada.client.get(target)
            assert_harmless(response, payload)
            # 308: Werkzeug merging the doubled slash of "/requests//..." (on this site).
            assert response.status_code in (308, 400, 404), (payload, suffix)
            if response.status_code == 308:
                assert response.headers["Location"].startswith("http://localhost/requests/")
    assert snapshot(scene.db) == before


def test_injection_strings_in_the_sign_in_form_are_harmless(scene):
    anonymous = scene.browser("anonymous")
    before = snapshot(scene.db)
    # A password is only ever hashed: a few of the strings do for it (each costs a scrypt).
    tried = [("email", p) for p in INJECTIONS] + [
        ("password", p) for p in ("' OR '1'='1", "\x00", "9" * 5000, "<script>alert(1)</script>")
    ]
    for field, payload in tried:
        data = {"email": "ada@example.org", "password": "wrong password", field: payload}
        response = anonymous.post("/login", data)
        assert_harmless(response, payload)
        assert response.status_code in (400, 422), (field, payload)
    assert anonymous.client.get("/requests").status_code == 302  # never signed in
    # Only the sign-in throttle's counters moved (board/throttle.py).
    after = snapshot(scene.db)
    assert {k: v for k, v in after.items() if k != "rate_limit_counters"} == {
        k: v for k, v in before.items() if k != "rate_limit_counters"
    }


def test_injection_strings_in_the_sign_up_form_are_refused_or_kept_as_typed(scene):
    anonymous = scene.browser("anonymous")
    fields = ("name", "email", "phone", "password", "password_again", "postcodes", "zones")
    for i, payload in enumerate(INJECTIONS):
        for field in fields:
            email = f"new{i}-{field}@example.org"
            data = {**FORM_DATA["board.signup"], "email": email, field: payload}
            if field == "password":
                data["password_again"] = payload
            response = anonymous.post("/signup", data)
            assert_harmless(response, payload)
            made = scene.db.scalars(select(User).where(User.email.like(f"new{i}-%"))).all()
            if response.status_code == 302:
                # Accepted: kept exactly as typed, and shown escaped on the account page.
                [user] = made
                if field == "name":
                    assert user.name == payload.strip()
                account = anonymous.client.get("/account")
                assert_harmless(account, payload)
                anonymous.logout()
                scene.db.delete(user)
                scene.db.commit()
            else:
                assert response.status_code in (400, 422), (field, payload)
                assert made == []


def test_injection_strings_in_the_claim_forms_are_refused_or_kept_as_typed(scene):
    ada = scene.browser("ada")
    user = scene.db.get(User, scene.people["ada"].id)
    for payload in INJECTIONS:
        for action, field in (
            ("done", "note"),
            ("release", "note"),
            ("release", "reason"),
            ("unreachable", "next"),
            ("claim", "next"),
        ):
            # Every round an hour later: the hourly limits on claims and give-backs are
            # tests/test_harvesting.py's business, not this test's.
            scene.db.execute(update(AuditEvent).values(at=utcnow() - timedelta(hours=2)))
            request = add_request(scene.db, postcode="10119")
            if action != "claim":
                claim_request(scene.db, request.reference, user, max_open_claims=3)
                scene.db.commit()
            data = {"reason": "other", "confirmed": "yes", field: payload}
            response = ada.post(f"/requests/{request.reference}/{action}", data)
            assert_harmless(response, payload)
            scene.db.refresh(request)
            if response.status_code == 302:
                location = response.headers["Location"]
                assert location.startswith("/") and not location.startswith("//")
                assert location.isprintable(), location
                if field == "note":
                    # Kept as typed: the done note on the request, the release note in
                    # the audit trail ("other: <note>"), both for the operators.
                    kept = scene.db.scalars(
                        select(AuditEvent.detail).where(AuditEvent.request_id == request.id)
                    ).all()
                    assert any(d.endswith(payload.strip()) for d in kept), (action, payload)
                    if action == "done":
                        assert request.outcome_note == payload.strip()
            else:
                assert response.status_code in (400, 422), (action, field, payload)
            # Not left holding more than the limit allows: release what is still held.
            if request.status == "claimed":
                request.status, request.claimed_by_id = "done", None
                scene.db.commit()


def test_injection_strings_in_the_language_switcher_are_harmless(scene):
    for who in ("anonymous", "ada"):
        auth = scene.browser(who)
        for payload in INJECTIONS:
            for field in ("language", "next"):
                data = {"language": "pl", "next": "/requests", field: payload}
                response = auth.post("/language", data)
                assert_harmless(response, payload)
                if response.status_code == 302:
                    location = response.headers["Location"]
                    assert location.startswith("/") and not location.startswith("//")
                    assert location.isprintable(), location


def test_injection_strings_in_the_operator_pages_are_harmless(scene):
    """The operator's filters (volunteers by status, the audit log) and forms (a decision,
    the export's days): no 500, nothing runs in the page, nothing changes that the
    operator did not ask for."""
    eve = scene.browser("eve")
    before = snapshot(scene.db)
    dates = ["0001-01-01", "9999-12-31", "2026-02-30", "1.1.2026"]
    for payload in INJECTIONS + dates:
        pages = [("/operator/volunteers", {"status": payload})]
        pages += [
            ("/operator/audit", {name: payload})
            for name in ("person", "reference", "action", "before")
        ]
        pages += [("/operator/audit", {"before": "99999999999999999999"})]
        for path, query in pages:
            assert_harmless(eve.client.get(path, query_string=query), payload)
    assert snapshot(scene.db) == before

    for payload in INJECTIONS + dates:
        for field in ("first", "last"):
            data = {"first": "2026-01-01", field: payload}
            assert_harmless(eve.post("/operator/export", data), payload)
        dan = scene.people["dan"].id
        for data in ({"decision": payload}, {"decision": payload, "status": payload}):
            response = eve.post(f"/operator/volunteers/{dan}", data)
            assert_harmless(response, payload)
        assert scene.db.get(User, dan, populate_existing=True).status == AccountStatus.PENDING
        response = eve.post(
            f"/operator/attention/requests/{scene.claimed.id}/return", {"note": payload}
        )
        assert_harmless(response, payload)
    typo = eve.post("/operator/export", {"first": "9999-12-31"})
    assert typo.status_code == 400 and "Choose a day from" in typo.text


def test_the_test_phone_takes_any_json_without_a_500(scene):
    """Its two JSON posts, from the operator's browser, with JSON that is not what its
    script sends: a clear 4xx (with a message for the page), never a 500."""
    eve = scene.browser("eve")
    token = {"X-CSRFToken": eve.csrf_token("/phone")}
    bodies = [
        [],
        [1, 2],
        "text",
        42,
        None,
        {"from": ["+493023125417"]},
        {"from": {"x": 1}},
        {"from": "+49302312541\u0000"},
        {"withheld": "yes"},
        {"call": ["x"], "key": "1"},
        {"call": "x" * 5000, "key": "1"},
        {"call": None, "do": ["hangup"]},
        {"call": "snapshot", "key": 5},
    ]
    for path in ("/phone/call", "/phone/act"):
        for body in bodies:
            response = eve.client.post(path, json=body, headers=token)
            assert 400 <= response.status_code < 500, (path, body, response.status_code)
            assert response.is_json and response.json.get("error"), (path, body)


# -- oversized posts ---------------------------------------------------------------------------


def test_oversized_posts_are_refused_everywhere(scene):
    """64 KiB is far more than any form or webhook needs: more is refused with 413, before
    the token, the signature or a view are even looked at, and changes nothing."""
    ada = scene.browser("ada")
    token = ada.csrf_token("/account")
    before = snapshot(scene.db)
    rules = [
        r
        for r in scene.app.url_map.iter_rules()
        if "POST" in r.methods and not r.endpoint.endswith("static")
    ]
    for rule in rules:
        target = scene.url(rule)
        bodies = {
            "form": {"csrf_token": token, "note": "x" * 100_000},
            "many fields": {"csrf_token": token, **{f"f{i}": "x" * 10 for i in range(10_000)}},
        }
        # A signature (forged: never looked at) so that the phone line reads the body too;
        # without one it refuses with 403 before reading anything.
        signed = {"X-Twilio-Signature": "x"}
        for kind, data in bodies.items():
            response = ada.client.post(target, data=data, headers=signed)
            assert response.status_code == 413, (rule.rule, kind)
        upload = {"csrf_token": token, "file": (io.BytesIO(b"x" * 100_000), "big.bin")}
        response = ada.client.post(target, data=upload, headers=signed)
        assert response.status_code == 413, (rule.rule, "upload")
    assert snapshot(scene.db) == before


# -- headers and cookies -----------------------------------------------------------------------


def test_every_page_carries_the_security_headers(scene):
    for who in ("anonymous", "ada"):
        auth = scene.browser(who)
        for rule in board_rules(scene.app, "GET"):
            target = scene.url(rule)
            response = auth.client.get(target)
            headers = response.headers
            csp = headers.get("Content-Security-Policy", "")
            assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, target
            assert "script-src" not in csp or "'unsafe-inline'" not in csp
            assert headers.get("X-Content-Type-Options") == "nosniff", target
            assert headers.get("X-Frame-Options") == "DENY", target
            assert headers.get("Referrer-Policy") == "same-origin", target
            assert "Strict-Transport-Security" not in headers  # plain http here
            if who == "ada":
                assert headers.get("Cache-Control") == "no-store", target


def test_over_https_the_browser_is_told_to_stay_there(another_app):
    app = another_app(public_base_url="https://hotline.example.org")
    response = app.test_client().get("/login", base_url="https://hotline.example.org")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_cookies_are_http_only_and_same_site_and_hold_no_personal_data(scene):
    auth = AuthActions(scene.app.test_client())
    response = auth.login("ada@example.org", PASSWORD)
    cookies = response.headers.getlist("Set-Cookie")
    assert cookies, "signing in sets the session cookie"
    for cookie in cookies:
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie, cookie
        assert "ada@example.org" not in cookie and CLAIMED_NUMBER not in cookie
    # Nothing is remembered beyond the browser session ("remember me" is not offered).
    assert not any(c.startswith("remember_token") for c in cookies)
    page = auth.client.get(f"/requests/{scene.claimed.reference}")
    assert shows_number(page.text, CLAIMED_NUMBER)
    for cookie in page.headers.getlist("Set-Cookie"):
        assert not shows_number(cookie, CLAIMED_NUMBER)


@pytest.mark.parametrize(
    "days",
    [["--date", "9999-12-31"], ["--from", "0001-01-01", "--to", "0001-01-05"]],
    ids=["year 9999", "year 1"],
)
def test_the_export_command_names_a_day_it_cannot_have(runner, days):
    """The same check as the operator page's export form (a typo, not a traceback)."""
    result = runner.invoke(args=["calls", "export", *days])
    assert result.exit_code == 2, result.output
    assert "outside the days an export covers" in result.output
