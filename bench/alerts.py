"""Benchmark 4, alert fan-out: 1,000 volunteers in one zone hear of 100 new requests.

Each request is stored as the phone line stores it (the request and its fan-out
job in one transaction), all before the worker starts: the backlog after a busy
hour, or a worker that was stopped. Then one worker (`hotline worker`'s loop, in
this process) runs until the queue is empty: 100 fan-out jobs write 100,000 alert
items, the dispatcher gathers them into one alert per volunteer (the batch
window), and 1,000 send jobs each send an e-mail to a real SMTP server (aiosmtpd
on a loopback port, in a thread of this process). On PostgreSQL it is measured
once more with `--alert-workers` workers sharing the queue (threads, SKIP LOCKED).

Figures: jobs per second, and the time from the last request stored to the last
alert received by the SMTP server. No target: the issue asks for the figure.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, insert, select

from app import create_app
from app.database import get_db
from app.jobs.queue import atomically
from app.jobs.worker import Worker
from app.messaging import alerts
from app.models import AccountStatus, Job, JobState, Role, User, Zone, user_zones
from app.requests.intake import store_request
from bench.databases import WORK_DIR, fresh_database
from bench.report import table
from tests.smtp_server import SmtpServer

ZONE = "mitte"
POSTCODE = "10115"


@dataclass(frozen=True)
class AlertOptions:
    databases: tuple[str, ...] = ("sqlite", "postgresql")
    volunteers: int = 1_000
    requests: int = 100
    workers: int = 2  # on PostgreSQL, a second run with this many workers
    postgresql_server: str = ""


def run(options: AlertOptions) -> dict:
    figures: dict = {"options": options.__dict__ | {"databases": list(options.databases)}}
    for kind in options.databases:
        counts = [1] + ([options.workers] if kind == "postgresql" and options.workers > 1 else [])
        for workers in counts:
            name = f"hotline_bench_alerts_{workers}" if kind == "postgresql" else "alerts"
            with fresh_database(kind, name, options.postgresql_server) as url:
                figures[f"{kind}, {workers} worker(s)"] = measure(url, options, workers)
    return figures


def measure(
    url: str, options: AlertOptions, workers: int = 1, instance: Path | None = None
) -> dict:
    """Seed volunteers, store requests, run `workers` workers; the figures of that run."""
    with SmtpServer() as smtp:
        app = create_app(
            {
                "database_url": url,
                "secret_key": "bench-secret",
                "public_base_url": "http://hotline.test",
                "twilio": {"auth_token": "bench-token"},
                "mail": {"url": smtp.url, "from_address": "hotline@example.org"},
                "alerts": {"quiet_hours": "", "batch_minutes": 10},
            },
            instance_path=str(instance or WORK_DIR / "alerts-instance"),
        )
        try:
            _seed_volunteers(app, options.volunteers)
            stored_at = _store_requests(app, options.requests)
            started = time.perf_counter()
            jobs = _run_workers(app, workers)
            seconds = time.perf_counter() - started
            received = smtp.wait_for(options.volunteers, timeout=60)
            last_alert = smtp.handler.last_at - stored_at
            with get_db(app).session() as session:
                done = session.scalar(select(func.count()).where(Job.state == JobState.DONE))
                failed = session.scalar(select(func.count()).where(Job.state != JobState.DONE))
        finally:
            get_db(app).engine.dispose()
    return {
        "workers": workers,
        "volunteers": options.volunteers,
        "requests": options.requests,
        "jobs_done": done,
        "jobs_not_done": failed,
        "jobs_run": jobs,
        "emails_received": len(received),
        "emails_per_volunteer": len(received) / options.volunteers,
        "worker_seconds": round(seconds, 2),
        "jobs_per_second": round(done / seconds, 1),
        "seconds_to_last_alert": round(last_alert, 2),
    }


def _seed_volunteers(app, count: int) -> None:
    with get_db(app).session() as session:
        zone_id = session.scalar(select(Zone.id).where(Zone.slug == ZONE))
        rows = [
            {
                "name": f"Volunteer {i}",
                "email": f"v{i}@example.org",
                "phone": "",
                "password_hash": "-",  # nobody signs in
                "role": Role.VOLUNTEER,
                "status": AccountStatus.APPROVED,
                "language": ("de", "pl", "en")[i % 3],
                "failed_logins": 0,
                "alert_channel": "email",
            }
            for i in range(count)
        ]
        session.execute(insert(User), rows)
        ids = session.scalars(select(User.id)).all()
        session.execute(insert(user_zones), [{"user_id": i, "zone_id": zone_id} for i in ids])
        session.commit()


def _store_requests(app, count: int) -> float:
    """Store `count` requests as the phone line does; when the last was committed."""
    with app.app_context(), get_db(app).connect() as connection:
        zone_id = connection.scalar(select(Zone.id).where(Zone.slug == ZONE))
        for i in range(count):
            with atomically(connection):
                stored = store_request(
                    connection,
                    call_sid=f"CAbench{i:026d}",
                    caller_number=f"+49302312{i:04d}",
                    postcode=POSTCODE,
                    zone_id=zone_id,
                    request_type="shopping",
                    language="de",
                )
                alerts.request_stored(connection, stored.id)
            connection.commit()
    return time.perf_counter()


def _run_workers(app, count: int) -> int:
    """Run `count` workers until the queue is empty; the jobs they ran."""
    workers = [Worker(app) for _ in range(count)]
    if count == 1:
        with app.app_context():
            return workers[0].run_until_empty()

    def work(worker: Worker) -> None:
        with app.app_context():
            worker.run_until_empty()

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(w.jobs_run for w in workers)


def print_summary(figures: dict) -> None:
    rows = [
        [
            name,
            f["jobs_done"],
            f["jobs_not_done"],
            f"{f['emails_received']} ({f['emails_per_volunteer']:.4g}/volunteer)",
            f["worker_seconds"],
            f["jobs_per_second"],
            f["seconds_to_last_alert"],
        ]
        for name, f in figures.items()
        if name != "options" and isinstance(f, dict) and "jobs_done" in f
    ]
    header = ["database", "jobs done", "not done", "e-mails", "worker s", "jobs/s", "last alert s"]
    options = figures["options"]
    title = (
        f"Alert fan-out: {options['volunteers']} volunteers in one zone, "
        f"{options['requests']} new requests"
    )
    print(table(title, header, rows))
