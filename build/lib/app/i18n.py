"""Translation of everything a volunteer or operator reads (Flask-Babel).

The language comes from, in order: a choice the person made with the
switcher (kept in the session), their account's language, the browser's
Accept-Language header, and finally the first configured web language.
The phone line's spoken prompts have catalogs of their own in voice/.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import Babel, get_locale

LANGUAGE_NAMES = {
    "de": "Deutsch",
    "en": "English",
    "pl": "Polski",
    "tr": "Türkçe",
    "uk": "Українська",
}


def init_app(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(Path(__file__).parent / "translations")
    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)

    @app.context_processor
    def language_choices():
        offered = current_app.config["HOTLINE"].web_languages
        return {
            "web_languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in offered],
            "get_locale": get_locale,
        }


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
