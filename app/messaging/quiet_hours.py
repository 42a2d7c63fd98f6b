"""Quiet hours (`[alerts] quiet_hours`, local time): when no alert goes out, and when it may."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.database import utcnow


def quiet_until(
    hours: tuple[time, time] | None, timezone: ZoneInfo, now: datetime | None = None
) -> datetime | None:
    """When the quiet hours `now` falls in end (UTC), or None when it is not quiet now.

    "21:00-08:00" runs over midnight; "01:00-05:00" does not. Local wall-clock
    times, so the night the clocks change is as long as the clocks say.
    """
    if hours is None:
        return None
    start, end = hours
    local = (now or utcnow()).astimezone(timezone)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        quiet = start <= clock < end
        end_day = local.date()
    else:
        quiet = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not quiet:
        return None
    return datetime.combine(end_day, end, tzinfo=timezone).astimezone(now.tzinfo if now else None)
