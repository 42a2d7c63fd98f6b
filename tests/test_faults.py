"""The database goes away in the middle of a call, and comes back.

PostgreSQL "stopped": the app reaches the shared test server through a TCP proxy
(tests/tcp_proxy.py) that the test cuts (every open connection dropped, new ones
refused) and restores on the same port. That is what the app sees when the server
dies and restarts, without stopping a server other tests use, and it covers both
halves that terminating backends (pg_terminate_backend) or a closed port would
each cover alone: connections dying under the pool, and no connection to be had.

SQLite "unavailable": another connection holds BEGIN EXCLUSIVE, longer than the
app's database_timeout_seconds (made short here; 5 s by default, see config.py).

Either way the caller hears the apology in their language and is put through to
the operator, and once the database is back the same app (no restart) takes calls
again; the call log and the requests are consistent afterwards.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.database import get_db
from app.models import Call, HelpRequest
from tests.conftest import close_test_app, make_test_app
from tests.consistency import assert_database_consistent
from tests.faults import CONNECTING, OPERATOR, SORRY, SqliteLocked
from tests.tcp_proxy import TcpProxy
from voice.flow import spell
from voice.simulator.phone import Phone

# Timed: run alone, after the other tests (Makefile, `make test`).
pytestmark = pytest.mark.serial


class PostgresqlStopped:
    """PostgreSQL unavailable: the app's way to it is cut (see the module docstring)."""

    def __init__(self, url: str):
        target = make_url(url)
        self.proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
        self.proxy.start()
        proxied = target.set(host="127.0.0.1", port=self.proxy.port)
        self.url = proxied.render_as_string(hide_password=False)

    def begin(self) -> None:
        self.proxy.stop()

    def end(self) -> None:
        self.proxy.start()


@pytest.fixture
def outage(database_url, tmp_path, berlin):
    """The fault for this database, and an app (with an operator) whose database it hits."""
    if database_url.startswith("sqlite"):
        fault = SqliteLocked(database_url)
    else:
        fault = PostgresqlStopped(database_url)
    # A short wait for the lock: the same path as the default 5 s, without the waiting.
    fault.app = make_test_app(
        fault.url, tmp_path / "faulty", operator_phone=OPERATOR, database_timeout_seconds=0.3
    )
    yield fault
    fault.end()
    close_test_app(fault.app)
    if isinstance(fault, PostgresqlStopped):
        fault.proxy.stop()


def request_help(phone, caller: str):
    """The German happy path to the stored request and its code."""
    call = phone.call(caller)
    for keys in ("1", "10115", "1", "1"):
        call.press(keys)
    call.press("#")  # no message
    return call


def stored_requests(db) -> list[HelpRequest]:
    db.expire_all()
    return list(db.scalars(select(HelpRequest).order_by(HelpRequest.id)))


def test_a_call_that_loses_the_database_hears_the_apology_and_the_operator(outage, berlin):
    phone = Phone.for_app(outage.app)
    call = phone.call("+4930123456")
    call.press("1")

    outage.begin()
    heard = call.press("10115")
    assert [h.text for h in heard[:2]] == [SORRY, CONNECTING]
    [dial] = ET.fromstring(call.exchanges[-1].body).iter("Dial")
    assert dial.text == OPERATOR and dial.get("action") is None  # no database needed after
    call.operator_does_not_answer()
    assert call.ended and "Rufen Sie gern wieder an." in call.text
    # Twilio's status callback during the outage is acknowledged all the same.
    assert call.exchanges[-1].url.endswith("/voice/status")
    assert call.exchanges[-1].status == 200

    # A call that comes in while the database is away is answered the same way.
    during = phone.call("+4930123457")
    assert [h.text for h in during.heard[:2]] == [SORRY, CONNECTING]
    assert during.waiting_for == "operator"
    during.operator_answers()
    assert during.ended

    outage.end()
    after = request_help(phone, "+4930123458")
    [stored] = stored_requests(berlin)
    assert stored.caller_number == "+4930123458"
    assert after.text.count(spell(stored.verification_code)) == 2
    assert SORRY not in after.text
    assert_database_consistent(berlin, outage.app.config["HOTLINE"])


def test_the_call_in_progress_goes_on_when_the_database_is_back(outage, berlin):
    """A caller who was told of the problem presses on: the next step works again."""
    phone = Phone.for_app(outage.app)
    call = phone.call("+4930123456")
    call.press("1")
    outage.begin()
    call.redeliver()  # Twilio trying the same step again while the database is away
    assert SORRY in call.exchanges[-1].body
    outage.end()
    for keys in ("10115", "1", "1"):
        call.press(keys)
    call.press("#")
    [stored] = stored_requests(berlin)
    assert stored.call_sid == call.call_sid
    assert call.text.count(spell(stored.verification_code)) == 2
    log = berlin.scalars(select(Call).where(Call.call_sid == call.call_sid)).one()
    assert (log.outcome, log.request_reference) == ("request_created", stored.reference)
    assert_database_consistent(berlin, outage.app.config["HOTLINE"])


def test_a_database_restart_between_two_webhooks_goes_unnoticed(outage, berlin):
    """Every pooled connection dies with a PostgreSQL restart; the pool replaces them
    before use (app.database._discard_dropped_connection), so the first caller after
    the restart hears no apology."""
    if isinstance(outage, SqliteLocked):
        pytest.skip("SQLite has no server to restart; its recovery is tested above")
    phone = Phone.for_app(outage.app)
    call = phone.call("+4930123456")
    call.press("1")
    assert get_db(outage.app).engine.pool.checkedin() >= 1  # a connection about to die
    outage.begin()
    outage.end()
    for keys in ("10115", "1", "1"):
        call.press(keys)
    call.press("#")
    assert SORRY not in call.text
    assert berlin.scalar(select(func.count()).select_from(HelpRequest)) == 1


# Twilio gives up on a webhook after 15 s and the caller hears its "application error".
TWILIO_TIMEOUT_SECONDS = 15


def test_a_caller_hears_the_apology_in_time_when_every_connection_is_busy(
    database_url, tmp_path, berlin
):
    """The pool's own wait for a free connection (30 s) would outlast Twilio's patience:
    the app waits database_timeout_seconds instead, and then apologises."""
    app = make_test_app(
        database_url, tmp_path / "busy", operator_phone=OPERATOR, database_timeout_seconds=1
    )
    engine = get_db(app).engine
    held = []
    try:
        while True:  # every connection the pool will give, then one more that it cannot
            held.append(engine.connect())
    except PoolTimeout:
        pass
    try:
        phone = Phone.for_app(app)
        started = time.monotonic()
        call = phone.call("+4930123456")
        waited = time.monotonic() - started
        assert [h.text for h in call.heard[:2]] == [SORRY, CONNECTING]
        assert waited < TWILIO_TIMEOUT_SECONDS
    finally:
        for connection in held:
            connection.close()
    after = request_help(phone, "+4930123458")
    [stored] = stored_requests(berlin)
    assert after.text.count(spell(stored.verification_code)) == 2
    engine.dispose()
