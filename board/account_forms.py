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
    session: Session, form: ZonesForm, zones: list[Zone]
) -> tuple[list[Zone], dict[str, Postcode]] | None:
    """The zones ticked and those of the postcodes typed, as at sign-up, with the postcodes found.

    None, with the error on the form, when a postcode is unknown or nothing was chosen.
    """
    chosen = {zone.id: zone for zone in zones if zone.id in (form.zones.data or [])}
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
        return None
    if not chosen:
        form.zones.errors.append(_("Please choose at least one borough or type a postcode."))
        return None
    return list(chosen.values()), found
