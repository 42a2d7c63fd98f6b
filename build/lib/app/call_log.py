"""The call log: a row per phone call, from the first webhook to Twilio's last callback.

Twilio may deliver a webhook twice, late, or on another app server, and its
status callbacks may repeat or arrive out of order. So every write here is a
single conditional statement that only ever moves a call forward: the menu's
turn number (`step_seq`) for the steps, Twilio's `SequenceNumber` for the
status. Whatever order things arrive in, the log ends the same.
"""

from __future__ import annotations

import re
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.database import utcnow
from app.models import Call, CallOutcome, CallStep

# What Twilio sends as From when the caller withholds the number: "anonymous",
# Twilio's "+266696687", or nothing at all; carriers add a few words of their own.
WITHHELD_NUMBERS = {"", "anonymous", "restricted", "unknown", "unavailable", "private"}
WITHHELD_E164 = {"+266696687", "266696687"}
PHONE_NUMBER = re.compile(r"\+?[0-9]{3,20}")

# Twilio's final call statuses; a call in one of them never goes back.
FINAL_STATUSES = ("completed", "busy", "failed", "no-answer", "canceled")


def caller_number(raw: str | None) -> str | None:
    """The caller's number as Twilio gave it, or None when it is withheld."""
    number = (raw or "").strip()
    if number.lower() in WITHHELD_NUMBERS or number in WITHHELD_E164:
        return None
    return number if PHONE_NUMBER.fullmatch(number) else None


def start_call(session: Session, *, call_sid: str, from_number: str | None, to_number: str) -> Call:
    """The log row of a call, made at its first webhook (once, however often it comes)."""
    call = call_for(session, call_sid)
    if call is not None:
        return call
    call = Call(call_sid=call_sid, from_number=from_number, to_number=to_number[:32])
    session.add(call)
    try:
        session.commit()
    except IntegrityError:
        # Another delivery of the same webhook made the row a moment ago.
        session.rollback()
        call = call_for(session, call_sid)
        if call is None:
            raise
    return call


def call_for(session: Session, call_sid: str) -> Call | None:
    return session.scalars(select(Call).where(Call.call_sid == call_sid)).first()


def record_step(
    session: Session,
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
    # No synchronising of loaded Call objects: nothing reads them after this in a
    # webhook, and skipping it is a tenth of a webhook's CPU time (bench/calls.py).
    statement = (
        update(Call)
        .where(Call.call_sid == call_sid, Call.step_seq < turn)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if session.execute(statement).rowcount == 0 and call_for(session, call_sid) is None:
        # The first webhook could not log the call (the database was away): start it now.
        session.add(Call(call_sid=call_sid, **values))
        try:
            session.commit()
        except IntegrityError:
            # Another delivery started it at this very moment: update that row instead.
            session.rollback()
            session.execute(statement)
            session.commit()
        return
    session.commit()


def save_callback_number(session: Session, call_sid: str, number: str) -> None:
    session.execute(update(Call).where(Call.call_sid == call_sid).values(callback_number=number))
    session.commit()


def save_operator_message(session: Session, call_sid: str, url: str, seconds: int) -> None:
    session.execute(
        update(Call)
        .where(Call.call_sid == call_sid)
        .values(operator_message_url=url, operator_message_seconds=seconds)
    )
    session.commit()


def record_error(session: Session, call_sid: str) -> None:
    """Mark a call that met an error, unless it already ended some other way."""
    session.execute(
        update(Call)
        .where(Call.call_sid == call_sid, Call.outcome == "")
        .values(outcome=CallOutcome.ERROR)
    )
    session.commit()


def record_status(
    session: Session,
    call_sid: str,
    *,
    status: str,
    sequence: int | None,
    duration_seconds: int | None,
    at: datetime | None = None,
    from_number: str | None = None,
    to_number: str = "",
) -> None:
    """Apply a status callback, unless a later one was applied already.

    A call that ends without an outcome was abandoned by the caller: its
    last step stays, so the log says where they hung up.
    """
    final = status in FINAL_STATUSES
    values: dict = {"status": status[:16]}
    conditions = [Call.call_sid == call_sid]
    if sequence is not None:
        values["status_sequence"] = sequence
        conditions.append(Call.status_sequence < sequence)
    if not final or sequence is None:
        # Without an order to go by, a final status is never undone.
        conditions.append(Call.status.not_in(FINAL_STATUSES))
    if final:
        values.update(
            ended_at=at or utcnow(),
            duration_seconds=duration_seconds,
            outcome=case((Call.outcome == "", CallOutcome.ABANDONED.value), else_=Call.outcome),
        )
    result = session.execute(update(Call).where(*conditions).values(**values))
    if result.rowcount == 0 and call_for(session, call_sid) is None:
        # No webhook of this call ever reached the log: the database was away,
        # or Twilio used the fallback URL. Keep the call, marked as such.
        if final:
            values["outcome"] = CallOutcome.ERROR
        session.add(
            Call(call_sid=call_sid, from_number=from_number, to_number=to_number[:32], **values)
        )
        try:
            session.commit()
        except IntegrityError:
            # The first webhook logged it at this very moment: apply the status again.
            session.rollback()
            record_status(
                session,
                call_sid,
                status=status,
                sequence=sequence,
                duration_seconds=duration_seconds,
                at=at,
            )
        return
    session.commit()


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
