"""How the call log reads to a person: outcomes, menu steps and Twilio statuses, translated.

The database keeps stable codes (`abandoned`, `postcode`, `no-answer`); the
daily export and the operator pages show these labels in the reader's language.
"""

from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from app.models import CallOutcome, CallStatus, CallStep

OUTCOMES = {
    CallOutcome.REQUEST_CREATED: _l("request created"),
    CallOutcome.REPEAT_CALLER: _l("repeat caller"),
    CallOutcome.CANCELLED: _l("cancelled"),
    CallOutcome.OUT_OF_AREA: _l("out of area"),
    CallOutcome.TRANSFERRED: _l("transferred to operator"),
    CallOutcome.OPERATOR_MESSAGE: _l("voice message for the operators"),
    CallOutcome.GAVE_UP: _l("no valid answer, told the helpline hours"),
    CallOutcome.ERROR: _l("error"),
}

STEPS = {
    CallStep.LANGUAGE: _l("language"),
    CallStep.EXISTING: _l("existing request"),
    CallStep.POSTCODE: _l("postcode"),
    CallStep.CONFIRM_POSTCODE: _l("confirming the postcode"),
    CallStep.REQUEST_TYPE: _l("type of help"),
    CallStep.VOICE_MESSAGE: _l("voice message"),
    CallStep.DONE: _l("end of the menu"),
    CallStep.OPERATOR: _l("transfer to operator"),
    CallStep.CALLBACK_NUMBER: _l("typing a number to be called back on"),
    CallStep.CONFIRM_CALLBACK: _l("confirming the callback number"),
    CallStep.CONFIRM_CANCEL: _l("confirming the cancellation"),
    CallStep.OPERATOR_MESSAGE: _l("voice message for the operators"),
    # Steps of calls the line places (not in the call log, but one list of steps).
    CallStep.CALLBACK_CODE: _l("the code, on the call back"),
    CallStep.BRIDGE_OFFER: _l("offering a volunteer the call through the hotline"),
    CallStep.BRIDGE_DIAL: _l("putting a volunteer through to the caller"),
    CallStep.CALLDOWN: _l("asking whether help is still needed"),
    CallStep.CLAIM_NOTICE: _l("telling the caller that a volunteer took the request"),
}

# Twilio's CallStatus values, and ours for a call whose end never reached the log.
STATUSES = {
    CallStatus.QUEUED: _l("queued"),
    CallStatus.INITIATED: _l("initiated"),
    CallStatus.RINGING: _l("ringing"),
    CallStatus.IN_PROGRESS: _l("in progress"),
    CallStatus.UNKNOWN: _l("status unknown"),
    CallStatus.COMPLETED: _l("completed"),
    CallStatus.BUSY: _l("busy"),
    CallStatus.FAILED: _l("failed"),
    CallStatus.NO_ANSWER: _l("no answer"),
    CallStatus.CANCELED: _l("cancelled by caller"),
}
LIVE_STATUSES = frozenset(status for status in CallStatus if status.live)


IN_PROGRESS = "in_progress"


def call_end(outcome: str, last_step: str, status: str) -> tuple[str, str]:
    """How a call ended, as a key: (outcome, step) where the step matters only if abandoned.

    A call that ended without the phone line recording an outcome was hung
    up somewhere in the menu: it counts as abandoned at its last step, so a
    finished call never has an empty outcome.
    """
    if outcome in OUTCOMES:
        return outcome, ""
    if not outcome and status in LIVE_STATUSES:
        return IN_PROGRESS, ""
    if outcome in ("", CallOutcome.ABANDONED):
        return CallOutcome.ABANDONED, last_step
    return outcome, ""


def call_end_label(key: tuple[str, str]) -> str:
    """'request created', 'abandoned at step: postcode', ... in the current language."""
    outcome, step = key
    if outcome in OUTCOMES:
        return str(OUTCOMES[outcome])
    if outcome == IN_PROGRESS:
        return gettext("still in progress")
    if outcome == CallOutcome.ABANDONED:
        if step in STEPS:
            return gettext("abandoned at step: %(step)s", step=STEPS[step])
        return gettext("abandoned")
    return outcome


def outcome_label(outcome: str, last_step: str, status: str) -> str:
    """The outcome of one call in the current language (see call_end)."""
    return call_end_label(call_end(outcome, last_step, status))


def status_label(status: str) -> str:
    return str(STATUSES[status]) if status in STATUSES else status
