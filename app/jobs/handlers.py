"""What each kind of job does: a registry the worker looks kinds up in.

A module that has work done in the background registers a handler for its
kind, and enqueues jobs of that kind with app.jobs.queue.enqueue():

    @handler("alerts.fan_out")
    def fan_out(run: JobRun) -> None:
        ...  # run.session, run.job.payload, run.settings

A handler writes through `run.session` and never commits: the worker commits
what it wrote together with marking the job done, or rolls it all back when it
raises. It must be safe to run twice (a worker may die after the effect and
before the commit); app/messaging/deliveries.py makes sending so. Raising
Later(when) puts the job off without counting a failure (quiet hours).

Periodic tasks (`@periodic(seconds)`) run in every worker about that often, in a
session of their own, committed after: they must be safe to run in several
workers at once (conditional UPDATEs, unique keys).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import Flask
from sqlalchemy.orm import Session

from app.config import Settings
from app.database import Database, get_db
from app.jobs.queue import ClaimedJob

# The modules that register handlers, imported by the worker before it starts.
HANDLER_MODULES = (
    "app.jobs.housekeeping",
    "app.messaging.outbox",
    "app.messaging.alerts",
    "app.accounts.password_reset",
    "app.accounts.confirmation",
    "app.accounts.account_mail",
    "app.calls.outbound",
    "app.calls.bridge",
    "app.calls.calldown",
    "app.calls.claim_notice",
)


@dataclass
class JobRun:
    """One run of a job: its session (not to be committed), the job, the app."""

    session: Session
    job: ClaimedJob
    app: Flask

    @property
    def settings(self) -> Settings:
        return self.app.config["HOTLINE"]

    @property
    def db(self) -> Database:
        return get_db(self.app)


@dataclass(frozen=True)
class Periodic:
    name: str
    every_seconds: float
    run: Callable[[Session, Flask, datetime], None]


class Later(Exception):  # noqa: N818 (not an error: the job is put off)
    """Raised by a handler: run this job again at `until`, not counted as a failure."""

    def __init__(self, until: datetime):
        super().__init__(f"put off until {until.isoformat()}")
        self.until = until


HANDLERS: dict[str, Callable[[JobRun], None]] = {}
PERIODIC: dict[str, Periodic] = {}


def handler(kind: str):
    """Register the function that runs jobs of `kind`."""

    def register(function: Callable[[JobRun], None]):
        HANDLERS[kind] = function
        return function

    return register


def periodic(every_seconds: float):
    """Register a function (session, app, now) that every worker runs about that often."""

    def register(function: Callable[[Session, Flask, datetime], None]):
        name = f"{function.__module__}.{function.__name__}"
        PERIODIC[name] = Periodic(name, every_seconds, function)
        return function

    return register


def load() -> None:
    """Import every module that registers handlers."""
    for module in HANDLER_MODULES:
        importlib.import_module(module)
