"""Parked background jobs (e-mail, SMS, alerts that failed every try): seen and retried here."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_babel import gettext

from app.database import db_session
from app.jobs import queue
from board.operator import bp


@bp.post("/jobs/<int:job_id>/retry")
def retry_job(job_id: int):
    """Give a parked job another round of attempts."""
    if queue.requeue(db_session(), job_id):
        db_session().commit()
        flash(gettext("The job is queued again."), "success")
    else:
        flash(gettext("That job is not parked any more; nothing was done."), "error")
    return redirect(url_for(".attention_list"))
