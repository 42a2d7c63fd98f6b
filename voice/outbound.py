"""The first webhook of a call the line placed (app/calls/outbound.py): Twilio's `Url`.

The state is in the (signed) query string, as on every step; the person is the
one called (`To`). Later steps go to /voice/step like any call's, which tells a
placed call by Twilio's Direction (outbound-api).
"""

from __future__ import annotations

from flask import request

from app.calls.outbound import OUTBOUND
from app.database import get_db
from app.phone_numbers import caller_number
from voice import bp, current_line, flow
from voice.twiml import respond, state_from_query
from voice.views import _call_sid, _play, _stored_call


@bp.post("/outbound")
def outbound():
    """Someone picked up a call the line placed: who is calling, then the flow's question."""
    line = current_line()
    query, form = request.args.to_dict(), request.form.to_dict()
    state = state_from_query(query, line)
    if form.get("Direction") != OUTBOUND:
        raise ValueError("/voice/outbound answers only calls the line placed")
    number = caller_number(form.get("To"))
    with get_db().connect() as connection:
        call = _stored_call(connection, _call_sid(form), number, placed=True)
        reply = _play(call, flow.call_back(line, state, call))
    return respond(line, reply)
