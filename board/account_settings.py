"""Changing one's own account: name and phone, zones, password; deleting it.

Thin views over app.accounts.profile and app.accounts.erasure. Every signed-in
person may change their details and password; zones and deleting the account
are a volunteer's (operators serve every zone, and are made and removed from
the command line). Each form answers a mistake with the form again (422) and
changes nothing.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user

from app.accounts import password_policy
from app.accounts.erasure import delete_volunteer_account
from app.accounts.profile import set_zones, update_details
from app.accounts.sessions import change_password
from app.accounts.users import AccountError, WeakPassword, password_matches
from app.database import db_session
from app.models import AccountStatus
from app.zones.postcodes import all_zones
from board import bp
from board.account_forms import (
    DeleteAccountForm,
    DetailsForm,
    PasswordForm,
    ZonesForm,
    chosen_zones,
    zone_choices,
)


def _status(form) -> int:
    return 422 if form.is_submitted() else 200


def _me():
    """The signed-in account itself (not Flask-Login's proxy), for the services."""
    return current_user._get_current_object()


def _volunteers_only() -> None:
    if current_user.is_operator:
        abort(404)


@bp.route("/account/details", methods=["GET", "POST"])
@login_required
def account_details():
    form = DetailsForm(obj=current_user)
    if form.validate_on_submit():
        update_details(db_session(), _me(), name=form.name.data, phone=form.phone.data)
        db_session().commit()
        flash(_("Your name and phone number are saved."), "success")
        return redirect(url_for("board.account"))
    return render_template("board/account_details.html", form=form), _status(form)


@bp.route("/account/zones", methods=["GET", "POST"])
@login_required
def account_zones():
    _volunteers_only()
    session = db_session()
    zones = all_zones(session)
    form = ZonesForm()
    zone_choices(form, zones)
    if not form.is_submitted():
        form.zones.data = [zone.id for zone in current_user.zones]
    if form.validate_on_submit() and (choice := chosen_zones(session, form, zones)):
        chosen, found = choice
        me = _me()
        set_zones(session, me, chosen, by=me)
        session.commit()
        for code, zone in found.items():
            flash(_("Postcode %(code)s belongs to %(zone)s.", code=code, zone=zone.name), "info")
        flash(_("Your zones are saved."), "success")
        return redirect(url_for("board.account"))
    return render_template("board/account_zones.html", form=form, zones=zones), _status(form)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def account_password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            me = _me()
            change_password(
                db_session(),
                me,
                form.password.data,
                current_app.config["HOTLINE"].password_hash_cost,
                current=form.current.data,
                by=me,
            )
        except WeakPassword as e:
            db_session().rollback()
            form.password.errors.append(password_policy.MESSAGES[e.weakness])
        except AccountError:
            db_session().rollback()
            form.current.errors.append(_("This is not your current password."))
        else:
            db_session().commit()
            # Every other session of the account has ended; this browser signs in anew.
            login_user(me)
            flash(_("Your new password is saved. You were signed out everywhere else."), "success")
            return redirect(url_for("board.account"))
    return render_template("board/account_password.html", form=form), _status(form)


@bp.route("/account/delete", methods=["GET", "POST"])
@login_required
def account_delete():
    _volunteers_only()
    form = DeleteAccountForm()
    if form.validate_on_submit():
        if not password_matches(current_user, form.password.data):
            form.password.errors.append(_("This is not your password."))
        else:
            me = _me()
            returned = delete_volunteer_account(db_session(), me, by=me)
            db_session().commit()
            logout_user()
            flash(_("Your account and your personal data are deleted. Thank you for helping!"))
            if returned:
                flash(
                    ngettext(
                        "The request you had taken is back on the board for other volunteers.",
                        "The %(num)d requests you had taken are back on the board for other "
                        "volunteers.",
                        returned,
                    ),
                    "info",
                )
            return redirect(url_for("board.index"))
    return render_template("board/account_delete.html", form=form), _status(form)


@bp.app_template_filter("person_name")
def person_name(user) -> str:
    """Who a person is on the operators' pages: their name, or "a deleted volunteer"."""
    if user.status == AccountStatus.DELETED:
        return _("a deleted volunteer")
    return user.name
