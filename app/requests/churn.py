"""Volunteers who give back unusually many requests: a sign of someone harvesting callers.

Each claim shows a caller's number and code; a rogue volunteer collects them
by claiming and giving back. The hourly limits (app/requests/claim_limits.py) slow that
down; this names the volunteers who come near it to the operators, on the
dashboard and under "Needs attention", with a link to suspend them.

A volunteer is named when they gave back `churn_alert_give_backs` requests
within one hour, at any time in the last LOOKBACK: an operator who looks the
next morning still sees what happened in the night. Read from the audit log;
only give-backs the volunteer made count (not expiries, not suspensions), and
only approved volunteers are named (a suspended one has been dealt with).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.operator_scope import volunteer_in_scope
from app.audit import Action
from app.database import utcnow
from app.models import AccountStatus, AuditEvent, Role, User
from app.requests.claim_limits import WINDOW

LOOKBACK = timedelta(hours=24)


@dataclass(frozen=True)
class Churn:
    """A volunteer who gave back many requests within an hour."""

    volunteer: User
    give_backs: int  # the most within one hour, in the last LOOKBACK
    last_at: datetime  # their latest give-back


def churning_volunteers(
    session: Session, *, threshold: int, now: datetime | None = None, viewer: User | None = None
) -> list[Churn]:
    """Approved volunteers with `threshold` give-backs within one hour lately, most first
    (of `viewer`'s helplines: app/accounts/operator_scope.py)."""
    now = now or utcnow()
    rows = session.execute(
        select(AuditEvent.user_id, AuditEvent.at)
        .join(User, User.id == AuditEvent.user_id)
        .where(
            AuditEvent.action == Action.RELEASED,
            AuditEvent.at >= now - LOOKBACK,
            User.role == Role.VOLUNTEER,
            User.status == AccountStatus.APPROVED,
            volunteer_in_scope(viewer),
        )
        .order_by(AuditEvent.user_id, AuditEvent.at)
    )
    times: dict[int, list[datetime]] = defaultdict(list)
    for user_id, at in rows:
        times[user_id].append(at)
    found = []
    for user_id, ats in times.items():
        most = most_within(ats, WINDOW)
        if most >= threshold:
            found.append(Churn(session.get(User, user_id), most, ats[-1]))
    return sorted(found, key=lambda c: (-c.give_backs, c.volunteer.name))


def most_within(times: list[datetime], window: timedelta) -> int:
    """The most of the sorted `times` that fall within one `window` (a sliding window)."""
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most
