"""The `[mail]` and `[alerts]` settings, checked at start-up like every other key."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from urllib.parse import parse_qs, unquote, urlsplit

from app.email_addresses import is_email_address

MAIL_DEFAULTS = {"url": "", "from_address": "hotline@localhost"}
ALERT_DEFAULTS = {"batch_minutes": 10, "quiet_hours": "21:00-08:00"}

# An address as people type it: something, one @, a host with a dot or "localhost".
QUIET_HOURS = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])")
MAIL_SCHEMES = {"smtp": 25, "smtps": 465}


@dataclass(frozen=True)
class MailSettings:
    """Where e-mail goes: an SMTP server, or (no host) the server's log."""

    host: str = ""  # "": mail is written to the log instead of sent
    port: int = 0
    username: str = ""
    password: str = ""
    tls: bool = False  # smtps://: TLS from the first byte
    starttls: bool = False  # smtp://...?starttls=1: upgraded after connecting
    from_address: str = "hotline@localhost"


@dataclass(frozen=True)
class AlertSettings:
    """How often volunteers hear of new requests, and when not at all."""

    batch_minutes: int = 10
    # (start, end) in the helpline's local time; None: alerts go out at any hour.
    quiet_hours: tuple[time, time] | None = (time(21, 0), time(8, 0))


def check_mail(raw: dict, fail) -> MailSettings:
    """MailSettings from the `[mail]` table; raise fail(key, why) for a wrong value."""
    address = raw["from_address"].strip()
    if not is_email_address(address):
        raise fail("mail.from_address", f"must be an e-mail address, got {address!r}")
    url = raw["url"].strip()
    if not url:
        return MailSettings(from_address=address)
    example = '"smtp://user:password@host:587?starttls=1" or "smtps://user:password@host"'
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise fail("mail.url", f"is not a mail server address like {example}") from None
    if parts.scheme not in MAIL_SCHEMES or not parts.hostname or parts.path not in ("", "/"):
        raise fail("mail.url", f"must look like {example}")
    options = parse_qs(parts.query, keep_blank_values=True)
    if set(options) - {"starttls"}:
        raise fail("mail.url", "knows only the option starttls=1")
    starttls = options.get("starttls", ["0"])[-1]
    if starttls not in ("0", "1"):
        raise fail("mail.url", "takes starttls=1 or starttls=0")
    if parts.scheme == "smtps" and starttls == "1":
        raise fail("mail.url", "smtps:// is encrypted already: leave out starttls=1")
    starting_tls = starttls == "1"
    default_port = 587 if starting_tls else MAIL_SCHEMES[parts.scheme]
    return MailSettings(
        host=parts.hostname,
        port=port or default_port,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        tls=parts.scheme == "smtps",
        starttls=starting_tls,
        from_address=address,
    )


def check_alerts(raw: dict, fail) -> AlertSettings:
    """AlertSettings from the `[alerts]` table; raise fail(key, why) for a wrong value."""
    if raw["batch_minutes"] < 0:
        raise fail("alerts.batch_minutes", f"must be 0 or more, got {raw['batch_minutes']}")
    text = raw["quiet_hours"].strip()
    quiet = None
    if text:
        match = QUIET_HOURS.fullmatch(text.replace(" ", ""))
        if not match:
            raise fail("alerts.quiet_hours", f'must be like "21:00-08:00" or "", got {text!r}')
        h1, m1, h2, m2 = (int(x) for x in match.groups())
        quiet = (time(h1, m1), time(h2, m2))
        if quiet[0] == quiet[1]:
            raise fail("alerts.quiet_hours", "starts and ends at the same time")
    return AlertSettings(batch_minutes=raw["batch_minutes"], quiet_hours=quiet)
