"""The benchmark harness itself works, at a tiny size: nothing lost, nothing undone.

These never assert a time (timing lives in bench/, run with `make bench`); they
check that what the benchmarks count is right, so their figures can be trusted.
"""

from __future__ import annotations

from sqlalchemy import func, select

from app.models import Call, CallOutcome, HelpRequest, RequestStatus
from app.requests.claims import BOARD_LIMIT
from bench import board, calls, load
from bench.servers import (
    BENCH_AUTH_TOKEN,
    BENCH_PUBLIC_URL,
    ServerSettings,
    gunicorn,
    hotline_environment,
)


def test_simulated_callers_against_gunicorn_store_every_request(database_url, berlin, tmp_path):
    environment = hotline_environment(tmp_path / "server", database_url)
    settings = ServerSettings(workers=2)
    with gunicorn("app:create_app()", settings, tmp_path / "server", environment) as server:
        plan = load.LoadPlan(server.url, BENCH_AUTH_TOKEN, BENCH_PUBLIC_URL, callers=3, processes=2)
        result = load.run(plan)
        figures = calls._figures(result, server.cpu_seconds(), database_url)

    assert result.errors == []
    assert figures["calls_completed"] == 3
    assert figures["lost_requests"] == 0
    assert figures["lost_call_log_entries"] == 0
    berlin.expire_all()
    assert berlin.scalar(select(func.count()).select_from(HelpRequest)) == 3
    outcomes = berlin.scalars(select(Call.outcome)).all()
    assert outcomes == [CallOutcome.REQUEST_CREATED] * 3


def test_board_benchmark_seeds_measures_and_undoes_its_claims(database_url, berlin, tmp_path):
    options = board.BoardOptions(requests=1_000, volunteers=20, iterations=2, claims=2)
    board._seed(database_url, options)
    berlin.expire_all()
    open_before = berlin.scalar(
        select(func.count()).where(HelpRequest.status == RequestStatus.OPEN)
    )

    figures = board.measure(database_url, options, instance_path=tmp_path / "instance")

    assert open_before == 100
    assert figures["open_requests"] == 100
    assert figures["claims_undone"] == 3 * options.claims
    # The raw SQL baseline returns the rows the service shows: a page of cards at most.
    assert figures["rows volunteer (2 zones)"][-1] <= BOARD_LIMIT
    assert figures["rows operator (12 zones)"][-1] == BOARD_LIMIT
    berlin.expire_all()
    assert (
        berlin.scalar(select(func.count()).where(HelpRequest.status == RequestStatus.OPEN))
        == open_before
    )


def test_alert_benchmark_alerts_every_volunteer_once_and_finishes_every_job(
    database_url, berlin, tmp_path
):
    from bench import alerts

    options = alerts.AlertOptions(volunteers=6, requests=25)
    figures = alerts.measure(database_url, options, workers=2, instance=tmp_path / "instance")

    assert figures["jobs_done"] == 25 + 6  # a fan-out per request, an alert per volunteer
    assert figures["jobs_not_done"] == 0
    assert figures["emails_received"] == 6 and figures["emails_per_volunteer"] == 1
