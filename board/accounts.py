"""Signing up, signing in and out, and the account page (which tells a new volunteer they wait)."""

from __future__ import annotations

import contextlib
import math
from functools import wraps

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from wtforms.fields.choices import SelectChoice

from app.accounts.confirmation import queue_confirmation, queue_taken_notice
from app.accounts.hashing_gate import HashingBusy
from app.accounts.sessions import end_sessions
from app.accounts.users import (
    AccountError,
    authenticate,
    find_by_email,
    hash_password,
    register_volunteer,
)
from app.database import db_session
from app.requests.claims import zones_served_by
from app.zones.postcodes import all_zones
from board import bp, local_path
from board.account_forms import chosen_zones
from board.forms import LoginForm, SignupForm
from board.throttle import Refusal, hashing_gate, sign_in_throttle


def approved_required(view):
    """Signed in with an approved account; anyone else sees that they wait (403)."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.approved:
            return render_account(status=403)
        return view(*args, **kwargs)

    return wrapped


def render_account(status: int = 200, alert_form=None):
    """The account page: status, zones and alerts; for anyone not approved, that they wait."""
    from board.alert_settings import alert_form as new_alert_form

    zones = zones_served_by(db_session(), current_user)
    form = alert_form or new_alert_form(current_user)
    return render_template("board/account.html", zones=zones, alert_form=form), status


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(home_of(current_user))
    return render_template("board/index.html")


def home_of(user) -> str:
    """Where a signed-in person starts: operators on their dashboard, volunteers on the board."""
    if not user.approved:
        return url_for("board.account")
    return url_for("operator.dashboard" if user.is_operator else "board.requests")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("board.index"))
    form = LoginForm()
    if form.validate_on_submit():
        address = request.remote_addr  # the proxy's forwarded one with trusted_proxies
        try:
            # A turn of the bounded password checks first: an attempt asked to come
            # back costs nothing more, and is not counted (no password was checked).
            with hashing_gate().slot():
                refused = sign_in_throttle().attempt(form.email.data, address)
                user = None
                if refused is None:
                    user = authenticate(
                        db_session(),
                        form.email.data,
                        form.password.data,
                        hash_cost=current_app.config["HOTLINE"].password_hash_cost,
                    )
        except HashingBusy:
            form.form_errors.append(
                _("Many people are signing in right now. Please try again in a moment.")
            )
            return _login_page(form, 503, {"Retry-After": "2"})
        if refused is not None:
            _log_refusal(refused, form.email.data, address)
            # The same for every e-mail address typed: it tells nothing about accounts.
            wait = refused.wait_seconds
            form.form_errors.append(
                ngettext(
                    "Too many sign-in attempts. Please wait %(num)d minute and try again.",
                    "Too many sign-in attempts. Please wait %(num)d minutes and try again.",
                    math.ceil(wait / 60),
                )
            )
            return _login_page(form, 429, {"Retry-After": str(wait)})
        if user is not None:
            sign_in_throttle().succeeded(form.email.data, address)
            login_user(user)
            return redirect(local_path(request.args.get("next"), home_of(user)))
        # One answer for a wrong password and an unknown e-mail alike: nobody
        # learns from it whether an account exists.
        form.form_errors.append(_("The e-mail address or the password is not right."))
    return _login_page(form, 422 if form.is_submitted() else 200, {})


def _log_refusal(refused: Refusal, email: str, address: str | None) -> None:
    """One line in the server's log for operators: who is being slowed down, and by what.

    The e-mail is named only when it is an account's (what someone types there
    may be a password); the client address always.
    """
    user = find_by_email(db_session(), email) if refused.limit != "address" else None
    current_app.logger.warning(
        "Sign-in throttled: %s limit %s reached from %s%s; asked to wait %d s",
        {"address": "per-address", "pair": "per-account-and-address"}.get(
            refused.limit, "per-account"
        ),
        refused.rate,
        address,
        f" for {user.email}" if user else "",
        refused.wait_seconds,
    )


def _login_page(form: LoginForm, status: int, headers: dict):
    return render_template("board/login.html", form=form), status, headers


@bp.post("/logout")
def logout():
    # Every session of the account ends, not only this browser's: a copy of
    # the cookie (a shared computer, a stolen phone) opens nothing afterwards.
    if current_user.is_authenticated:
        session = db_session()
        end_sessions(session, current_user.id)
        session.commit()
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("board.index"))


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("board.index"))
    session = db_session()
    zones = all_zones(session)
    form = SignupForm()
    status = None
    form.zones.choices = [SelectChoice(zone.id, zone.name) for zone in zones]
    if form.is_submitted():
        # Every field is checked in one round, the zones too: nobody should fix one
        # error only to be shown the next.
        fields_valid = form.validate()
        choice = chosen_zones(session, form, zones)
        chosen, found = choice or ([], {})
        # A taken address is not an error here: the answer must not tell whether an
        # account exists (_sign_up answers it exactly as a new one).
        if fields_valid and not form.errors:
            try:
                with hashing_gate().slot():
                    _sign_up(session, form, chosen)
            except HashingBusy:
                form.form_errors.append(
                    _("Many people are signing up right now. Please try again in a moment.")
                )
                status = 503
            else:
                for code, zone in found.items():
                    flash(
                        _("Postcode %(code)s belongs to %(zone)s.", code=code, zone=zone.name),
                        "info",
                    )
                return redirect(url_for("board.signed_up"))
    if status is None:
        status = 422 if form.is_submitted() else 200
    return render_template(
        "board/signup.html",
        form=form,
        zones=zones,
        max_open_claims=current_app.config["HOTLINE"].max_open_claims,
    ), status


def _sign_up(session, form: SignupForm, zones: list) -> None:
    """A new pending account with its confirmation mail, or, for an address that has
    an account, a mail to its owner: the same answer on the page either way.

    Telling "there is already an account" would let anyone find out who
    volunteers here (issue 13). The password is hashed and a mail queued in
    both cases, so the time taken tells nothing either.
    """
    settings = current_app.config["HOTLINE"]
    language = str(get_locale())
    owner = find_by_email(session, form.email.data)
    if owner is not None:
        hash_password(form.password.data, settings.password_hash_cost)
        queue_taken_notice(session, settings, owner, language)
        session.commit()
        return
    # AccountError: the same address signed up at this very moment: the same answer.
    with contextlib.suppress(AccountError):
        user = register_volunteer(
            session,
            name=form.name.data,
            email=form.email.data,
            phone=form.phone.data,
            password=form.password.data,
            hash_cost=settings.password_hash_cost,
            zones=zones,
            language=language,
        )
        queue_confirmation(session, settings, user, language)
        session.commit()


@bp.get("/signup/thanks")
def signed_up():
    """What every sign-up is answered with, whether the address was new or not."""
    return render_template("board/signed_up.html")


@bp.get("/account")
@login_required
def account():
    return render_account()


ACCOUNT_STATUS = {
    "pending": _l("Waiting for approval"),
    "approved": _l("Approved"),
    "rejected": _l("Not approved"),
    "suspended": _l("Suspended"),
}


@bp.app_context_processor
def _account_status_names():
    return {"account_status_names": ACCOUNT_STATUS}
