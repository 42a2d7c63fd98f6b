"""Sending each message once, however often its job runs.

A job may run again after it sent (its worker died before the commit, or a
later step failed), so every send goes through deliver_once(), keyed by the job
and the recipient:

1. `attempting` is written and committed before the message leaves;
2. the message is sent;
3. `sent` and the provider's id (Message-ID, MessageSid) are written and committed.

A run that finds `sent` sends nothing. One that finds `attempting` knows a
former run died between 1 and 3, without knowing whether the message left: for
an SMS it asks Twilio (find_sent, app/messaging/sms.py) and sends only if Twilio
has no such message; an e-mail is sent again, with the same Message-ID (many mail
clients show one copy). What is left: an e-mail is sent twice only if its worker
died after the server accepted it and before step 3 (milliseconds); an SMS only
if Twilio's list does not show the message yet (it shows new messages at once).

Each step commits on its own session, outside the job's transaction, so that
the record survives the job failing after it. On SQLite a handler must call
this before it writes anything itself (its transaction would hold the one
write lock this needs).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import case, delete, exists, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.database import Database, utcnow
from app.models import Delivery, Job, JobState

ATTEMPTING = "attempting"
SENT = "sent"
REFUSED = "refused"  # never to be sent: the recipient opted out (texted STOP)
# Twilio's message statuses, in the order they come; a callback never moves one back.
STATUS_ORDER = ("queued", "sending", "sent", "delivered", "undelivered", "failed", "read")
FINAL_STATUSES = frozenset({"delivered", "undelivered", "failed", "read"})


def deliver_once(
    db: Database,
    *,
    key: str,
    channel: str,
    recipient: str,
    send: Callable[[int], str],
    find_sent: Callable[[datetime], str | None] | None = None,
) -> bool:
    """Send with `send(delivery_id)` unless this key was sent before; True when it sent now.

    `send` gets the delivery's id (an SMS's status callback URL carries it, so that a
    status arriving before step 3 finds its delivery) and returns the provider's id.
    """
    now = utcnow()
    with db.session() as session:
        insert = sqlite_insert if db.url.startswith("sqlite") else postgresql_insert
        created = session.execute(
            insert(Delivery.__table__)
            .values(
                key=key,
                channel=channel,
                recipient=recipient,
                state=ATTEMPTING,
                attempted_at=now,
                error="",
            )
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(Delivery.__table__.c.id)
        ).scalar()
        session.commit()
        delivery_id = created
        if created is None:
            earlier = session.scalars(select(Delivery).where(Delivery.key == key)).one()
            if earlier.state != ATTEMPTING:
                return False
            delivery_id = earlier.id
            found = find_sent(earlier.attempted_at) if find_sent else None
            if found:
                _mark_sent(session, delivery_id, found)
                session.commit()
                return False
    provider_id = send(delivery_id)
    with db.session() as session:
        _mark_sent(session, delivery_id, provider_id)
        session.commit()
    return True


def refused(db: Database, key: str, reason: str) -> None:
    """Record that the provider refused the message for good (the recipient opted out)."""
    with db.session() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.key == key)
            .values(state=REFUSED, status_at=utcnow(), error=reason[:200])
        )
        session.commit()


def _mark_sent(session, delivery_id: int, provider_id: str) -> None:
    # A status callback may have come first (delivered): it stays.
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(
            state=case((Delivery.state == ATTEMPTING, SENT), else_=Delivery.state),
            provider_id=provider_id,
            sent_at=utcnow(),
        )
    )


def record_status(session, delivery_id: int, status: str, error: str = "") -> bool:
    """What the provider reports of a message (delivered, failed, ...); False if unknown.

    Callbacks arrive late and out of order: a status never replaces a later one.
    Flushed, not committed.
    """
    if status not in STATUS_ORDER:
        return False
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        return False
    current = delivery.state
    rank = STATUS_ORDER.index
    if current in STATUS_ORDER and (current in FINAL_STATUSES or rank(current) >= rank(status)):
        return True
    delivery.state = status
    delivery.status_at = utcnow()
    delivery.error = error[:200]
    session.flush()
    return True


def prune(session: Session, older_than: datetime) -> int:
    """Delete the records of messages attempted before `older_than`; how many.

    They name volunteers (an address, a number), so they do not stay for ever. A
    record still guards its job while the job can run again (pending, parked), so
    those stay; a done job's own record goes with the job (prune_done_jobs).
    """
    job_can_run = exists().where(
        Job.state != JobState.DONE, Delivery.key.startswith(Job.key + ":", autoescape=False)
    )
    result = session.execute(
        delete(Delivery).where(Delivery.attempted_at < older_than, ~job_can_run)
    )
    return result.rowcount
