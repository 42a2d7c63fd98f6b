"""The `[jobs]` settings: how often a failing job is tried again, how long a worker holds it."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULTS = {"max_attempts": 8, "first_retry_seconds": 30, "lease_seconds": 300}


@dataclass(frozen=True)
class JobSettings:
    # After this many failed runs a job is parked and shown to the operators.
    max_attempts: int = 8
    # The wait before the second run; it doubles with every further failure (at most an hour).
    first_retry_seconds: int = 30
    # A job whose worker has not finished it after this long is taken to have died with
    # its worker (killed, machine gone) and is run again by another. Must be longer than
    # any job runs: a send waits at most SEND_TIMEOUT_SECONDS (app/messaging).
    lease_seconds: int = 300


def check(raw: dict, fail) -> JobSettings:
    """JobSettings from the `[jobs]` table; raise fail(key, why) for a wrong value."""
    if raw["max_attempts"] < 1:
        raise fail("jobs.max_attempts", f"must be at least 1, got {raw['max_attempts']}")
    if raw["first_retry_seconds"] < 1:
        raise fail("jobs.first_retry_seconds", "must be at least 1")
    if raw["lease_seconds"] < 2:
        raise fail("jobs.lease_seconds", "must be at least 2")
    return JobSettings(
        max_attempts=raw["max_attempts"],
        first_retry_seconds=raw["first_retry_seconds"],
        lease_seconds=raw["lease_seconds"],
    )
