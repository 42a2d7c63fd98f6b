"""The worker's housekeeping: stale claims go back to the board, finished jobs are deleted."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy.orm import Session

from app.jobs.handlers import periodic
from app.jobs.queue import prune
from app.messaging import deliveries
from app.requests.claims import expire_stale_claims

# Long enough to look into what was sent last week; parked jobs stay until handled.
KEEP_DONE = timedelta(days=7)


@periodic(every_seconds=3600)
def prune_done_jobs(session: Session, app: Flask, now: datetime) -> int:
    """Delete jobs done more than a week ago (and with them what they listed), and the
    records of the messages they sent."""
    return prune(session, now - KEEP_DONE) + deliveries.prune(session, now - KEEP_DONE)


@periodic(every_seconds=60)
def return_stale_claims(session: Session, app: Flask, now: datetime) -> int:
    """Claims not done within claim_timeout_hours go back to the board, within a minute.

    Pages only looked at write nothing (a stale claim is merely no longer its
    volunteer's there); this puts the request back among the open ones.
    """
    return expire_stale_claims(session, app.config["HOTLINE"].claim_timeout_hours, now)
