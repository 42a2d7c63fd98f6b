"""The `[calldown]` settings: when an unclaimed request's caller is asked whether they
still need help (app/calls/calldown.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

DEFAULTS = {"after_hours": 48.0, "hours": "09:00-19:00", "retry_after_hours": 4.0}
HOURS = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")


@dataclass(frozen=True)
class CalldownSettings:
    # Hours a request waits unclaimed before its caller gets the call (fractions allowed;
    # 0: no such calls).
    after_hours: float = 48.0
    # When, local time, the line may call people (None: at any time).
    hours: tuple[time, time] | None = (time(9, 0), time(19, 0))
    # A machine or no answer: tried once more after this long (within the hours).
    retry_after_hours: float = 4.0


def check(raw: dict, fail) -> CalldownSettings:
    """CalldownSettings from the `[calldown]` table; raise fail(key, why) for a wrong value."""
    for key in ("after_hours", "retry_after_hours"):
        if raw[key] < 0:
            raise fail(f"calldown.{key}", f"must be 0 or more, got {raw[key]}")
    text = raw["hours"].strip().replace(" ", "")
    hours = None
    if text:
        match = HOURS.fullmatch(text)
        if not match:
            raise fail("calldown.hours", f'must be like "09:00-19:00" or "", got {text!r}')
        h1, m1, h2, m2 = (int(x) for x in match.groups())
        try:
            hours = (time(h1, m1), time(h2, m2))
        except ValueError:
            raise fail("calldown.hours", f"is not a time of day: {text!r}") from None
        if hours[0] == hours[1]:
            raise fail("calldown.hours", "starts and ends at the same time")
    return CalldownSettings(
        after_hours=float(raw["after_hours"]),
        hours=hours,
        retry_after_hours=float(raw["retry_after_hours"]),
    )
