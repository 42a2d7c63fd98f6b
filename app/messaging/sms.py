"""Text messages through Twilio's Messaging API, from the hotline's own number.

The real client (twilio.rest.Client) talks to `[twilio] api_base_url`: Twilio's
API in production, a stand-in on this machine in the tests (tests/twilio_emulator.py).
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from app.config import Settings

# Twilio that does not answer within this long fails the send (the job retries).
SEND_TIMEOUT_SECONDS = 30
# Twilio's error for a recipient who texted STOP to our number: it sends them nothing more.
UNSUBSCRIBED_RECIPIENT = 21610
# How far back find_sent() looks before the attempt it checks (clocks differ a little).
CLOCK_SLACK = timedelta(minutes=2)


class RecipientUnsubscribed(Exception):  # noqa: N818 (a fact about the recipient, not a failure)
    """The recipient replied STOP to the hotline's number; Twilio refuses to text them."""


def client(settings: Settings) -> Client:
    """A Twilio REST client for the configured account, at the configured API address."""
    twilio = Client(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        http_client=TwilioHttpClient(timeout=SEND_TIMEOUT_SECONDS),
    )
    twilio.api.base_url = settings.twilio_api_base_url
    return twilio


def send(settings: Settings, to: str, body: str, status_callback: str | None = None) -> str:
    """Send one SMS now; its MessageSid. Raises RecipientUnsubscribed, or Twilio's errors."""
    if not settings.twilio_phone_number:
        raise RuntimeError("no [twilio] phone_number is configured to send text messages from")
    options = {"status_callback": status_callback} if status_callback else {}
    try:
        message = client(settings).messages.create(
            to=to, from_=settings.twilio_phone_number, body=body, **options
        )
    except TwilioRestException as error:
        if error.code == UNSUBSCRIBED_RECIPIENT:
            raise RecipientUnsubscribed(to) from None
        raise
    return message.sid


def find_sent(settings: Settings, to: str, body: str, since: datetime) -> str | None:
    """The MessageSid of this very text to `to`, if Twilio has one made since `since`.

    For a send whose outcome is unknown (its worker died): Twilio lists a message
    as soon as it has accepted it, so a message found was sent, and one not
    found was not.
    """
    recent = client(settings).messages.list(to=to, from_=settings.twilio_phone_number, limit=50)
    for message in recent:
        created = message.date_created
        if message.body == body and (created is None or created >= since - CLOCK_SLACK):
            return message.sid
    return None


def mobile_number(typed: str, hotline_number: str) -> str | None:
    """A mobile number as typed ('0151 2345678'), in E.164; None if texts cannot reach it.

    A number without a country code is taken to be in the hotline's own country
    (that of `[twilio] phone_number`).
    """
    region = None
    if hotline_number:
        with contextlib.suppress(NumberParseException):
            region = phonenumbers.region_code_for_number(phonenumbers.parse(hotline_number))
    try:
        number = phonenumbers.parse(typed.strip(), region)
    except NumberParseException:
        return None
    mobile = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in mobile:
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)
