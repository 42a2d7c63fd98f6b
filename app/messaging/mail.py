"""E-mail: through the SMTP server of `[mail] url`, or into the log when there is none.

    mail.send(settings, "ada@example.org", subject, text, html=None, headers={...})

sends one message now (the caller decides when: a job, app/messaging/deliveries.py,
makes sure a retry does not send it twice). render() builds a message from the
templates app/templates/mail/NAME.txt (first line "Subject: ...") and NAME.html
(optional) in the recipient's language.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from flask import current_app, render_template
from flask_babel import force_locale
from jinja2 import TemplateNotFound

from app.config import Settings

log = logging.getLogger(__name__)

# A mail server that does not answer within this long fails the send (the job retries).
SEND_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Mail:
    """A message ready to send: subject, plain text, and HTML when the template has one."""

    subject: str
    text: str
    html: str | None = None


def render(name: str, language: str, /, **context) -> Mail:
    """The mail template NAME in `language` (a web language; else the first one).

    Needs an app context. NAME.txt starts with "Subject: ..." and a blank line;
    NAME.html, when there is one, is the HTML part. Both are translated with
    the board's catalogs (`_()` in the templates).
    """
    offered = current_app.config["HOTLINE"].web_languages
    language = language if language in offered else offered[0]
    with force_locale(language):
        first, _, text = render_template(f"mail/{name}.txt", **context).partition("\n")
        try:
            html = render_template(f"mail/{name}.html", **context)
        except TemplateNotFound:
            html = None
    subject = first.removeprefix("Subject:").strip()
    return Mail(subject=subject, text=text.strip() + "\n", html=html)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Made once: loading the system's certificates takes a tenth of a second.
    return ssl.create_default_context()


def message_id(settings: Settings, key: str) -> str:
    """A Message-ID that is the same for every try of one message (mail clients merge copies)."""
    domain = settings.mail.from_address.rpartition("@")[2] or "localhost"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def compose(
    settings: Settings,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    headers: dict[str, str] | None = None,
    msgid: str | None = None,
) -> EmailMessage:
    """The message as it leaves: From the configured address, plain text first, then HTML."""
    message = EmailMessage()
    message["From"] = settings.mail.from_address
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    if msgid:
        message["Message-ID"] = msgid
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def send(
    settings: Settings,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    headers: dict[str, str] | None = None,
    msgid: str | None = None,
) -> str:
    """Send one e-mail now; its Message-ID. Raises smtplib's errors or OSError on failure.

    With no `[mail] url` the message is written to the log instead (a laptop, a demo).
    """
    message = compose(settings, to, subject, text, html, headers, msgid)
    if "Message-ID" not in message:
        message["Message-ID"] = message_id(settings, f"{to}:{subject}:{message['Date']}")
    config = settings.mail
    if not config.host:
        log.info("E-mail not sent ([mail] url is empty), as it would go:\n%s", message.as_string())
        return message["Message-ID"]
    if config.tls:
        smtp = smtplib.SMTP_SSL(
            config.host, config.port, timeout=SEND_TIMEOUT_SECONDS, context=_tls_context()
        )
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=SEND_TIMEOUT_SECONDS)
    with smtp:
        if config.starttls:
            smtp.starttls(context=_tls_context())
        if config.username:
            smtp.login(config.username, config.password)
        smtp.send_message(message)
    return message["Message-ID"]
