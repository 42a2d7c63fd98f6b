"""The board's side of help requests: what is open where, and a claim from start to finish.

A claim moves a request open -> claimed -> done, or back to open (released by
the volunteer, or expired after `claim_timeout_hours`). Every such change is a
single conditional UPDATE whose WHERE clause states what must still be true
("still open", "still claimed by this volunteer"), and its rowcount says
whether this call won. Two volunteers, two app servers and the expiry job can
race each other freely: the database decides, never a read-then-write in Python.
The hourly limits on a volunteer's claims and give-backs (app/requests/claim_limits.py)
are conditions of the same UPDATEs.

Whenever a claim ends without the request being done (given back, expired),
the request gets a new verification code: its former claimer knew the old one.

What a person may see of a request (`Access`) is decided in one place,
`_access`, a SQL expression over the request's row: a request's page, its
caller's number and a claim (inside the claim's UPDATE) all ask it. The
caller's number is shown only to the volunteer holding the claim, and every
time it is shown an audit event says so.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, partial
from typing import NamedTuple

from sqlalchemy import and_, bindparam, case, func, literal, or_, select, update
from sqlalchemy.orm import Session, aliased, joinedload

from app.accounts.operator_scope import zone_run_by
from app.audit import Action, record
from app.database import utcnow
from app.models import HelpRequest, RequestStatus, User, Zone, user_zones
from app.requests.claim_limits import done_since, window_start
from app.requests.counts import RememberedCounts
from app.requests.intake import renewed_verification_code

# A board shows at most this many cards; the counts per zone still tell the whole backlog,
# and the filters narrow it. 50, not 100: rendering a card costs about a quarter of a
# millisecond, and at 100 cards the page missed its 50 ms target (bench/board.py).
BOARD_LIMIT = 50
# "Could not reach" pressed again within this many minutes of the last one counted, by
# the same claim, is the same attempt: it counts once (record_unreachable).
UNREACHABLE_REPEAT_MINUTES = 10
# How long a volunteer may take back "done" (reopen_request): long enough to notice a
# slip, short enough that nobody else has relied on it.
UNDO_DONE_MINUTES = 10
# "Open" written into the SQL as the literal 'open' rather than a bound parameter:
# only then can SQLite (and PostgreSQL's generic plans) prove that the board's
# queries fit the partial indexes over open requests (see HelpRequest), which
# keep a board fast when the table holds a million requests.
OPEN_ONLY = HelpRequest.status == literal(RequestStatus.OPEN.value, literal_execute=True)
# The person asking, in the expressions below that decide what they may see and do:
# a parameter rather than their id written into each, so that each expression is
# built once (building the claim's UPDATE took as long as running it on SQLite),
# and every statement that uses one is executed with {"me": user.id}.
_ME = bindparam("me")


class ClaimResult(enum.StrEnum):
    CLAIMED = "claimed"
    ALREADY_YOURS = "already_yours"  # a double click, or a second tab
    TAKEN = "taken"  # another volunteer was quicker
    CLOSED = "closed"  # cancelled by the caller or done meanwhile
    LIMIT_REACHED = "limit_reached"  # the volunteer already holds max_open_claims
    HOURLY_LIMIT = "hourly_limit"  # the volunteer claimed claims_per_hour within the hour
    OUTSIDE_ZONES = "outside_zones"  # in a zone the volunteer does not serve
    NOT_ALLOWED = "not_allowed"  # a pending, rejected or suspended account
    NO_SUCH_REQUEST = "no_such_request"  # no request has that reference


class ReleaseResult(enum.StrEnum):
    RELEASED = "released"
    NOT_HELD = "not_held"  # no longer theirs: done, cancelled, expired meanwhile
    HOURLY_LIMIT = "hourly_limit"  # they gave back give_backs_per_hour within the hour


class Scope(enum.StrEnum):
    """Whose zones a person serves, as _serves asks it: one expression built for each."""

    VOLUNTEER = "volunteer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @classmethod
    def of(cls, user: User) -> Scope:
        if user.is_admin:
            return cls.ADMIN
        return cls.OPERATOR if user.is_operator else cls.VOLUNTEER


class Access(enum.StrEnum):
    """What a person may see of one request."""

    CLAIMER = "claimer"  # everything, the caller's number included
    CARD = "card"  # open in one of their zones: the card and the claim button
    FORMER = "former"  # they held it and it is closed now: the outcome, no number
    OTHER_CLAIMER = "other_claimer"  # claimed or closed by someone else: nothing
    CLOSED = "closed"  # cancelled before anyone claimed it: only that it is closed
    OUTSIDE_ZONES = "outside_zones"  # not in a zone they serve: nothing
    NOT_APPROVED = "not_approved"  # a pending, rejected or suspended account: nothing

    @property
    def allowed(self) -> bool:
        return self in (Access.CLAIMER, Access.CARD, Access.FORMER)


class SeenRequest(NamedTuple):
    """A request and what the person who asked for it may see of it."""

    request: HelpRequest
    access: Access


@dataclass(frozen=True)
class BoardFilters:
    """What a volunteer narrowed the board to; empty values mean "any"."""

    zone_id: int | None = None
    postcode_prefix: str = ""
    request_type: str = ""
    language: str = ""

    @property
    def narrowed(self) -> bool:
        return any((self.zone_id, self.postcode_prefix, self.request_type, self.language))


@dataclass
class OpenRequests:
    """One page of the board: the oldest open requests and the count in each zone."""

    requests: list[HelpRequest]
    counts: list[tuple[Zone, int]]  # every zone served, with its open requests (filters applied)
    total: int  # open requests matching the filters, in all zones served
    # When `counts` and `total` were counted, if remembered (app.requests.counts); None: just now.
    counted_at: datetime | None = None


def _serves(scope: Scope, zone_id):
    """Whether the person asking (`_ME`) serves the zone `zone_id` (a column): a volunteer
    their own zones, an operator the zones of the helplines they run, an admin every
    zone (app/accounts/operator_scope.py). The board's zones, a request's page and a
    claim all ask this."""
    if scope == Scope.VOLUNTEER:
        return zone_id.in_(select(user_zones.c.zone_id).where(user_zones.c.user_id == _ME))
    return zone_run_by(zone_id, _ME, admin=scope == Scope.ADMIN)


def _held_by(requests=HelpRequest):
    """Whether the person asking (`_ME`) holds the claim on a request (a row of `requests`)."""
    return and_(requests.claimed_by_id == _ME, requests.status == RequestStatus.CLAIMED)


@cache
def _access_rule(approved: bool, scope: Scope):
    """What the person asking (`_ME`) may see of a request, as a SQL expression over its
    row (Access's values).

    The one home of that rule. The claimer first: it stays theirs, whichever
    zones they serve now. Then the zones: a volunteer elsewhere learns nothing
    of a request, not even whether someone holds it.
    """
    if not approved:
        return literal(Access.NOT_APPROVED.value)
    return case(
        (_held_by(), Access.CLAIMER.value),
        (HelpRequest.claimed_by_id == _ME, Access.FORMER.value),
        (~_serves(scope, HelpRequest.zone_id), Access.OUTSIDE_ZONES.value),
        (HelpRequest.claimed_by_id.is_not(None), Access.OTHER_CLAIMER.value),
        (HelpRequest.status == RequestStatus.OPEN, Access.CARD.value),
        else_=Access.CLOSED.value,
    )


def _access(user: User):
    """What `user` may see of a request (_access_rule); executed with {"me": user.id}."""
    return _access_rule(user.approved, Scope.of(user))


# How many claims the person asking (`_ME`) holds. Over an alias, so that inside a
# statement on help_requests it is not correlated with the row at hand.
_HELD = aliased(HelpRequest, name="held")
_claims_held = select(func.count()).select_from(_HELD).where(_held_by(_HELD)).scalar_subquery()
# How many requests the person asking claimed, and gave back, within the hour
# (app/requests/claim_limits.py); executed with {"me": ..., "since": ...} as well.
_claimed_this_hour = done_since(Action.CLAIMED, _ME)
_given_back_this_hour = done_since(Action.RELEASED, _ME)


def _normalised(reference: str) -> str:
    """A public reference ('HX7-K4M') as stored; people type it in any case, with spaces."""
    return reference.strip().upper()


def zones_served_by(session: Session, user: User) -> list[Zone]:
    """The zones whose requests a person sees: a volunteer's own, an operator's helplines'."""
    query = select(Zone).where(_serves(Scope.of(user), Zone.id)).order_by(Zone.area, Zone.name)
    return list(session.scalars(query, {"me": user.id}))


def request_seen_by(session: Session, reference: str, user: User) -> SeenRequest | None:
    """The request `reference` and what `user` may see of it; None if there is no such request."""
    row = session.execute(
        select(HelpRequest, _access(user))
        .options(joinedload(HelpRequest.zone))
        .where(HelpRequest.reference == _normalised(reference)),
        {"me": user.id},
    ).one_or_none()
    return None if row is None else SeenRequest(row[0], Access(row[1]))


def open_requests(
    session: Session,
    zones: list[Zone],
    filters: BoardFilters | None = None,
    limit: int = BOARD_LIMIT,
    remembered: RememberedCounts | None = None,
) -> OpenRequests:
    """Open requests in `zones`, oldest first, narrowed by `filters`, with counts per zone.

    Oldest first so that nobody waits longest by accident. A zone filter
    outside `zones` matches nothing: the caller cannot widen what it may see.
    With `remembered`, large counts may be up to half a minute old (the
    requests never are; app.requests.counts); without, they are counted now.
    """
    filters = filters or BoardFilters()
    zone_ids = [z.id for z in zones]
    matching = [OPEN_ONLY]
    if filters.postcode_prefix:
        matching.append(HelpRequest.postcode.startswith(filters.postcode_prefix, autoescape=True))
    if filters.request_type:
        matching.append(HelpRequest.request_type == filters.request_type)
    if filters.language:
        matching.append(HelpRequest.language == filters.language)
    conditions = [*matching, HelpRequest.zone_id.in_(zone_ids)]

    def count(*where) -> dict[int, int]:
        # Counted from ix_help_requests_open_zone alone, filters included (see HelpRequest).
        query = select(HelpRequest.zone_id, func.count()).where(*where)
        return dict(session.execute(query.group_by(HelpRequest.zone_id)).all())

    if remembered is None:
        by_zone, counted_at = count(*conditions), None
    else:
        # Remembered for every zone, so that all boards with these filters share one count.
        remembered_counts = remembered.for_zones(
            zone_ids,
            key=(filters.postcode_prefix, filters.request_type, filters.language),
            count_every_zone=partial(count, *matching),
            count_these_zones=partial(count, *conditions),
        )
        by_zone, counted_at = remembered_counts.by_zone, remembered_counts.counted_at
    counts = [(zone, by_zone.get(zone.id, 0)) for zone in zones]
    if filters.zone_id is not None:
        conditions.append(HelpRequest.zone_id == filters.zone_id)
        total = by_zone.get(filters.zone_id, 0) if filters.zone_id in zone_ids else 0
    else:
        total = sum(by_zone.values())
    requests = list(
        session.scalars(
            select(HelpRequest)
            .options(joinedload(HelpRequest.zone))
            .where(*conditions)
            .order_by(HelpRequest.created_at, HelpRequest.id)
            # Read from ix_help_requests_open_created in date order, stopping after
            # `limit`, once the database has statistics (app/planner_statistics.py).
            .limit(limit)
        )
    )
    return OpenRequests(requests=requests, counts=counts, total=total, counted_at=counted_at)


def claims_held_by(session: Session, user: User) -> list[HelpRequest]:
    """The requests a volunteer holds right now, oldest claim first."""
    query = (
        select(HelpRequest)
        .options(joinedload(HelpRequest.zone))
        .where(_held_by())
        .order_by(HelpRequest.claimed_at)
    )
    return list(session.scalars(query, {"me": user.id}))


def recently_closed_by(session: Session, user: User, limit: int = 20) -> list[HelpRequest]:
    """The volunteer's own finished requests, newest first (no numbers are shown for these)."""
    query = (
        select(HelpRequest)
        .options(joinedload(HelpRequest.zone))
        .where(
            HelpRequest.claimed_by_id == user.id,
            HelpRequest.status.in_((RequestStatus.DONE, RequestStatus.CANCELLED)),
        )
        .order_by(HelpRequest.closed_at.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def claim_request(
    session: Session,
    reference: str,
    user: User,
    *,
    max_open_claims: int,
    claims_per_hour: int | None = None,
    now: datetime | None = None,
) -> ClaimResult:
    """Claim the request `reference` for `user`; exactly one of any number of racing claims wins.

    One conditional UPDATE claims it when `user` may: the request is open and
    unclaimed in one of their zones, they hold fewer than `max_open_claims`,
    and (a volunteer, when `claims_per_hour` is given) they claimed fewer than
    `claims_per_hour` within the last hour. When it claims nothing, one SELECT
    tells why. Flushed, not committed: the caller commits (and with it ends the
    lock below). A request loaded in the session is brought up to date either way.
    """
    now = now or utcnow()
    hourly = _hourly_limit(user, claims_per_hour)
    _queue_behind_own_claims(session, user)
    reference = _normalised(reference)
    params = {"me": user.id, "since": window_start(now)}
    conditions = [
        HelpRequest.reference == reference,
        _access(user) == Access.CARD,
        _claims_held < max_open_claims,
    ]
    if hourly is not None:
        conditions.append(_claimed_this_hour < hourly)
    # The race between volunteers is decided here: only one UPDATE can find the
    # row still open (PostgreSQL re-checks the whole WHERE clause on the row as
    # the winner left it, after waiting for the winner's row lock; SQLite
    # serialises the writers). RETURNING hands back the claimed row, so that
    # nobody reads it again.
    claimed = session.scalars(
        update(HelpRequest)
        .where(*conditions)
        .values(status=RequestStatus.CLAIMED, claimed_by_id=user.id, claimed_at=now)
        .returning(HelpRequest)
        .execution_options(synchronize_session=False, populate_existing=True),
        params,
    ).one_or_none()
    if claimed is not None:
        record(session, Action.CLAIMED, user=user, request=claimed)
        session.flush()
        return ClaimResult.CLAIMED
    # Why not: read after the UPDATE, in its transaction. On PostgreSQL this
    # statement sees the claim that won (committed before the UPDATE gave up);
    # on SQLite the UPDATE made this transaction the writer, which reads the
    # newest data.
    row = session.execute(
        select(HelpRequest, _access(user), _claims_held, _claimed_this_hour)
        .where(HelpRequest.reference == reference)
        .execution_options(populate_existing=True),
        params,
    ).one_or_none()
    if row is None:
        return ClaimResult.NO_SUCH_REQUEST
    request, access, held, claimed_lately = row
    match Access(access):
        case Access.CARD:
            # Open and theirs to take, yet not taken: a limit, or taken and given
            # back again between the UPDATE and now (told as taken).
            if held >= max_open_claims:
                return ClaimResult.LIMIT_REACHED
            if hourly is not None and claimed_lately >= hourly:
                return ClaimResult.HOURLY_LIMIT
            return ClaimResult.TAKEN
        case Access.CLAIMER:
            return ClaimResult.ALREADY_YOURS
        case Access.OTHER_CLAIMER if request.status == RequestStatus.CLAIMED:
            return ClaimResult.TAKEN
        case Access.OUTSIDE_ZONES:
            return ClaimResult.OUTSIDE_ZONES
        case Access.NOT_APPROVED:
            return ClaimResult.NOT_ALLOWED
        case _:  # done or cancelled, whoever held it
            return ClaimResult.CLOSED


def _hourly_limit(user: User, limit: int | None) -> int | None:
    """The hourly limit that applies to `user`: none for an operator, who sees every
    caller's number on the operator pages anyway."""
    return None if user.is_operator else limit


def _queue_behind_own_claims(session: Session, user: User) -> None:
    """On PostgreSQL, wait for this volunteer's other claims and give-backs to commit."""
    if session.get_bind().dialect.name == "postgresql":
        # The limits must hold when one volunteer claims (or gives back) from two
        # tabs or two app servers at once. In PostgreSQL's READ COMMITTED each
        # UPDATE's counts would see only committed claims and both could pass, so
        # claims by one volunteer queue on a lock of their user row; the next
        # statement then counts with a fresh snapshot (which is why the lock
        # cannot be folded into the UPDATE: a statement keeps the snapshot it
        # started with, however long it waited for the lock). FOR NO KEY
        # UPDATE: it excludes other claims by this volunteer but not the
        # key-share locks that inserting their audit events (a foreign key to
        # users) takes elsewhere, so the expiry job can never deadlock against
        # a claim. SQLite needs no lock: it runs one writer at a time, and the
        # UPDATE that follows is one statement.
        session.execute(select(User.id).where(User.id == user.id).with_for_update(key_share=True))


def open_claim_count(session: Session, user: User) -> int:
    """How many requests `user` holds right now."""
    query = select(func.count()).select_from(HelpRequest).where(_held_by())
    return session.scalar(query, {"me": user.id})


def _update_own_claim(
    session: Session, request: HelpRequest, user: User, *conditions, params=None, **values
) -> bool:
    """Change a request only while `user` still holds the claim (and `conditions` hold);
    True if it changed."""
    result = session.execute(
        update(HelpRequest)
        .where(HelpRequest.id == request.id, _held_by(), *conditions)
        .values(**values)
        .execution_options(synchronize_session=False),
        {"me": user.id, **(params or {})},
    )
    return result.rowcount == 1


def release_request(
    session: Session,
    request: HelpRequest,
    user: User,
    reason: str,
    *,
    give_backs_per_hour: int | None = None,
    now: datetime | None = None,
) -> ReleaseResult:
    """Give a claimed request back to the board, with a new verification code.

    Refused (HOURLY_LIMIT, nothing changes) when a volunteer already gave back
    `give_backs_per_hour` requests within the last hour: the request stays theirs.
    NOT_HELD if `user` no longer holds it.
    """
    hourly = _hourly_limit(user, give_backs_per_hour)
    _queue_behind_own_claims(session, user)
    conditions = [] if hourly is None else [_given_back_this_hour < hourly]
    released = _update_own_claim(
        session,
        request,
        user,
        *conditions,
        params={"since": window_start(now or utcnow())},
        status=RequestStatus.OPEN,
        claimed_by_id=None,
        claimed_at=None,
        verification_code=renewed_verification_code(request.verification_code),
    )
    if released:
        record(session, Action.RELEASED, user=user, request=request, detail=reason.strip())
        result = ReleaseResult.RELEASED
    elif hourly is not None and _still_held(session, request, user):
        result = ReleaseResult.HOURLY_LIMIT
    else:
        result = ReleaseResult.NOT_HELD
    _finish(session, request, released)
    return result


def _still_held(session: Session, request: HelpRequest, user: User) -> bool:
    query = select(func.count()).select_from(HelpRequest).where(HelpRequest.id == request.id)
    return bool(session.scalar(query.where(_held_by()), {"me": user.id}))


def complete_request(
    session: Session, request: HelpRequest, user: User, note: str = "", now: datetime | None = None
) -> bool:
    """Mark a claimed request done, with an optional outcome note; False if no longer held."""
    done = _update_own_claim(
        session,
        request,
        user,
        status=RequestStatus.DONE,
        closed_at=now or utcnow(),
        outcome_note=note.strip(),
    )
    if done:
        record(session, Action.COMPLETED, user=user, request=request, detail=note.strip())
    _finish(session, request, done)
    return done


class CallAttempt(NamedTuple):
    """A "could not reach" as recorded: the request's count, and whether this one counted."""

    attempts: int  # calls to this caller that reached nobody, by anyone
    counted: bool  # False: a repeat within UNREACHABLE_REPEAT_MINUTES, counted once already


def record_unreachable(
    session: Session, request: HelpRequest, user: User, now: datetime | None = None
) -> CallAttempt | None:
    """Count a call attempt that reached nobody; None if `user` no longer holds the request.

    The volunteer keeps the claim to try again later. From the third attempt
    on (by anyone) the request is flagged for the operators. A report within
    UNREACHABLE_REPEAT_MINUTES of the last one counted during this claim is the
    same attempt (three taps in a row are one phone that rang out) and counts
    once. One conditional UPDATE decides, over the row itself: of two reports at
    once, exactly one counts (PostgreSQL re-checks the WHERE clause on the row the
    winner left; SQLite serialises the writers).
    """
    now = now or utcnow()
    recent = now - timedelta(minutes=UNREACHABLE_REPEAT_MINUTES)
    noted = HelpRequest.unreachable_noted_at
    counted = session.execute(
        update(HelpRequest)
        .where(
            HelpRequest.id == request.id,
            _held_by(),
            # Never noted, noted long enough ago, or noted before this claim began.
            or_(noted.is_(None), noted <= recent, noted < HelpRequest.claimed_at),
        )
        .values(unreachable_count=HelpRequest.unreachable_count + 1, unreachable_noted_at=now)
        .execution_options(synchronize_session=False),
        {"me": user.id},
    ).rowcount
    row = session.execute(
        select(HelpRequest.unreachable_count, _held_by()).where(HelpRequest.id == request.id),
        {"me": user.id},
    ).one()
    attempts, still_held = row
    if counted:
        record(
            session, Action.UNREACHABLE, user=user, request=request, detail=f"attempt {attempts}"
        )
    _finish(session, request, bool(counted))
    if not counted and not still_held:
        return None
    return CallAttempt(attempts, bool(counted))


class Reopened(enum.StrEnum):
    REOPENED = "reopened"
    LIMIT_REACHED = "limit_reached"  # holding max_open_claims again meanwhile
    TOO_LATE = "too_late"  # done longer than UNDO_DONE_MINUTES ago, or not theirs


def done_undoable_until(request: HelpRequest) -> datetime | None:
    """Until when the volunteer who marked `request` done may take it back (reopen_request)."""
    if request.status != RequestStatus.DONE or request.closed_at is None:
        return None
    return request.closed_at + timedelta(minutes=UNDO_DONE_MINUTES)


def reopen_request(
    session: Session,
    request: HelpRequest,
    user: User,
    *,
    max_open_claims: int,
    now: datetime | None = None,
) -> Reopened:
    """Take back "done" soon after: the request is `user`'s claim again, as it was.

    Only the volunteer who marked it done, within UNDO_DONE_MINUTES, and within
    their claim limit. The claim keeps its first deadline (an undo does not buy
    time) and loses the outcome note (the audit log keeps it). One conditional
    UPDATE, as for every change of a claim; flushed, the view commits.
    """
    now = now or utcnow()
    reopened = session.execute(
        update(HelpRequest)
        .where(
            HelpRequest.id == request.id,
            HelpRequest.status == RequestStatus.DONE,
            HelpRequest.claimed_by_id == _ME,
            HelpRequest.closed_at > now - timedelta(minutes=UNDO_DONE_MINUTES),
            _claims_held < max_open_claims,
        )
        .values(status=RequestStatus.CLAIMED, closed_at=None, outcome_note="")
        .execution_options(synchronize_session=False),
        {"me": user.id},
    ).rowcount
    if reopened:
        record(session, Action.REOPENED, user=user, request=request)
        _finish(session, request, True)
        return Reopened.REOPENED
    _finish(session, request, False)
    undoable = done_undoable_until(request)
    if request.claimed_by_id == user.id and undoable is not None and undoable > now:
        return Reopened.LIMIT_REACHED
    return Reopened.TOO_LATE


def record_number_viewed(session: Session, request: HelpRequest, user: User) -> bool:
    """Write to the audit log that `user` is shown the caller's number, if they hold the claim.

    Called every time the number is put on a page, before it is rendered:
    False means the claim is no longer theirs and the number must not be shown.
    """
    still_held = session.scalar(
        select(func.count())
        .select_from(HelpRequest)
        .where(HelpRequest.id == request.id, _access(user) == Access.CLAIMER),
        {"me": user.id},
    )
    if not still_held:
        return False
    record(session, Action.NUMBER_VIEWED, user=user, request=request)
    session.flush()  # the page commits it before it is rendered
    return True


def claim_deadline(request: HelpRequest, timeout_hours: int) -> datetime | None:
    """When a claim returns to the board by itself unless it is marked done."""
    if request.claimed_at is None:
        return None
    return request.claimed_at + timedelta(hours=timeout_hours)


def claim_expired(request: HelpRequest, timeout_hours: int, now: datetime | None = None) -> bool:
    """Whether a claim is past its deadline, returned to the board or not yet.

    Pages that only show things check this instead of writing the return
    (expire_stale_claims does that, from the next change, cron or the
    worker): a volunteer never sees a caller's number past the deadline.
    """
    deadline = claim_deadline(request, timeout_hours)
    return deadline is not None and deadline <= (now or utcnow())


def expire_stale_claims(session: Session, timeout_hours: int, now: datetime | None = None) -> int:
    """Return claims older than `timeout_hours` to the board; how many were returned.

    Runs before every change a volunteer makes on the board (a claim, done,
    give back), from `hotline requests expire` (cron) and from the worker;
    never on a page that is only looked at. Flushed: the caller commits.
    The search is a plain indexed read, so a board with nothing stale writes
    nothing. Each return is a conditional UPDATE on the same claim (same
    volunteer, still stale): if the volunteer marks it done at that moment, or
    two servers expire at once, exactly one of them changes it and only that
    one writes the audit event. The former claimer loses access with the claim,
    and the code they knew is replaced.
    """
    cutoff = (now or utcnow()) - timedelta(hours=timeout_hours)
    stale = session.execute(
        select(HelpRequest.id, HelpRequest.claimed_by_id, HelpRequest.verification_code).where(
            HelpRequest.status == RequestStatus.CLAIMED, HelpRequest.claimed_at < cutoff
        )
    ).all()
    returned = 0
    for request_id, claimer_id, code in stale:
        result = session.execute(
            update(HelpRequest)
            .where(
                HelpRequest.id == request_id,
                HelpRequest.status == RequestStatus.CLAIMED,
                HelpRequest.claimed_by_id == claimer_id,
                HelpRequest.claimed_at < cutoff,
            )
            .values(
                status=RequestStatus.OPEN,
                claimed_by_id=None,
                claimed_at=None,
                expired_claims=HelpRequest.expired_claims + 1,
                verification_code=renewed_verification_code(code),
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            record(
                session,
                Action.EXPIRED,
                user=session.get(User, claimer_id) if claimer_id else None,
                request=session.get(HelpRequest, request_id),
                detail=f"not done within {timeout_hours} hours",
            )
            returned += 1
    if returned:
        session.flush()
        # Objects already loaded in this session must not keep the old claim.
        session.expire_all()
    return returned


def _finish(session: Session, request: HelpRequest, changed: bool) -> None:
    # Flushed, not committed: the view commits. The request in the session is
    # brought up to date either way, changed by this call or by another.
    session.flush()
    session.refresh(request)
