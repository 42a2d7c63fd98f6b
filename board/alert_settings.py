"""How a volunteer hears of new requests: chosen on the account page, stopped by a link.

The link in every alert e-mail turns alerts off without signing in: it is
signed with the secret key (app/messaging/alerts.py). Opening it shows a button
(a GET never changes anything: mail scanners open links); pressing it, or a mail
program's one-click unsubscribe (RFC 8058: a POST without our CSRF token), does.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField
from wtforms.validators import Length

from app.database import db_session
from app.messaging import alerts
from app.messaging.sms import mobile_number
from app.models import AlertChannel, User
from board import bp

CHANNEL_LABELS = {
    AlertChannel.EMAIL: _l("By e-mail"),
    AlertChannel.SMS: _l("By SMS"),
    AlertChannel.NONE: _l("Not at all"),
}


class AlertForm(FlaskForm):
    channel = RadioField(_l("New requests in my zones"))
    mobile = StringField(
        _l("Mobile number for SMS"),
        validators=[Length(max=32)],
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )


def alert_form(user: User, formdata=None) -> AlertForm:
    """The form as the account page shows it; SMS only when the hotline has a number."""
    settings = current_app.config["HOTLINE"]
    form = AlertForm(formdata=formdata, channel=user.alert_channel, mobile=user.phone)
    offered = [AlertChannel.EMAIL, AlertChannel.NONE]
    if settings.twilio_phone_number:
        offered.insert(1, AlertChannel.SMS)
    form.channel.choices = [(str(c), CHANNEL_LABELS[c]) for c in offered]
    return form


@bp.post("/account/alerts")
@login_required
def change_alerts():
    """Save how the volunteer wants to hear of new requests."""
    from board.accounts import render_account

    form = alert_form(current_user, formdata=request.form)
    if not form.validate_on_submit():
        return render_account(status=422, alert_form=form)
    channel = AlertChannel(form.channel.data)
    mobile = ""
    if channel == AlertChannel.SMS:
        hotline = current_app.config["HOTLINE"].twilio_phone_number
        mobile = mobile_number(form.mobile.data or "", hotline) or ""
        if not mobile:
            form.mobile.errors.append(
                _(
                    "Please enter a mobile number such as 0151 23456789: "
                    "texts cannot reach a landline."
                )
            )
            return render_account(status=422, alert_form=form)
    alerts.set_channel(db_session(), current_user, channel, phone=mobile)
    db_session().commit()
    flash(_("Saved: %(how)s.", how=CHANNEL_LABELS[channel]), "success")
    return redirect(url_for("board.account"))


@bp.route("/alerts/stop/<token>", methods=["GET", "POST"])
def stop_alerts(token: str):
    """Turn a volunteer's alerts off from the link in an alert (no sign-in needed)."""
    settings = current_app.config["HOTLINE"]
    user_id = alerts.user_of_unsubscribe_token(settings, token)
    user = db_session().get(User, user_id) if user_id is not None else None
    if user is None:
        abort(404)
    if request.method == "POST":
        alerts.set_channel(db_session(), user, AlertChannel.NONE)
        db_session().commit()
        return render_template("board/alerts_stopped.html", done=True)
    return render_template("board/alerts_stopped.html", done=False)


@bp.record_once
def _one_click_without_csrf_token(state) -> None:
    # Mail programs send the one-click POST without our form's token; the signed
    # link is the proof instead (and all it can do is stop alerts).
    state.app.extensions["csrf"].exempt(f"{__name__}.stop_alerts")
