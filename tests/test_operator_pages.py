"""The operator pages as an operator uses them, and as nobody else can."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.database import utcnow
from app.models import AccountStatus, AuditEvent, Call, HelpRequest, RequestStatus, User
from app.requests.attention import Reason, requests_needing_attention
from tests.conftest import csrf_token, signed_in_keys
from tests.seeding import call, help_request, operator_account, utc, volunteer

GET_PAGES = [
    "/operator/",
    "/operator/volunteers",
    "/operator/volunteers?status=approved",
    "/operator/attention",
    "/operator/audit",
    "/operator/export",
]


@pytest.fixture
def pending(berlin):
    return volunteer(berlin, "piotr@example.org", zones=["pankow", "mitte"], name="Piotr")


@pytest.fixture
def anna(berlin):
    return volunteer(berlin, "anna@example.org", zones=["mitte"], approved=True, name="Anna")


@pytest.fixture
def post_actions(berlin, pending):
    """Every operator action, with what it needs to exist."""
    stuck = help_request(berlin, created_at=utcnow() - timedelta(days=2), unreachable_count=3)
    message = call(berlin, utcnow(), operator_message_url="https://api.twilio.com/rec/RE9")
    return [
        (f"/operator/volunteers/{pending.id}", {"decision": "approve"}),
        (f"/operator/attention/requests/{stuck.id}/return", {}),
        (f"/operator/attention/requests/{stuck.id}/close", {}),
        (f"/operator/attention/messages/{message.id}/handled", {}),
        ("/operator/export", {"first": "2026-06-01"}),
    ]


# -- who may see the pages ---------------------------------------------------------------------


@pytest.mark.parametrize("path", GET_PAGES)
def test_an_anonymous_visitor_is_sent_to_the_login(app, client, path):
    response = client.get(path)
    assert response.status_code == 302
    from board import login_manager

    with app.test_request_context():
        from flask import url_for

        login = url_for(login_manager.login_view)
    assert response.headers["Location"].split("?")[0] == login


@pytest.mark.parametrize("path", GET_PAGES)
def test_a_volunteer_gets_403(login, anna, path):
    assert login(anna).get(path).status_code == 403


@pytest.mark.parametrize("path", GET_PAGES)
def test_an_operator_sees_every_page(login, operator, path):
    response = login(operator).get(path, headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert 'aria-label="Operator pages"' in response.text
    assert response.headers["Cache-Control"] == "no-store", "personal data is never cached"


def test_a_suspended_operator_is_refused(berlin, login):
    former = operator_account(berlin, "former@example.org", status=AccountStatus.SUSPENDED)
    assert login(former).get("/operator/").status_code == 403


def test_no_action_works_for_a_volunteer_or_a_stranger(berlin, client, login, anna, post_actions):
    for path, data in post_actions:
        token = csrf_token(client)
        anonymous = client.post(path, data={**data, "csrf_token": token})
        assert anonymous.status_code == 302, path
    login(anna)
    for path, data in post_actions:
        token = csrf_token(client)
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 403, path
    berlin.expire_all()
    assert berlin.scalars(select(AuditEvent)).all() == []
    assert berlin.scalars(select(User).where(User.email == "piotr@example.org")).one().status == (
        AccountStatus.PENDING
    )


def test_actions_need_the_csrf_token(login, operator, post_actions):
    client = login(operator)
    for path, data in post_actions:
        assert client.post(path, data=data).status_code == 400, path


# -- the dashboard ----------------------------------------------------------------------------


def test_the_dashboard_shows_today_the_backlog_and_the_coverage_alert(berlin, login, operator):
    now = utcnow()
    call(berlin, now - timedelta(minutes=5))
    help_request(berlin, created_at=now - timedelta(hours=3), zone_slug="neukoelln")
    volunteer(berlin, "anna@example.org", zones=["mitte"], approved=True)
    help_request(berlin, created_at=now - timedelta(hours=1), zone_slug="mitte")

    page = login(operator).get("/operator/", headers={"Accept-Language": "en"}).text

    alert = page.split('id="coverage-heading"')[1].split("</section>")[0]
    assert "Neukölln" in alert and "Mitte" not in alert
    assert "request created" in page
    assert '<svg viewBox="0 0 600 200" preserveAspectRatio="none" role="img"' in page
    # Pending sign-ups are counted on the dashboard and beside "Volunteers".
    assert "Sign-ups waiting" in page
    # The chart's table: one row per day of the last 30.
    table = page.split("Calls per day as a table")[1]
    assert table.count('<th scope="row"><time') == 30


def test_the_dashboard_speaks_german_and_polish(login, operator):
    client = login(operator)
    assert "Anrufe heute" in client.get("/operator/", headers={"Accept-Language": "de"}).text
    assert "Połączenia dzisiaj" in client.get("/operator/", headers={"Accept-Language": "pl"}).text


# -- volunteers ---------------------------------------------------------------------------------


def test_pending_volunteers_are_listed_with_their_zones(login, operator, pending):
    page = login(operator).get("/operator/volunteers", headers={"Accept-Language": "en"}).text
    row = page.split("Piotr")[1].split("</tr>")[0]
    assert "Pankow" in row and "Mitte" in row
    assert 'value="approve"' in row and 'value="reject"' in row and 'value="suspend"' not in row


def test_approving_a_volunteer(berlin, client, login, operator, pending):
    login(operator)
    response = client.post(
        f"/operator/volunteers/{pending.id}",
        data={"decision": "approve", "note": "met in person", "csrf_token": csrf_token(client)},
        headers={"Accept-Language": "en"},
    )

    assert response.status_code == 302
    berlin.expire_all()
    assert berlin.get(User, pending.id).status == AccountStatus.APPROVED
    event = berlin.scalars(select(AuditEvent)).one()
    assert (event.action, event.user_id, event.subject_user_id) == (
        "approved",
        operator.id,
        pending.id,
    )
    assert "pending -> approved (met in person)" in event.detail
    page = client.get(response.headers["Location"], headers={"Accept-Language": "en"}).text
    assert "Piotr is approved" in page


def test_suspending_puts_the_volunteers_claims_back_on_the_board(
    berlin, client, login, operator, anna
):
    claimed = help_request(
        berlin,
        created_at=utcnow() - timedelta(hours=2),
        status=RequestStatus.CLAIMED,
        claimed_at=utcnow() - timedelta(hours=1),
        claimed_by=anna,
    )
    done = help_request(
        berlin,
        created_at=utcnow() - timedelta(hours=5),
        status=RequestStatus.DONE,
        claimed_by=anna,
        claimed_at=utcnow() - timedelta(hours=4),
        closed_at=utcnow() - timedelta(hours=3),
    )
    login(operator)
    client.post(
        f"/operator/volunteers/{anna.id}",
        data={"decision": "suspend", "csrf_token": csrf_token(client)},
    )

    berlin.expire_all()
    assert berlin.get(User, anna.id).status == AccountStatus.SUSPENDED
    back = berlin.get(HelpRequest, claimed.id)
    assert (back.status, back.claimed_by_id, back.claimed_at) == (RequestStatus.OPEN, None, None)
    assert berlin.get(HelpRequest, done.id).status == RequestStatus.DONE
    actions = [e.action for e in berlin.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["suspended", "released"]


@pytest.mark.parametrize(
    ("status", "decision"),
    [
        (AccountStatus.APPROVED, "approve"),
        (AccountStatus.APPROVED, "reject"),
        (AccountStatus.PENDING, "suspend"),
        (AccountStatus.REJECTED, "suspend"),
        (AccountStatus.PENDING, "delete"),
    ],
)
def test_a_decision_that_does_not_apply_changes_nothing(
    berlin, client, login, operator, pending, status, decision
):
    pending.status = status
    berlin.commit()
    login(operator)
    response = client.post(
        f"/operator/volunteers/{pending.id}",
        data={"decision": decision, "csrf_token": csrf_token(client)},
        follow_redirects=True,
        headers={"Accept-Language": "en"},
    )
    assert 'class="flash error"' in response.text
    berlin.expire_all()
    assert berlin.get(User, pending.id).status == status
    assert berlin.scalars(select(AuditEvent)).all() == []


def test_operators_cannot_be_decided_on_from_the_volunteer_page(berlin, client, login, operator):
    other = operator_account(berlin, "other@example.org")
    login(operator)
    client.post(
        f"/operator/volunteers/{other.id}",
        data={"decision": "suspend", "csrf_token": csrf_token(client)},
    )
    berlin.expire_all()
    assert berlin.get(User, other.id).status == AccountStatus.APPROVED


# -- needs attention ----------------------------------------------------------------------------


def test_the_attention_page_lists_stuck_requests_and_voice_messages(berlin, login, operator, anna):
    help_request(berlin, created_at=utcnow(), number="+4930777777")  # fine: not listed
    stuck = help_request(
        berlin, created_at=utcnow() - timedelta(days=1), unreachable_count=3, number="+4930888888"
    )
    call(
        berlin,
        utcnow() - timedelta(hours=1),
        number="+4930999999",
        operator_message_url="https://api.twilio.com/rec/RE1",
    )

    page = login(operator).get("/operator/attention", headers={"Accept-Language": "en"}).text

    assert stuck.reference in page and "could not be reached 3 times" in page
    assert "+49 *** **88" in page and "+49 *** **99" in page, "masked until asked for"
    assert "+4930777777" not in page and "+49 *** **77" not in page
    assert 'src="https://api.twilio.com/rec/RE1"' in page


def test_putting_a_request_back_on_the_board(berlin, client, login, operator, anna):
    stuck = help_request(
        berlin,
        created_at=utcnow() - timedelta(days=1),
        status=RequestStatus.CLAIMED,
        claimed_by=anna,
        claimed_at=utcnow(),
        unreachable_count=3,
    )
    login(operator)
    client.post(
        f"/operator/attention/requests/{stuck.id}/return",
        data={"note": "reached her on the second try", "csrf_token": csrf_token(client)},
    )

    berlin.expire_all()
    back = berlin.get(HelpRequest, stuck.id)
    assert (back.status, back.claimed_by_id, back.unreachable_count) == (
        RequestStatus.OPEN,
        None,
        0,
    )
    assert back.id not in [
        i.request.id for i in requests_needing_attention(berlin, unclaimed_alert_hours=48)
    ]
    event = berlin.scalars(select(AuditEvent)).one()
    assert (event.action, event.request_id, event.user_id) == (
        "returned_to_board",
        stuck.id,
        operator.id,
    )
    assert event.detail == "reached her on the second try"
    assert stuck.reference not in login(operator).get("/operator/attention").text


def test_closing_a_request_that_no_longer_needs_help(berlin, client, login, operator):
    stuck = help_request(berlin, created_at=utcnow() - timedelta(days=3), expired_claims=2)
    login(operator)
    client.post(
        f"/operator/attention/requests/{stuck.id}/close",
        data={"note": "neighbour helped", "csrf_token": csrf_token(client)},
    )
    again = client.post(
        f"/operator/attention/requests/{stuck.id}/close",
        data={"csrf_token": csrf_token(client)},
        follow_redirects=True,
        headers={"Accept-Language": "en"},
    )

    berlin.expire_all()
    closed = berlin.get(HelpRequest, stuck.id)
    assert closed.status == RequestStatus.CANCELLED and closed.closed_at is not None
    assert closed.outcome_note == "neighbour helped"
    assert "closed meanwhile" in again.text
    assert len(berlin.scalars(select(AuditEvent)).all()) == 1


def test_marking_a_voice_message_handled(berlin, client, login, operator):
    message = call(berlin, utcnow(), operator_message_url="https://api.twilio.com/rec/RE5")
    login(operator)
    client.post(
        f"/operator/attention/messages/{message.id}/handled",
        data={"csrf_token": csrf_token(client)},
    )
    client.post(
        f"/operator/attention/messages/{message.id}/handled",
        data={"csrf_token": csrf_token(client)},
    )

    berlin.expire_all()
    assert berlin.get(Call, message.id).operator_message_handled_at is not None
    events = berlin.scalars(select(AuditEvent)).all()
    assert [(e.action, e.user_id) for e in events] == [("message_handled", operator.id)]
    assert "RE5" not in client.get("/operator/attention").text


def test_a_request_nobody_takes_is_listed_for_the_operators_and_stays_on_the_board(
    berlin, client, login, operator, anna
):
    waiting = help_request(berlin, created_at=utcnow() - timedelta(hours=49))
    fresh = help_request(berlin, created_at=utcnow() - timedelta(hours=47))
    claimed = help_request(
        berlin,
        created_at=utcnow() - timedelta(hours=72),
        status=RequestStatus.CLAIMED,
        claimed_by=anna,
        claimed_at=utcnow(),
    )

    page = login(operator).get("/operator/attention", headers={"Accept-Language": "en"}).text

    assert waiting.reference in page and "nobody has taken it for 49 hours" in page
    assert fresh.reference not in page and claimed.reference not in page
    dashboard = client.get("/operator/", headers={"Accept-Language": "en"}).text
    assert "1 request needs attention" in dashboard
    assert "1 of the requests has waited more than 48 hours without a volunteer" in dashboard
    berlin.expire_all()
    assert berlin.get(HelpRequest, waiting.id).status == RequestStatus.OPEN, "never expired"
    board = login(anna).get("/requests").text
    assert waiting.reference in board


@pytest.mark.parametrize("language", ["de", "pl"])
def test_the_unclaimed_alert_speaks_german_and_polish(berlin, login, operator, language):
    help_request(berlin, created_at=utcnow() - timedelta(hours=52, minutes=30))
    page = login(operator).get("/operator/attention", headers={"Accept-Language": language})
    dashboard = login(operator).get("/operator/", headers={"Accept-Language": language})
    expected = {
        "de": ("seit 52 Stunden nicht übernommen", "1 Anfrage wartet seit mehr als 48 Std."),
        "pl": ("nikt go nie przyjął od 52 godzin", "1 zgłoszenie czeka ponad 48 godz."),
    }[language]
    assert expected[0] in page.text and expected[1] in dashboard.text


def test_after_the_operator_puts_it_back_the_wait_starts_again(berlin, client, login, operator):
    waiting = help_request(berlin, created_at=utcnow() - timedelta(hours=60))
    login(operator)
    client.post(
        f"/operator/attention/requests/{waiting.id}/return",
        data={"note": "still needs shopping on Friday", "csrf_token": csrf_token(client)},
    )

    assert waiting.reference not in client.get("/operator/attention").text
    settings = client.application.config["HOTLINE"]
    later = utcnow() + timedelta(hours=settings.unclaimed_alert_hours + 1)
    [item] = requests_needing_attention(
        berlin, unclaimed_alert_hours=settings.unclaimed_alert_hours, now=later
    )
    assert item.request.id == waiting.id and item.reasons == (Reason.UNCLAIMED,)


def test_the_unclaimed_alert_follows_the_configuration(another_app, berlin, operator):
    help_request(berlin, created_at=utcnow() - timedelta(hours=3))
    app = another_app(unclaimed_alert_hours=2)
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(signed_in_keys(operator.id))
    page = client.get("/operator/attention", headers={"Accept-Language": "en"}).text
    assert "nobody has taken it for 3 hours" in page


def test_operators_see_a_callers_number_only_on_asking_and_the_audit_log_knows(
    berlin, client, login, operator
):
    stuck = help_request(berlin, created_at=utcnow() - timedelta(days=1), unreachable_count=3)
    message = call(berlin, utcnow(), number="+4930999999", operator_message_url="https://x/RE1")
    call(berlin, utcnow(), number=None, operator_message_url="https://x/RE2")  # nothing to see
    typed = call(berlin, utcnow(), number=None, operator_message_url="https://x/RE3")
    typed.callback_number = "+4930123456"
    berlin.commit()
    english = {"Accept-Language": "en"}

    login(operator)
    listed = client.get("/operator/attention", headers=english).text
    assert stuck.caller_number not in listed and "+4930999999" not in listed
    assert stuck.verification_code not in listed
    assert "+49 ***" in listed and "Show number" in listed
    assert berlin.scalars(select(AuditEvent)).all() == [], "looking writes nothing"

    token = csrf_token(client)
    shown = client.post(
        f"/operator/attention/requests/{stuck.id}/number", data={"csrf_token": token}
    )
    assert f'href="tel:{stuck.caller_number}"' in shown.text
    assert stuck.verification_code in shown.text
    assert "+4930999999" not in shown.text, "only the number asked for"
    client.post(f"/operator/attention/messages/{message.id}/number", data={"csrf_token": token})
    client.post(f"/operator/attention/messages/{typed.id}/number", data={"csrf_token": token})

    events = berlin.scalars(
        select(AuditEvent).where(AuditEvent.action == "number_viewed").order_by(AuditEvent.id)
    ).all()
    assert [(e.user_id, e.request_id, e.detail) for e in events] == [
        (operator.id, stuck.id, ""),
        (operator.id, None, f"caller number of call {message.call_sid}"),
        (operator.id, None, f"caller number of call {typed.call_sid}"),
    ]
    page = client.get("/operator/audit?action=number_viewed", headers=english)
    assert "viewed the caller&#39;s number" in page.text and stuck.reference in page.text


def test_a_number_no_longer_on_the_attention_page_is_not_shown(berlin, client, login, operator):
    done = help_request(berlin, created_at=utcnow() - timedelta(days=1), status="done")
    login(operator)
    answer = client.post(
        f"/operator/attention/requests/{done.id}/number",
        data={"csrf_token": csrf_token(client)},
        headers={"Accept-Language": "en"},
        follow_redirects=True,
    )
    assert "no longer needs attention" in answer.text
    assert done.caller_number not in answer.text
    assert berlin.scalars(select(AuditEvent)).all() == []


def test_an_attention_page_without_numbers_writes_nothing(berlin, login, operator):
    login(operator).get("/operator/attention")
    assert berlin.scalars(select(AuditEvent)).all() == []


# -- the audit log ------------------------------------------------------------------------------


@pytest.fixture
def history(berlin, client, login, operator, anna, pending):
    """Anna approved long ago, Piotr approved now, a request Anna worked on."""
    from app import audit

    worked = help_request(berlin, created_at=utcnow())
    audit.record(berlin, audit.Action.CLAIMED, user=anna, request=worked)
    audit.record(berlin, audit.Action.COMPLETED, user=anna, request=worked)
    audit.record(berlin, audit.Action.EXPORTED, user=operator, detail="call log 2026-06-01")
    berlin.commit()
    login(operator)
    client.post(
        f"/operator/volunteers/{pending.id}",
        data={"decision": "approve", "csrf_token": csrf_token(client)},
    )
    return worked


def rows(page: str) -> list[str]:
    return page.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]


def test_the_audit_log_filtered_by_volunteer(client, history, anna, pending):
    anna_rows = rows(client.get(f"/operator/audit?person={anna.id}").text)
    piotr_rows = rows(client.get(f"/operator/audit?person={pending.id}").text)

    assert len(anna_rows) == 2 and all(history.reference in r for r in anna_rows)
    assert len(piotr_rows) == 1 and "Olga Operator" in piotr_rows[0]


def test_the_audit_log_filtered_by_request_reference(client, history):
    typed = history.reference.lower().replace("-", "")
    by_request = rows(client.get(f"/operator/audit?reference={typed}").text)
    assert len(by_request) == 2


def test_the_whole_audit_log_newest_first(client, history):
    everything = rows(client.get("/operator/audit", headers={"Accept-Language": "en"}).text)
    assert len(everything) == 4
    # In words, not the stored "pending -> approved".
    assert "approved the account (it was waiting for approval)" in everything[0]
    assert "took the request" in everything[-1]
    assert "->" not in "".join(everything)


def test_the_audit_log_explains_a_bad_or_unknown_reference(client, history):
    bad = client.get("/operator/audit?reference=not-a-ref", headers={"Accept-Language": "en"})
    unknown = client.get("/operator/audit?reference=AAA-AAA", headers={"Accept-Language": "en"})

    assert bad.status_code == 400 and "A reference looks like HX7-K4M." in bad.text
    assert unknown.status_code == 200 and "No request has the reference AAA-AAA." in unknown.text


def test_the_audit_log_pages_on_to_older_events(berlin, client, history):
    from app import audit

    for n in range(120):
        audit.record(berlin, audit.Action.PURGED, detail=f"run {n}")
    berlin.commit()

    first = client.get("/operator/audit").text
    older_link = re.search(r'href="(/operator/audit\?before=\d+)"', first).group(1)
    second = client.get(older_link).text

    assert len(rows(first)) == 100 and "run 119" in first
    assert len(rows(second)) == 24 and "run 19" in second and "run 20<" not in second


# -- the export download ------------------------------------------------------------------------


def download(client, **data):
    form = {"csrf_token": csrf_token(client), **data}
    return client.post("/operator/export", data=form, headers={"Accept-Language": "en"})


def test_the_download_is_the_cli_export(berlin, client, login, operator, runner):
    call(berlin, utc(2026, 3, 28, 23, 30), number="+4930123456")  # 00:30 on the 29th
    call(berlin, utc(2026, 3, 29, 12, 0), number=None)
    login(operator)

    response = download(client, first="2026-03-29")
    cli = runner.invoke(args=["calls", "export", "--date", "2026-03-29", "--language", "en"])

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response.headers["Content-Disposition"]
        == 'attachment; filename="calls-2026-03-29-masked.csv"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert response.data.startswith(b"\xef\xbb\xbfCall SID,")
    assert response.data == cli.stdout_bytes
    assert b"'+49 *** **56" in response.data
    assert berlin.scalars(select(AuditEvent)).all() == []


def test_a_download_with_numbers_is_in_the_audit_log(berlin, client, login, operator):
    call(berlin, utc(2026, 6, 1, 10), number="+4930123456")
    call(berlin, utc(2026, 6, 2, 10), number="+4930654321")
    login(operator)

    response = download(client, first="2026-06-01", last="2026-06-02", with_numbers="y")

    assert b"'+4930123456" in response.data and b"'+4930654321" in response.data
    disposition = response.headers["Content-Disposition"]
    assert 'filename="calls-2026-06-01-to-2026-06-02-full-numbers.csv"' in disposition
    event = berlin.scalars(select(AuditEvent)).one()
    assert (event.action, event.user_id) == ("exported", operator.id)
    assert "2026-06-01 to 2026-06-02" in event.detail and "2 calls" in event.detail


def test_the_export_starts_at_today_says_so_and_has_yesterday_one_tap_away(
    berlin, client, login, operator
):
    from zoneinfo import ZoneInfo

    from app.calls.export import local_today

    today = local_today(ZoneInfo("Europe/Berlin"))
    call(berlin, utcnow() - timedelta(seconds=5))
    login(operator)
    page = client.get("/operator/export", headers={"Accept-Language": "en"}).text
    assert f'value="{today.isoformat()}"' in page
    assert "Chosen: today," in page
    yesterday = client.get("/operator/export?day=yesterday", headers={"Accept-Language": "en"})
    assert f'value="{(today - timedelta(days=1)).isoformat()}"' in yesterday.text
    assert "Chosen: yesterday," in yesterday.text
    # The first download right after a call has it.
    response = download(client, first=today.isoformat())
    assert response.status_code == 200 and response.data.count(b"\r\n") == 2


def test_a_download_gives_its_database_connection_back(app, berlin, client, login, operator):
    """The stream outlives the request's teardown; it must close its own session."""
    from app.database import get_db

    call(berlin, utc(2026, 6, 1, 10))
    login(operator)
    berlin.commit()

    for with_numbers in ({}, {"with_numbers": "y"}):
        response = download(client, first="2026-06-01", **with_numbers)
        assert response.status_code == 200 and response.data.count(b"\r\n") == 2
        # Checked while the response is still held, as a server holds it
        # until the last byte is sent: the connection must be back already.
        assert get_db(app).engine.pool.checkedout() == 0


def test_the_download_in_german_uses_semicolons(berlin, client, login, operator):
    call(berlin, utc(2026, 6, 1, 10))
    login(operator)
    response = client.post(
        "/operator/export",
        data={"csrf_token": csrf_token(client), "first": "2026-06-01"},
        headers={"Accept-Language": "de"},
    )
    assert response.data.startswith("\ufeffAnruf-SID;".encode())


def test_an_empty_range_explains_itself_and_downloads_nothing(berlin, client, login, operator):
    login(operator)
    response = download(client, first="2026-06-01")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "No calls on" in response.text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"first": ""}, "Choose the first day."),
        ({"first": "yesterday"}, "Not a valid date value."),
        ({"first": "2026-06-03", "last": "2026-06-01"}, "The last day is before the first day."),
        ({"first": "9999-12-31"}, "Choose a day from 1 Jan 2000 to 31 Dec 2999."),
        ({"first": "0001-01-01"}, "Choose a day from 1 Jan 2000 to 31 Dec 2999."),
        ({"first": "2026-06-01", "last": "3000-01-01"}, "Choose a day from"),
    ],
)
def test_bad_days_get_a_form_error(login, operator, client, data, message):
    login(operator)
    response = download(client, **data)
    assert response.status_code == 400
    assert message in response.text
    assert 'aria-invalid="true"' in response.text
