"""Harvesting callers, tried as an attacker would: each attempt fails.

A rogue volunteer loops claim, read the number, give back; a caller's code
outlives the give-back; a withheld caller plants someone else's number, or
makes request after request from one number. Through the real board, the
real phone line (the simulator, signed as Twilio signs) and the services.
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text, update

from app import migrations_runner
from app.audit import Action
from app.database import get_db, utcnow
from app.models import AuditEvent, HelpRequest, RequestStatus, User
from app.requests import attention
from app.requests.claims import (
    ClaimResult,
    ReleaseResult,
    claim_request,
    expire_stale_claims,
    release_request,
)
from tests.conftest import AuthActions, add_request, answer_call_back, csrf_token
from voice.flow import spell
from voice.simulator.phone import Phone

EN = {"Accept-Language": "en"}
NUMBER = re.compile(r'href="tel:([0-9+]+)"')
CALLER = "+4930123456"
TYPED = "030123456"


def fill_mitte(db, count: int) -> list[HelpRequest]:
    """`count` open requests in Mitte, each from another number."""
    return [add_request(db, caller_number=f"+49301110{i:03d}") for i in range(count)]


def harvest(client, auth: AuthActions, rounds: int) -> tuple[set[str], list[str]]:
    """The attack: claim each card not tried yet, open it for the number, give it back. What
    it got, and the messages the board flashed at each step that was refused."""
    seen, refusals, tried = set(), [], set()
    for _ in range(rounds):
        board = client.get("/requests", headers=EN).text
        cards = re.findall(r'/requests/([A-Z0-9]{3}-[A-Z0-9]{3})/claim"', board)
        reference = next((r for r in cards if r not in tried), None)
        if reference is None:
            break
        tried.add(reference)
        claimed = auth.post(f"/requests/{reference}/claim", headers=EN, follow_redirects=True)
        if "/my-requests" in claimed.request.path:
            refusals.append(flashed(claimed.text))
            continue
        seen.update(NUMBER.findall(client.get(f"/requests/{reference}", headers=EN).text))
        given = auth.post(
            f"/requests/{reference}/release",
            {"reason": "no_time"},
            headers=EN,
            follow_redirects=True,
        )
        if "Given back." not in given.text:
            refusals.append(flashed(given.text))
    return seen, refusals


def flashed(page: str) -> str:
    found = re.search(r'class="flash[^"]*"[^>]*>\s*(.*?)\s*<', page, re.S)
    return found.group(1) if found else page


def count_events(db, action, **where) -> int:
    query = select(AuditEvent).where(AuditEvent.action == action)
    for column, value in where.items():
        query = query.where(getattr(AuditEvent, column) == value)
    return len(db.scalars(query).all())


# --- A volunteer harvesting callers -------------------------------------------------------


def test_a_claim_view_give_back_loop_stops_at_the_give_back_limit(berlin, client, auth, signed_in):
    fill_mitte(berlin, 10)
    seen, refusals = harvest(client, auth, rounds=10)
    # Three give-backs, then every request kept is one of max_open_claims (3): six numbers
    # of ten, then the board refuses, and nobody ever saw the other four.
    assert len(seen) == 6
    assert refusals[0].startswith(
        "You have given back 3 requests within the last hour, the most one volunteer may "
        "give back in an hour. This one stays yours"
    )
    assert "You already hold 3 requests." in refusals[-1]
    berlin.expire_all()
    assert count_events(berlin, Action.RELEASED) == 3
    assert count_events(berlin, Action.CLAIMED) == 6
    open_ = berlin.scalars(select(HelpRequest).where(HelpRequest.status == "open")).all()
    assert len(open_) == 7  # the three given back and four never claimed


def test_a_claim_loop_stops_at_the_claim_limit(another_app, berlin, volunteer):
    app = another_app(claims_per_hour=4, give_backs_per_hour=100)
    client = app.test_client()
    auth = AuthActions(client)
    auth.login(volunteer.email, volunteer.password)
    requests = fill_mitte(berlin, 6)

    seen, refusals = harvest(client, auth, rounds=6)

    assert len(seen) == 4
    assert refusals[0].startswith("You have taken 4 requests within the last hour")
    berlin.expire_all()
    assert count_events(berlin, Action.CLAIMED) == 4
    assert all(r.status == RequestStatus.OPEN and r.claimed_by_id is None for r in requests)
    # An hour later the volunteer may claim again.
    berlin.execute(update(AuditEvent).values(at=utcnow() - timedelta(minutes=61)))
    berlin.commit()
    reference = requests[0].reference
    assert auth.post(f"/requests/{reference}/claim").headers["Location"].endswith(reference)


def test_operators_are_not_limited(berlin, operator):
    requests = fill_mitte(berlin, 3)
    for request in requests:
        assert (
            claim_request(berlin, request.reference, operator, max_open_claims=9, claims_per_hour=1)
            == ClaimResult.CLAIMED
        )
        berlin.commit()
        assert (
            release_request(berlin, request, operator, "x", give_backs_per_hour=1)
            == ReleaseResult.RELEASED
        )


def run_at_once(count, work):
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append((i, e))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_simultaneous_claims_respect_the_hourly_limit(app, berlin, volunteer):
    """Four tabs (or app servers) claiming at once for one volunteer with two claims left."""
    requests = fill_mitte(berlin, 4)

    def press(i):
        with get_db(app).session() as session:
            me = session.get(User, volunteer.id)
            result = claim_request(
                session, requests[i].reference, me, max_open_claims=9, claims_per_hour=2
            )
            session.commit()
            return result

    results = run_at_once(4, press)
    assert sorted(results) == ["claimed", "claimed", "hourly_limit", "hourly_limit"]
    assert count_events(berlin, Action.CLAIMED) == 2


def test_simultaneous_give_backs_respect_the_hourly_limit(app, berlin, volunteer):
    requests = fill_mitte(berlin, 3)
    ada = berlin.get(User, volunteer.id)
    for request in requests:
        claim_request(berlin, request.reference, ada, max_open_claims=9)
        berlin.commit()

    def give_back(i):
        with get_db(app).session() as session:
            me = session.get(User, volunteer.id)
            request = session.get(HelpRequest, requests[i].id)
            result = release_request(session, request, me, "no_time", give_backs_per_hour=1)
            session.commit()
            return result

    results = run_at_once(3, give_back)
    assert sorted(results) == ["hourly_limit", "hourly_limit", "released"]
    berlin.expire_all()
    assert [r.status for r in berlin.scalars(select(HelpRequest))].count("claimed") == 2


# --- The code after a give-back -------------------------------------------------------------


def test_after_a_give_back_the_old_code_is_worthless_and_the_caller_hears_the_new_one(
    app, phone, berlin, client, auth, signed_in, make_person
):
    call = phone.call(CALLER)
    for keys in ("1", "10115", "1", "1", "#"):
        call.press(keys)
    [request] = berlin.scalars(select(HelpRequest)).all()
    old = request.verification_code
    assert call.text.count(spell(old)) == 2

    auth.post(f"/requests/{request.reference}/claim")
    assert old in client.get(f"/requests/{request.reference}").text  # the volunteer saw it
    auth.post(f"/requests/{request.reference}/release", {"reason": "no_time"})
    berlin.refresh(request)
    assert request.status == RequestStatus.OPEN and request.verification_code != old

    again = phone.call(CALLER)
    again.press("1")
    again.press("1")  # hear the code: on the call back
    back = answer_call_back(app, phone)
    assert back.text.count(spell(request.verification_code)) == 2
    assert spell(old) not in back.text + again.text

    # The next volunteer says the new code, and is told the caller may know the old one.
    bea = make_person("bea@example.org", zones=["mitte"])
    auth.logout()
    auth.login(bea.email, bea.password)
    auth.post(f"/requests/{request.reference}/claim")
    page = client.get(f"/requests/{request.reference}", headers=EN).text
    assert request.verification_code in page and old not in page
    assert "This request was given back before, so its code is new" in page


def test_a_suspended_volunteers_claims_return_with_new_codes(berlin, volunteer, operator, login):
    ada = berlin.get(User, volunteer.id)
    requests = fill_mitte(berlin, 2)
    for request in requests:
        claim_request(berlin, request.reference, ada, max_open_claims=3)
    berlin.commit()
    old = {r.id: r.verification_code for r in requests}

    client = login(operator)
    page = client.post(
        f"/operator/volunteers/{volunteer.id}",
        data={"decision": "suspend", "status": "approved", "csrf_token": csrf_token(client)},
        headers=EN,
        follow_redirects=True,
    )
    assert "is suspended; their claimed requests are back on the board." in page.text
    berlin.expire_all()
    for request in requests:
        assert request.status == RequestStatus.OPEN and request.claimed_by_id is None
        assert request.verification_code != old[request.id]
    events = berlin.scalars(
        select(AuditEvent).where(
            AuditEvent.action == Action.RELEASED, AuditEvent.subject_user_id == volunteer.id
        )
    ).all()
    assert {e.request_id for e in events} == set(old)
    assert all(e.user_id == operator.id and "new verification code" in e.detail for e in events)


# --- Operators see the churn --------------------------------------------------------------


def give_back(db, person, count: int) -> None:
    me = db.get(User, person.id)
    for request in fill_mitte(db, count):
        claim_request(db, request.reference, me, max_open_claims=9)
        db.commit()
        assert release_request(db, request, me, "no_time") == ReleaseResult.RELEASED
        db.commit()


def test_operators_are_alerted_to_a_volunteer_who_gives_back_again_and_again(
    berlin, make_person, operator, login
):
    churner = make_person("mallory@example.org", name="Mallory")
    calm = make_person("bea@example.org", name="Bea")
    give_back(berlin, churner, 3)
    give_back(berlin, calm, 2)
    client = login(operator)
    suspend_link = f'href="/operator/volunteers?status=approved#volunteer-{churner.id}"'

    for path in ("/operator/", "/operator/attention"):
        page = client.get(path, headers=EN).text
        alert = page.split('class="alert churn"')[1].split("</section>")[0]
        assert "Mallory" in alert and "gave back 3 requests within one hour" in alert
        assert suspend_link in alert and "Suspend Mallory" in alert
        assert "Bea" not in alert
        assert "+49" not in alert  # never a caller's number
    volunteers = client.get("/operator/volunteers?status=approved", headers=EN).text
    assert f'id="volunteer-{churner.id}"' in volunteers

    client.post(
        f"/operator/volunteers/{churner.id}",
        data={"decision": "suspend", "status": "approved", "csrf_token": csrf_token(client)},
    )
    assert 'class="alert churn"' not in client.get("/operator/", headers=EN).text


def test_the_churn_alert_counts_give_backs_within_one_hour(berlin, make_person, operator, login):
    """Three give-backs spread over three hours are ordinary."""
    slow = make_person("slow@example.org", name="Slow")
    give_back(berlin, slow, 3)
    events = berlin.scalars(select(AuditEvent).where(AuditEvent.action == Action.RELEASED))
    for hours, event in enumerate(events):
        event.at = utcnow() - timedelta(hours=hours * 1.5)
    berlin.commit()
    assert 'class="alert churn"' not in login(operator).get("/operator/", headers=EN).text


# --- Typed numbers ------------------------------------------------------------------------


def withheld_request(phone: Phone, typed: str = TYPED):
    call = phone.call("anonymous")
    for keys in ("1", f"{typed}#", "1", "10115", "1", "1", "#"):
        call.press(keys)
    return call


def test_a_typed_number_is_marked_not_verified_wherever_it_shows(
    phone, berlin, client, auth, signed_in, operator, login
):
    withheld_request(phone)
    add_request(berlin, caller_number=CALLER)
    typed, verified = berlin.scalars(select(HelpRequest).order_by(HelpRequest.id)).all()
    assert typed.caller_number_typed and not verified.caller_number_typed

    board = client.get("/requests", headers=EN).text
    cards = {
        ref: board.split(f'id="title-{ref}"')[1].split("</article>")[0]
        for ref in (typed.reference, verified.reference)
    }
    assert "not verified" in cards[typed.reference] and "123456" not in board
    assert "not verified" not in cards[verified.reference]

    for request in (typed, verified):
        auth.post(f"/requests/{request.reference}/claim")
    claimed = client.get(f"/requests/{typed.reference}", headers=EN).text
    number = claimed.split('class="number"')[1].split("</p>")[0]
    assert 'href="tel:+4930123456"' in number and "030 123456" in number
    assert "not verified" in number and "Anyone can type any number" in number
    assert "not verified" not in client.get(f"/requests/{verified.reference}", headers=EN).text


def test_operators_see_a_typed_number_as_not_verified(phone, berlin, operator, login, client):
    withheld_request(phone)
    berlin.execute(update(HelpRequest).values(unreachable_count=3))
    berlin.commit()
    [request] = berlin.scalars(select(HelpRequest)).all()
    login(operator)
    listed = client.get("/operator/attention", headers=EN).text
    assert '<span class="tag">not verified</span>' in listed and TYPED not in listed
    page = client.post(
        f"/operator/attention/requests/{request.id}/number",
        data={"csrf_token": csrf_token(client)},
        headers=EN,
    ).text
    assert 'href="tel:+4930123456"' in page and "030 123456" in page
    assert '<span class="tag">not verified</span>' in page


# --- Requests per number --------------------------------------------------------------------


def test_a_third_request_from_one_number_hears_the_limit_and_loses_nothing(app, phone, berlin):
    for _ in range(2):
        call = phone.call(CALLER)
        for keys in ("1", "3", "10115", "1", "1", "#") if _ else ("1", "10115", "1", "1", "#"):
            call.press(keys)
    assert len(berlin.scalars(select(HelpRequest)).all()) == 2

    third = phone.call(CALLER)
    third.press("1")
    third.press("3")  # a new request
    assert "Offene Anfragen von Ihrer Nummer: 2." in third.text
    assert third.waiting_for == "keys"  # no dead end: the menu again
    third.press("1")  # the code is still there, on the call back
    [newest] = berlin.scalars(select(HelpRequest).order_by(HelpRequest.id.desc()).limit(1))
    assert answer_call_back(app, phone).text.count(spell(newest.verification_code)) == 2
    berlin.expire_all()
    assert len(berlin.scalars(select(HelpRequest)).all()) == 2


def test_a_typed_number_at_the_limit_is_refused_the_same_way(phone, berlin):
    for _ in range(2):
        add_request(berlin, caller_number=TYPED)
    call = phone.call("anonymous")
    for keys in ("1", f"{TYPED}#", "1"):
        call.press(keys)
    assert "Für diese Nummer können wir keine weitere Anfrage annehmen" in call.text
    assert "Postleitzahl" not in call.text
    call.press("2")  # another number
    for keys in ("030765432#", "1", "10115", "1", "1", "#"):
        call.press(keys)
    newest = berlin.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first()
    assert newest.caller_number == "030765432" and newest.caller_number_typed


@pytest.mark.parametrize("key", ["3", "0"])
def test_at_the_limit_the_operator_is_a_key_away(another_app, berlin, key):
    phone = Phone.for_app(another_app(operator_phone="+4930999000"))
    for _ in range(2):
        add_request(berlin, caller_number=CALLER)
    call = phone.call(CALLER)
    call.press("1")
    call.press("3")
    limit = call.text.index("Offene Anfragen von Ihrer Nummer: 2.")
    assert "Mit der 0 erreichen Sie jederzeit einen Menschen." in call.text[limit:]
    if key == "3":
        call.press("3")
        call.press("3")  # the third try goes to a person
    else:
        call.press("0")
    assert call.waiting_for == "operator"


# --- Requests stored before the column existed -------------------------------------------


def test_the_migration_marks_earlier_typed_numbers_from_the_call_log(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrations_runner.upgrade(url, "0010")
    engine = create_engine(url)
    calls = {
        # call_sid: (from_number, callback_number, numbers erased)
        "CA-typed": (None, TYPED, False),
        "CA-shown": (CALLER, None, False),
        "CA-withheld-no-callback-row": (None, None, False),
        "CA-erased": (None, None, True),
    }
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO zones (id, slug, name, area) VALUES (1, 'm', 'M', 'B')")
        )
        for i, (sid, (from_number, callback, erased)) in enumerate(calls.items()):
            connection.execute(
                text(
                    "INSERT INTO calls (call_sid, from_number, to_number, started_at, status,"
                    " status_sequence, language, postcode, request_type, last_step, outcome,"
                    " request_reference, step_seq, callback_number, numbers_erased_at)"
                    " VALUES (:sid, :from_number, '', '2026-01-01 10:00:00', 'completed', -1,"
                    " 'de', '10115', 'shopping', 'done', 'request_created', '', 0, :callback,"
                    " :erased)"
                ),
                {
                    "sid": sid,
                    "from_number": from_number,
                    "callback": callback,
                    "erased": "2026-02-01 00:00:00" if erased else None,
                },
            )
            connection.execute(
                text(
                    "INSERT INTO help_requests (reference, postcode, zone_id, request_type,"
                    " language, caller_number, verification_code, status, created_at, call_sid,"
                    " outcome_note, unreachable_count, expired_claims, needs_attention)"
                    " VALUES (:ref, '10115', 1, 'shopping', 'de', :number, '1234', 'open',"
                    " '2026-01-01 10:01:00', :sid, '', 0, 0, 0)"
                ),
                {"ref": f"AAA-AA{i}", "number": callback or from_number or "+4930555", "sid": sid},
            )
    migrations_runner.upgrade(url)
    with engine.connect() as connection:
        typed = dict(
            connection.execute(
                text("SELECT call_sid, caller_number_typed FROM help_requests")
            ).all()
        )
    engine.dispose()
    assert typed == {
        "CA-typed": 1,
        "CA-shown": 0,
        "CA-withheld-no-callback-row": 1,  # withheld, and not erased: typed
        "CA-erased": 0,  # nothing tells any more: verified, as the issue says
    }


def test_every_return_to_the_board_from_a_volunteer_renews_the_code(berlin, volunteer, operator):
    """An expiry, and an operator taking a claim back; an open request put back keeps its code."""
    ada = berlin.get(User, volunteer.id)
    stale, flagged, unclaimed = fill_mitte(berlin, 3)
    for request in (stale, flagged):
        claim_request(berlin, request.reference, ada, max_open_claims=3)
    berlin.commit()
    codes = {r.id: r.verification_code for r in (stale, flagged, unclaimed)}
    stale.claimed_at = utcnow() - timedelta(hours=25)
    berlin.commit()

    assert expire_stale_claims(berlin, timeout_hours=24) == 1
    for request in (flagged, unclaimed):
        assert attention.return_to_board(berlin, request.id, operator, "spoke to them")
    berlin.commit()
    berlin.expire_all()
    assert stale.verification_code != codes[stale.id]
    assert flagged.verification_code != codes[flagged.id]
    assert unclaimed.verification_code == codes[unclaimed.id]  # nobody but the caller knew it
