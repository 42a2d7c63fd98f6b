"""`hotline worker`: run the background jobs (e-mail, SMS, alerts) beside the server."""

from __future__ import annotations

import logging
import signal

import click
from flask import current_app
from flask.cli import with_appcontext

from app.jobs.worker import Worker


@click.command("worker")
@click.option("--once", is_flag=True, help="Run what is due now, then stop.")
@click.option(
    "--until-empty", is_flag=True, help="Run until nothing is due, new jobs included, then stop."
)
@click.option("--poll", default=1.0, show_default=True, help="Seconds between looks at the queue.")
@with_appcontext
def worker_command(once: bool, until_empty: bool, poll: float) -> None:
    """Run background jobs: alerts to volunteers, e-mail and SMS (make run starts one)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(message)s")
    worker = Worker(current_app._get_current_object(), poll_seconds=poll)
    if once:
        worker.run_pass(every_periodic=True)
    elif until_empty:
        worker.run_until_empty()
    else:
        # Ctrl-C and `kill` end the job in hand first: it is recorded as done or not.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: worker.stop())
        click.echo("Worker started: running background jobs (Ctrl-C stops it).", err=True)
        worker.run_forever()
    click.echo(f"Worker stopped after {worker.jobs_run} job(s).", err=True)
