"""E-mail and SMS as background jobs: queue_mail(), queue_sms() in the transaction of the cause.

    mail = render("password_reset", user.language, link=...)   # app/messaging/mail.py
    queue_mail(session, user.email, mail, key=f"password-reset:{token_id}")
    session.commit()   # the edge commits; the worker sends it, once

The message is rendered when queued (in the recipient's language) and sent by
the worker through deliver_once(), so a retry never sends it twice.
"""

from __future__ import annotations

import contextlib

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from app.jobs.handlers import JobRun, handler
from app.jobs.queue import enqueue
from app.messaging import deliveries, sms
from app.messaging import mail as mail_
from app.messaging.deliveries import deliver_once
from app.messaging.links import status_callback_url

MAIL_JOB = "mail.send"
SMS_JOB = "sms.send"


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


def queue_sms(session: Session | Connection, to: str, body: str, *, key: str) -> int | None:
    """Queue one text message in the caller's transaction (None: that key is queued)."""
    return enqueue(session, SMS_JOB, {"to": to, "body": body}, key=f"{SMS_JOB}:{key}")


@handler(SMS_JOB)
def send_queued_sms(run: JobRun) -> None:
    """Send a queued SMS, unless a former run of this job sent it (Twilio is asked)."""
    with contextlib.suppress(sms.RecipientUnsubscribed):  # done: nothing can be sent
        send_sms_once(run, run.job.payload["to"], run.job.payload["body"])


def send_sms_once(run: JobRun, to: str, body: str) -> bool:
    """Send `body` to `to` once for this job; True when it was sent now.

    Raises sms.RecipientUnsubscribed (recorded as refused) when the recipient
    texted STOP: Twilio will not send them anything, however often we try.
    """
    settings = run.settings
    key = f"{run.job.key}:{to}"
    try:
        return deliver_once(
            run.db,
            key=key,
            channel="sms",
            recipient=to,
            send=lambda delivery_id: sms.send(
                settings, to, body, status_callback=status_callback_url(settings, delivery_id)
            ),
            find_sent=lambda since: sms.find_sent(settings, to, body, since),
        )
    except sms.RecipientUnsubscribed:
        deliveries.refused(run.db, key, "the recipient texted STOP")
        raise
