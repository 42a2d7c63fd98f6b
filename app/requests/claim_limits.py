"""How often a volunteer may claim and give back requests: per hour, from the audit log.

A claim shows the caller's number and code. Without a limit, a rogue account
could collect every caller of its zones in a second: claim, read the number,
give back, next. So a volunteer may claim `claims_per_hour` requests and give
back `give_backs_per_hour` within any hour; operators are not limited (they
see every caller's number on their own pages anyway).

Counted from the audit log in the database, never in one process's memory, so
the limits hold across app servers. The counts are SQL expressions that the
claim's and the give-back's own conditional UPDATE test (app/requests/claims.py): a
limit is decided by the database in the same statement as the change, as the
other claim rules are. Give-backs count only those the volunteer made: a
claim that expired, or that an operator took back, is not one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import BindParameter, ColumnElement, bindparam, func, select

from app.audit import Action
from app.models import AuditEvent

WINDOW = timedelta(hours=1)
# The start of the window, a parameter of every statement that counts:
# executed with {"since": window_start(now)}.
SINCE = bindparam("since")


def window_start(now: datetime) -> datetime:
    """Where the hour that the limits count ends at `now` begins."""
    return now - WINDOW


def done_since(action: Action, me: BindParameter) -> ColumnElement[int]:
    """How often the person `me` did `action` since SINCE: a scalar subquery.

    Read from ix_audit_events_user_action_at alone.
    """
    return (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.user_id == me, AuditEvent.action == action, AuditEvent.at >= SINCE)
        .scalar_subquery()
    )
