"""The operators' dashboard figures: today's calls, the backlog per zone, response times.

"Today" and "per day" are local days in the configured time zone. Days are
cut at local midnights computed by zoneinfo (call_export.local_midnight), and
timestamps are bucketed in Python rather than with SQL date functions, which
SQLite and PostgreSQL do not share and which know nothing of the local zone.
"""

from __future__ import annotations

import bisect
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select, type_coerce
from sqlalchemy.orm import Session

from app.accounts.operator_scope import in_scope
from app.calls.export import local_midnight
from app.calls.labels import call_end
from app.database import UTCDateTime, utcnow
from app.models import (
    AccountStatus,
    Call,
    HelplineRow,
    HelpRequest,
    RequestStatus,
    Role,
    User,
    Zone,
    user_zones,
)

MEDIAN_DAYS = 7
CHART_DAYS = 30
# Timestamps fetched per round trip when counting calls per day.
BATCH = 1000


@dataclass(frozen=True)
class ZoneBacklog:
    zone_id: int
    name: str
    open: int
    claimed: int
    done_recently: int  # done in the last MEDIAN_DAYS days
    oldest_open_at: datetime | None
    volunteers: int  # approved volunteers serving the zone
    helpline: str = ""  # its helpline's name (shown where a viewer sees several)

    @property
    def uncovered(self) -> bool:
        """Requests wait here and no approved volunteer serves the zone."""
        return self.open > 0 and self.volunteers == 0


@dataclass(frozen=True)
class Dashboard:
    today: date
    calls_today: int
    # ((outcome, step), count), most first; call_labels.call_end_label() reads a key.
    outcomes_today: list[tuple[tuple[str, str], int]]
    requests_today: int
    done_today: int
    zones: list[ZoneBacklog]
    call_to_claim: timedelta | None  # median over the last MEDIAN_DAYS days
    claim_to_done: timedelta | None
    claims_counted: int
    completions_counted: int
    calls_per_day: list[tuple[date, int]] = field(default_factory=list)  # CHART_DAYS, oldest first

    @property
    def several_helplines(self) -> bool:
        """The viewer sees zones of more than one helpline: each is named with its line."""
        return len({z.helpline for z in self.zones}) > 1

    @property
    def uncovered_zones(self) -> list[ZoneBacklog]:
        return [z for z in self.zones if z.uncovered]

    @property
    def open_total(self) -> int:
        return sum(z.open for z in self.zones)

    @property
    def claimed_total(self) -> int:
        return sum(z.claimed for z in self.zones)


def dashboard(
    session: Session, tz: ZoneInfo, now: datetime | None = None, *, viewer: User | None = None
) -> Dashboard:
    """Every figure of the dashboard, as of `now` (default: the current time).

    `viewer`: the operator looking, whose helplines' calls and requests are
    counted (app/accounts/operator_scope.py); None: every helpline's.
    """
    now = now or utcnow()
    today = now.astimezone(tz).date()
    today_start, today_end = local_midnight(today, tz), local_midnight(today + timedelta(1), tz)
    week_ago = now - timedelta(days=MEDIAN_DAYS)
    call_to_claim, claim_to_done = response_times(session, since=week_ago, viewer=viewer)
    requests_seen = in_scope(viewer, HelpRequest.helpline_id)
    return Dashboard(
        today=today,
        calls_today=session.scalar(
            select(func.count(Call.id)).where(
                Call.started_at >= today_start,
                Call.started_at < today_end,
                in_scope(viewer, Call.helpline_id),
            )
        ),
        outcomes_today=outcomes_between(session, today_start, today_end, viewer=viewer),
        requests_today=session.scalar(
            select(func.count(HelpRequest.id)).where(
                HelpRequest.created_at >= today_start,
                HelpRequest.created_at < today_end,
                requests_seen,
            )
        ),
        done_today=session.scalar(
            select(func.count(HelpRequest.id)).where(
                HelpRequest.status == RequestStatus.DONE,
                HelpRequest.closed_at >= today_start,
                HelpRequest.closed_at < today_end,
                requests_seen,
            )
        ),
        zones=zone_backlog(session, done_since=week_ago, viewer=viewer),
        call_to_claim=_median(call_to_claim),
        claim_to_done=_median(claim_to_done),
        claims_counted=len(call_to_claim),
        completions_counted=len(claim_to_done),
        calls_per_day=calls_per_day(session, tz, last_day=today, days=CHART_DAYS, viewer=viewer),
    )


def outcomes_between(
    session: Session, start: datetime, end: datetime, *, viewer: User | None = None
) -> list[tuple[tuple[str, str], int]]:
    """How the calls that started in [start, end) ended: call_labels.call_end keys, counts."""
    rows = session.execute(
        select(Call.outcome, Call.last_step, Call.status, func.count(Call.id))
        .where(Call.started_at >= start, Call.started_at < end, in_scope(viewer, Call.helpline_id))
        .group_by(Call.outcome, Call.last_step, Call.status)
    )
    # Several (outcome, step, status) rows end the same way: add them up.
    counts: Counter[tuple[str, str]] = Counter()
    for outcome, last_step, status, count in rows:
        counts[call_end(outcome, last_step, status)] += count
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def zone_backlog(
    session: Session, done_since: datetime, *, viewer: User | None = None
) -> list[ZoneBacklog]:
    """Open, claimed and recently done requests per zone, with the zone's approved volunteers.

    Every zone (of the `viewer`'s helplines) is listed, the ones with waiting requests first.
    """

    def count_where(*conditions):
        return func.count(case((and_(*conditions), HelpRequest.id)))

    requests = (
        select(
            HelpRequest.zone_id,
            count_where(HelpRequest.status == RequestStatus.OPEN).label("open"),
            count_where(HelpRequest.status == RequestStatus.CLAIMED).label("claimed"),
            count_where(
                HelpRequest.status == RequestStatus.DONE, HelpRequest.closed_at >= done_since
            ).label("done"),
            # Typed, so that SQLite's naive text comes back as aware UTC.
            type_coerce(
                func.min(case((HelpRequest.status == RequestStatus.OPEN, HelpRequest.created_at))),
                UTCDateTime,
            ).label("oldest_open"),
        )
        .group_by(HelpRequest.zone_id)
        .subquery()
    )
    volunteers = (
        select(user_zones.c.zone_id, func.count(User.id).label("volunteers"))
        .join(User, User.id == user_zones.c.user_id)
        .where(User.role == Role.VOLUNTEER, User.status == AccountStatus.APPROVED)
        .group_by(user_zones.c.zone_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Zone.id,
            Zone.name,
            func.coalesce(requests.c.open, 0),
            func.coalesce(requests.c.claimed, 0),
            func.coalesce(requests.c.done, 0),
            requests.c.oldest_open,
            func.coalesce(volunteers.c.volunteers, 0),
            HelplineRow.name,
        )
        .join(HelplineRow, HelplineRow.id == Zone.helpline_id)
        .outerjoin(requests, requests.c.zone_id == Zone.id)
        .outerjoin(volunteers, volunteers.c.zone_id == Zone.id)
        .where(in_scope(viewer, Zone.helpline_id))
    )
    backlog = [ZoneBacklog(*row) for row in rows]
    return sorted(backlog, key=lambda z: (-z.open, -z.claimed, z.name))


def response_times(
    session: Session, since: datetime, *, viewer: User | None = None
) -> tuple[list[timedelta], list[timedelta]]:
    """Times from call to claim (claims since `since`) and from claim to done (done since)."""
    seen = in_scope(viewer, HelpRequest.helpline_id)
    to_claim = [
        claimed - created
        for created, claimed in session.execute(
            select(HelpRequest.created_at, HelpRequest.claimed_at).where(
                HelpRequest.claimed_at >= since, seen
            )
        )
    ]
    to_done = [
        closed - claimed
        for claimed, closed in session.execute(
            select(HelpRequest.claimed_at, HelpRequest.closed_at).where(
                HelpRequest.status == RequestStatus.DONE,
                HelpRequest.closed_at >= since,
                HelpRequest.claimed_at.is_not(None),
                seen,
            )
        )
    ]
    return to_claim, to_done


def calls_per_day(
    session: Session, tz: ZoneInfo, *, last_day: date, days: int, viewer: User | None = None
) -> list[tuple[date, int]]:
    """Calls per local day for `days` days up to and including `last_day`, oldest first.

    One pass over the calls' start times (streamed, so memory does not grow
    with the number of calls), each put into its day by binary search.
    """
    day_list = [last_day - timedelta(days=n) for n in range(days - 1, -1, -1)]
    bounds = [local_midnight(d, tz) for d in day_list]
    end = local_midnight(last_day + timedelta(days=1), tz)
    counts = [0] * days
    starts = session.scalars(
        select(Call.started_at)
        .where(
            Call.started_at >= bounds[0],
            Call.started_at < end,
            in_scope(viewer, Call.helpline_id),
        )
        .execution_options(yield_per=BATCH)
    )
    for started_at in starts:
        counts[bisect.bisect_right(bounds, started_at) - 1] += 1
    return list(zip(day_list, counts, strict=True))


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    return statistics.median(values)
