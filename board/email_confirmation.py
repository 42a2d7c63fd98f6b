"""The link of the sign-up mail: a button that confirms the address (a GET changes nothing).

Mail programs and scanners open links on their own; only the button, a POST,
confirms. The signed link is the proof, so the POST needs no CSRF token
(there is no session to protect, and all it can do is confirm that address).
"""

from __future__ import annotations

from flask import current_app, render_template, request

from app.accounts.confirmation import confirm, user_of_link
from app.database import db_session
from board import bp


@bp.route("/signup/confirm/<token>", methods=["GET", "POST"])
def confirm_email(token: str):
    """Show the button, or confirm the address when it is pressed."""
    session = db_session()
    user = user_of_link(session, current_app.config["HOTLINE"], token)
    if user is None:
        return render_template("board/email_confirmed.html", state="invalid"), 410
    if request.method == "POST":
        confirm(session, user)
        session.commit()
        return render_template("board/email_confirmed.html", state="done", user=user)
    if user.email_confirmed_at is not None:
        return render_template("board/email_confirmed.html", state="done", user=user)
    return render_template("board/email_confirmed.html", state="ask", user=user)


@bp.record_once
def _confirmed_by_the_link_alone(state) -> None:
    state.app.extensions["csrf"].exempt(f"{__name__}.confirm_email")
