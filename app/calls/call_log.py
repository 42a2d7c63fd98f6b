"""The call log: a row per phone call, from the first webhook to Twilio's last callback.

Twilio may deliver a webhook twice, late, or on another app server, and its
status callbacks may repeat or arrive out of order. So every write here is a
single conditional statement that only ever moves a call forward: the menu's
turn number (`step_seq`) for the steps, the status's place in a call's life
(`CallStatus.rank`) for the status. Not Twilio's `SequenceNumber`: a callback
may come without one, and a final status must stay final either way; the
sequence only orders callbacks of the same rank. Whatever order things arrive
in, the log ends the same.

The webhooks write through a Core connection (Database.connect()) and commit
each write at once themselves (voice/views.py: the call log before the flow,
so a failing step never takes the log down with it); no ORM session, whose unit
of work cost more than the statements themselves on every webhook. Nothing here
commits: the webhook, or the call spool's writer, does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    ColumnElement,
    Connection,
    Insert,
    Integer,
    Select,
    Update,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.database import utcnow
from app.models import (
    TWILIO_CALL_STATUSES,
    Call,
    CallOutcome,
    CallStatus,
    CallStep,
    HelplineRow,
)

# Hours after its start when a call whose end never reached the log is closed as
# `unknown` (hotline calls close-stale): Twilio ends a call after 4 hours at most.
STALE_CALL_HOURS = 6


def dialled_number(raw: str) -> str:
    """The number the caller dialled, for the log: short printable text, else nothing.

    Twilio sends the hotline's number; whatever else arrives must not break the
    log's row (PostgreSQL refuses NUL characters, the column holds 32).
    """
    number = raw.strip()
    return number if number.isprintable() and len(number) <= 32 else ""


def start_call(
    connection: Connection,
    *,
    call_sid: str,
    from_number: str | None,
    to_number: str,
    helpline: str = "",
) -> None:
    """The log row of a call, made at its first webhook (once, however often it comes).

    The line is answering the call: it is in progress. One INSERT that leaves a
    row that is there already as it is (made by another delivery of the same
    webhook, or by a status callback that overtook it), except that a status of
    an earlier rank (ringing) moves on to in-progress, as it would have, had
    the callback come second. `helpline`: the slug of the helpline the number chose.
    """
    row = {
        "helpline_": helpline,
        "call_sid": call_sid,
        "from_number": from_number,
        "to_number": dialled_number(to_number),
        "status": CallStatus.IN_PROGRESS.value,
    }
    connection.execute(_started_call(connection.dialect.name), row)


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
    helpline: str = "",
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
        connection, {"call_sid": call_sid, **values}, helpline
    ):
        connection.execute(statement, parameters)


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


def save_operator_message(connection: Connection, call_sid: str, url: str, seconds: int) -> None:
    calls = Call.__table__
    connection.execute(
        update(calls)
        .where(calls.c.call_sid == call_sid)
        .values(operator_message_url=url, operator_message_seconds=seconds)
    )


def record_error(
    connection: Connection,
    call_sid: str,
    *,
    step: str = "",
    language: str = "",
    at: datetime | None = None,
    helpline: str = "",
) -> None:
    """Mark a call that met an error, unless it already ended some other way.

    A call the log has no row for yet (its first webhook met the error) gets one,
    at the step and in the language the caller had reached, if known.
    """
    calls = Call.__table__
    changed = connection.execute(
        update(calls)
        .where(calls.c.call_sid == call_sid, calls.c.outcome == "")
        .values(outcome=CallOutcome.ERROR)
    ).rowcount
    if not changed:
        row = {"call_sid": call_sid, "outcome": CallOutcome.ERROR}
        row.update({"last_step": step} if step else {})
        row.update({"language": language} if language else {})
        row.update({"started_at": at} if at else {})
        _insert_call(connection, row, helpline)


def record_start(
    connection: Connection,
    *,
    call_sid: str,
    from_number: str | None,
    to_number: str,
    started_at: datetime,
    helpline: str = "",
) -> None:
    """A call's start as it really was, kept while the database was away (app/calls/spool.py).

    The row may exist already, made by a later webhook or status callback once
    the database was back: it then gets the earlier start and the numbers it
    lacked (never after the retention purge erased them), and its helpline (slug).
    """
    calls, helplines = Call.__table__, HelplineRow.__table__
    insert = sqlite_insert if connection.dialect.name == "sqlite" else postgresql_insert
    statement = insert(calls).values(
        call_sid=call_sid,
        from_number=from_number,
        to_number=dialled_number(to_number),
        started_at=started_at,
        helpline_id=select(helplines.c.id).where(helplines.c.slug == helpline).scalar_subquery(),
    )
    new = statement.excluded
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[calls.c.call_sid],
            set_={
                "started_at": case(
                    (new.started_at < calls.c.started_at, new.started_at),
                    else_=calls.c.started_at,
                ),
                "from_number": func.coalesce(calls.c.from_number, new.from_number),
                "to_number": case(
                    (calls.c.to_number == "", new.to_number), else_=calls.c.to_number
                ),
                "helpline_id": func.coalesce(calls.c.helpline_id, new.helpline_id),
            },
            where=calls.c.numbers_erased_at.is_(None),
        )
    )


def apply_spooled(connection: Connection, fact: dict) -> None:
    """Write one fact the phone line kept while the database was away (app/calls/spool.py)."""
    at = datetime.fromisoformat(fact["at"]).astimezone(UTC)
    call_sid = fact["call_sid"]
    match fact["kind"]:
        case "start":
            record_start(
                connection,
                call_sid=call_sid,
                from_number=fact.get("from_number"),
                to_number=fact.get("to_number", ""),
                started_at=at,
                helpline=fact.get("helpline", ""),
            )
        case "error":
            record_error(
                connection,
                call_sid,
                step=fact.get("step", ""),
                language=fact.get("language", ""),
                at=at,
                helpline=fact.get("helpline", ""),
            )
        case "status":
            ended = fact.get("ended_at")
            record_status(
                connection,
                call_sid,
                status=fact["status"],
                sequence=fact.get("sequence"),
                duration_seconds=fact.get("duration_seconds"),
                at=datetime.fromisoformat(ended).astimezone(UTC) if ended else at,
                from_number=fact.get("from_number"),
                to_number=fact.get("to_number", ""),
                helpline=fact.get("helpline", ""),
            )
        case kind:
            raise ValueError(f"not a call spool fact: {kind!r}")


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
    helpline: str = "",
) -> bool:
    """Apply a status callback, if it moves the call on.

    A status takes the place of one of a lower rank (CallStatus.rank) only:
    a final status stays, whatever arrives after it, with a SequenceNumber
    or without. A callback of the same rank with a higher SequenceNumber than
    any applied keeps the status and brings only its sequence and duration.
    A call that ends without an outcome was abandoned by the caller: its last
    step stays, so the log says where they hung up. A status that is not one
    of Twilio's (not even our `unknown`) changes nothing and returns False.
    """
    if status not in TWILIO_CALL_STATUSES:
        return False
    status = CallStatus(status)
    ended_at = (at or utcnow()) if status.final else None
    statement = _status_update(status.final, ordered=sequence is not None)
    parameters = {
        "call_sid_": call_sid,
        "status_": status.value,
        "rank_": status.rank,
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
            "status": status.value,
        }
        if sequence is not None:
            row["status_sequence"] = sequence
        if status.final:
            row.update(ended_at=ended_at, duration_seconds=duration_seconds)
            row["outcome"] = CallOutcome.ERROR
        if not _insert_call(connection, row, helpline):
            # The first webhook logged it at this very moment: apply the status to that row.
            connection.execute(statement, parameters)
    return True


@cache
def _status_update(final: bool, ordered: bool) -> Update:
    """The UPDATE of record_status() for a final status or not, with a sequence or not.

    Built once per process, with bound parameters, like _step_update(). The
    values inside CASE and coalesce() carry their column's type, so that they
    are converted as the column's own would be (UTC timestamps).
    """
    calls = Call.__table__
    rank = bindparam("rank_", type_=Integer)
    new_status = bindparam("status_", type_=calls.c.status.type)
    moves_on = _status_rank(calls.c.status) < rank
    conditions: list[ColumnElement] = [calls.c.call_sid == bindparam("call_sid_")]
    if ordered:
        sequence = bindparam("sequence_", type_=calls.c.status_sequence.type)
        later = calls.c.status_sequence < sequence
        conditions.append(or_(moves_on, and_(_status_rank(calls.c.status) == rank, later)))
        values: dict = {
            calls.c.status: case((moves_on, new_status), else_=calls.c.status),
            calls.c.status_sequence: case((later, sequence), else_=calls.c.status_sequence),
        }
    else:
        conditions.append(moves_on)
        values = {calls.c.status: new_status}
    if final:
        ended_at = bindparam("ended_at_", type_=calls.c.ended_at.type)
        duration = bindparam("duration_", type_=calls.c.duration_seconds.type)
        # The first final status says when the call ended (a later one of the same
        # rank only brings its duration); `unknown` never set an end.
        values[calls.c.ended_at] = func.coalesce(calls.c.ended_at, ended_at)
        values[calls.c.duration_seconds] = func.coalesce(duration, calls.c.duration_seconds)
        values[calls.c.outcome] = _outcome_at_the_end()
    return update(calls).where(*conditions).values(values)


def close_stale_calls(session: Session, hours: int, now: datetime | None = None) -> int:
    """Close as status `unknown` the calls not over `hours` after they started; how many.

    Their end never reached the log (Twilio's last status callback was lost:
    our servers or the database were away). Twilio ends a call after four
    hours at most, so such a call is over; only how and when is not known.
    So ended_at stays empty, and like any call that ended without an
    outcome it counts as abandoned at its last step, where the caller was
    last heard; an outcome the call reached stays. The export and the
    dashboard then read it as ended, with the status "status unknown".

    One conditional UPDATE: a final status committed meanwhile is kept, and
    one arriving later still replaces `unknown` (it ranks before the finals).
    """
    cutoff = (now or utcnow()) - timedelta(hours=hours)
    calls = Call.__table__
    result = session.execute(
        update(calls)
        .where(
            calls.c.started_at < cutoff,
            _status_rank(calls.c.status) < CallStatus.UNKNOWN.rank,
        )
        .values(status=CallStatus.UNKNOWN.value, outcome=_outcome_at_the_end())
    )
    return result.rowcount


def _status_rank(status: ColumnElement) -> ColumnElement:
    """CallStatus.rank in SQL; -1 for a stored status that is none of ours (any replaces it)."""
    return case({s.value: s.rank for s in CallStatus}, value=status, else_=-1)


def _outcome_at_the_end() -> ColumnElement:
    """The outcome of a call that is over: the one it reached, else abandoned."""
    calls = Call.__table__
    return case((calls.c.outcome == "", CallOutcome.ABANDONED.value), else_=calls.c.outcome)


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


def _insert_call(connection: Connection, row: dict, helpline: str) -> bool:
    """Add a call's row, to a helpline (its slug); False (and nothing changed) when another
    request added it first."""
    statement = _new_call(connection.dialect.name)
    return connection.execute(statement, {**row, "helpline_": helpline}).rowcount == 1


def _helpline_id() -> ColumnElement:
    """The id of the helpline whose slug is the parameter `helpline_` (NULL for none)."""
    helplines = HelplineRow.__table__
    return (
        select(helplines.c.id).where(helplines.c.slug == bindparam("helpline_")).scalar_subquery()
    )


@cache
def _new_call(dialect: str) -> Insert:
    """INSERT a call, doing nothing if its CallSid is logged already (SQLite, PostgreSQL)."""
    calls = Call.__table__
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    statement = insert(calls).values(helpline_id=_helpline_id())
    return statement.on_conflict_do_nothing(index_elements=[calls.c.call_sid])


@cache
def _started_call(dialect: str) -> Insert:
    """INSERT a call answered by the line; a row there already only moves on to in-progress."""
    calls = Call.__table__
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    statement = insert(calls).values(helpline_id=_helpline_id())
    return statement.on_conflict_do_update(
        index_elements=[calls.c.call_sid],
        set_={calls.c.status.name: CallStatus.IN_PROGRESS.value},
        where=_status_rank(calls.c.status) < CallStatus.IN_PROGRESS.rank,
    )


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
