"""How requests read on a page: ages, language names, request types, in the viewer's language."""

from __future__ import annotations

import functools
from datetime import datetime

from babel import Locale, UnknownLocaleError
from flask import Flask, current_app
from flask_babel import format_timedelta, get_locale, ngettext
from flask_babel import gettext as _

from app.database import utcnow
from app.phone_numbers import readable_number, tel_uri


def age(moment: datetime, now: datetime | None = None) -> str:
    """'vor 3 Stunden', '3 godziny temu', '3 hours ago'."""
    return format_timedelta(moment - (now or utcnow()), add_direction=True)


def waiting_time(moment: datetime, now: datetime | None = None) -> str:
    """How long a request has waited: 'for 5 minutes', 'seit 5 Minuten', 'od 5 minut'.

    Written out per language rather than Babel's '5 minutes ago': German and
    Polish need another case after "seit" and "od" than a plain number takes.
    """
    minutes = int(((now or utcnow()) - moment).total_seconds() // 60)
    if minutes < 1:
        return _("for less than a minute")
    if minutes < 60:
        return ngettext("for %(num)d minute", "for %(num)d minutes", minutes)
    hours = minutes // 60
    if hours < 48:
        return ngettext("for %(num)d hour", "for %(num)d hours", hours)
    return ngettext("for %(num)d day", "for %(num)d days", hours // 24)


def language_name(code: str) -> str:
    """A caller's language named in the viewer's language: 'pl' -> 'Polnisch' for a German page."""
    return _language_name(code, str(get_locale()))


@functools.lru_cache(maxsize=256)
def _language_name(code: str, viewer: str) -> str:
    # Cached: a board shows it on every card, and parsing locales is slow.
    try:
        return Locale.parse(code).get_display_name(viewer) or code
    except (ValueError, UnknownLocaleError):
        return code


def request_type_label(code: str) -> str:
    """The configured label of a kind of help in the viewer's language, as a heading."""
    request_type = current_app.config["HOTLINE"].request_type(code)
    label = request_type.label(str(get_locale())) if request_type else code
    # Labels are written to be spoken mid-sentence ("ein freundliches Telefonat").
    return label[:1].upper() + label[1:]


def duration(seconds: int | None) -> str:
    """A voice message's length as m:ss."""
    return f"{(seconds or 0) // 60}:{(seconds or 0) % 60:02d}"


def phone_number(number: str | None) -> str:
    """A phone number laid out for reading, in the helpline's country's way (app.phone_numbers)."""
    return readable_number(number, current_app.config["HOTLINE"].phone_country)


def tel_link(number: str | None) -> str | None:
    """The number as a `tel:` address in E.164, or None when it cannot be dialled."""
    return tel_uri(number, current_app.config["HOTLINE"].phone_country)


def init_app(app: Flask) -> None:
    app.add_template_filter(age, "age")
    app.add_template_filter(waiting_time, "waiting_time")
    app.add_template_filter(language_name, "language_name")
    app.add_template_filter(request_type_label, "request_type_label")
    app.add_template_filter(duration, "duration")
    app.add_template_filter(phone_number, "phone_number")
    app.add_template_filter(tel_link, "tel")
