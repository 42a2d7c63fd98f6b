"""The dashboard's figures on a seeded helpline, as an operator reads them at noon."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.models import CallOutcome, RequestStatus
from app.requests.dashboard import dashboard
from tests.seeding import call, help_request, utc, volunteer

BERLIN = ZoneInfo("Europe/Berlin")
NOW = utc(2026, 6, 10, 10, 0)  # 12:00 in Berlin
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


@pytest.fixture
def helpline(app, berlin):
    volunteer(berlin, "anna@example.org", zones=["mitte"], approved=True)
    volunteer(berlin, "piotr@example.org", zones=["pankow"])  # not approved yet
    # Calls: three today, one just after local midnight, one just before it.
    call(berlin, utc(2026, 6, 9, 21, 59), sid="CA-yesterday-2359")
    call(berlin, utc(2026, 6, 9, 22, 1), sid="CA-today-0001")
    call(berlin, NOW - 2 * HOUR)
    call(berlin, NOW - HOUR, outcome=CallOutcome.ABANDONED, last_step="postcode")
    call(berlin, NOW - MINUTE, outcome="", status="in-progress", last_step="language")
    call(berlin, NOW - 29 * DAY)
    call(berlin, NOW - 31 * DAY)  # outside the chart
    # Mitte: two open, one claimed, done this week and done long ago.
    help_request(berlin, created_at=NOW - 3 * HOUR, zone_slug="mitte")
    help_request(berlin, created_at=NOW - 2 * DAY, zone_slug="mitte")
    help_request(
        berlin,
        created_at=NOW - 2 * HOUR,
        status=RequestStatus.CLAIMED,
        claimed_at=NOW - 2 * HOUR + 10 * MINUTE,
        zone_slug="mitte",
    )
    help_request(
        berlin,
        created_at=NOW - 3 * DAY,
        status=RequestStatus.DONE,
        claimed_at=NOW - 3 * DAY + 30 * MINUTE,
        closed_at=NOW - 3 * DAY + 90 * MINUTE,
        zone_slug="mitte",
    )
    help_request(
        berlin,
        created_at=NOW - 4 * DAY,
        status=RequestStatus.DONE,
        claimed_at=NOW - 4 * DAY + 2 * HOUR,
        closed_at=NOW - 4 * DAY + 5 * HOUR,
        zone_slug="mitte",
    )
    help_request(  # long ago: in no median and no "done this week"
        berlin,
        created_at=NOW - 20 * DAY,
        status=RequestStatus.DONE,
        claimed_at=NOW - 15 * DAY,
        closed_at=NOW - 14 * DAY,
        zone_slug="mitte",
    )
    # Neukölln and Pankow: requests wait and no approved volunteer serves them.
    help_request(berlin, created_at=NOW - 5 * HOUR, zone_slug="neukoelln")
    help_request(berlin, created_at=NOW - 26 * HOUR, zone_slug="pankow")
    return dashboard(berlin, BERLIN, now=NOW)


def test_today_counts_the_calls_since_local_midnight(helpline):
    assert helpline.today == date(2026, 6, 10)
    assert helpline.calls_today == 4
    assert dict(helpline.outcomes_today) == {
        ("request_created", ""): 2,
        ("abandoned", "postcode"): 1,
        ("in_progress", ""): 1,
    }
    assert helpline.requests_today == 3


def test_backlog_per_zone_waiting_zones_first(helpline):
    by_name = {z.name: z for z in helpline.zones}
    mitte = by_name["Mitte"]
    assert (mitte.open, mitte.claimed, mitte.done_recently, mitte.volunteers) == (2, 1, 2, 1)
    assert mitte.oldest_open_at == NOW - 2 * DAY
    assert (by_name["Neukölln"].open, by_name["Neukölln"].volunteers) == (1, 0)
    assert by_name["Spandau"].open == 0 and by_name["Spandau"].oldest_open_at is None
    assert len(helpline.zones) == 12
    assert helpline.zones[0].name == "Mitte"
    assert (helpline.open_total, helpline.claimed_total) == (4, 1)


def test_zones_with_waiting_requests_and_no_approved_volunteer_raise_an_alert(helpline):
    assert sorted(z.name for z in helpline.uncovered_zones) == ["Neukölln", "Pankow"]


def test_medians_over_the_last_seven_days(helpline):
    # Claims this week took 10 min, 30 min and 2 h; the one 15 days ago is left out.
    assert helpline.call_to_claim == 30 * MINUTE
    assert helpline.claims_counted == 3
    # Done this week after 1 h and 3 h.
    assert helpline.claim_to_done == 2 * HOUR
    assert helpline.completions_counted == 2


def test_calls_per_day_over_thirty_local_days(helpline):
    days = helpline.calls_per_day
    assert len(days) == 30
    assert days[0][0] == date(2026, 5, 12) and days[-1][0] == date(2026, 6, 10)
    counts = dict(days)
    assert counts[date(2026, 6, 10)] == 4
    assert counts[date(2026, 6, 9)] == 1
    assert counts[date(2026, 5, 12)] == 1
    assert sum(counts.values()) == 6


def test_an_empty_helpline_has_no_medians(app, berlin):
    empty = dashboard(berlin, BERLIN, now=NOW)
    assert empty.calls_today == 0
    assert empty.call_to_claim is None and empty.claim_to_done is None
    assert empty.uncovered_zones == []
    assert sum(count for _, count in empty.calls_per_day) == 0


def test_calls_per_day_cut_at_local_midnight_across_dst(app, berlin):
    call(berlin, utc(2026, 3, 28, 22, 30))  # 23:30 on the 28th (CET)
    call(berlin, utc(2026, 3, 28, 23, 30))  # 00:30 on the 29th
    call(berlin, utc(2026, 3, 29, 21, 30))  # 23:30 on the 29th (CEST)
    call(berlin, utc(2026, 3, 29, 22, 30))  # 00:30 on the 30th

    counts = dict(dashboard(berlin, BERLIN, now=utc(2026, 3, 30, 10)).calls_per_day)

    assert (counts[date(2026, 3, 28)], counts[date(2026, 3, 29)], counts[date(2026, 3, 30)]) == (
        1,
        2,
        1,
    )
