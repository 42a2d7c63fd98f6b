"""The board's forms (Flask-WTF; every POST form carries the CSRF token)."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from app.accounts import password_policy
from app.accounts.password_policy import MIN_LENGTH as MIN_PASSWORD_LENGTH
from app.email_addresses import is_email_address

# Deliberately loose: one @, something on both sides, no spaces. The first-run
# operator may be operator-...@localhost, so a dot in the domain is not required.
PHONE = re.compile(r"\+?[0-9 ()/.-]{6,24}")


def _email(_form, field) -> None:
    if field.data and not is_email_address(field.data.strip()):
        raise ValidationError(_l("Please enter an e-mail address such as name@example.org."))


def _phone(_form, field) -> None:
    value = (field.data or "").strip()
    if not PHONE.fullmatch(value) or sum(c.isdigit() for c in value) < 6:
        raise ValidationError(_l("Please enter a phone number such as 0151 2345678."))


class LoginForm(FlaskForm):
    email = StringField(
        _l("E-mail"),
        validators=[DataRequired(_l("Please enter your e-mail address.")), Length(max=254)],
        render_kw={"autocomplete": "username", "inputmode": "email", "autocapitalize": "none"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Please enter your password.")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )


class ZoneCheckboxes(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class SignupForm(FlaskForm):
    name = StringField(
        _l("Your name"),
        validators=[DataRequired(_l("Please enter your name.")), Length(max=120)],
        render_kw={"autocomplete": "name"},
    )
    email = StringField(
        _l("E-mail"),
        validators=[DataRequired(_l("Please enter your e-mail address.")), Length(max=254), _email],
        render_kw={"autocomplete": "email", "inputmode": "email", "autocapitalize": "none"},
    )
    phone = StringField(
        _l("Your phone number"),
        description=_l("Only the operators see it, to reach you if needed."),
        validators=[DataRequired(_l("Please enter your phone number.")), _phone],
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )
    password = PasswordField(
        _l("Password"),
        description=_l(
            "At least %(n)d characters. Not your name, e-mail address or phone number, "
            "and not a common password.",
            n=MIN_PASSWORD_LENGTH,
        ),
        validators=[DataRequired(_l("Please choose a password.")), Length(max=1024)],
        render_kw={"autocomplete": "new-password", "minlength": MIN_PASSWORD_LENGTH},
    )
    password_again = PasswordField(
        _l("Password again"),
        validators=[
            DataRequired(_l("Please type the password a second time.")),
            EqualTo("password", _l("The two passwords are not the same.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    zones = ZoneCheckboxes(_l("Boroughs"), coerce=int, validators=[Optional()])

    def validate_password(self, field) -> None:
        """The password rule (app/accounts/password_policy.py), with this form's e-mail,
        name and phone."""
        found = password_policy.problem(
            field.data or "",
            email=self.email.data or "",
            name=self.name.data or "",
            phone=self.phone.data or "",
        )
        if found is not None:
            raise ValidationError(found)

    postcodes = StringField(
        _l("Postcodes"),
        description=_l("For example: 10115, 12043. Separate several with commas."),
        validators=[Optional(), Length(max=500)],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )


class FilterForm(FlaskForm):
    """The board's filters. A GET form (filters live in the URL), so no CSRF token."""

    class Meta:
        csrf = False

    zone = SelectField(_l("Zone"), validators=[Optional()], validate_choice=True)
    postcode = StringField(
        _l("Postcode starts with"),
        validators=[
            Optional(),
            Regexp(r"[0-9]{1,5}\Z", message=_l("Up to five digits, for example 120.")),
        ],
        render_kw={"inputmode": "numeric", "maxlength": 5, "autocomplete": "off"},
    )
    type = SelectField(_l("Kind of help"), validators=[Optional()])
    language = SelectField(_l("Caller's language"), validators=[Optional()])


class ActionForm(FlaskForm):
    """A button that changes a request (claim, could not reach): the CSRF token only."""


class DoneForm(FlaskForm):
    note = TextAreaField(
        _l("What happened? (optional)"),
        validators=[Optional(), Length(max=2000, message=_l("At most 2000 characters, please."))],
        render_kw={"maxlength": 2000, "rows": 3},
    )
    # Set by the confirmation step's button (board/confirm_done.html): the first
    # "Done" only asks.
    confirmed = HiddenField()


RELEASE_REASONS = [
    SelectChoice("no_time", _l("I no longer have time")),
    SelectChoice("cannot_help", _l("I cannot help with this")),
    SelectChoice("too_far", _l("It is too far for me")),
    SelectChoice("other", _l("Another reason")),
]


class ReleaseForm(FlaskForm):
    reason = RadioField(
        _l("Why are you giving it back?"),
        choices=RELEASE_REASONS,
        validators=[DataRequired(_l("Please choose a reason."))],
    )
    note = TextAreaField(
        _l("A note for the operators (optional)"),
        validators=[Optional(), Length(max=500, message=_l("At most 500 characters, please."))],
        render_kw={"maxlength": 500, "rows": 2},
    )
