"""Finished jobs do not pile up: a week after they are done they are deleted."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy.orm import Session

from app.jobs.handlers import periodic
from app.jobs.queue import prune

# Long enough to look into what was sent last week; parked jobs stay until handled.
KEEP_DONE = timedelta(days=7)


@periodic(every_seconds=3600)
def prune_done_jobs(session: Session, app: Flask, now: datetime) -> int:
    """Delete jobs done more than a week ago (and with them what they listed)."""
    return prune(session, now - KEEP_DONE)
