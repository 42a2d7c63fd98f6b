"""E-mail through a real SMTP server (aiosmtpd), its configuration, and the log without one."""

from __future__ import annotations

import logging

import pytest

from app.config import ConfigError, load_settings
from app.messaging import mail
from tests.smtp_server import SmtpServer, plain_text

# The test server asks for a password over plain TCP on 127.0.0.1; aiosmtpd warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def _settings(**mail_config):
    return load_settings(None, env={}, overrides={"mail": mail_config})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://127.0.0.1:2525", ("127.0.0.1", 2525, "", "", False, False)),
        ("smtp://mail.example.org", ("mail.example.org", 25, "", "", False, False)),
        (
            "smtp://ada%40example.org:p%40ss@mail.example.org?starttls=1",
            ("mail.example.org", 587, "ada@example.org", "p@ss", False, True),
        ),
        ("smtps://u:p@mail.example.org", ("mail.example.org", 465, "u", "p", True, False)),
    ],
)
def test_mail_urls_are_read_with_their_defaults(url, expected):
    config = _settings(url=url).mail
    assert (
        config.host,
        config.port,
        config.username,
        config.password,
        config.tls,
        config.starttls,
    ) == expected


@pytest.mark.parametrize(
    ("mail_config", "named"),
    [
        ({"url": "http://mail.example.org"}, "mail.url"),
        ({"url": "smtp://"}, "mail.url"),
        ({"url": "smtp://host:99999"}, "mail.url"),
        ({"url": "smtp://host?starttls=yes"}, "mail.url"),
        ({"url": "smtp://host?tls=1"}, "mail.url"),
        ({"url": "smtps://host?starttls=1"}, "mail.url"),
        ({"url": "smtp://host/inbox"}, "mail.url"),
        ({"from_address": "hotline"}, "mail.from_address"),
        ({"from_address": ""}, "mail.from_address"),
    ],
)
def test_a_wrong_mail_setting_stops_start_up_naming_the_key(mail_config, named):
    with pytest.raises(ConfigError, match=f"key '{named}'"):
        _settings(**mail_config)


def test_the_mail_url_may_come_from_the_environment_with_its_password():
    settings = load_settings(None, env={"HOTLINE_MAIL_URL": "smtp://u:secret@mail.example.org"})
    assert settings.mail.password == "secret"


def test_a_mail_goes_through_the_server_with_its_login():
    with SmtpServer(login=("hotline", "s3cret")) as smtp:
        settings = _settings(
            url=f"smtp://hotline:s3cret@127.0.0.1:{smtp.port}", from_address="hi@example.org"
        )
        sent_id = mail.send(
            settings,
            "ada@example.org",
            "Grüße",
            "Guten Tag, Ada!\n",
            headers={"List-Unsubscribe": "<https://example.org/u>"},
            msgid=mail.message_id(settings, "k"),
        )
        [message] = smtp.wait_for(1)
    assert smtp.handler.envelopes == [("hi@example.org", ["ada@example.org"])]
    assert message["Subject"] == "Grüße"
    assert plain_text(message) == "Guten Tag, Ada!\n"
    assert message["List-Unsubscribe"] == "<https://example.org/u>"
    assert message["Message-ID"] == sent_id == mail.message_id(settings, "k")


def test_without_a_mail_server_the_mail_is_written_to_the_log(caplog):
    settings = _settings(url="")
    with caplog.at_level(logging.INFO, logger="app.messaging.mail"):
        mail.send(settings, "ada@example.org", "Hello", "A message for you.\n")
    assert "ada@example.org" in caplog.text
    assert "A message for you." in caplog.text
