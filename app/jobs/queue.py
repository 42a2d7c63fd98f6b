"""The job queue: an outbox table (`jobs`) in the app's own database.

A job is written by enqueue() in the caller's transaction, with the change that
causes it: a rolled-back change leaves no job, a committed one never loses it.
A worker claims due jobs with one UPDATE (on PostgreSQL over a SELECT ... FOR
UPDATE SKIP LOCKED, so several workers share the queue without waiting on each
other; SQLite runs one write at a time, so its one UPDATE is atomic as it is),
runs each, and marks it done in the transaction of what the job wrote.

A claim holds a job for `jobs.lease_seconds`: a worker that dies mid-job
(killed, power gone) leaves it `running`, and once the lease is over the next
claim takes it again. Each claim counts as an attempt, so a job that kills its
worker every time is parked too, not run forever. Failures are tried again
after 30 s, 1, 2, 4 ... minutes (at most an hour; `jobs.first_retry_seconds`);
after `jobs.max_attempts` the job is parked and the operators see it.

Why not a library: huey and RQ keep their queue in Redis, and procrastinate and
pgqueuer only on PostgreSQL, with connections of their own. None can add a job
to the transaction of the app's SQLAlchemy session, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.database import utcnow
from app.jobs.settings import JobSettings
from app.models import Job, JobState
from app.phone_numbers import masked_in_text

MAX_RETRY_WAIT = timedelta(hours=1)
# What of an error is kept for the operators: the first line, this long.
ERROR_LENGTH = 500


@dataclass(frozen=True)
class ClaimedJob:
    """A job as a worker holds it: what to run, with what, and the how-manieth try."""

    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int


def enqueue(
    connection: Session | Connection,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    run_at: datetime | None = None,
) -> int | None:
    """Add a job to the caller's transaction; its id, or None when its key is queued already.

    `key` makes enqueuing idempotent (say "alert:request:42"): a second job with
    the same key is not added, whatever state the first is in. Without one the
    job is unique. Nothing is committed: the caller commits with its own change.
    """
    now = utcnow()
    values = {
        "kind": kind,
        "key": key or f"{kind}:{uuid.uuid4().hex}",
        "payload": payload or {},
        "state": JobState.PENDING,
        "attempts": 0,
        "run_at": run_at or now,
        "last_error": "",
        "created_at": now,
    }
    dialect = connection.get_bind().dialect.name if isinstance(connection, Session) else None
    dialect = dialect or connection.dialect.name
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    statement = (
        insert(Job.__table__)
        .values(values)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(Job.__table__.c.id)
    )
    return connection.execute(statement).scalar()


@contextlib.contextmanager
def atomically(connection: Connection) -> Iterator[Connection]:
    """One transaction for the statements inside, on a connection that may autocommit.

    The phone line's connections autocommit each statement on PostgreSQL
    (app/database.py): a request and the job it causes would be two transactions,
    and a crash between them would lose the job. Here they are one (BEGIN ...
    COMMIT). SQLite's connections already hold every write until the caller's
    commit(), which commits them together.
    """
    autocommit = connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
    if not autocommit:
        yield connection
        return
    connection.exec_driver_sql("BEGIN")
    try:
        yield connection
    except BaseException:
        with contextlib.suppress(Exception):
            connection.exec_driver_sql("ROLLBACK")
        raise
    connection.exec_driver_sql("COMMIT")


def claim(session: Session, settings: JobSettings, limit: int = 1) -> list[ClaimedJob]:
    """Take up to `limit` due jobs for this worker, oldest due first (the caller commits).

    Due: pending with run_at passed, or running with the lease of a worker that
    died. The caller must commit at once, so that other workers see the claim.
    """
    now = utcnow()
    jobs = Job.__table__
    due = (
        select(jobs.c.id)
        .where(
            ((jobs.c.state == JobState.PENDING) & (jobs.c.run_at <= now))
            | ((jobs.c.state == JobState.RUNNING) & (jobs.c.locked_until < now))
        )
        .order_by(jobs.c.run_at, jobs.c.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claimed = session.execute(
        update(jobs)
        .where(jobs.c.id.in_(due.scalar_subquery()))
        .values(
            state=JobState.RUNNING,
            attempts=jobs.c.attempts + 1,
            locked_until=now + timedelta(seconds=settings.lease_seconds),
        )
        .returning(jobs.c.id, jobs.c.kind, jobs.c.key, jobs.c.payload, jobs.c.attempts)
    ).all()
    return sorted(
        (ClaimedJob(row.id, row.kind, row.key, row.payload or {}, row.attempts) for row in claimed),
        key=lambda job: job.id,
    )


def complete(session: Session, job: ClaimedJob) -> None:
    """Mark the job done, in the transaction of what it wrote (the caller commits)."""
    session.execute(
        update(Job)
        .where(Job.id == job.id)
        .values(state=JobState.DONE, finished_at=utcnow(), locked_until=None, last_error="")
    )


def complete_pending(session: Session, job_id: int) -> bool:
    """Mark a pending job done without a worker running it (the simulator answered its
    call itself); False if it is not pending: a worker has it, or it is done.

    One conditional UPDATE: of two who try at once, one changes the row and has the job.
    """
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == JobState.PENDING)
        .values(state=JobState.DONE, finished_at=utcnow(), locked_until=None, last_error="")
    )
    return result.rowcount == 1


def retry_or_park(session: Session, job: ClaimedJob, error: str, settings: JobSettings) -> JobState:
    """After a failed run: try again after the back-off, or park it after max_attempts."""
    now = utcnow()
    # Kept with the job (a parked one until handled) and shown to every operator: the
    # message may name a caller's number, so numbers in it are masked.
    error = masked_in_text((error.strip().splitlines() or ["(no message)"])[0])[:ERROR_LENGTH]
    if job.attempts >= settings.max_attempts:
        values = {"state": JobState.PARKED, "finished_at": now}
    else:
        values = {"state": JobState.PENDING, "run_at": now + retry_wait(job.attempts, settings)}
    session.execute(
        update(Job).where(Job.id == job.id).values(locked_until=None, last_error=error, **values)
    )
    return values["state"]


def postpone(session: Session, job: ClaimedJob, until: datetime) -> None:
    """Run the job again at `until` without counting this run as a failure (quiet hours)."""
    session.execute(
        update(Job)
        .where(Job.id == job.id)
        .values(state=JobState.PENDING, run_at=until, locked_until=None, attempts=Job.attempts - 1)
    )


def retry_wait(attempts: int, settings: JobSettings) -> timedelta:
    """How long after its `attempts`-th failed run a job runs again: doubling, at most an hour."""
    wait = timedelta(seconds=settings.first_retry_seconds * 2 ** min(attempts - 1, 20))
    return min(wait, MAX_RETRY_WAIT)


def requeue(session: Session, job_id: int) -> bool:
    """Give a parked job another round of attempts (an operator's decision); False if not parked."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == JobState.PARKED)
        .values(state=JobState.PENDING, attempts=0, run_at=utcnow(), finished_at=None)
    )
    return result.rowcount == 1


def parked_jobs(session: Session, limit: int = 50) -> list[Job]:
    """The jobs that failed every attempt, newest first, for the operators."""
    return list(
        session.scalars(
            select(Job)
            .where(Job.state == JobState.PARKED)
            .order_by(Job.finished_at.desc())
            .limit(limit)
        )
    )


def parked_count(session: Session) -> int:
    """How many jobs failed every attempt (the operators' dashboard shows it)."""
    return session.scalar(select(func.count()).where(Job.state == JobState.PARKED)) or 0


def waiting_count(session: Session) -> int:
    """Jobs not finished yet: pending (now or later) or running."""
    return (
        session.scalar(
            select(func.count()).where(Job.state.in_((JobState.PENDING, JobState.RUNNING)))
        )
        or 0
    )


def prune(session: Session, older_than: datetime) -> int:
    """Delete done jobs finished before `older_than`; how many (parked ones stay)."""
    result = session.execute(
        delete(Job).where(Job.state == JobState.DONE, Job.finished_at < older_than)
    )
    return result.rowcount
