"""Signing up, signing in and out, and the account page (which tells a new volunteer they wait)."""

from __future__ import annotations

from functools import wraps
from itertools import groupby

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from wtforms.fields.choices import SelectChoice

from app.accounts.users import (
    LOCK_MINUTES,
    LOGIN_ATTEMPTS,
    AccountError,
    authenticate,
    find_by_email,
    register_volunteer,
)
from app.database import db_session
from app.requests.claims import zones_served_by
from app.zones.postcodes import all_zones, postcodes_in_text, zones_for_postcodes
from board import bp, local_path
from board.forms import LoginForm, SignupForm


def approved_required(view):
    """Signed in with an approved account; anyone else sees that they wait (403)."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.approved:
            return render_account(status=403)
        return view(*args, **kwargs)

    return wrapped


def render_account(status: int = 200):
    """The account page: status and zones; for anyone not approved, that they wait."""
    zones = zones_served_by(db_session(), current_user)
    return render_template("board/account.html", zones=zones), status


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
        user = authenticate(
            db_session(),
            form.email.data,
            form.password.data,
            hash_cost=current_app.config["HOTLINE"].password_hash_cost,
        )
        if user is not None:
            login_user(user)
            return redirect(local_path(request.args.get("next"), home_of(user)))
        # One answer for a wrong password, an unknown e-mail and a locked
        # account alike: nobody learns from it whether an account exists.
        form.form_errors.append(
            _(
                "The e-mail address or the password is not right. After %(n)d wrong tries "
                "signing in is blocked for %(minutes)d minutes.",
                n=LOGIN_ATTEMPTS,
                minutes=LOCK_MINUTES,
            )
        )
    status = 422 if form.is_submitted() else 200
    return render_template("board/login.html", form=form), status


@bp.post("/logout")
def logout():
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
    form.zones.choices = [SelectChoice(zone.id, zone.name) for zone in zones]
    if form.is_submitted():
        # Every field is checked in one round, the zones too: nobody should fix one
        # error only to be shown the next.
        fields_valid = form.validate()
        chosen = {zone.id: zone for zone in zones if zone.id in (form.zones.data or [])}
        found, unknown = {}, []
        if not form.postcodes.errors:
            found, unknown = zones_for_postcodes(session, postcodes_in_text(form.postcodes.data))
        for postcode in found.values():
            chosen.setdefault(postcode.zone_id, postcode.zone)
        if unknown:
            form.postcodes.errors.append(
                _(
                    "We do not know these postcodes in our area: %(codes)s. "
                    "Please check them, or choose boroughs instead.",
                    codes=", ".join(unknown),
                )
            )
        elif not chosen and not form.postcodes.errors:
            form.zones.errors.append(_("Please choose at least one borough or type a postcode."))
        if not form.email.errors and find_by_email(session, form.email.data or ""):
            form.email.errors.append(_already_registered())
        if fields_valid and not form.errors:
            try:
                user = register_volunteer(
                    session,
                    name=form.name.data,
                    email=form.email.data,
                    phone=form.phone.data,
                    password=form.password.data,
                    hash_cost=current_app.config["HOTLINE"].password_hash_cost,
                    zones=list(chosen.values()),
                    language=str(get_locale()),
                )
            except AccountError:
                form.email.errors.append(_already_registered())
            else:
                login_user(user)
                for code, postcode in found.items():
                    flash(
                        _(
                            "Postcode %(code)s belongs to %(zone)s.",
                            code=code,
                            zone=postcode.zone.name,
                        ),
                        "info",
                    )
                return redirect(url_for("board.account"))
    status = 422 if form.is_submitted() else 200
    return render_template(
        "board/signup.html",
        form=form,
        areas=[(area, list(group)) for area, group in groupby(zones, key=lambda z: z.area)],
        several_areas=len({zone.area for zone in zones}) > 1,
        max_open_claims=current_app.config["HOTLINE"].max_open_claims,
    ), status


def _already_registered() -> str:
    # Without e-mail confirmation a sign-up cannot hide that an address is
    # registered; it points to signing in instead.
    return _("There is already an account with this e-mail address. Please sign in instead.")


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
