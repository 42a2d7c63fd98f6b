"""Forgot your password? The form that mails a reset link, and the link's page.

The form answers one neutral page for every address typed (app/accounts/password_reset.py
queues a job either way). It is throttled with the sign-in throttle's counters:
per client address (a visible wait, as for signing in) and per address typed
(silently: the page is the same, only no further mail is queued, so nobody can
fill a stranger's inbox, and the answer still tells nothing about accounts).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from limits import parse_many
from limits.strategies import FixedWindowRateLimiter
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from app.accounts import password_policy
from app.accounts.hashing_gate import HashingBusy
from app.accounts.password_reset import (
    InvalidResetLink,
    request_reset,
    reset_password,
    user_of_link,
)
from app.accounts.users import WeakPassword
from app.database import db_session
from board import bp
from board.account_forms import NEW_PASSWORD, NEW_PASSWORD_AGAIN
from board.forms import _email
from board.throttle import client_network, hashing_gate, sign_in_throttle

# Resets asked for from one client address, and mails to one address typed.
PER_CLIENT = parse_many("5 per 15 minutes; 20 per day")
PER_ADDRESS = parse_many("3 per hour; 6 per day")


class ForgotPasswordForm(FlaskForm):
    email = StringField(
        _l("E-mail"),
        validators=[DataRequired(_l("Please enter your e-mail address.")), Length(max=254), _email],
        render_kw={"autocomplete": "username", "inputmode": "email", "autocapitalize": "none"},
    )


class ResetPasswordForm(FlaskForm):
    password = NEW_PASSWORD
    password_again = NEW_PASSWORD_AGAIN

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.password.label.text = _l("New password")
        self.password_again.label.text = _l("New password again")


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    """Ask for a reset link: the same answer for every address typed."""
    if current_user.is_authenticated:
        return redirect(url_for("board.account_password"))
    form = ForgotPasswordForm()
    if not form.validate_on_submit():
        return render_template("board/password_forgot.html", form=form), (
            422 if form.is_submitted() else 200
        )
    limiter = FixedWindowRateLimiter(sign_in_throttle().storage)
    client = _key("client", client_network(request.remote_addr))
    for rate in PER_CLIENT:
        if not limiter.hit(rate, "reset", client):
            reset = limiter.get_window_stats(rate, "reset", client).reset_time
            wait = max(1, math.ceil(reset - time.time()))
            form.form_errors.append(
                ngettext(
                    "Too many requests. Please wait %(num)d minute and try again.",
                    "Too many requests. Please wait %(num)d minutes and try again.",
                    math.ceil(wait / 60),
                )
            )
            page = render_template("board/password_forgot.html", form=form)
            return page, 429, {"Retry-After": str(wait)}
    address = _key("email", form.email.data.strip().lower())
    if all(limiter.hit(rate, "reset", address) for rate in PER_ADDRESS):
        session = db_session()
        request_reset(session, form.email.data, str(get_locale()))
        session.commit()
    return render_template("board/password_forgot_sent.html")


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password_page(token: str):
    """The link's page: a new password, once, within the hour."""
    settings = current_app.config["HOTLINE"]
    session = db_session()
    if user_of_link(session, settings, token) is None:
        return render_template("board/password_reset_invalid.html"), 410
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            with hashing_gate().slot():
                reset_password(session, settings, token, form.password.data)
        except HashingBusy:
            form.form_errors.append(
                _("Many people are signing in right now. Please try again in a moment.")
            )
            return render_template("board/password_reset.html", form=form), 503
        except WeakPassword as e:
            session.rollback()
            form.password.errors.append(password_policy.MESSAGES[e.weakness])
        except InvalidResetLink:
            session.rollback()
            return render_template("board/password_reset_invalid.html"), 410
        else:
            session.commit()
            flash(_("Your new password is set. Please sign in with it."), "success")
            return redirect(url_for("board.login"))
    status = 422 if form.is_submitted() else 200
    return render_template("board/password_reset.html", form=form), status


def _key(kind: str, value: str) -> str:
    # Keyed hashes, as the sign-in throttle's: the counters hold no address.
    secret = current_app.config["HOTLINE"].secret_key.encode()
    return hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:24]
