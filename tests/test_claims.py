"""Claims as the domain services make them: the board's query, the race, the life of a claim."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, func, insert, select

from app.audit import Action
from app.database import get_db, utcnow
from app.models import AuditEvent, HelpRequest, Postcode, RequestStatus, Role, User
from app.requests.attention import Reason, requests_needing_attention
from app.requests.claims import (
    Access,
    BoardFilters,
    ClaimResult,
    ReleaseResult,
    claim_request,
    complete_request,
    expire_stale_claims,
    open_requests,
    record_number_viewed,
    record_unreachable,
    release_request,
    request_seen_by,
    zones_served_by,
)
from app.requests.counts import RememberedCounts
from tests.conftest import add_request
from tests.seeding import cancel_request

LIMIT = 3


def events(db, action, request=None):
    query = select(AuditEvent).where(AuditEvent.action == action)
    if request is not None:
        query = query.where(AuditEvent.request_id == request.id)
    return list(db.scalars(query))


def user(db, person):
    return db.get(User, person.id)


def age_request(db, request, hours):
    request.created_at = utcnow() - timedelta(hours=hours)
    db.commit()


def claim(db, request, person) -> ClaimResult:
    """A claim as the board makes one: the service, then the commit."""
    result = claim_request(db, request.reference, person, max_open_claims=LIMIT)
    db.commit()
    return result


def needing_attention(db) -> list:
    """What the operators' "Needs attention" page lists: (request id, reasons)."""
    items = requests_needing_attention(db, unclaimed_alert_hours=48)
    return [(item.request.id, item.reasons) for item in items]


def run_at_once(count, work):
    """Run work(i) in `count` threads released together; the results in thread order."""
    barrier = threading.Barrier(count)
    results = [None] * count
    errors = []

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as e:  # noqa: BLE001  (reported below, with the thread's index)
            errors.append((i, e))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


# --- The board's query ------------------------------------------------------------------


def test_the_board_lists_open_requests_in_my_zones_oldest_first(berlin, volunteer):
    newer = add_request(berlin, postcode="12043")
    older = add_request(berlin, postcode="10115")
    age_request(berlin, older, hours=5)
    add_request(berlin, postcode="13187")  # Pankow: not one of mine
    claimed = add_request(berlin, postcode="10115")
    claimed.status = RequestStatus.CLAIMED
    berlin.commit()

    board = open_requests(berlin, zones_served_by(berlin, user(berlin, volunteer)))
    assert [r.id for r in board.requests] == [older.id, newer.id]
    assert [(zone.slug, count) for zone, count in board.counts] == [
        ("mitte", 1),
        ("neukoelln", 1),
    ]
    assert board.total == 2


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"postcode_prefix": "120"}, ["12043", "12047"]),
        ({"postcode_prefix": "1204"}, ["12043", "12047"]),
        ({"postcode_prefix": "12043"}, ["12043"]),
        ({"postcode_prefix": "10115"}, ["10115"]),
        ({"postcode_prefix": "%"}, []),  # a LIKE wildcard is just a character here
        ({"request_type": "pharmacy"}, ["12047"]),
        ({"language": "pl"}, ["12043"]),
        ({"language": "pl", "request_type": "pharmacy"}, []),
    ],
)
def test_filters_narrow_the_board_and_the_counts(berlin, volunteer, filters, expected):
    add_request(berlin, postcode="10115")
    add_request(berlin, postcode="12043", language="pl")
    add_request(berlin, postcode="12047", request_type="pharmacy")
    zones = zones_served_by(berlin, user(berlin, volunteer))
    board = open_requests(berlin, zones, BoardFilters(**filters))
    assert sorted(r.postcode for r in board.requests) == expected
    assert sum(count for _, count in board.counts) == len(expected) == board.total


def test_a_zone_filter_cannot_widen_what_a_volunteer_sees(berlin, volunteer):
    pankow_request = add_request(berlin, postcode="13187")
    zones = zones_served_by(berlin, user(berlin, volunteer))
    board = open_requests(berlin, zones, BoardFilters(zone_id=pankow_request.zone_id))
    assert board.requests == [] and board.total == 0


def test_operators_see_every_zone(berlin, make_person):
    operator = make_person("op@example.org", zones=[], role=Role.OPERATOR)
    add_request(berlin, postcode="13187")
    zones = zones_served_by(berlin, user(berlin, operator))
    assert len(zones) == 12
    assert open_requests(berlin, zones).total == 1


def fill_the_board(db, open_count: int, closed_count: int) -> None:
    """A board after some months: `open_count` requests open (the newest), `closed_count`
    done, one every seven minutes, over Berlin's zones."""
    postcodes = db.execute(select(Postcode.code, Postcode.zone_id).order_by(Postcode.code)).all()
    now = utcnow()
    rows = []
    for i in range(open_count + closed_count):
        code, zone_id = postcodes[i % len(postcodes)]
        is_open = i < open_count
        created = now - timedelta(minutes=7 * i + 1)
        rows.append(
            {
                "reference": f"T{i:06d}",
                "postcode": code,
                "zone_id": zone_id,
                "request_type": ("shopping", "pharmacy", "chat")[i % 3],
                "language": ("de", "de", "en", "pl")[i % 4],
                "caller_number": f"+4930{i:07d}",
                "status": RequestStatus.OPEN if is_open else RequestStatus.DONE,
                "created_at": created,
                "closed_at": None if is_open else created + timedelta(hours=3),
            }
        )
    db.execute(insert(HelpRequest), rows)
    db.commit()


def board_statements(app, session, zones) -> dict[str, tuple]:
    """What open_requests sends for `zones`: plain, and narrowed by postcode and language."""
    statements = []
    engine = get_db(app).engine

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        open_requests(session, zones)
        open_requests(session, zones, BoardFilters(postcode_prefix="1", language="de"))
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    counts, lists = (
        [s for s in statements if "count(*)" in s[0]],
        [s for s in statements if "ORDER BY" in s[0]],
    )
    return {"count": counts[0], "list": lists[0], "narrowed count": counts[1]}


def sqlite_plan(session, statement, parameters) -> str:
    explained = session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
    return "\n".join(row[-1] for row in explained)


def postgresql_plan(session, statement, parameters) -> str:
    explained = session.connection().exec_driver_sql("EXPLAIN " + statement, parameters)
    return "\n".join(row[0] for row in explained)


@pytest.mark.parametrize("command", [["db", "analyze"], ["db", "upgrade"]])
def test_with_fresh_statistics_the_board_reads_its_indexes(
    app, berlin, runner, make_person, command
):
    """Thousands of closed requests and some hundreds open, statistics gathered as the app
    gathers them (every night, and after every upgrade): a board reads the oldest open
    requests in index order and stops at a page's worth (no sort of every open request
    of its zones), and counts them, filters included, through an index (SQLite from the
    index of open requests by zone alone). Without the statistics both databases sort
    instead."""
    fill_the_board(berlin, open_count=600, closed_count=6000)
    result = runner.invoke(args=command)
    assert result.exit_code == 0, result.output
    # SQLite reads statistics when a connection opens: a server starts after an upgrade,
    # and reopens its connections within the hour after the nightly run (app/database.py).
    get_db(app).engine.dispose()
    ada = user(berlin, make_person("ada@example.org", zones=["mitte", "neukoelln"]))
    operator = user(berlin, make_person("op@example.org", zones=[], role=Role.OPERATOR))
    for person in (ada, operator):
        statements = board_statements(app, berlin, zones_served_by(berlin, person))
        if berlin.get_bind().dialect.name == "sqlite":
            plans = {what: sqlite_plan(berlin, *s) for what, s in statements.items()}
            assert "SCAN help_requests USING INDEX ix_help_requests_open_created" in plans["list"]
            assert "TEMP B-TREE" not in plans["list"], plans["list"]
            for count in ("count", "narrowed count"):
                assert "USING COVERING INDEX ix_help_requests_open_zone" in plans[count], plans
        else:
            plans = {what: postgresql_plan(berlin, *s) for what, s in statements.items()}
            assert "Index Scan using ix_help_requests_open_created" in plans["list"], plans
            assert "Sort" not in plans["list"], plans["list"]
            # The counts read the open requests through one index or another (an index-only
            # scan once autovacuum has marked the table's pages all-visible).
        for plan in plans.values():
            assert "Seq Scan on help_requests" not in plan, plans


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_large_counts_are_remembered_for_half_a_minute_the_requests_never(berlin, volunteer):
    clock = Clock()
    remembered = RememberedCounts(remember_from=2, clock=clock)
    zones = zones_served_by(berlin, user(berlin, volunteer))
    first, second = add_request(berlin), add_request(berlin, postcode="12043")
    board = open_requests(berlin, zones, remembered=remembered)
    assert board.total == 2 and board.counted_at is not None

    third = add_request(berlin)
    clock.now += 29
    board = open_requests(berlin, zones, remembered=remembered)
    assert board.total == 2 and sum(count for _, count in board.counts) == 2
    assert [r.id for r in board.requests] == [first.id, second.id, third.id]
    # Other filters are other counts, counted now.
    pharmacy = open_requests(
        berlin, zones, BoardFilters(request_type="pharmacy"), remembered=remembered
    )
    assert pharmacy.total == 0 and pharmacy.counted_at is None

    clock.now += 1
    board = open_requests(berlin, zones, remembered=remembered)
    assert board.total == 3 and board.counted_at is not None


def test_counts_remembered_for_every_zone_serve_every_board(berlin, volunteer, make_person):
    """One count per half minute serves all boards; a quiet board of one's own stays exact."""
    clock = Clock()
    remembered = RememberedCounts(remember_from=3, clock=clock)
    ada = user(berlin, volunteer)  # Mitte and Neukölln
    operator = user(berlin, make_person("op@example.org", zones=[], role=Role.OPERATOR))
    for postcode in ("13187", "13189", "10115"):  # Pankow twice, Mitte once
        add_request(berlin, postcode=postcode)
    everywhere = open_requests(berlin, zones_served_by(berlin, operator), remembered=remembered)
    assert everywhere.total == 3 and everywhere.counted_at is not None

    add_request(berlin, postcode="10115")
    mine = open_requests(berlin, zones_served_by(berlin, ada), remembered=remembered)
    assert mine.total == 2 and mine.counted_at is None  # under 3: counted now
    bea = user(berlin, make_person("bea@example.org", zones=["pankow", "mitte"]))
    theirs = open_requests(berlin, zones_served_by(berlin, bea), remembered=remembered)
    assert theirs.total == 3 and theirs.counted_at == everywhere.counted_at
    assert len(theirs.requests) == 4
    everywhere = open_requests(berlin, zones_served_by(berlin, operator), remembered=remembered)
    assert everywhere.total == 3 and len(everywhere.requests) == 4


def test_small_counts_are_exact_at_once(berlin, volunteer):
    remembered = RememberedCounts(remember_from=3, clock=Clock())
    ada = user(berlin, volunteer)
    zones = zones_served_by(berlin, ada)
    requests = [add_request(berlin), add_request(berlin)]
    assert open_requests(berlin, zones, remembered=remembered).total == 2
    claim(berlin, requests[0], ada)
    board = open_requests(berlin, zones, remembered=remembered)
    assert board.total == 1 and board.counted_at is None
    assert [r.id for r in board.requests] == [requests[1].id]


# --- Who sees what ----------------------------------------------------------------------


def test_access_rules(berlin, make_person):
    ada = user(berlin, make_person("ada@example.org"))
    bea = user(berlin, make_person("bea@example.org"))
    cem = user(berlin, make_person("cem@example.org", zones=["pankow"]))
    pending = user(berlin, make_person("new@example.org", status="pending"))
    mine = add_request(berlin, postcode="10115")
    theirs = add_request(berlin, postcode="10115")
    elsewhere = add_request(berlin, postcode="13187")
    cancelled = add_request(berlin, postcode="10115")
    cancel_request(berlin, cancelled)
    assert claim(berlin, mine, ada) == ClaimResult.CLAIMED
    assert claim(berlin, theirs, bea) == ClaimResult.CLAIMED

    def access(request, person):
        return request_seen_by(berlin, request.reference, person).access

    assert access(mine, ada) == Access.CLAIMER
    assert access(theirs, ada) == Access.OTHER_CLAIMER
    assert access(elsewhere, ada) == Access.OUTSIDE_ZONES
    assert access(elsewhere, cem) == Access.CARD
    assert access(cancelled, ada) == Access.CLOSED
    assert access(mine, pending) == Access.NOT_APPROVED
    # A volunteer elsewhere is not told that someone holds a request.
    assert access(mine, cem) == Access.OUTSIDE_ZONES
    complete_request(berlin, mine, ada)
    assert access(mine, ada) == Access.FORMER
    assert access(mine, bea) == Access.OTHER_CLAIMER
    assert request_seen_by(berlin, "AAA-AAA", ada) is None


def test_the_number_is_audited_only_for_its_claimer(berlin, make_person):
    ada = user(berlin, make_person("ada@example.org"))
    bea = user(berlin, make_person("bea@example.org"))
    request = add_request(berlin)
    assert not record_number_viewed(berlin, request, ada)  # not claimed yet
    claim(berlin, request, ada)
    assert record_number_viewed(berlin, request, ada)
    assert record_number_viewed(berlin, request, ada)
    assert not record_number_viewed(berlin, request, bea)
    assert len(events(berlin, Action.NUMBER_VIEWED, request)) == 2


# --- The race ---------------------------------------------------------------------------


def test_exactly_one_of_many_simultaneous_claims_wins(app, berlin, many_volunteers):
    """Fifty volunteers press "take it" on one request at the same moment."""
    people = many_volunteers(50)
    request = add_request(berlin)

    def press(i):
        with get_db(app).session() as session:
            return claim(session, request, session.get(User, people[i].id))

    results = run_at_once(len(people), press)
    assert results.count(ClaimResult.CLAIMED) == 1
    assert results.count(ClaimResult.TAKEN) == len(people) - 1
    winner = people[results.index(ClaimResult.CLAIMED)]
    berlin.refresh(request)
    assert request.status == RequestStatus.CLAIMED and request.claimed_by_id == winner.id
    assert [e.user_id for e in events(berlin, Action.CLAIMED)] == [winner.id]


def test_simultaneous_claims_by_one_volunteer_respect_the_limit(app, berlin, volunteer):
    """Six tabs (or six app servers) claiming six requests for one volunteer at once."""
    requests = [add_request(berlin) for _ in range(6)]

    def press(i):
        with get_db(app).session() as session:
            return claim(session, requests[i], session.get(User, volunteer.id))

    results = run_at_once(len(requests), press)
    assert results.count(ClaimResult.CLAIMED) == LIMIT
    assert results.count(ClaimResult.LIMIT_REACHED) == len(requests) - LIMIT
    held = berlin.scalar(
        select(func.count())
        .select_from(HelpRequest)
        .where(HelpRequest.claimed_by_id == volunteer.id, HelpRequest.status == "claimed")
    )
    assert held == LIMIT


def test_a_second_claim_of_ones_own_request_is_no_error(berlin, volunteer):
    request = add_request(berlin)
    ada = user(berlin, volunteer)
    assert claim(berlin, request, ada) == ClaimResult.CLAIMED
    assert claim(berlin, request, ada) == ClaimResult.ALREADY_YOURS
    assert len(events(berlin, Action.CLAIMED)) == 1


@pytest.mark.parametrize("status", ["pending", "rejected", "suspended"])
def test_accounts_not_approved_cannot_claim(berlin, make_person, status):
    person = user(berlin, make_person("new@example.org", status=status))
    request = add_request(berlin)
    assert claim(berlin, request, person) == ClaimResult.NOT_ALLOWED
    assert request.status == RequestStatus.OPEN


def test_requests_outside_ones_zones_cannot_be_claimed(berlin, volunteer, make_person):
    request = add_request(berlin, postcode="13187")
    result = claim(berlin, request, user(berlin, volunteer))
    assert result == ClaimResult.OUTSIDE_ZONES
    assert request.status == RequestStatus.OPEN
    # Nor when someone holds it: a volunteer elsewhere is not told that.
    cem = user(berlin, make_person("cem@example.org", zones=["pankow"]))
    assert claim(berlin, request, cem) == ClaimResult.CLAIMED
    assert claim(berlin, request, user(berlin, volunteer)) == ClaimResult.OUTSIDE_ZONES


def test_the_claim_limit_is_told(berlin, volunteer):
    ada = user(berlin, volunteer)
    requests = [add_request(berlin) for _ in range(LIMIT + 1)]
    assert [claim(berlin, r, ada) for r in requests] == [ClaimResult.CLAIMED] * LIMIT + [
        ClaimResult.LIMIT_REACHED
    ]
    assert requests[-1].status == RequestStatus.OPEN


def test_a_claim_of_no_such_request(berlin, volunteer):
    result = claim_request(berlin, "AAA-AAA", user(berlin, volunteer), max_open_claims=LIMIT)
    assert result == ClaimResult.NO_SUCH_REQUEST


def test_a_request_done_by_another_volunteer_is_closed_to_a_claim(berlin, make_person):
    ada = user(berlin, make_person("ada@example.org"))
    bea = user(berlin, make_person("bea@example.org"))
    request = add_request(berlin)
    claim(berlin, request, bea)
    complete_request(berlin, request, bea)
    assert claim(berlin, request, ada) == ClaimResult.CLOSED


def test_a_cancelled_request_cannot_be_claimed(berlin, volunteer):
    request = add_request(berlin)
    cancel_request(berlin, request)
    result = claim(berlin, request, user(berlin, volunteer))
    assert result == ClaimResult.CLOSED


# --- After the claim ----------------------------------------------------------------------


def test_done_release_and_unreachable_only_by_the_claimer(berlin, make_person):
    ada = user(berlin, make_person("ada@example.org"))
    bea = user(berlin, make_person("bea@example.org"))
    request = add_request(berlin)
    claim(berlin, request, ada)
    assert not complete_request(berlin, request, bea, "sneaky")
    assert release_request(berlin, request, bea, "sneaky") == ReleaseResult.NOT_HELD
    assert record_unreachable(berlin, request, bea) is None
    assert request.status == RequestStatus.CLAIMED and request.claimed_by_id == ada.id

    assert complete_request(berlin, request, ada, "  Brought the shopping on Tuesday. ")
    assert request.status == RequestStatus.DONE
    assert request.outcome_note == "Brought the shopping on Tuesday."
    assert request.closed_at is not None
    assert not complete_request(berlin, request, ada)  # once only
    assert len(events(berlin, Action.COMPLETED, request)) == 1


def test_released_requests_go_back_to_the_board_with_the_reason_logged(berlin, volunteer):
    ada = user(berlin, volunteer)
    request = add_request(berlin)
    claim(berlin, request, ada)
    code = request.verification_code
    assert release_request(berlin, request, ada, "no_time: away this week") == "released"
    assert request.status == RequestStatus.OPEN and request.claimed_by_id is None
    assert [e.detail for e in events(berlin, Action.RELEASED)] == ["no_time: away this week"]
    assert request.verification_code != code  # the one the volunteer saw is worthless
    assert open_requests(berlin, zones_served_by(berlin, ada)).total == 1


def test_the_third_unreachable_call_flags_the_request_for_operators(berlin, make_person):
    ada = user(berlin, make_person("ada@example.org"))
    bea = user(berlin, make_person("bea@example.org"))
    request = add_request(berlin)
    claim(berlin, request, ada)
    start = utcnow() - timedelta(minutes=15)
    request.claimed_at = start - timedelta(minutes=1)
    berlin.commit()
    assert record_unreachable(berlin, request, ada, now=start) == (1, True)
    # Again within ten minutes: the same attempt, counted once.
    assert record_unreachable(berlin, request, ada, now=start + timedelta(minutes=9)) == (1, False)
    assert record_unreachable(berlin, request, ada, now=start + timedelta(minutes=10)) == (2, True)
    assert needing_attention(berlin) == []
    release_request(berlin, request, ada, "no_time")
    # The count belongs to the request: the next volunteer's attempt is the third, even
    # five minutes after the last one (another claim, another person trying).
    claim(berlin, request, bea)
    assert record_unreachable(berlin, request, bea) == (3, True)
    assert needing_attention(berlin) == [(request.id, (Reason.UNREACHABLE,))]
    assert request.status == RequestStatus.CLAIMED  # still theirs to try again
    assert [e.detail for e in events(berlin, Action.UNREACHABLE)] == [
        "attempt 1",
        "attempt 2",
        "attempt 3",
    ]


def test_simultaneous_unreachable_reports_count_once(app, berlin, volunteer):
    request = add_request(berlin)
    claim(berlin, request, user(berlin, volunteer))

    def report(_i):
        with get_db(app).session() as session:
            attempts = record_unreachable(
                session, session.get(HelpRequest, request.id), session.get(User, volunteer.id)
            )
            session.commit()
            return attempts

    # Four taps at once are one attempt: exactly one of them counts, on either database.
    results = run_at_once(4, report)
    assert sorted(counted for _attempts, counted in results) == [False, False, False, True]
    assert {attempts for attempts, _counted in results} == {1}
    berlin.refresh(request)
    assert request.unreachable_count == 1
    assert len(events(berlin, Action.UNREACHABLE)) == 1


# --- Expiry -------------------------------------------------------------------------------


def test_stale_claims_return_to_the_board_and_the_claimer_loses_access(berlin, volunteer):
    ada = user(berlin, volunteer)
    stale, fresh = add_request(berlin), add_request(berlin)
    claim(berlin, stale, ada)
    claim(berlin, fresh, ada)
    stale.claimed_at = utcnow() - timedelta(hours=24, minutes=1)
    berlin.commit()

    assert expire_stale_claims(berlin, timeout_hours=24) == 1
    berlin.refresh(stale)
    assert stale.status == RequestStatus.OPEN and stale.claimed_by_id is None
    assert stale.expired_claims == 1
    assert request_seen_by(berlin, stale.reference, ada).access == Access.CARD
    assert not record_number_viewed(berlin, stale, ada)
    assert not complete_request(berlin, stale, ada)
    berlin.refresh(fresh)
    assert fresh.status == RequestStatus.CLAIMED
    [event] = events(berlin, Action.EXPIRED)
    assert (event.user_id, event.request_id) == (ada.id, stale.id)

    assert expire_stale_claims(berlin, timeout_hours=24) == 0  # nothing more to do


def test_two_servers_expiring_at_once_return_each_claim_once(app, berlin, volunteer):
    request = add_request(berlin)
    claim(berlin, request, user(berlin, volunteer))
    request.claimed_at = utcnow() - timedelta(hours=30)
    berlin.commit()

    def expire(_i):
        with get_db(app).session() as session:
            returned = expire_stale_claims(session, timeout_hours=24)
            session.commit()
            return returned

    assert sorted(run_at_once(4, expire)) == [0, 0, 0, 1]
    berlin.refresh(request)
    assert request.expired_claims == 1
    assert len(events(berlin, Action.EXPIRED)) == 1


def test_the_expire_command_for_cron(runner, berlin, volunteer):
    request = add_request(berlin)
    claim(berlin, request, user(berlin, volunteer))
    request.claimed_at = utcnow() - timedelta(hours=25)
    berlin.commit()
    result = runner.invoke(args=["requests", "expire"])
    assert result.exit_code == 0, result.output
    assert "Returned 1 claim(s) older than 24 hours to the board." in result.output
    berlin.refresh(request)
    assert request.status == RequestStatus.OPEN
    assert "Returned 0 claim(s)" in runner.invoke(args=["requests", "expire"]).output


def test_done_and_expiry_at_the_same_moment_never_both_win(app, berlin, volunteer):
    """A volunteer presses done just as the claim times out: one of the two happens."""
    for _ in range(5):
        request = add_request(berlin)
        claim(berlin, request, user(berlin, volunteer))
        request.claimed_at = utcnow() - timedelta(hours=24, seconds=1)
        berlin.commit()

        def act(i, request_id=request.id):
            with get_db(app).session() as session:
                if i == 0:
                    won = expire_stale_claims(session, timeout_hours=24) == 1
                else:
                    won = complete_request(
                        session,
                        session.get(HelpRequest, request_id),
                        session.get(User, volunteer.id),
                    )
                session.commit()
                return won

        expired, done = run_at_once(2, act)
        assert expired != done
        berlin.refresh(request)
        assert request.status == (RequestStatus.DONE if done else RequestStatus.OPEN)
        assert len(events(berlin, Action.EXPIRED, request)) == int(expired)
        assert len(events(berlin, Action.COMPLETED, request)) == int(done)


def test_the_worker_returns_stale_claims_to_the_board(app, berlin, volunteer):
    from app.jobs.worker import Worker

    ada = user(berlin, volunteer)
    stale = add_request(berlin)
    claim(berlin, stale, ada)
    stale.claimed_at = utcnow() - timedelta(hours=24, minutes=1)
    berlin.commit()

    with app.app_context():
        Worker(app).run_until_empty()

    berlin.refresh(stale)
    assert stale.status == RequestStatus.OPEN and stale.expired_claims == 1
    assert request_seen_by(berlin, stale.reference, ada).access == Access.CARD
