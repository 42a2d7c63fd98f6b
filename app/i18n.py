"""Translation of everything a volunteer or operator reads (Flask-Babel).

The language comes from, in order: a choice the person made with the
switcher (kept in the session), their account's language, the browser's
Accept-Language header, and finally the first configured web language.
The phone line's spoken prompts have catalogs of their own in voice/.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

from babel import Locale, dates
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import Babel, get_locale, get_timezone

LANGUAGE_NAMES = {
    "de": "Deutsch",
    "en": "English",
    "pl": "Polski",
    "tr": "Türkçe",
    "uk": "Українська",
}

# Where a language's own formats would read wrongly: CLDR's plain "en" is American
# (12/5/26, 3:10 PM), and every helpline we follow is in Europe: 05/12/2026, 15:10.
# Only the formats change; the translations stay those of the language.
FORMAT_LOCALES = {"en": "en_GB"}


def init_app(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(Path(__file__).parent / "translations")
    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)
    # Flask-Babel's own filters format in the translation's locale: these in the page's.
    app.jinja_env.filters.update(
        datetimeformat=format_datetime, dateformat=format_date, timeformat=format_time
    )

    @app.context_processor
    def language_choices():
        offered = current_app.config["HOTLINE"].web_languages
        return {
            "web_languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in offered],
            "get_locale": get_locale,
            "language_code": language_code,
        }


def language_code() -> str:
    """The page's language as configured ('de', 'en'), whatever locale formats its dates."""
    return str(get_locale())


def formatting_locale() -> Locale:
    """The locale whose formats dates and times follow on this page (FORMAT_LOCALES)."""
    code = language_code()
    return Locale.parse(FORMAT_LOCALES.get(code, code))


def _local(moment: datetime) -> datetime:
    # The database keeps UTC; a naive value is UTC too.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(get_timezone())


def format_datetime(moment: datetime, format: str = "medium") -> str:
    """A moment in the helpline's time zone, as the page's language writes it."""
    return dates.format_datetime(_local(moment), format, locale=formatting_locale())


def format_date(day: date | datetime, format: str = "medium") -> str:
    """A day as the page's language writes it ('5 Dec 2026', '05.12.2026')."""
    if isinstance(day, datetime):
        day = _local(day).date()
    return dates.format_date(day, format, locale=formatting_locale())


def format_time(moment: datetime | time, format: str = "medium") -> str:
    """A time of day as the page's language writes it ('15:10')."""
    if isinstance(moment, datetime):
        moment = _local(moment)
    return dates.format_time(moment, format, locale=formatting_locale())


def format_skeleton(skeleton: str, day: date) -> str:
    """A day in a CLDR skeleton ('MMMd' -> '10 Jun', '10. Juni') in the page's language."""
    return dates.format_skeleton(skeleton, day, locale=formatting_locale())


def select_locale() -> str:
    offered = current_app.config["HOTLINE"].web_languages
    if not has_request_context():
        return offered[0]
    chosen = session.get("language")
    if chosen in offered:
        return chosen
    from flask_login import current_user

    own = getattr(current_user, "language", "")
    if own in offered:
        return own
    return request.accept_languages.best_match(offered) or offered[0]


def select_timezone() -> str:
    return current_app.config["HOTLINE"].timezone.key
