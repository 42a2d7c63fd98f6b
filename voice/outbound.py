"""Webhooks of calls the line placed (app/calls/outbound.py): the first (Twilio's `Url`),
and the status of a volunteer's phone in a call through the hotline (app/calls/bridge.py).

The state is in the (signed) query string, as on every step; the person is the
one called (`To`). Later steps go to /voice/step like any call's, which tells a
placed call by Twilio's Direction (outbound-api).
"""

from __future__ import annotations

from flask import request
from werkzeug.exceptions import BadRequest

from app.calls import bridge, calldown
from app.calls.outbound import OUTBOUND
from app.database import get_db
from app.phone_numbers import caller_number
from voice import bp, current_line, flow
from voice.twiml import acknowledge, respond, state_from_query, whole_number
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
        machine = form.get("AnsweredBy", "").startswith(("machine", "fax"))
        reply = _play(call, flow.call_back(line, state, call, machine=machine))
    return respond(line, reply)


@bp.post("/bridge/status")
def bridge_status():
    """Twilio's status callbacks of the volunteer's phone in a call through the hotline."""
    bridge_id = whole_number(request.args.get("bridge"))
    if bridge_id is None:
        raise BadRequest("no bridged call")
    with get_db().session() as session:
        bridge.record_progress(session, bridge_id, request.form.get("CallStatus", ""))
        session.commit()
    return acknowledge()


@bp.post("/calldown/status")
def calldown_status():
    """Twilio's status callbacks of a "still need help?" call: its end, answered or not."""
    calldown_id = whole_number(request.args.get("calldown"))
    if calldown_id is None:
        raise BadRequest("no calldown")
    with get_db().session() as session:
        calldown.record_status(session, calldown_id, request.form.get("CallStatus", ""))
        session.commit()
    return acknowledge()
