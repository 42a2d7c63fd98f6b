"""The operator pages' forms: the export's days, the audit log's filters, notes on decisions."""

from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from app.calls import export
from app.i18n import format_date
from app.requests.intake import REFERENCE_ALPHABET


def within_export_days(form, field) -> None:
    """A day the export can cover: 0202-06-01 or 9999-12-31 get a form error, not a 500."""
    if field.data and not export.within_export_days(field.data):
        raise ValidationError(
            gettext(
                "Choose a day from %(first)s to %(last)s.",
                first=format_date(export.FIRST_DAY, "medium"),
                last=format_date(export.LAST_DAY, "medium"),
            )
        )


class ExportForm(FlaskForm):
    # InputRequired, not DataRequired: a typed non-date keeps its own message.
    first = DateField(
        _l("From"),
        validators=[InputRequired(_l("Choose the first day.")), within_export_days],
    )
    last = DateField(
        _l("To (the same day if empty)"),
        validators=[Optional(), within_export_days],
    )
    with_numbers = BooleanField(_l("With full caller numbers (recorded in the audit log)"))
    # The helplines the operator runs (board/operator/views.py sets the choices); shown
    # only when there is a choice. 0: every helpline, offered to an admin.
    helpline = SelectField(_l("Helpline"), coerce=int, default=0)

    def validate_last(self, field) -> None:
        if field.data and self.first.data and field.data < self.first.data:
            raise ValidationError(_l("The last day is before the first day."))


class AuditFilterForm(FlaskForm):
    """Filters in the query string, so a filtered log is a link that can be shared."""

    class Meta:
        csrf = False  # a GET form that changes nothing

    person = SelectField(_l("Person"), coerce=int, validators=[Optional()])
    reference = StringField(_l("Request reference"), validators=[Optional(), Length(max=16)])
    action = SelectField(_l("Action"), validators=[Optional()])
    # The paging link's "older than this event": an id, so within the integer column
    # (a larger number was a 500 on SQLite, which cannot even bind it). Not shown as a
    # field: a page with a broken link's number shows no events, as for any bad filter.
    before = IntegerField(validators=[Optional(), NumberRange(min=1, max=2**31 - 1)])

    def validate_reference(self, field) -> None:
        if field.data:
            cleaned = normalise_reference(field.data)
            if cleaned is None:
                raise ValidationError(_l("A reference looks like HX7-K4M."))
            field.data = cleaned


class NoteForm(FlaskForm):
    """A decision's optional note; the decision itself is the button pressed."""

    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=500)])


def normalise_reference(text: str) -> str | None:
    """'hx7k4m', ' HX7-K4M ' -> 'HX7-K4M'; None if it cannot be a reference."""
    chars = text.strip().upper().replace("-", "").replace(" ", "")
    if len(chars) != 6 or not set(chars) <= set(REFERENCE_ALPHABET):
        return None
    return f"{chars[:3]}-{chars[3:]}"
