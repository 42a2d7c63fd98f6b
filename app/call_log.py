"""The call log: a row per phone call, from the first webhook to Twilio's last callback.

Twilio may deliver a webhook twice, late, or on another app server, and its
status callbacks may repeat or arrive out of order. So every write here is a
single conditional statement that only ever moves a call forward: the menu's
turn number (`step_seq`) for the steps, Twilio's `SequenceNumber` for the
status. Whatever order things arrive in, the log ends the same.

The webhooks write through a Core connection (Database.connect()), committing
each statement at once; no ORM session, whose unit of work cost more than the
statements themselves on every webhook.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from flask_babel import lazy_gettext as _l
from sqlalchemy import Connection, Insert, Select, Update, bindparam, case, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.database import utcnow
from app.models import Call, CallOutcome, CallStep

# Twilio's final call statuses; a call in one of them never goes back.
FINAL_STATUSES = ("completed", "busy", "failed", "no-answer", "canceled")
# Every status Twilio reports for a call. Anything else (a typo, a status Twilio adds
# one day) is not written over a status the log understands.
CALL_STATUSES = ("queued", "initiated", "ringing", "in-progress", *FINAL_STATUSES)


def dialled_number(raw: str) -> str:
    """The number the caller dialled, for the log: short printable text, else nothing.

    Twilio sends the hotline's number; whatever else arrives must not break the
    log's row (PostgreSQL refuses NUL characters, the column holds 32).
    """
    number = raw.strip()
    return number if number.isprintable() and len(number) <= 32 else ""


def start_call(
    connection: Connection, *, call_sid: str, from_number: str | None, to_number: str
) -> None:
    """The log row of a call, made at its first webhook (once, however often it comes).

    One INSERT that does nothing when the row is there already: made by another
    delivery of the same webhook, or by a status callback that overtook it.
    """
    row = {
        "call_sid": call_sid,
        "from_number": from_number,
        "to_number": dialled_number(to_number),
    }
    connection.execute(_new_call(connection.dialect.name), row)
    connection.commit()


def call_for(session: Session, call_sid: str) -> Call | None:
    return session.scalars(select(Call).where(Call.call_sid == call_sid)).first()


def callback_number(connection: Connection, call_sid: str) -> str:
    """What a caller with a withheld number typed to be called back on ('' if nothing)."""
    number = connection.execute(_callback_number_query(), {"call_sid_": call_sid}).scalar()
    return number or ""


def record_step(
    connection: Connection,
    call_sid: str,
    *,
    turn: int,
    step: CallStep,
    language: str,
    postcode: str = "",
    zone_id: int | None = None,
    request_type: str = "",
    outcome: CallOutcome | None = None,
    request_reference: str = "",
) -> None:
    """Log where the call has got to, unless a later turn is logged already.

    Empty values leave what is logged: a caller re-entering the postcode keeps
    the last one in the log until they type the next.
    """
    values: dict = {"step_seq": turn, "last_step": step, "language": language}
    if postcode:
        values.update(postcode=postcode, zone_id=zone_id)
    if request_type:
        values["request_type"] = request_type
    if outcome is not None:
        values["outcome"] = outcome
    if request_reference:
        values["request_reference"] = request_reference
    statement = _step_update(tuple(values))
    parameters = {"call_sid_": call_sid, "turn_": turn, **values}
    # When the first webhook could not log the call (the database was away), start it
    # now; if another delivery started it at this very moment, update that row.
    if not _update_logged_call(connection, statement, call_sid, parameters) and not _insert_call(
        connection, {"call_sid": call_sid, **values}
    ):
        connection.execute(statement, parameters)
    connection.commit()


@cache
def _step_update(columns: tuple[str, ...]) -> Update:
    """The UPDATE of record_step() for one set of columns, built once per process.

    A Core statement on the table, with bound parameters: the webhook runs it
    without the ORM's bulk-update machinery (no Call objects are synchronised;
    nothing reads them after this in a webhook), and SQLAlchemy finds it in its
    compiled cache without rebuilding the statement and its cache key each time.
    Together that was over a tenth of a webhook's CPU time (bench/calls.py).
    """
    calls = Call.__table__
    return (
        update(calls)
        .where(calls.c.call_sid == bindparam("call_sid_"), calls.c.step_seq < bindparam("turn_"))
        .values({calls.c[name]: bindparam(name) for name in columns})
    )


def save_callback_number(connection: Connection, call_sid: str, number: str) -> None:
    calls = Call.__table__
    connection.execute(
        update(calls).where(calls.c.call_sid == call_sid).values(callback_number=number)
    )
    connection.commit()


def save_operator_message(connection: Connection, call_sid: str, url: str, seconds: int) -> None:
    calls = Call.__table__
    connection.execute(
        update(calls)
        .where(calls.c.call_sid == call_sid)
        .values(operator_message_url=url, operator_message_seconds=seconds)
    )
    connection.commit()


def record_error(connection: Connection, call_sid: str) -> None:
    """Mark a call that met an error, unless it already ended some other way."""
    calls = Call.__table__
    connection.execute(
        update(calls)
        .where(calls.c.call_sid == call_sid, calls.c.outcome == "")
        .values(outcome=CallOutcome.ERROR)
    )
    connection.commit()


def record_status(
    connection: Connection,
    call_sid: str,
    *,
    status: str,
    sequence: int | None,
    duration_seconds: int | None,
    at: datetime | None = None,
    from_number: str | None = None,
    to_number: str = "",
) -> bool:
    """Apply a status callback, unless a later one was applied already.

    A call that ends without an outcome was abandoned by the caller: its
    last step stays, so the log says where they hung up. A status that is not
    one of Twilio's changes nothing and returns False.
    """
    if status not in CALL_STATUSES:
        return False
    final = status in FINAL_STATUSES
    ended_at = (at or utcnow()) if final else None
    statement = _status_update(final, ordered=sequence is not None)
    parameters = {
        "call_sid_": call_sid,
        "status_": status,
        "sequence_": sequence,
        "ended_at_": ended_at,
        "duration_": duration_seconds,
    }
    if not _update_logged_call(connection, statement, call_sid, parameters):
        # No webhook of this call ever reached the log: the database was away,
        # or Twilio used the fallback URL. Keep the call, marked as such.
        row: dict = {
            "call_sid": call_sid,
            "from_number": from_number,
            "to_number": dialled_number(to_number),
            "status": status,
        }
        if sequence is not None:
            row["status_sequence"] = sequence
        if final:
            row.update(ended_at=ended_at, duration_seconds=duration_seconds)
            row["outcome"] = CallOutcome.ERROR
        if not _insert_call(connection, row):
            # The first webhook logged it at this very moment: apply the status to that row.
            connection.execute(statement, parameters)
    connection.commit()
    return True


@cache
def _status_update(final: bool, ordered: bool) -> Update:
    """The UPDATE of record_status() for a final status or not, with a sequence or not.

    Built once per process, with bound parameters, like _step_update().
    """
    calls = Call.__table__
    values: dict = {calls.c.status: bindparam("status_")}
    conditions = [calls.c.call_sid == bindparam("call_sid_")]
    if ordered:
        values[calls.c.status_sequence] = bindparam("sequence_")
        conditions.append(calls.c.status_sequence < bindparam("sequence_"))
    if not final or not ordered:
        # Without an order to go by, a final status is never undone.
        conditions.append(calls.c.status.not_in(FINAL_STATUSES))
    if final:
        values[calls.c.ended_at] = bindparam("ended_at_")
        values[calls.c.duration_seconds] = bindparam("duration_")
        values[calls.c.outcome] = case(
            (calls.c.outcome == "", CallOutcome.ABANDONED.value), else_=calls.c.outcome
        )
    return update(calls).where(*conditions).values(values)


def _update_logged_call(connection: Connection, statement, call_sid: str, parameters: dict) -> bool:
    """Run a conditional UPDATE of a call's row; False when the call has no row yet.

    When the UPDATE changes nothing although the row is there, the row may have been
    committed by another request (the first webhook, or a status callback that
    overtook it) between this UPDATE and the check: in PostgreSQL's READ COMMITTED
    each statement sees what was committed when it began. Running the UPDATE once
    more applies it to that row, or finds again that its condition does not hold.
    """
    if connection.execute(statement, parameters).rowcount:
        return True
    if connection.execute(_call_exists(), {"call_sid_": call_sid}).first() is None:
        return False
    connection.execute(statement, parameters)
    return True


def _insert_call(connection: Connection, row: dict) -> bool:
    """Add a call's row; False (and nothing changed) when another request added it first."""
    return connection.execute(_new_call(connection.dialect.name), row).rowcount == 1


@cache
def _new_call(dialect: str) -> Insert:
    """INSERT a call, doing nothing if its CallSid is logged already (SQLite, PostgreSQL)."""
    calls = Call.__table__
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    return insert(calls).on_conflict_do_nothing(index_elements=[calls.c.call_sid])


@cache
def _call_exists() -> Select:
    calls = Call.__table__
    return select(calls.c.id).where(calls.c.call_sid == bindparam("call_sid_"))


@cache
def _callback_number_query() -> Select:
    calls = Call.__table__
    return select(calls.c.callback_number).where(calls.c.call_sid == bindparam("call_sid_"))


# How a call ended, in words for people (the test phone, `hotline call`, the call log).
OUTCOME_TEXTS = {
    CallOutcome.REQUEST_CREATED: _l("A request was stored."),
    CallOutcome.REPEAT_CALLER: _l(
        "The caller heard about their existing request and made no new one."
    ),
    CallOutcome.CANCELLED: _l("The caller cancelled their request."),
    CallOutcome.OUT_OF_AREA: _l("The postcode is outside the area the helpline serves."),
    CallOutcome.TRANSFERRED: _l("The call was put through to the operator."),
    CallOutcome.OPERATOR_MESSAGE: _l("The caller left a message for the operators."),
    CallOutcome.GAVE_UP: _l("No valid answer: the call ended politely with the helpline hours."),
    CallOutcome.ABANDONED: _l("The caller hung up before the end."),
    CallOutcome.ERROR: _l("Something went wrong on the line; the caller heard an apology."),
}
