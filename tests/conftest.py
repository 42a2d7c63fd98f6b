"""Shared fixtures: an app on SQLite (and on PostgreSQL when configured), client, CLI runner,
people and requests for the board, and `auth` / `signed_in` for a logged-in volunteer.

Every test that takes `app` (or anything built on it) runs once per database:
SQLite always, PostgreSQL when HOTLINE_TEST_DATABASE_URL names a database.
SQLite tests get a copy of a migrated template file (with Berlin's zones when
they take `berlin`); PostgreSQL tests share one migrated database that is
emptied after each test, so tests that need real commits and concurrent
connections (claim races) work on both.
"""

from __future__ import annotations

import contextvars
import os
import shutil
import time
import uuid
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from hypothesis import settings
from sqlalchemy import create_engine, func, make_url, select, text
from sqlalchemy.orm import Session

from app import create_app, migrations_runner
from app.accounts.users import create_user
from app.database import Base, get_db
from app.helplines import DEFAULT_SLUG
from app.models import AccountStatus, CallStep, HelpRequest, Job, Role, User, Zone
from app.requests import intake
from app.zones.postcodes import zone_for_postcode
from app.zones.profiles import import_profile, profile_path, read_profile

PG_URL = os.environ.get("HOTLINE_TEST_DATABASE_URL", "")
DATABASES = ["sqlite"] + (["postgresql"] if PG_URL else [])

TEST_AUTH_TOKEN = "test-auth-token-0123456789abcdef"

# Passwords hashed at scrypt's 2**7 instead of the production 2**15: a sign-in costs
# 0.3 ms instead of 0.1 s. One test keeps the production cost (test_accounts.py).
TEST_PASSWORD_HASH_COST = 7

# Property-based tests (hypothesis): a quick run by default, so `make test` stays fast;
# HOTLINE_HYPOTHESIS=thorough runs many more examples. No deadline: a database on a busy
# machine is slow now and then, and that is not what these tests are about.
settings.register_profile("quick", max_examples=25, deadline=None)
settings.register_profile("thorough", max_examples=400, deadline=None)
settings.load_profile(os.environ.get("HOTLINE_HYPOTHESIS", "quick"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("template") / "hotline.db"
    migrations_runner.upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture(scope="session")
def sqlite_berlin_template(sqlite_template, tmp_path_factory) -> str:
    """The template with Berlin's zones imported: two thirds of the tests take `berlin`,
    and copying a file costs a millisecond where an import costs thirty."""
    path = tmp_path_factory.mktemp("berlin-template") / "hotline.db"
    shutil.copy(sqlite_template, path)
    engine = create_engine(f"sqlite:///{path}")
    try:
        with Session(engine) as session:
            import_profile(session, read_profile(profile_path("berlin")))
            session.commit()
    finally:
        engine.dispose()
    return str(path)


@pytest.fixture(scope="session")
def postgresql_url():
    """The test PostgreSQL database, emptied and migrated once per run.

    `make test` runs the tests in parallel processes (pytest-xdist): the first
    uses the database named by HOTLINE_TEST_DATABASE_URL, each other one a
    database of its own beside it (NAME_gw1, ...), made for the run and dropped
    after it. When HOTLINE_TEST_DATABASE_URL is set and the server does not
    answer, this fails loudly: CI must never pass by quietly skipping PostgreSQL.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    url = PG_URL if worker == "gw0" else _make_database(PG_URL, worker)
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    migrations_runner.upgrade(url)
    yield url
    if url != PG_URL:
        close_made_apps()
        _drop_database(PG_URL, make_url(url).database)


def _make_database(url: str, suffix: str) -> str:
    """A new database beside the one of `url`, named NAME_suffix: its URL."""
    name = f"{make_url(url).database}_{suffix}"
    _drop_database(url, name)  # left over from a run that was killed
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _drop_database(url: str, name: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path, sqlite_template):
    if request.param == "sqlite":
        path = tmp_path / "hotline.db"
        if "berlin" in request.fixturenames:
            shutil.copy(request.getfixturevalue("sqlite_berlin_template"), path)
        else:
            shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgresql_url")
    yield url
    close_made_apps()  # their background threads first: nothing writes while emptying
    _empty_postgresql(url)


def _empty_postgresql(url: str) -> None:
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables if t.name != "alembic_version")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            # As migrated: the default helpline every zone of a single line belongs to.
            connection.execute(
                text("INSERT INTO helplines (slug, name, phone_number) VALUES (:slug, '', '')"),
                {"slug": DEFAULT_SLUG},
            )
    finally:
        engine.dispose()


class ServerLikeClient(FlaskClient):
    """A test client whose every request runs in a fresh app context, as on a real server.

    Flask reuses an app context that is already pushed, and the `db` fixture
    keeps one pushed for the whole test: without this, every request of a
    test would share one `g` (one database session, one cached signed-in
    user, one locale) and hide bugs that a server thread would show. An empty
    contextvars.Context is exactly what a new server thread starts with.
    """

    def open(self, *args, **kwargs):
        # Buffered: a streamed response (the export) is read inside that context too.
        kwargs.setdefault("buffered", True)
        return contextvars.Context().run(super().open, *args, **kwargs)


def make_test_app(database_url: str, tmp_path, **config):
    test_config = {
        "testing": True,
        "database_url": database_url,
        "secret_key": "test-secret-key",
        "twilio": {"auth_token": TEST_AUTH_TOKEN, "account_sid": "AC" + "0" * 32},
        "public_base_url": "http://hotline.test",
        "password_hash_cost": TEST_PASSWORD_HASH_COST,
    }
    test_config.update(config)
    app = create_app(test_config, instance_path=str(tmp_path / "instance"))
    app.test_client_class = ServerLikeClient
    _made_apps.append(app)
    return app


# Every app a test made, closed after the test: a thread one leaves behind (the call
# spool's) must not write into the next test's database.
_made_apps: list = []


def close_made_apps() -> None:
    while _made_apps:
        close_test_app(_made_apps.pop())


@pytest.fixture(autouse=True)
def _close_made_apps():
    yield
    close_made_apps()


def close_test_app(app) -> None:
    """Stop what the app runs in the background, then close its connections."""
    if "hotline_call_spool" in app.extensions:
        app.extensions["hotline_call_spool"].stop()
    get_db(app).guard.close()
    get_db(app).engine.dispose()


@pytest.fixture
def app(database_url, tmp_path):
    app = make_test_app(database_url, tmp_path)
    yield app
    close_test_app(app)


@pytest.fixture
def db(app):
    """A session on the test database, inside an app context."""
    with app.app_context(), get_db(app).session() as session:
        yield session


@pytest.fixture
def berlin(db):
    """The real Berlin zone profile, imported (on SQLite the database's template has it)."""
    if not db.scalar(select(func.count()).select_from(Zone)):
        import_profile(db, read_profile(profile_path("berlin")))
        db.commit()
    return db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def phone(app, berlin):
    """A simulated telephone on the app's phone line, signing like Twilio; Berlin's zones."""
    from voice.simulator.phone import Phone

    return Phone.for_app(app)


# --- The board: people, requests, and a browser-like way of signing in ---------------

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Person:
    """An account made for a test, with the password to sign in with."""

    id: int
    email: str
    password: str
    name: str


def add_request(
    session,
    postcode: str = "10115",
    request_type: str = "shopping",
    language: str = "de",
    caller_number: str | None = "+4930111222",
    voice_message_seconds: int | None = None,
    call_sid: str | None = None,
):
    """A help request stored exactly as the phone line stores one, and committed."""
    place = zone_for_postcode(session, postcode)
    session.flush()
    stored = intake.store_request(
        session.connection(),
        call_sid=call_sid or f"CA{uuid.uuid4().hex}",
        caller_number=caller_number,
        postcode=place.code,
        zone_id=place.zone_id,
        request_type=request_type,
        language=language,
        voice_message_url=(
            f"http://hotline.test/recordings/{uuid.uuid4().hex}.mp3"
            if voice_message_seconds
            else None
        ),
        voice_message_seconds=voice_message_seconds,
    )
    session.commit()
    return session.get(HelpRequest, stored.id)


@pytest.fixture
def make_person(berlin):
    """Make an account: make_person("ola@example.org", zones=["mitte"], status="pending")."""

    def make(
        email: str = "ada@example.org",
        zones=("mitte", "neukoelln"),
        status: str = AccountStatus.APPROVED,
        role: str = Role.VOLUNTEER,
        name: str = "Ada",
    ) -> Person:
        chosen = list(berlin.scalars(select(Zone).where(Zone.slug.in_(zones))))
        user = create_user(
            berlin,
            name=name,
            email=email,
            password=PASSWORD,
            hash_cost=TEST_PASSWORD_HASH_COST,
            role=role,
            approved=status == AccountStatus.APPROVED,
            zones=chosen,
        )
        user.status = status
        berlin.commit()
        return Person(id=user.id, email=user.email, password=PASSWORD, name=name)

    return make


@pytest.fixture
def many_volunteers(berlin, make_person):
    """many_volunteers(50): approved volunteers v0@... to v49@example.org serving Mitte.
    The first is made by make_person; the others share its password hash, so that fifty
    accounts (for a race) do not cost fifty scrypt runs."""

    def make(count: int) -> list[Person]:
        first = berlin.get(User, make_person("v0@example.org", zones=["mitte"], name="V0").id)
        others = [
            User(
                name=f"V{i}",
                email=f"v{i}@example.org",
                password_hash=first.password_hash,
                role=first.role,
                status=first.status,
                approved_at=first.approved_at,
                zones=list(first.zones),
            )
            for i in range(1, count)
        ]
        berlin.add_all(others)
        berlin.commit()
        made = [first, *others]
        return [Person(id=u.id, email=u.email, password=PASSWORD, name=u.name) for u in made]

    return make


@pytest.fixture
def volunteer(make_person) -> Person:
    """An approved volunteer serving Mitte and Neukölln (not signed in)."""
    return make_person()


def csrf_token(client, path: str = "/") -> str:
    """The CSRF token of this browser session, read from a page's form."""
    page = client.get(path, follow_redirects=True).text
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def signed_in_keys(user_id: int, session_version: int = 0) -> dict:
    """What signing in leaves in the session (Flask-Login's keys, board/sessions.py's clock),
    for an account whose sessions have not been ended (version 0, as a new account)."""
    return {"_user_id": f"{user_id}:{session_version}", "_fresh": True, "_seen": int(time.time())}


class AuthActions:
    """Signing in and out through the real forms, CSRF token and all (as in Flask's tutorial)."""

    def __init__(self, client):
        self.client = client

    def csrf_token(self, path: str = "/login") -> str:
        return csrf_token(self.client, path)

    def login(self, email: str = "ada@example.org", password: str = PASSWORD):
        token = self.csrf_token("/login")
        return self.client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token}
        )

    def login_without_password(self, user_id: int) -> None:
        """Signed in as the login form leaves the session (Flask-Login's keys), without its
        scrypt check: for tests of what comes after signing in, with many people."""
        with self.client.session_transaction() as session:
            session.update(signed_in_keys(user_id))

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": self.csrf_token("/account")})

    def post(self, path: str, data: dict | None = None, **kwargs):
        """A form post with this session's CSRF token, as the board's own forms send it."""
        token = self.csrf_token("/account")
        return self.client.post(path, data={"csrf_token": token, **(data or {})}, **kwargs)


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def signed_in(auth, volunteer) -> Person:
    """A logged-in volunteer: `client` is signed in as the approved volunteer of `volunteer`."""
    response = auth.login(volunteer.email, volunteer.password)
    assert response.status_code == 302, response.text
    return volunteer


@pytest.fixture
def operator(berlin):
    """An approved operator account (on a database with the Berlin zones)."""
    from app.accounts.users import create_user
    from app.models import Role

    user = create_user(
        berlin,
        name="Olga Operator",
        email="olga@example.org",
        password="night shift lantern",
        hash_cost=TEST_PASSWORD_HASH_COST,
        role=Role.OPERATOR,
        approved=True,
    )
    berlin.commit()
    return user


@pytest.fixture
def login(client):
    """Sign a user in on the test client: `login(user)` returns the client.

    Sets Flask-Login's session keys directly, so tests of pages behind a
    login do not depend on the login form.
    """

    def sign_in(user):
        with client.session_transaction() as session:
            session.update(signed_in_keys(user.id, user.session_version))
        return client

    return sign_in


@pytest.fixture
def another_app(database_url, tmp_path):
    """More apps on the test database, configured otherwise: another_app(test_phone="off")."""
    apps = []

    def build(**config):
        app = make_test_app(database_url, tmp_path / f"another{len(apps)}", **config)
        apps.append(app)
        return app

    yield build
    for app in apps:
        get_db(app).engine.dispose()


def answer_call_back(app, phone):
    """Pick up the newest call back the line queued (a repeat caller's code), as Twilio
    would play it; the simulated call, ended or waiting at its menu."""
    from app.calls.outbound import CODE_CALLBACK_JOB, flow_url

    with get_db(app).session() as session:
        job = session.scalars(
            select(Job).where(Job.kind == CODE_CALLBACK_JOB).order_by(Job.id.desc())
        ).first()
        assert job is not None, "no call back was queued"
        payload = job.payload
        number = session.scalar(
            select(HelpRequest.caller_number).where(HelpRequest.reference == payload["reference"])
        )
    url = flow_url(
        app.config["HOTLINE"], CallStep.CALLBACK_CODE, payload["language"], ref=payload["reference"]
    )
    return phone.answer(number, url)


@pytest.fixture
def twilio():
    """Twilio's REST API on a loopback port (tests/twilio_emulator.py), for ACCOUNT_SID."""
    from tests.twilio_emulator import ACCOUNT_SID, TwilioEmulator

    with TwilioEmulator(ACCOUNT_SID, TEST_AUTH_TOKEN) as emulator:
        yield emulator
