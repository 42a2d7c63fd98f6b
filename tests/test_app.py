"""The app as a whole: first-run set-up, pages in three languages, the database settings."""

import pytest
from sqlalchemy import select, text

from app.database import get_db
from app.models import User


def test_setup_prints_urls_and_a_one_time_operator_login(runner, db):
    first = runner.invoke(args=["setup"])
    assert first.exit_code == 0, first.output
    assert "http://hotline.test/voice/incoming" in first.output
    assert "http://hotline.test/voice/status" in first.output
    assert "http://hotline.test/voice/fallback" in first.output
    assert "http://hotline.test/operator/" in first.output
    assert "12 zones, 190 postcodes" in first.output
    password = first.output.split("password: ")[1].split()[0]
    assert len(password) >= 12
    operator = db.scalars(select(User)).one()
    assert operator.is_operator and operator.approved

    second = runner.invoke(args=["setup"])
    assert second.exit_code == 0
    assert "password:" not in second.output
    assert "zones" not in second.output


def test_two_setups_never_share_a_password(app, runner, tmp_path):
    from tests.conftest import make_test_app

    other = make_test_app(f"sqlite:///{tmp_path / 'other.db'}", tmp_path)
    mine = runner.invoke(args=["setup"]).output.split("password: ")[1].split()[0]
    theirs = other.test_cli_runner().invoke(args=["setup"]).output.split("password: ")[1]
    assert mine != theirs.split()[0]


def test_users_add_refuses_duplicates_with_a_message(runner):
    args = ["users", "add", "--name", "Ola", "--email", "ola@example.org", "--role", "operator"]
    assert runner.invoke(args=args).exit_code == 0
    again = runner.invoke(args=args)
    assert again.exit_code != 0
    assert "already exists" in again.output


def test_home_page_follows_the_browser_language(client):
    german = client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9"})
    polish = client.get("/", headers={"Accept-Language": "pl"})
    english = client.get("/", headers={"Accept-Language": "en-GB"})
    assert 'lang="de"' in german.text and "Nachbarn" in german.text
    assert 'lang="pl"' in polish.text and "Sąsiedzi" in polish.text
    assert 'lang="en"' in english.text and "Neighbours" in english.text


def test_language_switcher_is_remembered(client):
    client.get("/")
    token = client.get("/").text.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/language", data={"language": "pl", "next": "/", "csrf_token": token})
    assert 'lang="pl"' in client.get("/", headers={"Accept-Language": "de"}).text


def test_language_switcher_never_redirects_off_site(client):
    token = client.get("/").text.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/language", data={"language": "en", "next": "//evil.example", "csrf_token": token}
    )
    assert response.headers["Location"] == "/"


def test_form_posts_without_csrf_token_are_refused(client):
    assert client.post("/language", data={"language": "pl"}).status_code == 400


def test_oversized_posts_are_refused(client):
    assert client.post("/language", data={"x": "a" * 200_000}).status_code == 413


def test_sqlite_runs_in_wal_mode_with_foreign_keys(app):
    if not get_db(app).url.startswith("sqlite"):
        pytest.skip("SQLite settings")
    with get_db(app).engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
