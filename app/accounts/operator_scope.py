"""What an operator sees: the helplines they run, and what belongs to those helplines.

The one home of that rule. An operator runs the helplines listed for them in
`operator_helplines`; an admin runs every helpline, those configured later
included. An operator sees their helplines' requests, calls (and so callers'
numbers), the volunteers who serve or signed up for their zones, and the audit
events about those; never another helpline's. Every operator page and every
export asks the expressions below, inside its own query, so that a row of
another helpline is not merely hidden but never read: a page for it answers as
for a row that does not exist.

A call whose helpline is unknown (NULL: logged before its helpline's row
existed) belongs to no helpline: only an admin sees it.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import Session, aliased, selectinload

from app.models import (
    OPERATOR_ROLES,
    AccountStatus,
    AuditEvent,
    HelplineRow,
    HelpRequest,
    Role,
    User,
    Zone,
    operator_helplines,
    user_zones,
)

_ZONE = aliased(Zone, name="scope_zone")
_REQUEST = aliased(HelpRequest, name="scope_request")
_OTHER = aliased(operator_helplines, name="scope_other")


def helplines_run_by(operator_id):
    """The ids of the helplines an operator (an id, or a bound parameter) is listed for."""
    return select(operator_helplines.c.helpline_id).where(
        operator_helplines.c.user_id == operator_id
    )


def runs_helpline(helpline_id, operator_id, *, admin: bool) -> ColumnElement[bool]:
    """Whether the operator `operator_id` runs the helpline `helpline_id` (a column).

    `operator_id` may be a bound parameter (app/requests/claims.py builds its
    expressions once, for anyone); `admin`: they run every helpline.
    """
    if admin:
        return true()
    return helpline_id.in_(helplines_run_by(operator_id))


def zone_run_by(zone_id, operator_id, *, admin: bool) -> ColumnElement[bool]:
    """Whether the zone `zone_id` (a column) belongs to a helpline the operator runs."""
    if admin:
        return true()
    return zone_id.in_(
        select(_ZONE.id).where(runs_helpline(_ZONE.helpline_id, operator_id, admin=False))
    )


def in_scope(user: User | None, helpline_id) -> ColumnElement[bool]:
    """Whether the helpline `helpline_id` (a column of requests, calls, zones) is `user`'s:
    every one for an admin, their own for an operator, none for anyone else.

    `user` None (here and below): no one in particular, a command run by whoever
    runs the deployment: everything.
    """
    if user is None:
        return true()
    if not user.is_operator:
        return false()
    return runs_helpline(helpline_id, user.id, admin=user.is_admin)


def volunteer_in_scope(user: User | None, person_id=User.id) -> ColumnElement[bool]:
    """Whether the volunteer `person_id` (a column) is `user`'s to see and vet: they serve,
    or signed up for, a zone of one of `user`'s helplines (sign-up records the zones
    chosen, pending or not)."""
    if user is None or user.is_admin:
        return true()
    return person_id.in_(
        select(user_zones.c.user_id)
        .join(_ZONE, _ZONE.id == user_zones.c.zone_id)
        .where(in_scope(user, _ZONE.helpline_id))
    )


def person_in_scope(user: User | None, person_id=User.id) -> ColumnElement[bool]:
    """Whether the person `person_id` (a column) is one `user` may see in the audit log:
    a volunteer of their helplines, an operator who runs one of them, or themselves."""
    if user is None or user.is_admin:
        return true()
    colleagues = select(_OTHER.c.user_id).where(_OTHER.c.helpline_id.in_(helplines_run_by(user.id)))
    return or_(person_id == user.id, volunteer_in_scope(user, person_id), person_id.in_(colleagues))


def event_in_scope(user: User | None) -> ColumnElement[bool]:
    """Whether an audit event is `user`'s to read: about a request of their helplines;
    else about a person of theirs; else done by one. Events of nobody about nothing (the
    retention purge, a command-line export) concern the whole deployment and name no
    caller: every operator reads them."""
    if user is None or user.is_admin:
        return true()
    request_of_scope = AuditEvent.request_id.in_(
        select(_REQUEST.id).where(in_scope(user, _REQUEST.helpline_id))
    )
    return or_(
        and_(AuditEvent.request_id.is_not(None), request_of_scope),
        and_(
            AuditEvent.request_id.is_(None),
            AuditEvent.subject_user_id.is_not(None),
            person_in_scope(user, AuditEvent.subject_user_id),
        ),
        and_(
            AuditEvent.request_id.is_(None),
            AuditEvent.subject_user_id.is_(None),
            or_(AuditEvent.user_id.is_(None), person_in_scope(user, AuditEvent.user_id)),
        ),
    )


def helplines_of(session: Session, user: User) -> list[HelplineRow]:
    """The helplines `user` runs, in the configuration's order (every one for an admin)."""
    if not user.is_operator:
        return []
    query = select(HelplineRow).where(in_scope(user, HelplineRow.id)).order_by(HelplineRow.id)
    return list(session.scalars(query))


def operators_of(helpline_ids) -> ColumnElement[bool]:
    """Whether a user (the row of User) is an approved-or-not operator of any of these
    helplines, or an admin: who hears of a sign-up for them."""
    return or_(
        User.role == Role.ADMIN,
        and_(
            User.role == Role.OPERATOR,
            User.id.in_(
                select(operator_helplines.c.user_id).where(
                    operator_helplines.c.helpline_id.in_(helpline_ids)
                )
            ),
        ),
    )


class ScopeError(ValueError):
    """The helplines cannot be given as asked; the message says why."""


def set_helplines(session: Session, operator: User, slugs: list[str]) -> list[HelplineRow]:
    """Make `operator` run exactly the helplines `slugs` (at least one); only flushes."""
    if operator.role not in OPERATOR_ROLES:
        raise ScopeError(f"{operator.email} is not an operator")
    if not slugs:
        raise ScopeError("name at least one helpline")
    rows = {row.slug: row for row in session.scalars(select(HelplineRow))}
    unknown = [slug for slug in slugs if slug not in rows]
    if unknown:
        known = ", ".join(sorted(rows)) or "none yet: run `hotline setup`"
        raise ScopeError(f"no helpline {unknown[0]!r} (known: {known})")
    operator.helplines = [rows[slug] for slug in dict.fromkeys(slugs)]
    session.flush()
    return operator.helplines


def change_helplines(
    session: Session, operator: User, slugs: list[str], *, by: User | None
) -> tuple[list[HelplineRow], bool]:
    """Make an operator (not an admin: they run every one) run exactly `slugs`, audited.

    The one change behind `hotline users helplines` and the operators page; `by` is the
    admin who changed it (None: a command). Returns the helplines and whether that
    changed anything. Only flushes.
    """
    from app import audit  # here: app.audit reads its scope from this module

    if operator.is_admin:
        raise ScopeError(f"{operator.email} is an admin, who runs every helpline")
    before = {row.id for row in operator.helplines}
    rows = set_helplines(session, operator, slugs)
    changed = {row.id for row in rows} != before
    if changed:
        audit.record(
            session,
            audit.Action.HELPLINES_CHANGED,
            user=by,
            subject=operator,
            detail=", ".join(row.slug for row in rows),
        )
        session.flush()
    return rows, changed


def list_operators(session: Session) -> list[User]:
    """Every operator and admin with an account, by name: who runs which helpline."""
    query = (
        select(User)
        .options(selectinload(User.helplines))
        .where(User.role.in_(OPERATOR_ROLES), User.status != AccountStatus.DELETED)
        .order_by(User.name, User.id)
    )
    return list(session.scalars(query))
