"""One call a second per Twilio account, however many workers on however many servers place them.

Twilio starts one call per second per account unless asked for more ("CPS"); a
faster burst is queued by Twilio, not refused, but then our calls would leave in
Twilio's order and late. Every worker of every server places calls, so the pace
is kept in the database (table `call_pacing`): one row per account, holding the
next free slot. A worker reserves the slot with one statement, commits at once
(no one waits for its call to be placed), then sleeps until its slot.

The statement is an upsert whose update takes max(next free slot, now) and moves
the row one gap on, returning it: PostgreSQL locks the row and SQLite the
database for the statement, so two workers always get slots a whole gap apart.
"Now" is the worker's own clock: servers keep theirs by NTP, and being a few
milliseconds off only brings two calls that much closer.
"""

from __future__ import annotations

import time

from sqlalchemy import case
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.database import Database
from app.models import CallPacing

SECONDS_BETWEEN_CALLS = 1.0


def reserve(db: Database, account_sid: str, now: float | None = None) -> float:
    """Take the account's next free slot to place a call: when it is (seconds since 1970).

    Committed on a session of its own, outside the job's transaction: the slot is
    taken even if the call then fails, and nobody waits for the job to finish.
    """
    now_ms = round((time.time() if now is None else now) * 1000)
    gap_ms = round(SECONDS_BETWEEN_CALLS * 1000)
    pacing = CallPacing.__table__
    insert = sqlite_insert if db.url.startswith("sqlite") else postgresql_insert
    statement = insert(pacing).values(account_sid=account_sid, next_slot_ms=now_ms + gap_ms)
    later_of = case((pacing.c.next_slot_ms > now_ms, pacing.c.next_slot_ms), else_=now_ms)
    statement = statement.on_conflict_do_update(
        index_elements=[pacing.c.account_sid], set_={"next_slot_ms": later_of + gap_ms}
    ).returning(pacing.c.next_slot_ms)
    with db.session() as session:
        next_free_ms = session.execute(statement).scalar_one()
        session.commit()
    return (next_free_ms - gap_ms) / 1000


def wait_for_slot(db: Database, account_sid: str) -> float:
    """Reserve a slot and sleep until it comes; the slot (seconds since 1970)."""
    slot = reserve(db, account_sid)
    wait = slot - time.time()
    if wait > 0:
        time.sleep(wait)
    return slot
