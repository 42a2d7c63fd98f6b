"""The board in a browser's place: what a volunteer sees, can do, and is refused."""

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.audit import Action
from app.database import utcnow
from app.models import AuditEvent, HelpRequest, RequestStatus
from app.requests.counts import RememberedCounts
from tests.conftest import AuthActions, add_request, csrf_token
from tests.seeding import cancel_request
from tests.test_claims import Clock

NUMBER = "+4930111222"
EN = {"Accept-Language": "en"}


@pytest.fixture(autouse=True)
def english(client):
    """Every request of these tests comes from an English browser (flashes included)."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def browser(app):
    """Another volunteer's browser, also in English."""
    other = app.test_client()
    other.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return AuthActions(other)


def fresh(db, request):
    return db.get(HelpRequest, request.id, populate_existing=True)


def audit(db, action, request=None):
    query = select(AuditEvent).where(AuditEvent.action == action)
    if request is not None:
        query = query.where(AuditEvent.request_id == request.id)
    return list(db.scalars(query.execution_options(populate_existing=True)))


def claim(auth, request, **kwargs):
    return auth.post(f"/requests/{request.reference}/claim", **kwargs)


def card_references(html):
    return re.findall(r'id="title-([0-9A-Z]{3}-[0-9A-Z]{3})"', html)


# --- The board --------------------------------------------------------------------------


def test_the_board_shows_open_requests_in_my_zones_oldest_first(client, berlin, signed_in):
    newer = add_request(berlin, postcode="12043", language="pl", voice_message_seconds=83)
    older = add_request(berlin, postcode="10115", request_type="pharmacy")
    older.created_at = utcnow() - timedelta(hours=3, minutes=5)
    berlin.commit()
    pankow = add_request(berlin, postcode="13187")

    page = client.get("/requests", headers=EN).text
    assert card_references(page) == [older.reference, newer.reference]
    assert pankow.reference not in page
    assert "2 open requests" in page
    assert re.search(r"Mitte <span class=\"count\">1</span>", page)
    assert re.search(r"Neukölln <span class=\"count\">1</span>", page)
    assert "Pankow" not in page
    assert "Counts as of" not in page  # a short board is counted on every load
    # The card: postcode and neighbourhood, zone, type, language, age, voice message.
    assert "12043 Neukölln" not in page  # the neighbourhood is not repeated as the zone
    assert "10115" in page and "Pharmacy" in page and "Shopping" in page
    assert "Polish" in page and "German" in page
    assert "Waiting</dt><dd>" in page and "for 3 hours" in page
    assert "yes, 1:23 long" in page
    # Never the phone number.
    assert NUMBER not in page


def test_the_board_speaks_the_volunteers_language(client, berlin, signed_in):
    request = add_request(berlin, language="pl", request_type="pharmacy")
    request.created_at = utcnow() - timedelta(hours=3)
    berlin.commit()
    german = client.get("/requests", headers={"Accept-Language": "de"}).text
    assert "Apotheke" in german and "Polnisch" in german
    # "Wartet seit 3 Stunden", not "Wartet: vor 3 Stunden".
    assert "Wartet</dt><dd>" in german and "seit 3 Stunden" in german
    polish = client.get("/requests", headers={"Accept-Language": "pl"}).text
    assert "Apteka" in polish and "polski" in polish and "od 3 godzin" in polish


def test_neighbourhoods_are_shown_with_the_postcode(client, berlin, make_person, auth):
    person = make_person(zones=["friedrichshain-kreuzberg"])
    auth.login(person.email, person.password)
    add_request(berlin, postcode="10243")
    assert "10243 Friedrichshain · Friedrichshain-Kreuzberg" in client.get("/requests").text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"zone": "neukoelln"}, ["12043", "12047"]),
        ({"postcode": "1204"}, ["12043", "12047"]),
        ({"type": "pharmacy"}, ["12047"]),
        ({"language": "pl"}, ["12043"]),
        ({"zone": "mitte", "language": "de"}, ["10115"]),
    ],
)
def test_filters_narrow_the_board(client, berlin, signed_in, query, expected):
    add_request(berlin, postcode="10115")
    add_request(berlin, postcode="12043", language="pl")
    add_request(berlin, postcode="12047", request_type="pharmacy")
    page = client.get("/requests", query_string=query, headers=EN).text
    shown = re.findall(r"<dt>Where</dt><dd>(\d{5})", page)
    assert sorted(shown) == expected
    # The list fetched by the refresh keeps the same filters.
    fragment = client.get("/requests/list", query_string=query, headers=EN).text
    assert sorted(re.findall(r"<dt>Where</dt><dd>(\d{5})", fragment)) == expected
    assert "<html" not in fragment


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"zone": "pankow"}, "Not a valid choice"),  # a zone that is not mine
        ({"zone": "atlantis"}, "Not a valid choice"),
        ({"postcode": "abc"}, "Up to five digits"),
        ({"postcode": "123456"}, "Up to five digits"),
        ({"postcode": "12%"}, "Up to five digits"),
        ({"type": "teleportation"}, "Not a valid choice"),
        ({"language": "xx"}, "Not a valid choice"),
        ({"language": "<script>"}, "Not a valid choice"),
    ],
)
def test_bad_filters_are_explained_and_ignored(client, berlin, signed_in, query, error):
    add_request(berlin, postcode="10115")
    pankow = add_request(berlin, postcode="13187")
    response = client.get("/requests", query_string=query, headers=EN)
    assert response.status_code == 200
    assert error in response.text
    assert "<script>" not in response.text
    assert "1 open request" in response.text  # the other filters (none) still apply
    assert pankow.reference not in response.text
    assert client.get("/requests/list", query_string=query).status_code == 200


def test_the_refresh_link_and_the_refresh_url_keep_the_filters(client, berlin, signed_in):
    page = client.get("/requests?zone=mitte&type=shopping").text
    assert 'href="/requests?zone=mitte&amp;type=shopping" id="refresh-link"' in page
    assert 'data-refresh-url="/requests/list?zone=mitte&amp;type=shopping"' in page
    assert 'aria-live="polite"' in page
    assert "board.js" in page


def test_the_stylesheet_and_the_script_arrive(client, signed_in):
    page = client.get("/requests").text
    for asset in re.findall(r'(?:href|src)="(/[^"]+\.(?:css|js))"', page):
        assert client.get(asset).status_code == 200, asset
    assert "board.css" in page and "board.js" in page


def test_an_empty_board_says_so(client, berlin, signed_in):
    assert "No open requests in your zones right now." in client.get("/requests", headers=EN).text


# --- Claiming ---------------------------------------------------------------------------


def test_claiming_shows_number_code_voice_message_and_guidance(client, auth, berlin, signed_in):
    request = add_request(berlin, voice_message_seconds=23)
    response = claim(auth, request)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/requests/{request.reference}"

    page = client.get(response.headers["Location"], headers=EN).text
    assert f'href="tel:{NUMBER}"' in page
    assert request.verification_code in page
    assert f'src="{request.voice_message_url}"' in page
    assert "How to call" in page
    assert f"Say the code {request.verification_code}" in page
    request = fresh(berlin, request)
    assert request.status == RequestStatus.CLAIMED and request.claimed_by_id == signed_in.id
    assert len(audit(berlin, Action.CLAIMED, request)) == 1


def test_pages_with_a_number_are_never_cached(client, auth, berlin, signed_in):
    request = add_request(berlin)
    claim(auth, request)
    page = client.get(f"/requests/{request.reference}")
    assert NUMBER in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert client.get("/requests").headers["Cache-Control"] == "no-store"


def test_every_showing_of_the_number_is_audited(client, auth, berlin, signed_in):
    request = add_request(berlin)
    claim(auth, request)
    for _ in range(3):
        assert NUMBER in client.get(f"/requests/{request.reference}").text
    viewed = audit(berlin, Action.NUMBER_VIEWED, request)
    assert len(viewed) == 3 and {e.user_id for e in viewed} == {signed_in.id}


def test_an_open_request_page_shows_the_card_but_not_the_number(client, berlin, signed_in):
    request = add_request(berlin)
    page = client.get(f"/requests/{request.reference.lower()}", headers=EN)
    assert page.status_code == 200
    assert "The phone number is shown once you take the request." in page.text
    assert NUMBER not in page.text and request.verification_code not in page.text
    assert audit(berlin, Action.NUMBER_VIEWED) == []


def test_the_loser_of_a_claim_is_told_it_is_taken(client, auth, berlin, signed_in, make_person):
    request = add_request(berlin)
    other = browser(client.application)
    bea = make_person("bea@example.org")
    other.login(bea.email, bea.password)
    assert claim(other, request).status_code == 302

    response = claim(auth, request, data={"next": "/requests?zone=mitte"})
    assert response.headers["Location"] == "/requests?zone=mitte"
    page = client.get(response.headers["Location"], headers=EN).text
    assert "Another volunteer has just taken this request." in page
    assert NUMBER not in page


def test_another_volunteers_claimed_request_is_forbidden(
    client, auth, berlin, signed_in, make_person
):
    request = add_request(berlin)
    bea = make_person("bea@example.org")
    other = browser(client.application)
    other.login(bea.email, bea.password)
    claim(other, request)

    page = client.get(f"/requests/{request.reference}", headers=EN)
    assert page.status_code == 403
    assert "Another volunteer has taken this request." in page.text
    assert NUMBER not in page.text and request.verification_code not in page.text
    for action in ("done", "release", "unreachable"):
        response = auth.post(f"/requests/{request.reference}/{action}", data={"reason": "other"})
        assert response.status_code == 403, action
    request = fresh(berlin, request)
    assert request.status == RequestStatus.CLAIMED and request.claimed_by_id == bea.id
    assert request.unreachable_count == 0


def test_requests_outside_my_zones_are_forbidden(client, auth, berlin, signed_in):
    request = add_request(berlin, postcode="13187")  # Pankow
    page = client.get(f"/requests/{request.reference}", headers=EN)
    assert page.status_code == 403
    assert "This request is in a zone you do not serve." in page.text
    assert claim(auth, request).status_code == 403
    assert fresh(berlin, request).status == RequestStatus.OPEN


def test_unknown_references_are_not_found(client, auth, signed_in):
    assert client.get("/requests/AAA-AAA").status_code == 404
    assert claim(auth, type("R", (), {"reference": "AAA-AAA"})).status_code == 404


def test_a_volunteer_over_the_claim_limit_is_told_to_finish_one_first(
    client, auth, berlin, signed_in
):
    requests = [add_request(berlin) for _ in range(4)]
    for request in requests[:3]:
        claim(auth, request)
    response = claim(auth, requests[3])
    assert response.headers["Location"] == "/my-requests"
    page = client.get("/my-requests", headers=EN).text
    assert "You already hold 3 requests." in page
    assert fresh(berlin, requests[3]).status == RequestStatus.OPEN
    assert "You hold 3 of at most 3 requests." in page


def test_claiming_needs_the_csrf_token(client, berlin, signed_in):
    request = add_request(berlin)
    response = client.post(f"/requests/{request.reference}/claim")
    assert response.status_code == 400
    assert fresh(berlin, request).status == RequestStatus.OPEN


def test_a_request_the_caller_cancelled_cannot_be_claimed(client, auth, berlin, signed_in):
    request = add_request(berlin)
    cancel_request(berlin, request)
    response = claim(auth, request)
    assert response.headers["Location"] == "/requests"
    assert "This request is no longer open" in client.get("/requests", headers=EN).text
    page = client.get(f"/requests/{request.reference}", headers=EN)
    assert page.status_code == 200 and "No longer open" in page.text
    assert NUMBER not in page.text


def test_a_claim_race_through_http_has_one_winner(app, berlin, make_person):
    """Six volunteers' browsers post "take it" for one request at the same moment."""
    request = add_request(berlin)
    browsers = []
    for i in range(6):
        person = make_person(f"v{i}@example.org")
        auth = browser(app)
        auth.login(person.email, person.password)
        browsers.append((auth, auth.csrf_token("/requests")))
    barrier = threading.Barrier(len(browsers))
    outcomes = [None] * len(browsers)

    def press(i):
        auth, token = browsers[i]
        barrier.wait()
        response = auth.client.post(
            f"/requests/{request.reference}/claim", data={"csrf_token": token}
        )
        page = auth.client.get(response.headers["Location"], headers=EN).text
        outcomes[i] = (response.headers["Location"], page)

    threads = [threading.Thread(target=press, args=(i,)) for i in range(len(browsers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o in outcomes if o[0] == f"/requests/{request.reference}"]
    losers = [o for o in outcomes if o[0] == "/requests"]
    assert len(winners) == 1 and len(losers) == len(browsers) - 1
    assert NUMBER in winners[0][1]
    for _, page in losers:
        assert "Another volunteer has just taken this request." in page
        assert NUMBER not in page


def test_a_stale_claim_in_the_way_is_returned_before_the_claim(
    client, auth, berlin, signed_in, make_person
):
    """Taken by someone whose time ran out: the press of "take it" returns it and takes it."""
    request = add_request(berlin)
    bea = make_person("bea@example.org")
    other = browser(client.application)
    other.login(bea.email, bea.password)
    claim(other, request)
    stale = fresh(berlin, request)
    stale.claimed_at = utcnow() - timedelta(hours=24, minutes=1)
    berlin.commit()

    assert claim(auth, request).headers["Location"] == f"/requests/{request.reference}"
    request = fresh(berlin, request)
    assert request.status == RequestStatus.CLAIMED and request.claimed_by_id == signed_in.id
    assert [e.user_id for e in audit(berlin, Action.EXPIRED, request)] == [bea.id]
    assert [e.user_id for e in audit(berlin, Action.CLAIMED, request)] == [bea.id, signed_in.id]


def test_ones_own_stale_claims_do_not_count_against_the_limit(client, auth, berlin, signed_in):
    requests = [add_request(berlin) for _ in range(4)]
    for request in requests[:3]:
        claim(auth, request)
        stale = fresh(berlin, request)
        stale.claimed_at = utcnow() - timedelta(hours=24, minutes=1)
        berlin.commit()

    assert claim(auth, requests[3]).headers["Location"] == f"/requests/{requests[3].reference}"
    assert [fresh(berlin, r).status for r in requests] == ["open"] * 3 + ["claimed"]


def test_an_operator_can_claim_in_any_zone(client, berlin, operator, login):
    request = add_request(berlin, postcode="13187")  # Pankow
    login(operator)
    token = csrf_token(client, "/requests")
    response = client.post(f"/requests/{request.reference}/claim", data={"csrf_token": token})
    assert response.headers["Location"] == f"/requests/{request.reference}"
    assert fresh(berlin, request).claimed_by_id == operator.id


def test_one_volunteers_tabs_claiming_at_once_respect_the_limit(app, berlin, volunteer):
    """Six tabs (or app servers) of one volunteer post "take it" for six requests at once."""
    requests = [add_request(berlin) for _ in range(6)]
    tabs = []
    for _ in requests:
        tab = browser(app)
        tab.login_without_password(volunteer.id)
        tabs.append((tab, tab.csrf_token("/requests")))
    barrier = threading.Barrier(len(tabs))
    places = [None] * len(tabs)

    def press(i):
        tab, token = tabs[i]
        barrier.wait()
        response = tab.client.post(
            f"/requests/{requests[i].reference}/claim", data={"csrf_token": token}
        )
        places[i] = response.headers["Location"]

    threads = [threading.Thread(target=press, args=(i,)) for i in range(len(tabs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert places.count("/my-requests") == 3
    claimed = [r for r in requests if fresh(berlin, r).status == RequestStatus.CLAIMED]
    assert len(claimed) == 3
    assert sorted(places) == sorted(
        ["/my-requests"] * 3 + [f"/requests/{r.reference}" for r in claimed]
    )
    assert len(audit(berlin, Action.CLAIMED)) == 3


def test_large_counts_say_when_they_were_counted(app, client, auth, berlin, signed_in):
    """A long backlog is counted every half minute; the list itself is always current."""
    clock = Clock()
    app.extensions["hotline_board_counts"] = RememberedCounts(remember_from=2, clock=clock)
    requests = [add_request(berlin), add_request(berlin)]
    page = client.get("/requests").text
    assert "2 open requests" in page
    # English pages write times the European way: 15:10, not 3:10 PM.
    counted_at = re.search(r"Counts as of (\d\d:\d\d)\.", page)
    assert counted_at, page

    claim(auth, requests[0])
    page = client.get("/requests").text
    assert card_references(page) == [requests[1].reference]
    assert "2 open requests" in page and counted_at.group(0) in page
    clock.now += 30
    page = client.get("/requests").text
    assert "1 open request" in page and "Counts as of" not in page


# --- My requests, and what follows the claim --------------------------------------------


def test_my_requests_lists_my_claims_without_numbers(client, auth, berlin, signed_in):
    mine = add_request(berlin, postcode="12043")
    claim(auth, mine)
    add_request(berlin, postcode="10115")  # open, not mine
    page = client.get("/my-requests", headers=EN).text
    assert card_references(page) == [mine.reference]
    assert NUMBER not in page
    assert "Show number and code" in page
    assert "Returns to the board at" in page


def test_done_asks_first_then_closes_the_request(client, auth, berlin, signed_in):
    request = add_request(berlin)
    claim(auth, request)
    # The first "Done" only asks, and keeps the note typed so far.
    asked = auth.post(
        f"/requests/{request.reference}/done", data={"note": "Shopping brought."}, headers=EN
    )
    assert asked.status_code == 200
    assert "Mark as done?" in asked.text and "Shopping brought." in asked.text
    assert 'name="confirmed" value="yes"' in asked.text
    assert fresh(berlin, request).status == RequestStatus.CLAIMED
    assert audit(berlin, Action.COMPLETED) == []

    response = auth.post(
        f"/requests/{request.reference}/done",
        data={"note": "Shopping brought.", "confirmed": "yes"},
    )
    assert response.headers["Location"] == "/my-requests"
    page = client.get("/my-requests", headers=EN).text
    assert "Marked as done. Thank you for helping!" in page
    assert "Recently finished" in page
    request = fresh(berlin, request)
    assert request.status == RequestStatus.DONE and request.outcome_note == "Shopping brought."
    assert [e.detail for e in audit(berlin, Action.COMPLETED)] == ["Shopping brought."]
    # Finished: the page no longer shows the number.
    after = client.get(f"/requests/{request.reference}", headers=EN).text
    assert "You marked this request as done." in after and NUMBER not in after


def test_done_can_be_undone_for_ten_minutes(client, auth, berlin, signed_in):
    request = add_request(berlin)
    claim(auth, request)
    auth.post(f"/requests/{request.reference}/done", data={"note": "oops", "confirmed": "yes"})
    assert "Undo “done”" in client.get("/my-requests", headers=EN).text

    response = auth.post(f"/requests/{request.reference}/reopen", data={})
    assert response.headers["Location"] == f"/requests/{request.reference}"
    page = client.get(response.headers["Location"], headers=EN).text
    assert "Undone: the request is yours again" in page and NUMBER in page
    request = fresh(berlin, request)
    assert request.status == RequestStatus.CLAIMED and request.closed_at is None
    assert len(audit(berlin, Action.REOPENED)) == 1

    # Done again, and eleven minutes later: too late, and no button offers it.
    auth.post(f"/requests/{request.reference}/done", data={"confirmed": "yes"})
    done = fresh(berlin, request)
    done.closed_at = utcnow() - timedelta(minutes=11)
    berlin.commit()
    assert "Undo “done”" not in client.get("/my-requests", headers=EN).text
    late = auth.post(f"/requests/{request.reference}/reopen", data={})
    assert "can no longer be undone" in client.get(late.headers["Location"], headers=EN).text
    assert fresh(berlin, request).status == RequestStatus.DONE


def test_an_overlong_note_is_a_form_error(client, auth, berlin, signed_in):
    request = add_request(berlin)
    claim(auth, request)
    response = auth.post(f"/requests/{request.reference}/done", data={"note": "x" * 2001})
    assert response.status_code == 422
    assert "At most 2000 characters" in response.text
    assert fresh(berlin, request).status == RequestStatus.CLAIMED


def test_releasing_needs_a_reason_and_puts_the_request_back(client, auth, berlin, signed_in):
    request = add_request(berlin)
    claim(auth, request)
    refused = auth.post(f"/requests/{request.reference}/release", data={}, headers=EN)
    assert refused.status_code == 422
    assert "Please choose a reason." in refused.text
    assert fresh(berlin, request).status == RequestStatus.CLAIMED

    response = auth.post(
        f"/requests/{request.reference}/release",
        data={"reason": "too_far", "note": "Caller lives in Rudow"},
    )
    assert response.headers["Location"] == "/my-requests"
    request = fresh(berlin, request)
    assert request.status == RequestStatus.OPEN and request.claimed_by_id is None
    assert [e.detail for e in audit(berlin, Action.RELEASED)] == ["too_far: Caller lives in Rudow"]
    assert request.reference in client.get("/requests").text


def test_could_not_reach_is_counted_once_per_ten_minutes_and_flagged_after_three(
    client, auth, berlin, signed_in
):
    request = add_request(berlin)
    claim(auth, request)

    def report() -> str:
        response = auth.post(
            f"/requests/{request.reference}/unreachable",
            data={"next": f"/requests/{request.reference}"},
        )
        assert response.headers["Location"] == f"/requests/{request.reference}"
        return client.get(response.headers["Location"], headers=EN).text

    def ten_minutes_pass() -> None:
        held = fresh(berlin, request)
        held.unreachable_noted_at -= timedelta(minutes=10)
        berlin.commit()

    assert "Noted: 1 call without reaching anyone. Please try again later" in report()
    # Tapped again straight away: the same attempt, counted once, and said so.
    assert "attempts within 10 minutes count as one" in report()
    assert fresh(berlin, request).unreachable_count == 1
    ten_minutes_pass()
    assert "Noted: 2 calls without reaching anyone. Please try again later" in report()
    ten_minutes_pass()
    assert "Noted: 3 calls without reaching anyone. The operators have been asked" in report()
    request = fresh(berlin, request)
    assert request.unreachable_count == 3
    assert request.status == RequestStatus.CLAIMED
    assert len(audit(berlin, Action.UNREACHABLE)) == 3


def test_at_the_limit_the_cards_say_why_instead_of_offering_a_claim(
    client, auth, berlin, signed_in
):
    held = [add_request(berlin) for _ in range(3)]
    for request in held:
        claim(auth, request)
    waiting = add_request(berlin)
    board = client.get("/requests", headers=EN).text
    assert "Take it: I will call back" not in board
    assert "You hold 3 of at most 3 requests, so you cannot take another one now." in board
    assert "Finish or give back one of yours to take this one." in board
    page = client.get(f"/requests/{waiting.reference}", headers=EN).text
    assert "Take it" not in page and "Finish or give back one of yours" in page
    # One given back: the cards offer it again.
    auth.post(f"/requests/{held[0].reference}/release", data={"reason": "no_time"})
    assert "Take it: I will call back" in client.get("/requests", headers=EN).text


def test_an_expired_claim_loses_access_to_the_number(client, auth, berlin, signed_in):
    request = add_request(berlin)
    claim(auth, request)
    assert NUMBER in client.get(f"/requests/{request.reference}").text
    stale = fresh(berlin, request)
    stale.claimed_at = utcnow() - timedelta(hours=24, minutes=1)
    berlin.commit()

    # Looking writes nothing, but the number is gone at once, without cron.
    page = client.get(f"/requests/{request.reference}", headers=EN, follow_redirects=True)
    assert NUMBER not in page.text and request.verification_code not in page.text
    assert "went back to the board" in page.text
    assert card_references(client.get("/my-requests").text) == []
    assert fresh(berlin, request).status == RequestStatus.CLAIMED, "a page only looked at"
    assert audit(berlin, Action.EXPIRED, request) == []

    # The next change anyone makes returns it to the open requests.
    response = auth.post(f"/requests/{request.reference}/done", data={"note": "late"})
    assert response.headers["Location"] == "/my-requests"
    assert "went back to the board" in client.get("/my-requests", headers=EN).text
    request = fresh(berlin, request)
    assert request.status == RequestStatus.OPEN and request.expired_claims == 1
    assert len(audit(berlin, Action.EXPIRED, request)) == 1
    page = client.get(f"/requests/{request.reference}", headers=EN)
    assert NUMBER not in page.text
    assert "The phone number is shown once you take the request." in page.text


def test_a_claim_cancelled_by_the_caller_tells_the_volunteer(client, auth, berlin, signed_in):
    request = add_request(berlin)
    claim(auth, request)
    cancel_request(berlin, fresh(berlin, request))
    page = client.get(f"/requests/{request.reference}", headers=EN).text
    assert "The caller has cancelled this request." in page
    assert NUMBER not in page
    response = auth.post(f"/requests/{request.reference}/done", data={})
    assert response.headers["Location"] == "/my-requests"
    assert "The caller has cancelled this request." in client.get("/my-requests", headers=EN).text


@pytest.mark.parametrize("action", ["claim", "done", "release", "unreachable"])
def test_actions_need_the_csrf_token(client, auth, berlin, signed_in, action):
    request = add_request(berlin)
    if action != "claim":
        claim(auth, request)
    before = fresh(berlin, request).status
    response = client.post(f"/requests/{request.reference}/{action}", data={"reason": "other"})
    assert response.status_code == 400
    assert fresh(berlin, request).status == before


def test_the_pages_are_labelled_for_screen_readers(client, auth, berlin, signed_in):
    request = add_request(berlin)
    board = client.get("/requests", headers=EN).text
    assert '<main id="content"' in board and 'href="#content"' in board
    assert '<nav class="zone-counts" aria-label="Open requests per zone">' in board
    assert '<label for="postcode">' in board
    assert f'aria-describedby="title-{request.reference}"' in board
    claim(auth, request)
    page = client.get(f"/requests/{request.reference}", headers=EN).text
    assert f'<label for="note-{request.reference}">' in page
    assert "<legend>Why are you giving it back?</legend>" in page
