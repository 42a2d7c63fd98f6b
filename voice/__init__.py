"""The phone line: Twilio's webhooks, the call flow, the prompts of every language."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Blueprint, Flask, current_app, has_request_context, request
from flask.sessions import SecureCookieSessionInterface

from app.calls import call_log
from app.calls.spool import CallSpool
from app.config import ConfigError, Settings
from app.database import get_db
from app.database_guard import budget
from app.helplines import Helpline, helpline_for_number
from app.zones.postcodes import PostcodePlaces
from app.zones.profiles import ZoneImportError, profile_path, read_profile
from voice.flow import Line
from voice.prompts import load_catalogs

bp = Blueprint("voice", __name__, url_prefix="/voice")


def init_app(app: Flask) -> None:
    """Check the prompts of every phone language, then open the webhooks."""
    settings: Settings = app.config["HOTLINE"]
    # One phone line per helpline, by slug; the first also as "hotline_line".
    lines = {h.slug: build_line(settings, h) for h in settings.helplines}
    app.extensions["hotline_lines"] = lines
    # Twilio sends `To` in E.164 as configured: most webhooks find their line in one lookup.
    app.extensions["hotline_lines_by_number"] = {
        h.phone_number: lines[h.slug] for h in settings.helplines if h.phone_number
    }
    app.extensions["hotline_line"] = lines[settings.helplines[0].slug]
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


def build_line(settings: Settings, helpline: Helpline | None = None) -> Line:
    """A helpline's phone line (the first's by default); raises ConfigError naming what is wrong."""
    helpline = helpline or settings.helplines[0]
    catalogs = load_catalogs(list(helpline.phone_languages), settings.source)
    return Line(
        languages=helpline.phone_languages,
        default_language=helpline.default_language,
        catalogs=catalogs,
        request_types=helpline.request_types,
        voices=dict(helpline.voices),
        operator_phone=helpline.operator_phone,
        # The hours are spoken inside a sentence that ends with its own full
        # stop: "... 6 p.m." would otherwise be read as "p.m..".
        hours={lang: text.strip().rstrip(".") for lang, text in helpline.hours.items()},
        area=_spoken_area(settings, helpline),
        max_open_requests_per_number=settings.max_open_requests_per_number,
        helpline=helpline.slug,
        hotline_number=helpline.caller_id,
        claim_timeout_hours=settings.claim_timeout_hours,
    )


def current_line() -> Line:
    """The line of the helpline whose number the caller dialled (Twilio's `To`).

    Twilio sends `To` with every webhook of a call, so each step finds the same
    line again; a number no helpline has gets the first. On a call the hotline
    places (Direction outbound-api, outbound-dial) the hotline's number is `From`.
    """
    dialled = ""
    if has_request_context():
        outbound = request.form.get("Direction", "").startswith("outbound")
        dialled = request.form.get("From" if outbound else "To", "")
    line = current_app.extensions["hotline_lines_by_number"].get(dialled)
    if line is None:
        helpline = helpline_for_number(current_app.config["HOTLINE"].helplines, dialled)
        line = current_app.extensions["hotline_lines"][helpline.slug]
    return line


def _spoken_area(settings: Settings, helpline: Helpline) -> dict[str, str]:
    """The area callers outside it are told about, in each of the helpline's languages."""
    try:
        profile = read_profile(profile_path(helpline.zone_profile))
    except ZoneImportError as e:
        raise ConfigError(f"{settings.source}: key 'zone_profile': {e}") from None
    return {
        language: profile.area_spoken.get(language) or profile.area
        for language in helpline.phone_languages
    }


from voice import outbound, views  # noqa: E402, F401  (routes register on bp)
