"""The phone line: Twilio's webhooks, the call flow, the prompts of every language."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Blueprint, Flask, current_app
from flask.sessions import SecureCookieSessionInterface

from app.calls import call_log
from app.calls.spool import CallSpool
from app.config import ConfigError, Settings
from app.database import get_db
from app.database_guard import budget
from app.zones.postcodes import PostcodePlaces
from app.zones.profiles import ZoneImportError, profile_path, read_profile
from voice.flow import Line
from voice.prompts import load_catalogs

bp = Blueprint("voice", __name__, url_prefix="/voice")


def init_app(app: Flask) -> None:
    """Check the prompts of every phone language, then open the webhooks."""
    settings: Settings = app.config["HOTLINE"]
    app.extensions["hotline_line"] = build_line(settings)
    app.extensions["hotline_places"] = PostcodePlaces()
    spool = CallSpool(Path(settings.call_spool_dir or Path(app.instance_path) / "call-spool"))
    app.extensions["hotline_call_spool"] = spool
    app.extensions["hotline_spool_writer"] = spool_writer(app)
    app.register_blueprint(bp)
    from voice.sms_status import bp as sms_bp

    app.register_blueprint(sms_bp)
    # Twilio cannot send a CSRF token; its signature is checked on every route instead.
    app.extensions["csrf"].exempt(bp)
    app.extensions["csrf"].exempt(sms_bp)
    app.session_interface = SessionsOffTheLine()


class SessionsOffTheLine(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions for the web, none for the phone line's webhooks.

    Twilio sends no cookie and the webhooks keep nothing between requests (the call's
    state is in the signed action URL); opening a session for each of them (a new
    signing serializer every time) cost a twentieth of a webhook (bench/calls.py).
    """

    def open_session(self, app, request):
        if request.path.startswith(bp.url_prefix + "/"):
            return None  # Flask's NullSession instead: empty, and never saved
        return super().open_session(app, request)


def spool_writer(app: Flask):
    """What writes the call spool's facts to the database, from the spool's own thread."""
    db = get_db(app)

    def write(fact: dict) -> None:
        # A deadline like a webhook's: a database that hangs is tried again later.
        with app.app_context(), budget(db.timeout_seconds), db.connect() as connection:
            call_log.apply_spooled(connection, fact)
            connection.commit()

    return write


@bp.before_app_request
def _replay_spool_left_over() -> None:
    """Facts a stopped server kept are written by the first process that serves again."""
    spool: CallSpool = current_app.extensions["hotline_call_spool"]
    if spool.checked_pid != os.getpid():
        spool.checked_pid = os.getpid()
        if spool.waiting():
            spool.replay_soon(current_app.extensions["hotline_spool_writer"])


def build_line(settings: Settings) -> Line:
    """The phone line as configured; raises ConfigError naming what is wrong."""
    catalogs = load_catalogs(settings.phone_languages, settings.source)
    return Line(
        languages=tuple(settings.phone_languages),
        default_language=settings.default_language,
        catalogs=catalogs,
        request_types=tuple(settings.request_types),
        voices=dict(settings.voices),
        operator_phone=settings.operator_phone,
        # The hours are spoken inside a sentence that ends with its own full
        # stop: "... 6 p.m." would otherwise be read as "p.m..".
        hours={lang: text.strip().rstrip(".") for lang, text in settings.hours.items()},
        area=_spoken_area(settings),
        max_open_requests_per_number=settings.max_open_requests_per_number,
        hotline_number=settings.twilio_phone_number,
        claim_timeout_hours=settings.claim_timeout_hours,
    )


def current_line() -> Line:
    return current_app.extensions["hotline_line"]


def _spoken_area(settings: Settings) -> dict[str, str]:
    """The area callers outside it are told about, in each phone language."""
    try:
        profile = read_profile(profile_path(settings.zone_profile))
    except ZoneImportError as e:
        raise ConfigError(f"{settings.source}: key 'zone_profile': {e}") from None
    return {
        language: profile.area_spoken.get(language) or profile.area
        for language in settings.phone_languages
    }


from voice import outbound, views  # noqa: E402, F401  (routes register on bp)
