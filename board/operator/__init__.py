"""The operators' pages: dashboard, volunteer approval, attention list, audit log, export.

Operators only. Every view goes through the blueprint's check below: an
anonymous visitor is sent to the login, anyone signed in who is not an
approved operator (a volunteer, a suspended operator) gets 403.
"""

from flask import Blueprint, abort
from flask_login import current_user, login_required

bp = Blueprint("operator", __name__, url_prefix="/operator")


@bp.before_request
@login_required
def operators_only():
    # Checked on every request rather than at login: an operator suspended
    # or demoted a minute ago must not keep the pages open in a tab.
    if not (current_user.is_operator and current_user.approved):
        abort(403)


@bp.context_processor
def _pending_signups():
    """How many sign-ups wait for a decision: beside "Volunteers" on every operator page.

    A function, counted only when the operators' navigation is drawn: an error page
    (a 403, the database away) must not ask the database.
    """
    from functools import cache

    from app.accounts.approval import status_counts
    from app.database import db_session
    from app.models import AccountStatus

    @cache  # once per page: the navigation and the dashboard both show it
    def pending_signups() -> int:
        return status_counts(db_session(), viewer=current_user)[AccountStatus.PENDING]

    return {"pending_signups": pending_signups}


@bp.after_request
def never_cached(response):
    # These pages show callers' numbers and volunteers' contacts: no browser
    # cache or shared proxy may keep a copy (the back button on a shared
    # computer included).
    response.headers["Cache-Control"] = "no-store"
    return response


from board.operator import (  # noqa: E402, F401  (routes register on bp)
    jobs,
    operators,
    posters,
    views,
    volunteer_zones,
)
