"""E-mail as a background job: queue_mail() in the transaction of what it is about.

    mail = render("password_reset", user.language, link=...)   # app/messaging/mail.py
    queue_mail(session, user.email, mail, key=f"password-reset:{token_id}")
    session.commit()   # the edge commits; the worker sends it, once

The message is rendered when queued (in the recipient's language) and sent by
the worker through deliver_once(), so a retry never sends it twice.
"""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from app.jobs.handlers import JobRun, handler
from app.jobs.queue import enqueue
from app.messaging import mail as mail_
from app.messaging.deliveries import deliver_once

MAIL_JOB = "mail.send"


def queue_mail(
    session: Session | Connection,
    to: str,
    mail: mail_.Mail,
    *,
    key: str,
    headers: dict[str, str] | None = None,
) -> int | None:
    """Queue one e-mail in the caller's transaction; the job's id (None: that key is queued)."""
    payload = {
        "to": to,
        "subject": mail.subject,
        "text": mail.text,
        "html": mail.html,
        "headers": headers or {},
    }
    return enqueue(session, MAIL_JOB, payload, key=f"{MAIL_JOB}:{key}")


@handler(MAIL_JOB)
def send_queued_mail(run: JobRun) -> None:
    """Send a queued e-mail, unless a former run of this job sent it."""
    payload = run.job.payload
    settings = run.settings
    deliver_once(
        run.db,
        key=f"{run.job.key}:{payload['to']}",
        channel="email",
        recipient=payload["to"],
        send=lambda _delivery_id: mail_.send(
            settings,
            payload["to"],
            payload["subject"],
            payload["text"],
            html=payload.get("html"),
            headers=payload.get("headers"),
            msgid=mail_.message_id(settings, run.job.key),
        ),
    )
