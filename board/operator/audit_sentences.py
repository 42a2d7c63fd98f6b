"""The audit log in words: one sentence per event, in the reader's language.

An event's detail is stored data, written in English by the code that acted
("pending -> approved", "no_time: ...", "attempt 3"). It is read back here, at
display time, by the shapes those writers use; a detail of any other shape
(an older release, a hand-made event) is shown as it was stored, so nothing
the log holds is ever hidden.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app import audit
from app.i18n import format_date
from app.models import AccountStatus, AuditEvent
from board.forms import RELEASE_REASONS

ACCOUNT_STATES = {
    AccountStatus.PENDING: _l("waiting for approval"),
    AccountStatus.APPROVED: _l("approved"),
    AccountStatus.REJECTED: _l("not approved"),
    AccountStatus.SUSPENDED: _l("suspended"),
}
REASONS = {choice.value: choice.label for choice in RELEASE_REASONS}

# The shapes the writers of audit events use (app/accounts/approval.py, app/requests/,
# app/calls/export.py). Anchored: a detail that only looks like one is shown raw.
DECISION = re.compile(
    r"(?P<email>[^:]*): (?P<before>\w+) -> (?P<after>\w+)(?: \((?P<note>.*)\))?\Z", re.S
)
RELEASE = re.compile(r"(?P<reason>no_time|cannot_help|too_far|other)(?:: (?P<note>.*))?\Z", re.S)
SUSPENDED_CLAIM = "claim released: the volunteer was suspended"
ATTEMPT = re.compile(r"attempt (?P<num>\d+)\Z")
EXPIRY = re.compile(r"not done within (?P<hours>\d+) hours\Z")
CALL = re.compile(r"(?:caller number|voice message) of call (?P<sid>\S+)\Z")
SLUGS = re.compile(r"[a-z0-9-]+(?:, [a-z0-9-]+)*\Z")  # app/accounts/operator_scope.py
EXPORT = re.compile(
    r"call log (?P<first>\d{4}-\d\d-\d\d)(?: to (?P<last>\d{4}-\d\d-\d\d))? with full caller "
    r"numbers \((?P<num>\d+) calls\), via (?P<via>.*)\Z"
)


@dataclass(frozen=True)
class Sentence:
    """What an event says: a sentence, and a note someone wrote (shown as a quote), if any."""

    text: str
    note: str = ""


def describe(event: AuditEvent) -> Sentence:
    """The event as a sentence in the reader's language (the person acting is shown beside it)."""
    detail = (event.detail or "").strip()
    describer = _DESCRIBERS.get(event.action)
    sentence = describer(detail) if describer else None
    if sentence is None:
        # An action or a detail of a shape this module does not know: the label and the
        # detail as stored.
        return Sentence(str(ACTION_SENTENCES.get(event.action, event.action)), detail)
    return sentence


ACTION_SENTENCES = {
    audit.Action.CLAIMED: _l("took the request"),
    audit.Action.RELEASED: _l("gave the request back to the board"),
    audit.Action.COMPLETED: _l("marked the request as done"),
    audit.Action.REOPENED: _l("undid “done”: the request is open for them again"),
    audit.Action.UNREACHABLE: _l("could not reach the caller"),
    audit.Action.NUMBER_VIEWED: _l("was shown the caller's number"),
    audit.Action.EXPIRED: _l("the claim ran out and the request went back to the board"),
    audit.Action.EXPORTED: _l("exported the call log with full caller numbers"),
    audit.Action.APPROVED: _l("approved the account"),
    audit.Action.REJECTED: _l("did not approve the account"),
    audit.Action.SUSPENDED: _l("suspended the account"),
    audit.Action.PURGED: _l("erased personal data older than the retention period"),
    audit.Action.RETURNED_TO_BOARD: _l("put the request back on the board"),
    audit.Action.CLOSED_BY_OPERATOR: _l("closed the request"),
    audit.Action.MESSAGE_HANDLED: _l("marked a voice message as handled"),
    audit.Action.HELPLINES_CHANGED: _l("changed the helplines the operator runs"),
}


def _plain(action: audit.Action):
    """An action whose detail, if any, is a note someone wrote."""
    return lambda detail: Sentence(str(ACTION_SENTENCES[action]), detail)


def _decision(action: audit.Action):
    def describe_decision(detail: str) -> Sentence | None:
        match = DECISION.match(detail)
        if not match or match["before"] not in ACCOUNT_STATES:
            return None
        text = _(
            "%(done)s (it was %(before)s)",
            done=ACTION_SENTENCES[action],
            before=ACCOUNT_STATES[match["before"]],
        )
        return Sentence(text, match["note"] or "")

    return describe_decision


def _released(detail: str) -> Sentence | None:
    if detail == SUSPENDED_CLAIM:
        return Sentence(_("gave the request back to the board: the volunteer was suspended"))
    if not detail:
        return Sentence(str(ACTION_SENTENCES[audit.Action.RELEASED]))
    match = RELEASE.match(detail)
    if not match:
        return None
    text = _("gave the request back to the board: %(reason)s", reason=REASONS[match["reason"]])
    return Sentence(text, match["note"] or "")


def _unreachable(detail: str) -> Sentence | None:
    match = ATTEMPT.match(detail)
    if not match:
        return None
    return Sentence(_("could not reach the caller (attempt %(num)d)", num=int(match["num"])))


def _expired(detail: str) -> Sentence | None:
    match = EXPIRY.match(detail)
    if not match:
        return None
    return Sentence(
        _(
            "the claim ran out (not done within %(hours)d hours) and the request went back "
            "to the board",
            hours=int(match["hours"]),
        )
    )


def _number_viewed(detail: str) -> Sentence | None:
    if not detail:
        return Sentence(str(ACTION_SENTENCES[audit.Action.NUMBER_VIEWED]))
    match = CALL.match(detail)
    if not match:
        return None
    return Sentence(
        _("was shown the number of a caller's voice message (call %(sid)s)", sid=match["sid"])
    )


def _message_handled(detail: str) -> Sentence | None:
    match = CALL.match(detail)
    if not match:
        return None
    return Sentence(_("marked a voice message as handled (call %(sid)s)", sid=match["sid"]))


def _exported(detail: str) -> Sentence | None:
    match = EXPORT.match(detail)
    if not match:
        return None
    first = format_date(date.fromisoformat(match["first"]))
    days = first
    if match["last"]:
        days = _(
            "%(first)s to %(last)s",
            first=first,
            last=format_date(date.fromisoformat(match["last"])),
        )
    if match["via"] == "the operator pages":
        via = _("on the operator pages")
    elif match["via"].startswith("the command line"):
        via = _("on the command line")
    else:
        return None
    return Sentence(
        _(
            "exported the call log of %(days)s with full caller numbers (%(num)d calls), %(via)s",
            days=days,
            num=int(match["num"]),
            via=via,
        )
    )


def _helplines_changed(detail: str) -> Sentence | None:
    if not SLUGS.match(detail):
        return None
    return Sentence(_("set the helplines the operator runs: %(helplines)s", helplines=detail))


_DESCRIBERS = {
    audit.Action.CLAIMED: _plain(audit.Action.CLAIMED),
    audit.Action.COMPLETED: _plain(audit.Action.COMPLETED),
    audit.Action.REOPENED: _plain(audit.Action.REOPENED),
    audit.Action.RETURNED_TO_BOARD: _plain(audit.Action.RETURNED_TO_BOARD),
    audit.Action.CLOSED_BY_OPERATOR: _plain(audit.Action.CLOSED_BY_OPERATOR),
    audit.Action.APPROVED: _decision(audit.Action.APPROVED),
    audit.Action.REJECTED: _decision(audit.Action.REJECTED),
    audit.Action.SUSPENDED: _decision(audit.Action.SUSPENDED),
    audit.Action.RELEASED: _released,
    audit.Action.UNREACHABLE: _unreachable,
    audit.Action.EXPIRED: _expired,
    audit.Action.NUMBER_VIEWED: _number_viewed,
    audit.Action.MESSAGE_HANDLED: _message_handled,
    audit.Action.EXPORTED: _exported,
    audit.Action.HELPLINES_CHANGED: _helplines_changed,
}
