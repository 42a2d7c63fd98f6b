"""The `[calldown]` settings: when an unclaimed request's caller is asked whether they
still need help (app/calls/calldown.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

DEFAULTS = {"after_hours": 48.0, "hours": "09:00-19:00", "retry_after_hours": 4.0}
# The name issue 15 gives `after_hours`, at the top level of the configuration; either
# may be given (take_top_level).
TOP_LEVEL_KEY = "calldown_after_hours"
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


def take_top_level(layer: dict, fail) -> dict:
    """`layer` (a file's keys, or the overrides) with a top-level `calldown_after_hours`
    moved into its `[calldown]` table as `after_hours`; raise fail(key, why) if it is not
    a number of hours, or if the table gives another."""
    if TOP_LEVEL_KEY not in layer:
        return layer
    layer = dict(layer)
    value = layer.pop(TOP_LEVEL_KEY)
    if type(value) not in (int, float) or value < 0:
        raise fail(TOP_LEVEL_KEY, f"must be a number of hours, 0 or more, got {value!r}")
    table = layer.get("calldown", {})
    if not isinstance(table, dict):
        return layer  # the merge says that [calldown] must be a table
    other = table.get("after_hours", value)
    if other != value:
        raise fail(
            TOP_LEVEL_KEY,
            f"is {value!r} but key 'calldown.after_hours' is {other!r}: give only one of them",
        )
    layer["calldown"] = {**table, "after_hours": value}
    return layer
