"""Signed links in account e-mails: a password reset, a confirmation of the address.

A token is the payload and the time it was made, signed with the secret key
(itsdangerous) under a salt of its own, so a token of one kind is never taken
for another. The time is in the payload rather than itsdangerous' own
timestamp so that the age is checked against the caller's clock (tests make a
token an hour old without waiting an hour).
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from app.config import Settings
from app.database import utcnow


def make(settings: Settings, salt: str, payload: list, issued_at: datetime | None = None) -> str:
    """A signed token holding `payload` and when it was made."""
    made = int((issued_at or utcnow()).timestamp())
    return URLSafeSerializer(settings.secret_key, salt=salt).dumps([made, *payload])


def read(
    settings: Settings, salt: str, token: str, max_age: timedelta, now: datetime | None = None
) -> list | None:
    """The payload of a token of this kind made within `max_age`; None for any other string."""
    with contextlib.suppress(BadSignature):
        loaded = URLSafeSerializer(settings.secret_key, salt=salt).loads(token)
        if not (isinstance(loaded, list) and loaded and isinstance(loaded[0], int)):
            return None
        age = (now or utcnow()).timestamp() - loaded[0]
        # A token "from the future" (beyond a minute of clock skew between app
        # servers) is no more trusted than an old one.
        return loaded[1:] if -60 <= age <= max_age.total_seconds() else None
    return None
