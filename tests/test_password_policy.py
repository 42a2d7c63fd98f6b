"""The password rule (app/accounts/password_policy.py), at sign-up and on the command line."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.accounts.password_policy import Weakness, weakness
from app.models import User
from tests.conftest import PASSWORD, AuthActions

PERSON = {"email": "jan.kowalski@example.org", "name": "Jan Kowalski", "phone": "0151 2345678"}


@pytest.mark.parametrize(
    ("password", "found"),
    [
        ("short one", Weakness.TOO_SHORT),
        ("aaaaaaaaaa", Weakness.PATTERN),
        ("abcabcabcabc", Weakness.PATTERN),
        ("abcdefghij", Weakness.PATTERN),
        ("9876543210", Weakness.PATTERN),
        ("1234567890", Weakness.COMMON),
        ("qwertyuiop", Weakness.COMMON),
        ("password123", Weakness.COMMON),
        ("Password2024!", Weakness.COMMON),
        ("iloveyou12", Weakness.COMMON),
        ("jan.kowalski@example.org", Weakness.PERSONAL),
        ("JAN.KOWALSKI", Weakness.PERSONAL),
        ("jankowalski1", Weakness.PERSONAL),
        ("Jan Kowalski 2024", Weakness.PERSONAL),
        ("kowalski1234", Weakness.PERSONAL),
        ("+49 151 2345678", Weakness.PERSONAL),
        ("correct horse battery", None),
        ("jan likes long walks", None),  # the name is a small part of it
        ("Tr0ub4dor&3xyz", None),
    ],
)
def test_the_rule(password, found):
    assert weakness(password, **PERSON) == found


def sign_up(client, password, **fields):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = fields.pop("language", "en")
    data = {
        "name": "Jan Kowalski",
        "email": "jan.kowalski@example.org",
        "phone": "0151 2345678",
        "password": password,
        "password_again": password,
        "postcodes": "10115",
        "csrf_token": AuthActions(client).csrf_token("/signup"),
    }
    return client.post("/signup", data={**data, **fields})


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("en", "This password is one of the most common ones"),
        ("de", "Dieses Passwort gehört zu den häufigsten"),
        ("pl", "To hasło należy do najczęściej używanych"),
    ],
)
def test_a_weak_password_is_refused_at_sign_up_in_the_readers_language(
    client, berlin, language, message
):
    response = sign_up(client, "password123", language=language)
    assert response.status_code == 422
    assert message in response.text
    assert berlin.scalar(select(func.count()).select_from(User)) == 0


def test_a_good_password_is_taken_at_sign_up(client, berlin):
    assert sign_up(client, PASSWORD).status_code == 302
    assert berlin.scalar(select(func.count()).select_from(User)) == 1


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("aaaaaaaaaa", "one repeated pattern"),
        ("olga@example.org", "must not be your e-mail address"),
        ("short", "at least 10 characters"),
        ("1234567890", "most common ones"),
    ],
)
def test_the_command_line_refuses_a_weak_password_and_makes_nothing(runner, db, password, message):
    result = runner.invoke(
        args=[
            "users",
            "add",
            "--name",
            "Olga",
            "--email",
            "olga@example.org",
            "--password",
            password,
        ]
    )
    assert result.exit_code == 1
    assert "password refused" in result.output and message in result.output
    assert db.scalar(select(func.count()).select_from(User)) == 0


def test_a_new_password_from_the_command_line_follows_the_rule(runner, db, volunteer):
    before = db.get(User, volunteer.id).password_hash
    refused = runner.invoke(
        args=["users", "password", volunteer.email, "--password", "ada@example.org"]
    )
    assert refused.exit_code == 1 and "must not be your e-mail address" in refused.output
    db.expire_all()
    assert db.get(User, volunteer.id).password_hash == before
    assert db.get(User, volunteer.id).session_version == 0

    unknown = runner.invoke(args=["users", "password", "nobody@example.org"])
    assert unknown.exit_code == 1 and "no account for nobody@example.org" in unknown.output

    made_up = runner.invoke(args=["users", "password", volunteer.email])
    assert made_up.exit_code == 0
    assert "Password (shown once): " in made_up.output
