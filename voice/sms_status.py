"""Twilio's status callbacks for the text messages we send: delivered, undelivered, failed.

Signed and checked like the phone line's webhooks (voice/signature.py). The
callback URL carries the delivery's id (app/messaging/deliveries.py), so a
status that arrives before the sender has recorded the MessageSid finds it too.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request

from app.database import db_session
from app.messaging import deliveries
from voice.signature import is_from_twilio

bp = Blueprint("sms", __name__, url_prefix="/sms")


@bp.before_request
def only_twilio():
    if not is_from_twilio(request, current_app.config["HOTLINE"]):
        abort(403)


@bp.post("/status")
def status():
    """Record a message's status; Twilio only needs to hear that it arrived."""
    delivery = request.args.get("delivery", "")
    state = request.form.get("MessageStatus", "")
    known = delivery.isdigit() and deliveries.record_status(
        db_session(), int(delivery), state, request.form.get("ErrorCode", "")
    )
    if known:
        db_session().commit()
    else:
        current_app.logger.warning(
            "Ignored a message status %r for delivery %r", state[:20], delivery[:20]
        )
    return "", 204
