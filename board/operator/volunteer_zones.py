"""An operator changes the zones a volunteer serves (audited, as the volunteer's own change is)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_login import current_user

from app.accounts.profile import find_volunteer, set_zones
from app.database import db_session
from app.requests.claims import zones_served_by
from board.account_forms import ZonesForm, chosen_zones, zone_choices
from board.operator import bp


@bp.route("/volunteers/<int:user_id>/zones", methods=["GET", "POST"])
def volunteer_zones(user_id: int):
    """The zones form for one volunteer; saved, it goes back to the volunteers list."""
    session = db_session()
    operator = current_user._get_current_object()
    volunteer = find_volunteer(session, user_id, viewer=operator)
    if volunteer is None:
        abort(404)  # none, or another helpline's: the same answer
    # The zones of the operator's helplines: a volunteer's zones on other lines are
    # neither shown nor changed here.
    zones = zones_served_by(session, operator)
    offered = {zone.id for zone in zones}
    form = ZonesForm()
    zone_choices(form, zones)
    if not form.is_submitted():
        form.zones.data = [zone.id for zone in volunteer.zones if zone.id in offered]
    if form.validate_on_submit() and (choice := _chosen_here(session, form, zones, offered)):
        elsewhere = [zone for zone in volunteer.zones if zone.id not in offered]
        changed = set_zones(session, volunteer, choice + elsewhere, by=operator)
        session.commit()
        if changed:
            flash(gettext("The zones of %(name)s are saved.", name=volunteer.name), "success")
        else:
            flash(gettext("The zones of %(name)s are unchanged.", name=volunteer.name), "info")
        return redirect(url_for(".volunteers", status=volunteer.status.value))
    return render_template(
        "board/operator/volunteer_zones.html", form=form, zones=zones, volunteer=volunteer
    ), (422 if form.is_submitted() else 200)


def _chosen_here(session, form: ZonesForm, zones, offered: set[int]) -> list | None:
    """The zones chosen, as chosen_zones reads them, of the operator's helplines only."""
    choice = chosen_zones(session, form, zones)
    if choice is None:
        return None
    here = [zone for zone in choice[0] if zone.id in offered]
    if not here:
        form.zones.errors.append(gettext("Please choose at least one borough or type a postcode."))
        return None
    return here
