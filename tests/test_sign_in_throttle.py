"""The sign-in throttle: a guesser is slowed down, the owner still gets in, nobody is locked out.

The counters are real: in the test database (SQLite, and PostgreSQL when
configured) and, for the Redis tests, in a redis-server this module starts.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time

import pytest
from sqlalchemy import func, select

from app.accounts.hashing_gate import HashingGate
from app.models import RateLimitCounter
from board.throttle import client_network, hashing_gate, sign_in_throttle
from tests.conftest import PASSWORD, AuthActions, make_test_app

REFUSED = "The e-mail address or the password is not right."
TOO_MANY = "Too many sign-in attempts. Please wait"
ATTACKER = "203.0.113.9"
OWNER = "198.51.100.7"


def browser(app, address: str, **environ) -> AuthActions:
    """A browser at `address` (the address the app sees the connection come from)."""
    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": address, "HTTP_ACCEPT_LANGUAGE": "en", **environ})
    return AuthActions(client)


def test_the_owner_signs_in_from_elsewhere_while_one_address_guesses(app, volunteer):
    attacker, owner = browser(app, ATTACKER), browser(app, OWNER)
    answers = [attacker.login(volunteer.email, f"guess number {i}") for i in range(8)]
    assert [a.status_code for a in answers] == [422] * 5 + [429] * 3
    assert all(REFUSED in a.text for a in answers[:5])
    slowed = answers[-1]
    assert TOO_MANY in slowed.text and "minute" in slowed.text
    assert 1 <= int(slowed.headers["Retry-After"]) <= 60

    # The owner, at another address, is not slowed down at all.
    assert owner.login(volunteer.email, PASSWORD).status_code == 302
    assert owner.client.get("/requests").status_code == 200
    # The guesser is, even with the right password: a guess cannot be confirmed.
    assert attacker.login(volunteer.email, PASSWORD).status_code == 429


def test_operators_find_each_refusal_in_the_servers_log(app, volunteer, caplog):
    attacker = browser(app, ATTACKER)
    for i in range(6):
        attacker.login(volunteer.email, f"guess number {i}")
    for i in range(6):
        browser(app, "203.0.113.10").login("my secret password", f"guess {i}")
    lines = [r.getMessage() for r in caplog.records if "Sign-in throttled" in r.getMessage()]
    assert len(lines) == 2
    assert "per-account-and-address limit 5 per 1 minute reached from 203.0.113.9" in lines[0]
    assert f"for {volunteer.email}" in lines[0]
    # What was typed as an e-mail is named only when it is an account's.
    assert "my secret password" not in lines[1] and "203.0.113.10" in lines[1]


def test_being_slowed_down_looks_the_same_for_an_address_without_an_account(app, volunteer):
    def eighth_answer(email):
        guesser = browser(app, ATTACKER if email == volunteer.email else "203.0.113.10")
        for i in range(7):
            guesser.login(email, f"guess number {i}")
        return guesser.login(email, "guess number 8")

    known, unknown = eighth_answer(volunteer.email), eighth_answer("nobody@example.org")
    assert known.status_code == unknown.status_code == 429
    assert TOO_MANY in known.text and TOO_MANY in unknown.text


def test_many_addresses_guessing_one_account_are_stopped_but_not_the_owners_own(app, volunteer):
    """A botnet: one guess from each of many addresses. The account's own limit stops
    them; the owner's address, known from an earlier sign-in, is not counted there."""
    owner = browser(app, OWNER)
    assert owner.login(volunteer.email, PASSWORD).status_code == 302
    owner.logout()

    answers = [
        browser(app, f"203.0.113.{i}").login(volunteer.email, "a wrong guess") for i in range(1, 16)
    ]
    # 10 attempts a quarter of an hour from unknown addresses: the owner's first
    # sign-in (from an address then unknown) was one of them.
    assert [a.status_code for a in answers] == [422] * 9 + [429] * 6
    # Someone at a new address (the owner's phone on another network, or the guesser)
    # waits; the owner's known address does not.
    assert browser(app, "192.0.2.50").login(volunteer.email, PASSWORD).status_code == 429
    assert owner.login(volunteer.email, PASSWORD).status_code == 302


def test_one_address_trying_many_accounts_is_slowed_down(another_app, berlin):
    app = another_app(limits={"per_address": "6 per minute"})
    guesser = browser(app, ATTACKER)
    answers = [guesser.login(f"person{i}@example.org", "a common guess") for i in range(8)]
    assert [a.status_code for a in answers] == [422] * 6 + [429] * 2


def test_a_successful_sign_in_starts_the_count_afresh(app, volunteer):
    owner = browser(app, OWNER)
    for i in range(4):
        assert owner.login(volunteer.email, f"typo {i}").status_code == 422
    assert owner.login(volunteer.email, PASSWORD).status_code == 302
    owner.logout()
    for i in range(4):
        assert owner.login(volunteer.email, f"typo again {i}").status_code == 422
    assert owner.login(volunteer.email, PASSWORD).status_code == 302


def test_the_counts_hold_across_two_app_servers_sharing_the_database(
    app, database_url, tmp_path, volunteer
):
    other = make_test_app(database_url, tmp_path / "second-server")
    servers = [browser(app, ATTACKER), browser(other, ATTACKER)]
    answers = [servers[i % 2].login(volunteer.email, f"guess {i}") for i in range(6)]
    assert [a.status_code for a in answers] == [422] * 5 + [429]
    assert servers[0].login(volunteer.email, PASSWORD).status_code == 429
    assert servers[1].login(volunteer.email, PASSWORD).status_code == 429
    # Counted in the database: keyed hashes only, no e-mail or IP address in it.
    with app.app_context():
        from app.database import db_session

        keys = db_session().scalars(select(RateLimitCounter.key)).all()
    assert keys and not any(volunteer.email in k or ATTACKER in k for k in keys)


def test_simultaneous_attempts_are_all_counted(app, volunteer):
    """Twenty attempts at the same moment on one account and address: five get through,
    as in a row (each count is one statement in the database)."""
    barrier = threading.Barrier(20)
    allowed = []

    def attempt():
        with app.app_context():
            barrier.wait()
            allowed.append(sign_in_throttle().attempt(volunteer.email, ATTACKER) is None)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 5


def test_behind_a_trusted_proxy_the_forwarded_address_counts(another_app, volunteer):
    app = another_app(trusted_proxies=1)
    proxy = "10.0.0.2"
    attacker = browser(app, proxy, HTTP_X_FORWARDED_FOR=ATTACKER)
    owner = browser(app, proxy, HTTP_X_FORWARDED_FOR=OWNER)
    for i in range(5):
        attacker.login(volunteer.email, f"guess {i}")
    assert attacker.login(volunteer.email, "guess 5").status_code == 429
    assert owner.login(volunteer.email, PASSWORD).status_code == 302


def test_without_trusted_proxies_a_forged_forwarded_address_changes_nothing(app, volunteer):
    answers = [
        browser(app, ATTACKER, HTTP_X_FORWARDED_FOR=f"192.0.2.{i}").login(
            volunteer.email, f"guess {i}"
        )
        for i in range(6)
    ]
    assert answers[-1].status_code == 429


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("", "unknown"),
        (None, "unknown"),
        ("not an address", "unknown"),
    ],
)
def test_an_ipv6_client_counts_by_its_network(address, counted_as):
    assert client_network(address) == counted_as


# --- The bound on password checks -----------------------------------------------------


def test_while_the_password_checks_are_busy_a_sign_in_is_asked_to_try_again(another_app, volunteer):
    app = another_app(limits={"password_check_wait_seconds": 0.05})
    owner = browser(app, OWNER)
    token = owner.csrf_token()
    with app.app_context():
        gate = hashing_gate()
    with gate.slot():  # another sign-in is being checked
        started = time.monotonic()
        busy = owner.client.post(
            "/login", data={"email": volunteer.email, "password": PASSWORD, "csrf_token": token}
        )
        waited = time.monotonic() - started
        # The rest of the board is not held up by it.
        assert owner.client.get("/login").status_code == 200
    assert busy.status_code == 503
    assert "Many people are signing in right now. Please try again in a moment." in busy.text
    assert busy.headers["Retry-After"] == "2"
    assert waited < 2
    assert owner.login(volunteer.email, PASSWORD).status_code == 302


def test_only_as_many_wait_for_a_password_check_as_may_run():
    gate = HashingGate(slots=1, wait_seconds=5)
    inside, release = threading.Event(), threading.Event()

    def hold():
        with gate.slot():
            inside.set()
            release.wait(5)

    def wait_for_a_turn():
        with gate.slot():
            pass

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(5)
    waiter = threading.Thread(target=wait_for_a_turn)
    waiter.start()
    time.sleep(0.1)
    # A third is answered at once: no thread is held waiting that a webhook could use.
    started = time.monotonic()
    with pytest.raises(Exception) as refused, gate.slot():
        pass
    assert type(refused.value).__name__ == "HashingBusy"
    assert time.monotonic() - started < 0.5
    release.set()
    holder.join()
    waiter.join()
    with gate.slot():  # free again
        pass


# --- Redis ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A redis-server of its own on a free port, for this module's tests."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("HOTLINE_REQUIRE_REDIS"):
            pytest.fail("redis-server is not installed (HOTLINE_REQUIRE_REDIS is set)")
        pytest.skip("redis-server is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    directory = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def redis_apps(redis_url, another_app):
    """Two app servers counting in one Redis (a fresh one each test: flushed first)."""
    import redis

    redis.Redis.from_url(redis_url).flushall()
    return [another_app(limits={"storage_url": redis_url}) for _ in range(2)]


def test_with_redis_the_counts_hold_across_app_servers_and_not_in_the_database(
    redis_apps, volunteer, db
):
    servers = [browser(app, ATTACKER) for app in redis_apps]
    answers = [servers[i % 2].login(volunteer.email, f"guess {i}") for i in range(8)]
    assert [a.status_code for a in answers] == [422] * 5 + [429] * 3
    assert browser(redis_apps[1], OWNER).login(volunteer.email, PASSWORD).status_code == 302
    assert db.scalar(select(func.count()).select_from(RateLimitCounter)) == 0


def test_when_redis_is_away_signing_in_says_so_and_lets_nobody_in(another_app, volunteer):
    app = another_app(limits={"storage_url": "redis://127.0.0.1:9"})  # nothing listens
    answer = browser(app, OWNER).login(volunteer.email, PASSWORD)
    assert answer.status_code == 503
    assert "Temporarily unavailable" in answer.text


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[limits]\nper_address = "5 per fortnight"\n', "limits.per_address"),
        ('[limits]\nper_account = ""\n', "limits.per_account"),
        ('[limits]\nstorage_url = "memcached://127.0.0.1"\n', "limits.storage_url"),
        ("[limits]\nconcurrent_password_checks = -1\n", "limits.concurrent_password_checks"),
        ("[limits]\npassword_check_wait_seconds = 60\n", "limits.password_check_wait_seconds"),
        ("[limits]\nknown_address_days = 0\n", "limits.known_address_days"),
        ("[limits]\nper_adress = '5 per minute'\n", "limits.per_adress"),
        ("session_idle_minutes = 0\n", "session_idle_minutes"),
    ],
)
def test_a_wrong_throttle_setting_stops_start_up_naming_it(tmp_path, text, named):
    from app.config import ConfigError, load_settings

    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_settings(path, env={})
