"""Shared fixtures: an app on SQLite (and on PostgreSQL when configured), client, CLI runner.

Every test that takes `app` (or anything built on it) runs once per database:
SQLite always, PostgreSQL when HOTLINE_TEST_DATABASE_URL names a database.
SQLite tests get a copy of a migrated template file; PostgreSQL tests share
one migrated database that is emptied after each test, so tests that need
real commits and concurrent connections (claim races) work on both.
"""

from __future__ import annotations

import os
import shutil

import pytest
from sqlalchemy import create_engine, text

from app import create_app, migrations_runner
from app.database import Base, get_db
from app.zones import import_profile, profile_path, read_profile

PG_URL = os.environ.get("HOTLINE_TEST_DATABASE_URL", "")
DATABASES = ["sqlite"] + (["postgresql"] if PG_URL else [])

TEST_AUTH_TOKEN = "test-auth-token-0123456789abcdef"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("template") / "hotline.db"
    migrations_runner.upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture(scope="session")
def postgresql_url() -> str:
    """The test PostgreSQL database, emptied and migrated once per run.

    When HOTLINE_TEST_DATABASE_URL is set and the server does not answer, this
    fails loudly: CI must never pass by quietly skipping PostgreSQL.
    """
    engine = create_engine(PG_URL)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    migrations_runner.upgrade(PG_URL)
    return PG_URL


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path, sqlite_template):
    if request.param == "sqlite":
        path = tmp_path / "hotline.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgresql_url")
    yield url
    _empty_postgresql(url)


def _empty_postgresql(url: str) -> None:
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables if t.name != "alembic_version")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


def make_test_app(database_url: str, tmp_path, **config):
    test_config = {
        "testing": True,
        "database_url": database_url,
        "secret_key": "test-secret-key",
        "twilio": {"auth_token": TEST_AUTH_TOKEN, "account_sid": "AC" + "0" * 32},
        "public_base_url": "http://hotline.test",
    }
    test_config.update(config)
    return create_app(test_config, instance_path=str(tmp_path / "instance"))


@pytest.fixture
def app(database_url, tmp_path):
    app = make_test_app(database_url, tmp_path)
    yield app
    get_db(app).engine.dispose()


@pytest.fixture
def db(app):
    """A session on the test database, inside an app context."""
    with app.app_context(), get_db(app).session() as session:
        yield session


@pytest.fixture
def berlin(db):
    """The real Berlin zone profile, imported."""
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
    from voice.simulator import Phone

    return Phone.for_app(app)


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
