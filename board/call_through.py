"""Calling a caller through the hotline: the button on a claimed request's page.

The call itself is app/calls/bridge.py; this is the button, and the line on the
page that says how the last call went.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user

from app.calls import bridge
from app.calls.outbound import twilio_configured
from app.models import BridgedCall
from board import bp, test_phone
from board.accounts import approved_required
from board.views import _own_claim_or_refuse, _session_with_fresh_claims

PROGRESS = {
    bridge.QUEUED: _l("Ringing you…"),
    bridge.RINGING: _l("Ringing you…"),
    bridge.CONNECTING: _l("Connecting you to the caller…"),
    bridge.MISSED: _l(
        "Not answered: your phone was not picked up, or you hung up before pressing 1."
    ),
    bridge.UNREACHABLE: _l("Not answered: the caller did not pick up. Counted as could not reach."),
    bridge.FAILED: _l("The call could not be placed. Please try again later."),
}


def rings_where(user) -> str:
    """Which phone a call through the hotline rings first for `user`: "phone" (theirs,
    through Twilio), "test_phone" (no Twilio account here, so the test phone rings:
    app/calls/outbound.py rings_simulator), or "" (neither: no button, no dead end)."""
    settings = current_app.config["HOTLINE"]
    if twilio_configured(settings):
        return "phone"
    return "test_phone" if test_phone.may_use(user, settings.test_phone) else ""


def progress(bridged: BridgedCall) -> str:
    """How the volunteer's last call through the hotline is going, as the page says it."""
    if bridged.status == bridge.TALKED:
        minutes = max(1, round((bridged.talk_seconds or 0) / 60))
        return ngettext("You talked %(num)d min.", "You talked %(num)d min.", minutes)
    return str(PROGRESS.get(bridged.status, ""))


@bp.post("/requests/<reference>/call-through")
@approved_required
def call_through(reference: str):
    """Ring the volunteer's own phone, then put them through to the caller."""
    session = _session_with_fresh_claims()
    help_request, refusal = _own_claim_or_refuse(session, reference)
    if refusal:
        return refusal
    rings = rings_where(current_user)
    if not rings:
        flash(
            _("Calls through the hotline are not set up here. Please call from your own phone."),
            "error",
        )
        return redirect(url_for("board.request_page", reference=reference))
    if bridge.start(session, help_request, current_user, current_app.config["HOTLINE"]) is None:
        flash(
            _(
                "A call through the hotline needs the caller's number, and yours "
                "(on your account page)."
            ),
            "error",
        )
    else:
        session.commit()
        if rings == "test_phone":
            flash(_("The test phone will ring in a moment. Answer it there and press 1."), "info")
        else:
            flash(_("Your phone will ring in a moment. Press 1 to be put through."), "info")
    return redirect(url_for("board.request_page", reference=reference))
