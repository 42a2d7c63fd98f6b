"""The admin's page of operators: who runs which helplines, and changing that.

The same change as `hotline users helplines` (app/accounts/operator_scope.py), audited.
Admins only: an operator of some lines must not widen their own scope, so for them
the page is forbidden, as the operator pages are for a volunteer (403).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from app.accounts.operator_scope import ScopeError, change_helplines, list_operators
from app.database import db_session
from app.models import AccountStatus, HelplineRow, Role, User
from board.operator import bp

DELETED = AccountStatus.DELETED


def _admins_only() -> None:
    if not current_user.is_admin:
        abort(403)


@bp.get("/operators")
def operators():
    _admins_only()
    return _page()


@bp.post("/operators/<int:user_id>/helplines")
def operator_helplines(user_id: int):
    """Save the helplines one operator runs; at least one stays ticked."""
    _admins_only()  # (the CSRF token is checked for every POST: app/__init__.py)
    session = db_session()
    operator = session.get(User, user_id)
    if operator is None or operator.role != Role.OPERATOR or operator.status == DELETED:
        abort(404)  # an admin runs every line: nothing to choose
    slugs = request.form.getlist("helplines")
    known = set(session.scalars(select(HelplineRow.slug)))
    if not slugs or not set(slugs) <= known:
        error = gettext("Tick at least one helpline for %(name)s.", name=operator.name)
        return _page(error=(operator.id, error, slugs)), 422
    try:
        _rows, changed = change_helplines(
            session, operator, slugs, by=current_user._get_current_object()
        )
    except ScopeError:  # changed meanwhile (made an admin, say)
        abort(404)
    session.commit()
    if changed:
        flash(gettext("The helplines of %(name)s are saved.", name=operator.name), "success")
    else:
        flash(gettext("The helplines of %(name)s are unchanged.", name=operator.name), "info")
    return redirect(url_for(".operators", _anchor=f"operator-{operator.id}"))


def _page(error: tuple[int, str, list[str]] | None = None):
    session = db_session()
    return render_template(
        "board/operator/operators.html",
        people=list_operators(session),
        helplines=list(session.scalars(select(HelplineRow).order_by(HelplineRow.id))),
        error=error,
    )
