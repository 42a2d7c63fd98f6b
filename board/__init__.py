"""The web for volunteers and operators."""

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError
from limits.errors import StorageError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError

from app.config import Settings
from app.database_guard import DatabaseUnavailable, database_failed, mark_failed
from app.models import AccountStatus, User
from app.requests.counts import RememberedCounts
from board import sessions

# The board's own static URL: the app's /static/<path> route would shadow a
# blueprint without a URL prefix, and the stylesheet would never arrive.
bp = Blueprint(
    "board",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/board-static",
)
login_manager = LoginManager()
login_manager.login_view = "board.login"
login_manager.login_message = _l("Please sign in to see this page.")
login_manager.login_message_category = "info"
# The flashed message is kept in the session cookie: translate it to a plain string first.
login_manager.localize_callback = str


def settings() -> Settings:
    """The running app's checked configuration (app/config.py)."""
    return current_app.config["HOTLINE"]


@bp.record_once
def _setup(state) -> None:
    from board import formatting, throttle

    login_manager.init_app(state.app)
    formatting.init_app(state.app)
    throttle.init_app(state.app)
    state.app.extensions["hotline_board_counts"] = RememberedCounts()


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    # Loaded from the database on every request: a suspension takes effect at once.
    # Not when the database has just failed this request: its error page shows no account.
    if database_failed():
        return None
    user = sessions.load_user(user_id)
    # A deleted account signs nobody in, in any browser it was open in.
    return None if user is None or user.status == AccountStatus.DELETED else user


@bp.app_errorhandler(CSRFError)
def _form_expired(error: CSRFError):
    """A form posted without a valid token: say so in words, and that nothing changed."""
    return render_template(
        "board/error.html",
        title=_l("Please try again"),
        message=_l(
            "This form could not be accepted (it was open for too long, or cookies are "
            "blocked). Nothing was changed. Please go back, reload the page and try again."
        ),
    ), 400


@bp.before_app_request
def _refuse_nul_characters():
    """A request with a NUL character in its address or form is refused, before any query.

    Nobody types one, and PostgreSQL refuses to store or even compare text holding
    one (SQLite would store it): without this, a crafted link or form post is a 500
    on one database and stored rubbish on the other. Every page of the web (the
    operator's too); the phone line checks what Twilio sends itself, after the
    signature, and always answers TwiML.
    """
    if request.blueprint == "voice":
        return None
    texts = [request.path]
    for values in (request.args, request.form):
        for key, items in values.lists():
            texts += [key, *items]
    if any("\x00" in text for text in texts):
        return render_template(
            "board/error.html",
            title=_l("Please try again"),
            message=_l(
                "This address or form held a character that cannot be used. Nothing was changed."
            ),
        ), 400


# What a person reads when a page cannot be shown, in their language instead
# of Werkzeug's English. The phone line's blueprint answers its own errors in
# TwiML; a handler there wins over these for its routes.
ERROR_TEXTS = {
    400: (
        _l("Please try again"),
        _l("What was sent could not be understood. Nothing was changed."),
    ),
    403: (
        _l("Not for you"),
        _l(
            "Your account cannot open this page. If you think it should, please ask the "
            "helpline's operators."
        ),
    ),
    404: (_l("Not found"), _l("There is no such page or request. It may have been mistyped.")),
    405: (_l("Not possible"), _l("This page cannot be used that way. Please go back.")),
    413: (
        _l("Too much at once"),
        _l("What was sent is far larger than any form here needs. Nothing was changed."),
    ),
    500: (
        _l("Something went wrong"),
        _l("Sorry, something went wrong on our side. Nothing was lost; please try again."),
    ),
}


@bp.app_errorhandler(HTTPException)
def _http_error(error: HTTPException):
    title, message = ERROR_TEXTS.get(error.code or 500, (error.name, error.description))
    return render_template("board/error.html", title=title, message=message), error.code


@bp.app_errorhandler(DatabaseUnavailable)
@bp.app_errorhandler(StorageError)  # the sign-in throttle's Redis (board/throttle.py)
@bp.app_errorhandler(OperationalError)
@bp.app_errorhandler(InterfaceError)
@bp.app_errorhandler(PoolTimeout)
def _database_unavailable(error: Exception):
    """The database is away, locked or too slow: say so within the deadline, and that
    nothing was lost, rather than hang or show a bare 500 (app/database_guard.py)."""
    mark_failed()  # the page itself must not wait on it again
    current_app.logger.error("%s %s: the database failed (%s)", request.method, request.path, error)
    page = render_template(
        "board/error.html",
        title=_l("Temporarily unavailable"),
        message=_l(
            "The board cannot reach its database at the moment, so what you just did was not "
            "saved. The phone line still answers callers. Please try again in a minute."
        ),
    )
    return page, 503, {"Retry-After": "30"}


@bp.app_errorhandler(InternalServerError)
def _server_error(error: InternalServerError):
    title, message = ERROR_TEXTS[500]
    return render_template("board/error.html", title=title, message=message), 500


@bp.after_app_request
def _not_kept_in_caches(response):
    """Pages for a signed-in person are never stored by the browser or a proxy.

    They carry a caller's number (after a claim) or at least a person's own
    details: "back" after signing out on a shared phone must not show them.
    Every blueprint's pages (the test phone's too), not only the board's.
    """
    from flask_login import current_user

    # The phone line has no signed-in people: not even a look at the session
    # on every webhook (Twilio sends no cookie).
    if request.blueprint == "voice" or (request.endpoint or "").endswith("static"):
        return response
    if current_user.is_authenticated:
        response.headers["Cache-Control"] = "no-store"
    return response


# Pages load only their own stylesheet and script. Voice messages play from Twilio
# (https). No page may be framed: a hidden frame over "take it" or "done" would let
# another site click them (clickjacking). Forms post only here.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; media-src 'self' https:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),  # frame-ancestors, for older browsers
    # A request's address names its reference: not for the sites its page links to.
    ("Referrer-Policy", "same-origin"),
)
# Served over https: browsers should never try plain http again.
HTTPS_ONLY = ("Strict-Transport-Security", "max-age=31536000")


@bp.after_app_request
def _security_headers(response):
    """Headers every answer of the app carries (a view may set its own instead)."""
    headers = response.headers
    wanted = SECURITY_HEADERS
    if current_app.config["SESSION_COOKIE_SECURE"]:
        wanted += (HTTPS_ONLY,)
    # One look at the headers there are: Headers.setdefault() reads them three times
    # and raises (and catches) an exception for each one missing, on every answer.
    present = {key.lower() for key, _value in headers.items()}
    for key, value in wanted:
        if key.lower() not in present:
            headers.add(key, value)
    return response


def local_path(target: str | None, fallback: str) -> str:
    """`target` if it is a path on this site, else `fallback`: never bounce a visitor elsewhere.

    Browsers drop tabs and newlines from URLs and read a backslash as a slash,
    so "/<tab>/evil.example" is "//evil.example" to them: any such character,
    and anything that parses with a scheme or a host, is refused.
    """
    if not target or not target.startswith("/") or len(target) > 2000:
        return fallback
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return fallback
    return target


@bp.get("/favicon.ico")
def favicon():
    """The icon browsers ask for on their own, whatever the page links to."""
    return bp.send_static_file("icons/favicon.ico")


@bp.post("/language")
def choose_language():
    """The language switcher (one button per language): remembered for this browser session,
    and back to the page it was pressed on."""
    code = request.form.get("language", "")
    if code in current_app.config["HOTLINE"].web_languages:
        session["language"] = code
    return redirect(local_path(request.form.get("next"), url_for("board.index")))


from board import (  # noqa: E402, F401  (routes register on bp)
    account_settings,
    accounts,
    alert_settings,
    call_through,
    email_confirmation,
    password_reset,
    posters,
    views,
)
