"""A call's status in the log: Twilio's callbacks in any order, with a SequenceNumber or
without, end in the call's true final status; and a call whose end never came is closed
as "status unknown" by `hotline calls close-stale`, until its real end arrives after all.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.calls.call_log import STALE_CALL_HOURS, close_stale_calls
from app.database import utcnow
from app.models import FINAL_CALL_STATUSES, TWILIO_CALL_STATUSES, Call, CallOutcome, CallStatus
from tests import seeding
from tests.test_call_export import export

CALLER = "+4930123456"
# One database per test function; every example is a call of its own.
per_test_database = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def logged(db, call) -> Call:
    db.expire_all()
    return db.scalars(select(Call).where(Call.call_sid == call.call_sid)).one()


def send(call, callback: tuple[str, int | None, int | None]) -> None:
    status, sequence, duration = callback
    assert call.send_status(status, sequence=sequence, duration=duration).status == 200


def close_stale(db) -> None:
    """`hotline calls close-stale` run once every call so far is long past its start."""
    close_stale_calls(db, STALE_CALL_HOURS, now=utcnow() + timedelta(hours=STALE_CALL_HOURS + 1))
    db.commit()


# -- callbacks in any order --------------------------------------------------------------


@st.composite
def a_calls_callbacks(draw):
    """The callbacks of one call's life, each with its SequenceNumber or without, some
    delivered twice, in any order; and maybe close-stale somewhere in between."""
    final = draw(st.sampled_from(sorted(FINAL_CALL_STATUSES)))
    duration = draw(st.integers(0, 4 * 3600))
    life = ["queued", "initiated", "ringing", "in-progress", final]
    callbacks = [
        (status, sequence if draw(st.booleans()) else None, duration if status == final else None)
        for sequence, status in enumerate(life)
    ]
    callbacks += draw(st.lists(st.sampled_from(callbacks), max_size=3))
    order = draw(st.permutations(callbacks))
    closed_after = draw(st.none() | st.integers(0, len(order)))
    return final, duration, order, closed_after


@per_test_database
@given(life=a_calls_callbacks())
def test_callbacks_in_any_order_end_in_the_calls_true_final_status(phone, berlin, life):
    final, duration, callbacks, closed_after = life
    call = phone.call(CALLER)
    for i, callback in enumerate(callbacks):
        if i == closed_after:
            close_stale(berlin)
        send(call, callback)
    if closed_after == len(callbacks):
        close_stale(berlin)

    log = logged(berlin, call)
    assert (log.status, log.duration_seconds) == (final, duration)
    assert log.ended_at is not None
    assert log.outcome == CallOutcome.ABANDONED  # it only rang: hung up at the language menu


any_callback = st.tuples(
    st.sampled_from(sorted(TWILIO_CALL_STATUSES)),
    st.none() | st.integers(0, 6),
    st.none() | st.integers(0, 600),
)


@per_test_database
@given(callbacks=st.lists(any_callback, max_size=8))
def test_a_status_only_moves_on_and_a_final_one_is_never_replaced(phone, berlin, callbacks):
    """Whatever Twilio sends, in whatever order: the status never goes back in a call's
    life, and the first final status, and the end it set, stay."""
    call = phone.call(CALLER)

    def now() -> tuple[CallStatus, datetime | None]:
        log = logged(berlin, call)
        return CallStatus(log.status), log.ended_at

    before = now()
    for callback in callbacks:
        send(call, callback)
        after = now()
        assert after[0].rank >= before[0].rank, (before, callback)
        if before[0].final:
            assert after == before, callback
        before = after


def test_a_final_status_without_a_sequence_stays_when_one_with_a_sequence_follows(phone, db):
    call = phone.call(CALLER)
    send(call, ("no-answer", None, 0))
    send(call, ("completed", 7, 42))
    assert logged(db, call).status == "no-answer"


def test_a_later_callback_of_the_same_rank_brings_its_duration_only(phone, db):
    call = phone.call(CALLER)
    send(call, ("completed", 2, 10))
    ended = logged(db, call).ended_at
    send(call, ("busy", 3, 12))
    log = logged(db, call)
    assert (log.status, log.duration_seconds, log.status_sequence) == ("completed", 12, 3)
    assert log.ended_at == ended
    send(call, ("completed", 1, 99))  # an earlier one, late
    send(call, ("completed", None, 50))  # no order to go by
    assert logged(db, call).duration_seconds == 12


def test_unknown_is_ours_and_twilio_cannot_send_it(phone, db):
    call = phone.call(CALLER)
    send(call, ("unknown", 5, None))
    assert logged(db, call).status == "in-progress"


# -- calls whose end never came: hotline calls close-stale -------------------------------


def stuck(db, hours_ago: float, **values) -> Call:
    """A call logged `hours_ago`, whose status callback never arrived."""
    values = {"status": "in-progress", "outcome": "", "last_step": "postcode", **values}
    return seeding.call(db, utcnow() - timedelta(hours=hours_ago), seconds=None, **values)


def close_stale_command(runner, *args: str):
    return runner.invoke(args=["calls", "close-stale", *args])


def test_close_stale_closes_a_stuck_call_and_leaves_finished_and_young_ones(runner, berlin):
    lost = stuck(berlin, 7)
    transferred = stuck(berlin, 30, outcome=CallOutcome.TRANSFERRED, last_step="operator")
    finished = seeding.call(berlin, utcnow() - timedelta(hours=8), status="busy")
    young = stuck(berlin, 1)

    result = close_stale_command(runner)

    assert result.exit_code == 0, result.output
    assert "Closed 2 call(s) not over 6 hours after they started" in result.output
    berlin.expire_all()
    assert (lost.status, lost.outcome, lost.last_step) == ("unknown", "abandoned", "postcode")
    assert (lost.ended_at, lost.duration_seconds) == (None, None), "when it ended is not known"
    assert (transferred.status, transferred.outcome) == ("unknown", "transferred")
    assert (finished.status, finished.outcome) == ("busy", "request_created")
    assert finished.ended_at is not None
    assert (young.status, young.outcome) == ("in-progress", "")

    again = close_stale_command(runner)
    assert "Closed 0 call(s)" in again.output and again.exit_code == 0


def test_close_stale_takes_other_hours(runner, berlin):
    young = stuck(berlin, 2)
    result = close_stale_command(runner, "--hours", "1")
    assert result.exit_code == 0 and "Closed 1 call(s) not over 1 hours" in result.output
    berlin.expire_all()
    assert young.status == "unknown"


@pytest.mark.parametrize("hours", ["0", "-1", "six", "1.5", "100000"])
def test_close_stale_refuses_hours_that_are_none(runner, berlin, hours):
    call = stuck(berlin, 7)
    result = close_stale_command(runner, "--hours", hours)
    assert result.exit_code == 2
    assert "--hours" in result.output
    berlin.expire_all()
    assert call.status == "in-progress"


def test_the_real_end_arriving_late_replaces_unknown(phone, db):
    call = phone.call(CALLER)
    call.press("1")
    close_stale(db)
    assert (logged(db, call).status, logged(db, call).ended_at) == ("unknown", None)

    send(call, ("ringing", 1, None))  # a straggler from before changes nothing
    assert logged(db, call).status == "unknown"
    call.hang_up()  # Twilio's "completed", late

    log = logged(db, call)
    assert (log.status, log.outcome, log.last_step) == ("completed", "abandoned", "postcode")
    assert log.ended_at is not None and log.duration_seconds is not None


def test_the_export_reads_a_closed_call_as_ended_with_its_status_unknown(app, berlin, runner):
    started = seeding.utc(2026, 6, 1, 9)
    seeding.call(
        berlin, started, seconds=None, status="in-progress", outcome="", last_step="postcode"
    )

    def status_and_outcome(language: str) -> list[str]:
        row = export(app, berlin, date(2026, 6, 1), language=language)[1]
        return [row[5], row[10]]

    assert status_and_outcome("en") == ["in progress", "still in progress"]
    assert close_stale_command(runner).exit_code == 0
    assert status_and_outcome("en") == ["status unknown", "abandoned at step: postcode"]
    assert status_and_outcome("de")[0] == "Status unbekannt"
