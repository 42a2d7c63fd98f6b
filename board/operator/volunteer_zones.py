"""An operator changes the zones a volunteer serves (audited, as the volunteer's own change is)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_login import current_user

from app.accounts.profile import find_volunteer, set_zones
from app.database import db_session
from app.zones.postcodes import all_zones
from board.account_forms import ZonesForm, chosen_zones, zone_choices
from board.operator import bp


@bp.route("/volunteers/<int:user_id>/zones", methods=["GET", "POST"])
def volunteer_zones(user_id: int):
    """The zones form for one volunteer; saved, it goes back to the volunteers list."""
    session = db_session()
    volunteer = find_volunteer(session, user_id)
    if volunteer is None:
        abort(404)
    zones = all_zones(session)
    form = ZonesForm()
    zone_choices(form, zones)
    if not form.is_submitted():
        form.zones.data = [zone.id for zone in volunteer.zones]
    if form.validate_on_submit() and (choice := chosen_zones(session, form, zones)):
        changed = set_zones(session, volunteer, choice[0], by=current_user._get_current_object())
        session.commit()
        if changed:
            flash(gettext("The zones of %(name)s are saved.", name=volunteer.name), "success")
        else:
            flash(gettext("The zones of %(name)s are unchanged.", name=volunteer.name), "info")
        return redirect(url_for(".volunteers", status=volunteer.status.value))
    return render_template(
        "board/operator/volunteer_zones.html", form=form, zones=zones, volunteer=volunteer
    ), (422 if form.is_submitted() else 200)
