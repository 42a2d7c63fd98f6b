"""The worker: claims due jobs, runs each, and commits or schedules a retry (`hotline worker`).

One loop, one job at a time: sending a message takes milliseconds to seconds, and
a helpline's alerts are a few thousand a day. Run one worker on SQLite; on
PostgreSQL as many as you like (they share the queue, app/jobs/queue.py).
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from app.database import get_db, utcnow
from app.jobs import handlers, queue
from app.jobs.handlers import HANDLERS, PERIODIC, JobRun, Later

log = logging.getLogger(__name__)

# Jobs claimed at once: one commit for several (each is done or retried on its own).
CLAIM_BATCH = 10
# After the database failed, wait this long before the next try (then poll as usual).
TROUBLE_PAUSE_SECONDS = 5.0


class Worker:
    """Runs the jobs of one app, until stop() (a signal) or until there is nothing to do."""

    def __init__(self, app: Flask, poll_seconds: float = 1.0):
        self.app = app
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()
        self.jobs_run = 0
        self._periodic_last: dict[str, float] = {}
        handlers.load()

    def stop(self) -> None:
        """Finish the job in hand, then return from run_forever()."""
        self.stopping.set()

    def run_forever(self) -> None:
        """Run jobs as they fall due, polling every poll_seconds while none is due."""
        while not self.stopping.is_set():
            try:
                busy = self.run_pass()
            except Exception:
                # The database is away, most likely: nothing is lost (jobs stay in the
                # table, a claimed one comes back after its lease); try again soon.
                log.exception("The worker could not reach the database; trying again")
                self.stopping.wait(TROUBLE_PAUSE_SECONDS)
                continue
            if not busy:
                self.stopping.wait(self.poll_seconds)

    def run_until_empty(self, max_passes: int = 1000) -> int:
        """Run passes until one finds nothing to do (jobs and periodic tasks); the jobs run."""
        for _ in range(max_passes):
            if not self.run_pass(every_periodic=True) or self.stopping.is_set():
                break
        return self.jobs_run

    def run_pass(self, every_periodic: bool = False) -> bool:
        """The periodic tasks that are due, then every job due now; True if anything was done."""
        busy = self.run_periodic(every_periodic)
        while not self.stopping.is_set():
            with get_db(self.app).session() as session:
                claimed = queue.claim(session, self.app.config["HOTLINE"].jobs, CLAIM_BATCH)
                session.commit()
            if not claimed:
                break
            for job in claimed:
                self.run_job(job)
                busy = True
        return busy

    def run_periodic(self, every: bool = False) -> bool:
        """Run the periodic tasks whose time has come (all of them when `every`)."""
        busy = False
        for task in PERIODIC.values():
            last = self._periodic_last.get(task.name)
            if not every and last is not None and time.monotonic() - last < task.every_seconds:
                continue
            self._periodic_last[task.name] = time.monotonic()
            with get_db(self.app).session() as session:
                done = task.run(session, self.app, utcnow())
                session.commit()
            busy = busy or bool(done)
        return busy

    def run_job(self, job: queue.ClaimedJob) -> str:
        """Run one claimed job and record how it went: 'done', 'later', 'pending' or 'parked'."""
        settings = self.app.config["HOTLINE"]
        with get_db(self.app).session() as session:
            try:
                handler = HANDLERS.get(job.kind)
                if handler is None:
                    raise LookupError(f"no handler for jobs of kind {job.kind!r}")
                handler(JobRun(session, job, self.app))
                queue.complete(session, job)
                session.commit()
                self.jobs_run += 1
                return "done"
            except Later as later:
                session.rollback()
                queue.postpone(session, job, later.until)
                session.commit()
                log.info("Job %s (%s) put off until %s", job.id, job.kind, later.until)
                return "later"
            except Exception as error:
                session.rollback()
                state = queue.retry_or_park(
                    session, job, f"{type(error).__name__}: {error}", settings.jobs
                )
                session.commit()
                self.jobs_run += 1
                log.warning(
                    "Job %s (%s) failed on attempt %s, now %s: %s",
                    job.id,
                    job.kind,
                    job.attempts,
                    state,
                    error,
                    exc_info=not isinstance(error, OSError),
                )
                return str(state)
