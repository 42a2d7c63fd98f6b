"""The account pages' forms: name and phone, zones, a new password, deleting the account.

Each field a person also filled in at sign-up is the sign-up form's own field
(label, hint and rules), so that what is accepted once is accepted again.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import PasswordField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from app.models import Postcode, Zone
from app.zones.postcodes import postcodes_in_text, zones_for_postcodes
from board.forms import SignupForm

# The rules a new password must meet: the sign-up form's, so that a changed password
# is held to the standard of a first one. The one place to change them for both pages.
NEW_PASSWORD = SignupForm.password
NEW_PASSWORD_AGAIN = SignupForm.password_again


class DetailsForm(FlaskForm):
    name = SignupForm.name
    phone = SignupForm.phone


class ZonesForm(FlaskForm):
    zones = SignupForm.zones
    postcodes = SignupForm.postcodes


class PasswordForm(FlaskForm):
    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired(_l("Please enter your current password.")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    password = NEW_PASSWORD
    password_again = NEW_PASSWORD_AGAIN

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.password.label.text = _l("New password")
        self.password_again.label.text = _l("New password again")


class DeleteAccountForm(FlaskForm):
    password = PasswordField(
        _l("Your password"),
        description=_l("To be sure it is you."),
        validators=[DataRequired(_l("Please enter your password.")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )


def zone_choices(form: ZonesForm, zones: list[Zone]) -> None:
    """Offer every zone as a checkbox."""
    form.zones.choices = [SelectChoice(zone.id, zone.name) for zone in zones]


def chosen_zones(
    session: Session, form: ZonesForm | SignupForm, zones: list[Zone]
) -> tuple[list[Zone], dict[str, Zone]] | None:
    """The zones ticked and those of the postcodes typed, with the zone each postcode was
    read as; `zones` are those offered. Sign-up, the account page and the operator's
    page all read the form so.

    None, with the error on the form, when a postcode is unknown, is held by zones of
    more than one helpline and none of them is ticked (we don't guess which city a
    person meant), or nothing was chosen.
    """
    chosen = {zone.id: zone for zone in zones if zone.id in (form.zones.data or [])}
    found: dict[str, Zone] = {}
    unknown, unclear = [], []
    if not form.postcodes.errors:
        rows, unknown = zones_for_postcodes(
            session, postcodes_in_text(form.postcodes.data), {zone.id for zone in zones}
        )
        for code, postcodes in rows.items():
            ticked = [p.zone for p in postcodes if p.zone_id in chosen]
            if len(postcodes) == 1 or ticked:
                found[code] = (ticked or [postcodes[0].zone])[0]
                chosen.setdefault(found[code].id, found[code])
            else:
                unclear.append(_unclear(code, postcodes))
    if unknown:
        form.postcodes.errors.append(
            _(
                "We do not know these postcodes in our area: %(codes)s. "
                "Please check them, or choose boroughs instead.",
                codes=", ".join(unknown),
            )
        )
    form.postcodes.errors.extend(unclear)
    if form.postcodes.errors:
        return None
    if not chosen:
        form.zones.errors.append(_("Please choose at least one borough or type a postcode."))
        return None
    return list(chosen.values()), found


def _unclear(code: str, postcodes: list[Postcode]) -> str:
    places = ", ".join(f"{p.zone.name} ({p.zone.helpline.name})" for p in postcodes)
    return _(
        "Postcode %(code)s is in more than one helpline's area: %(places)s. "
        "Please tick the one you mean.",
        code=code,
        places=places,
    )
