"""Configuration: defaults, the file, environment secrets, and clear errors."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import ConfigError, load_settings

HOTLINE = Path(sys.executable).parent / "hotline"


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file():
    settings = load_settings(None, env={})
    assert settings.timezone.key == "Europe/Berlin"
    assert settings.phone_languages == ["de", "en", "pl"]
    assert settings.default_language == "de"
    assert settings.retention_days == 30
    assert settings.claim_timeout_hours == 24
    assert settings.max_open_claims == 3
    assert (settings.claims_per_hour, settings.give_backs_per_hour) == (10, 3)
    assert settings.churn_alert_give_backs == 3
    assert settings.max_open_requests_per_number == 2
    assert settings.unclaimed_alert_hours == 48
    assert settings.request_type_for_digit("2").code == "pharmacy"
    assert settings.request_type("shopping").label("pl") == "zakupy"


def test_the_example_file_is_valid_and_matches_the_defaults():
    example = Path(__file__).resolve().parents[1] / "config.example.toml"
    from_example = dataclasses.replace(load_settings(example, env={}), source="")
    assert from_example == dataclasses.replace(load_settings(None, env={}), source="")


def test_file_values_and_environment_secrets(tmp_path):
    path = write(
        tmp_path,
        'timezone = "Europe/Warsaw"\nretention_days = 14\n'
        '[phone]\nlanguages = ["pl", "en"]\ndefault_language = "pl"\n',
    )
    env = {"HOTLINE_SECRET_KEY": "s3cret", "TWILIO_AUTH_TOKEN": "tok"}
    settings = load_settings(path, env=env)
    assert settings.timezone.key == "Europe/Warsaw"
    assert settings.retention_days == 14
    assert settings.phone_languages == ["pl", "en"]
    assert settings.secret_key == "s3cret"
    assert settings.twilio_auth_token == "tok"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("retention_day = 3", "'retention_day'"),
        ("retention_days = 'thirty'", "'retention_days'"),
        ("retention_days = 0", "'retention_days'"),
        ("unclaimed_alert_hours = 0", "'unclaimed_alert_hours'"),
        ("claims_per_hour = 0", "'claims_per_hour'"),
        ("give_backs_per_hour = -1", "'give_backs_per_hour'"),
        ("churn_alert_give_backs = 0", "'churn_alert_give_backs'"),
        ("max_open_requests_per_number = 0", "'max_open_requests_per_number'"),
        ("max_open_requests_per_number = '2'", "'max_open_requests_per_number'"),
        ("unclaimed_alert_hours = '2 days'", "'unclaimed_alert_hours'"),
        ("timezone = 'Mars/Olympus'", "'timezone'"),
        ("zone_profile = 'atlantis'", "'zone_profile'"),
        ("database_url = 'mysql://x'", "'database_url'"),
        ("public_base_url = 'hotline.example.org'", "'public_base_url'"),
        ("[phone]\ndefault_language = 'fr'", "'phone.default_language'"),
        ("[phone]\nlanguages = ['de', 'fr']", "'phone.voices'"),
        ("[phone]\ncolour = 'blue'", "'phone.colour'"),
        ("[[request_types]]\ndigit = '0'\ncode = 'x'\nlabel = {de='x', en='x', pl='x'}", "digit"),
        ("[[request_types]]\ndigit = '1'\ncode = 'x'\nlabel = {de='x'}", "label"),
        ("twilio = 'abc'", "'twilio'"),
        ("database_timeout_seconds = 0", "'database_timeout_seconds'"),
        ("database_timeout_seconds = 15", "'database_timeout_seconds'"),
        ("database_timeout_seconds = '5'", "'database_timeout_seconds'"),
        ("operator_phone = '030 1234567'", "'operator_phone'"),
        ("public_phone_number = '030 1234567'", "'public_phone_number'"),
        ("public_phone_number = '+49301'", "'public_phone_number'"),
        ("web_languages = ['de', 'fr']", "'web_languages'"),
        ("test_phone = 'sometimes'", "'test_phone'"),
        ("password_hash_cost = 6", "'password_hash_cost'"),
        ("password_hash_cost = 21", "'password_hash_cost'"),
        ("password_hash_cost = 'high'", "'password_hash_cost'"),
        ("[twilio]\napi_base_url = 'http://api.twilio.com'", "'twilio.api_base_url'"),
        ("[twilio]\napi_base_url = 'api.twilio.com'", "'twilio.api_base_url'"),
        ("[twilio]\napi_base_url = 'https://api.twilio.com/2010-04-01'", "'twilio.api_base_url'"),
        ("[twilio]\napi_base_url = 'https://me@api.twilio.com'", "'twilio.api_base_url'"),
        ("[twilio]\napi_base_url = 'https://api.twilio.com:99999'", "'twilio.api_base_url'"),
        ("[twilio]\napi_base_url = 'http://10.0.0.5:8080'", "'twilio.api_base_url'"),
    ],
)
def test_a_wrong_key_names_the_key_and_the_file(tmp_path, text, key):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_settings(path, env={})
    assert str(path) in str(error.value)
    assert key in str(error.value)


@pytest.mark.parametrize(("text", "seconds"), [("", 6.0), ("= 2", 2.0), ("= 0.5", 0.5)])
def test_the_database_timeout_takes_whole_and_decimal_seconds(tmp_path, text, seconds):
    path = write(tmp_path, f"database_timeout_seconds {text}" if text else "")
    assert load_settings(path, env={}).database_timeout_seconds == seconds


@pytest.mark.parametrize(
    ("text", "base"),
    [
        ("", "https://api.twilio.com"),
        ("api_base_url = 'https://api.twilio.com/'", "https://api.twilio.com"),
        ("api_base_url = 'https://twilio.example.org:8443'", "https://twilio.example.org:8443"),
        # Plain http only to a stand-in on this machine: nobody on the way could change it.
        ("api_base_url = 'http://127.0.0.1:8099'", "http://127.0.0.1:8099"),
        ("api_base_url = 'http://localhost:8099'", "http://localhost:8099"),
        ("api_base_url = 'http://[::1]:8099'", "http://[::1]:8099"),
    ],
)
def test_twilios_api_address_is_https_or_on_this_machine(tmp_path, text, base):
    path = write(tmp_path, f"[twilio]\n{text}")
    assert load_settings(path, env={}).twilio_api_base_url == base


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("", 48.0),
        ("calldown_after_hours = 24", 24.0),  # the name issue 15 gives it
        ("calldown_after_hours = 0.5", 0.5),
        ("[calldown]\nafter_hours = 12", 12.0),
        ("calldown_after_hours = 6\n[calldown]\nafter_hours = 6.0", 6.0),  # the same: fine
        ("calldown_after_hours = 0\n[calldown]\nhours = ''", 0.0),
    ],
)
def test_calldown_after_hours_is_taken_at_the_top_level_or_in_its_table(tmp_path, text, hours):
    assert load_settings(write(tmp_path, text), env={}).calldown.after_hours == hours


@pytest.mark.parametrize(
    "text",
    [
        "calldown_after_hours = 24\n[calldown]\nafter_hours = 48",
        "calldown_after_hours = -1",
        "calldown_after_hours = '2 days'",
        "calldown_after_hours = true",
    ],
)
def test_a_wrong_calldown_after_hours_is_named(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_settings(path, env={})
    message = str(error.value)
    assert str(path) in message and "'calldown_after_hours'" in message
    if "[calldown]" in text:  # both given, and they differ: both are named
        assert "'calldown.after_hours'" in message and "24" in message and "48" in message


def test_calldown_after_hours_in_the_overrides_too():
    settings = load_settings(None, env={}, overrides={"calldown_after_hours": 3})
    assert settings.calldown.after_hours == 3.0


def test_invalid_toml_names_the_file(tmp_path):
    path = write(tmp_path, "retention_days = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path, env={})


def test_missing_named_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", env={})


def test_hotline_command_stops_with_one_clear_line(tmp_path):
    path = write(tmp_path, "max_open_claims = -1")
    env = {**os.environ, "HOTLINE_CONFIG": str(path)}
    result = subprocess.run(
        [str(HOTLINE), "zones", "list"], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "max_open_claims" in result.stderr
    assert str(path) in result.stderr
    assert "Traceback" not in result.stderr


def test_a_database_that_cannot_be_reached_is_one_clear_line(tmp_path):
    env = {**os.environ, "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path}/no/such/dir/x.db"}
    env.pop("HOTLINE_CONFIG", None)
    result = subprocess.run(
        [str(HOTLINE), "db", "upgrade"], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 1
    assert "cannot use the database" in result.stderr
    assert "Traceback" not in result.stderr
