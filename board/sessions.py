"""How long a sign-in lasts: until sign-out, a new password, suspension or rejection, or idleness.

The session cookie is signed, not stored on the server, so a copy of it would
open the account for as long as it is accepted. Two things end that:

- The cookie names the account by its id and its session version
  (User.get_id). Signing out, a new password, suspension and rejection raise
  the version (app/accounts/sessions.py, app/approval.py): every cookie of the
  account, copies included, names an old version from then on and opens
  nothing.
- It carries when it was last used; after `session_idle_minutes` without a
  page, it opens nothing either. The time is renewed at most once a minute,
  so that not every page sends a new cookie.
"""

from __future__ import annotations

import time

from flask import current_app, flash, session
from flask_babel import lazy_gettext as _l
from flask_login import user_logged_in

from app.database import db_session
from app.models import User

LAST_SEEN = "_seen"
RENEW_AFTER_SECONDS = 60
# What Flask-Login keeps in the session about who is signed in.
SIGN_IN_KEYS = ("_user_id", "_fresh", "_id", LAST_SEEN)


def load_user(user_id: str) -> User | None:
    """The account a session cookie names, if that session has not ended."""
    account, _, version = user_id.partition(":")
    if not (account.isdigit() and version.isdigit()):
        return _ended()
    user = db_session().get(User, int(account))
    if user is None or user.session_version != int(version):
        return _ended()
    now = int(time.time())
    seen = session.get(LAST_SEEN)
    minutes = current_app.config["HOTLINE"].session_idle_minutes
    if not isinstance(seen, int) or now - seen > minutes * 60:
        message = _l(
            "You were signed out after %(minutes)d minutes without activity. Please sign in again.",
            minutes=minutes,
        )
        return _ended(message)
    if now - seen >= RENEW_AFTER_SECONDS:
        session[LAST_SEEN] = now
    return user


def _ended(message=None) -> None:
    # Forget the sign-in, so that the next page does not look it up again.
    for key in SIGN_IN_KEYS:
        session.pop(key, None)
    if message is not None:
        flash(str(message), "info")
    return None


@user_logged_in.connect
def _started(_app, user, **_extra) -> None:
    """A sign-in starts the idle clock."""
    session[LAST_SEEN] = int(time.time())
