"""One call a second per Twilio account, shared by every worker on every server (one database),
and each call placed once however often its job runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.calls import pacing
from app.calls.outbound import place_call
from app.database import get_db, utcnow
from app.jobs.worker import Worker
from app.models import CallPacing, Delivery, Job, JobState
from tests.conftest import TEST_AUTH_TOKEN, add_request
from tests.twilio_emulator import Callee, TwilioEmulator, through_flask
from voice.simulator.phone import FlaskTransport

ACCOUNT_SID = "AC" + "1" * 32
HOTLINE_NUMBER = "+4930555000"
CALLER = "+4930231250011"
ROOT = Path(__file__).parent.parent


@pytest.fixture
def twilio():
    with TwilioEmulator(ACCOUNT_SID, TEST_AUTH_TOKEN) as emulator:
        yield emulator


def twilio_settings(twilio) -> dict:
    return {
        "auth_token": TEST_AUTH_TOKEN,
        "account_sid": ACCOUNT_SID,
        "api_base_url": twilio.url,
        "phone_number": HOTLINE_NUMBER,
    }


@pytest.fixture
def two_servers(another_app, twilio):
    """Two apps on one database: two servers' workers."""
    apps = [another_app(twilio=twilio_settings(twilio)) for _ in range(2)]
    twilio.deliver = through_flask(apps[0])
    twilio.calls_through = FlaskTransport(apps[0].test_client())
    return apps


def test_two_servers_reserving_at_once_get_slots_a_second_apart(two_servers):
    slots: list[float] = []
    start = threading.Barrier(4)

    def reserve(app) -> None:
        start.wait()
        for _ in range(3):
            slots.append(pacing.reserve(get_db(app), ACCOUNT_SID))

    threads = [threading.Thread(target=reserve, args=(app,)) for app in two_servers * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    slots.sort()
    assert len(slots) == 12
    assert all(later - earlier >= 1.0 for earlier, later in zip(slots, slots[1:], strict=False))
    with get_db(two_servers[1]).session() as session:
        [row] = session.scalars(select(CallPacing)).all()
        assert (row.account_sid, row.next_slot_ms) == (ACCOUNT_SID, round(slots[-1] * 1000) + 1000)


def test_a_slot_is_now_when_the_line_has_been_quiet(two_servers):
    db = get_db(two_servers[0])
    assert pacing.reserve(db, ACCOUNT_SID, now=1_000.0) == 1_000.0
    assert pacing.reserve(db, ACCOUNT_SID, now=1_000.2) == 1_001.0  # a second after the last
    assert pacing.reserve(db, ACCOUNT_SID, now=1_050.0) == 1_050.0  # no debt from long ago
    assert pacing.reserve(db, "AC" + "2" * 32, now=1_050.0) == 1_050.0  # each account its own


# Another server's worker, in a process of its own: it places its calls when told to go.
OTHER_SERVER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from app.calls.outbound import place_call
    from app.database import get_db
    from tests.conftest import make_test_app

    config = json.loads(sys.argv[1])
    app = make_test_app(config.pop("database_url"), Path(config.pop("tmp_path")), **config)
    print("ready", flush=True)
    sys.stdin.readline()
    for number in ("+4930231250201", "+4930231250202", "+4930231250203"):
        place_call(get_db(app), app.config["HOTLINE"], number, "http://hotline.test/x", "{from_}")
    """
).replace("{from_}", HOTLINE_NUMBER)


def test_calls_placed_by_two_processes_reach_twilio_a_second_apart(
    two_servers, twilio, database_url, tmp_path
):
    """Each process alone would keep its own pace; together they keep one."""
    import json

    ours = ("+4930231250101", "+4930231250102", "+4930231250103")
    theirs = ("+4930231250201", "+4930231250202", "+4930231250203")
    for number in ours + theirs:
        twilio.phones[number] = Callee(answers="busy")
    config = {
        "database_url": database_url,
        "tmp_path": str(tmp_path / "other-server"),
        "twilio": twilio_settings(twilio),
    }
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_SERVER, json.dumps(config)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout.readline().strip() == "ready"
        other.stdin.write("go\n")
        other.stdin.flush()
        app = two_servers[0]
        for number in ours:
            place_call(get_db(app), app.config["HOTLINE"], number, "http://x.test", HOTLINE_NUMBER)
        assert other.wait(timeout=60) == 0
    finally:
        other.kill()
        other.wait()
    calls = twilio.wait_for_calls(6)
    assert {call["to"] for call in calls} == set(ours + theirs)
    times = sorted(call["received_at"] for call in calls)
    # A second apart when they leave; a loaded machine may wake one sleeper a little late
    # (which brings it closer to the next), but never two calls together.
    assert all(later - earlier >= 0.5 for earlier, later in zip(times, times[1:], strict=False))
    assert times[-1] - times[0] >= 5 * 0.9


def test_a_retried_job_places_one_call_and_takes_no_second_slot(
    database_url, tmp_path, twilio, another_app, berlin
):
    app = another_app(
        twilio=twilio_settings(twilio),
        calldown={"after_hours": 1, "hours": "", "retry_after_hours": 4},
    )
    twilio.deliver = through_flask(app)
    twilio.calls_through = FlaskTransport(app.test_client())
    twilio.phones[CALLER] = Callee(answers="busy")
    request = add_request(berlin, caller_number=CALLER)
    request.created_at = utcnow() - timedelta(hours=2)
    berlin.commit()

    def run_worker() -> None:
        with app.app_context():
            worker = Worker(app)
            worker.run_periodic(every=True)
            worker.run_until_empty()

    run_worker()
    [call] = twilio.wait_for_calls(1)
    with get_db(app).session() as session:
        slot = session.scalar(select(CallPacing.next_slot_ms))
        # The job runs again (its commit was lost): the record says the call was placed.
        session.execute(update(Job).values(state=JobState.PENDING, run_at=utcnow()))
        session.commit()
    run_worker()
    assert len(twilio.calls) == 1
    with get_db(app).session() as session:
        assert session.scalar(select(CallPacing.next_slot_ms)) == slot
        [delivery] = session.scalars(select(Delivery)).all()
        assert (delivery.channel, delivery.provider_id) == ("call", call["sid"])
