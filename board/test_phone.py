"""The test phone: the helpline in a browser, to try the line or train staff without a phone.

The page is a keypad. The server places the call with voice/simulator/phone.py in
this process, so every key goes through the real, signed webhooks and the call
flow has one implementation only. Nothing about a call stays on the server
between two requests (there may be several app servers): every answer carries
the call's snapshot (where the line waits: its TwiML and URL, the caller, the
clock), signed with the app's secret key, and the browser sends it back with
the next key. It is signed because the phone signs whatever the snapshot says
as Twilio would: a browser that could change it could make the line believe
any caller number, or any step of the menu.

Who may use it is `test_phone` in the configuration: "operators" (signed-in,
approved operators; the default), "everyone" (a local demo or a training
instance), "off". Callers are numbers of the range kept free for fiction, or a
withheld number, so a test request never carries a real person's number.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.calls import call_log
from app.database import db_session
from app.models import CallOutcome
from app.phone_numbers import ANONYMOUS
from voice.simulator import (
    MESSAGE_SECONDS,
    Phone,
    PhoneCall,
    PhoneError,
    fictional_number,
    is_fictional,
    key_script,
)

# Its script and style sheet (in board/static) are served under /phone/static, behind
# the same access rule as the page.
bp = Blueprint("test_phone", __name__, url_prefix="/phone", static_folder="static")

SNAPSHOT_SALT = "hotline.test-phone.call"
# A call untouched for this long is over: Twilio would have hung up long ago.
SNAPSHOT_MAX_AGE = 30 * 60
KEYS = "0123456789*#"


@bp.before_request
def only_those_allowed():
    access = current_app.config["HOTLINE"].test_phone
    if access == "off":
        abort(404)
    if access == "everyone":
        return None
    page = request.endpoint == "test_phone.page"
    if not current_user.is_authenticated:
        if page:
            return current_app.login_manager.unauthorized()
        return _refuse(_("Please sign in as an operator to use the test phone."), 401)
    if not (current_user.is_operator and current_user.approved):
        refusal = _("The test phone is for operators.")
        if page:
            return render_template("board/test_phone.html", refusal=refusal), 403
        return _refuse(refusal, 403)
    return None


@bp.get("")
def page():
    """The keypad, with a fresh fictional number to call from."""
    return render_template(
        "board/test_phone.html",
        caller=fictional_number(db_session()),
        helplines=_dialable_helplines(),
        texts=_texts(),
        message_seconds=MESSAGE_SECONDS,
    )


@bp.post("/call")
def start_call():
    """Ring the helpline: {"from": "+493023125417"} or {"withheld": true}, and with
    several helplines {"to": "+48583000000"}, one of their numbers (else the first's)."""
    data = _json_object()
    to = data.get("to", "")
    if to and to not in {h.phone_number for h in _dialable_helplines()}:
        return _refuse(_("Choose one of the helplines."), 400)
    if data.get("withheld") is True:
        caller = ANONYMOUS
    else:
        caller = str(data.get("from", "")).replace(" ", "")
        if not is_fictional(caller):
            return _refuse(
                _(
                    "Call from a number between +49 30 23125 000 and +49 30 23125 999 "
                    "(kept free for films and tests), or withhold the number."
                ),
                400,
            )
    try:
        call = _phone(to).call(caller)
    except PhoneError:
        return _line_failed()
    return _reply(call)


@bp.post("/act")
def act():
    """The caller's next move: {"call": snapshot, "key": "5"} or {"call": ..., "do": WORD},
    WORD being a key script word (voice/simulator/key_script.py): "-", "rec:20", "answer",
    "noanswer", "busy", "hangup"; keys, either way, are typed as on a keypad."""
    data = _json_object()
    call = _resume(data.get("call"))
    if call is None:
        return _refuse(_("This call is over or has expired. Please start a new call."), 410)
    key, word = data.get("key"), data.get("do")
    try:
        if isinstance(key, str) and len(key) == 1 and key in KEYS:
            move: key_script.Move = key_script.Press(key)
        elif isinstance(word, str):
            move = key_script.parse_word(word)
        else:
            return _refuse(_("Press a key, or choose what the caller does."), 400)
    except key_script.KeyScriptError:
        return _refuse(_("Press a key, or choose what the caller does."), 400)
    if not key_script.fits(call, move):
        return _refuse(_("The line is not waiting for that now."), 409)
    try:
        if isinstance(move, key_script.Press):
            # One key at a time, as on a keypad: a postcode is typed digit by digit.
            call.type(move.keys)
        else:
            key_script.perform(call, move)
    except PhoneError:
        return _line_failed()
    return _reply(call)


# -- the call between two requests --------------------------------------------------------


def _phone(to: str = "") -> Phone:
    """The simulated phone; `to`: the helpline number it dials (empty: the simulator's own)."""
    app = current_app._get_current_object()
    return Phone.for_app(app, hotline_number=to) if to else Phone.for_app(app)


def _dialable_helplines() -> list:
    """The helplines the page offers: those with a number, when there are several."""
    helplines = [h for h in current_app.config["HOTLINE"].helplines if h.phone_number]
    return helplines if len(helplines) > 1 else []


def _snapshots() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=SNAPSHOT_SALT)


def _resume(token) -> PhoneCall | None:
    """The call a signed snapshot describes, or None (forged, expired, over, broken)."""
    if not isinstance(token, str):
        return None
    try:
        # Replaying an older snapshot is a webhook delivered twice: the line is built for it.
        snapshot = _snapshots().loads(token, max_age=SNAPSHOT_MAX_AGE)
        # The number dialled goes with the call: the snapshot is signed, so it is ours.
        call = _phone(str(snapshot.get("to", ""))).resume(snapshot)
    except (BadSignature, KeyError, TypeError, ValueError, SyntaxError):
        return None
    return None if call.ended else call


def _reply(call: PhoneCall):
    """What the caller heard, what the line waits for now, and the next snapshot."""
    answer = {
        "call": None
        if call.ended
        else _snapshots().dumps({**call.snapshot(), "to": call.phone.hotline_number}),
        "heard": [{"text": h.text, "lang": h.language} for h in call.heard],
        "waiting_for": call.waiting_for,
        "typed": call.typed,
        "timeout": call.timeout,
        "ended": call.ended,
    }
    if call.ended:
        answer["result"] = _result(call.call_sid)
    return jsonify(answer)


def _result(call_sid: str) -> dict:
    """How the call ended, from the call log, and where its request is on the board."""
    logged = call_log.call_for(db_session(), call_sid)
    outcome = CallOutcome(logged.outcome) if logged is not None and logged.outcome else None
    reference = logged.request_reference if logged is not None else ""
    return {
        "outcome": str(call_log.OUTCOME_TEXTS[outcome]) if outcome else _("The call has ended."),
        "reference": reference,
        "reference_text": _("Request %(reference)s is on the board.", reference=reference)
        if reference
        else "",
        "board_url": url_for("board.request_page", reference=reference)
        if reference
        else url_for("board.index"),
    }


def _json_object() -> dict:
    """The posted JSON object; {} for anything else (a list or a number has no .get)."""
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def _refuse(message: str, status: int) -> tuple[Response, int]:
    return jsonify(error=message), status


def _line_failed() -> tuple[Response, int]:
    current_app.logger.exception("The test phone could not play the phone line's answer")
    return _refuse(_("The phone line answered something a phone cannot play."), 502)


def _texts() -> dict[str, str]:
    """What the page's script shows, translated ({key} and {seconds} are filled in there)."""
    return {
        "ringing": _("Ringing…"),
        "keys": _("The line is waiting for a key."),
        "recording": _("Beep: the line is recording. Speak a message, stay silent or press a key."),
        "operator": _("The line is ringing the operator."),
        "ended": _("The call has ended."),
        "pressed": _("You press {key}."),
        "silence": _("You stay silent."),
        "spoke": _("You speak for {seconds} seconds."),
        "answered": _("The operator answers."),
        "missed": _("Nobody answers."),
        "hung_up": _("You hang up."),
        "typed": _("Typed so far: {keys}"),
        "no_server": _("The server did not answer. Please try again."),
        "refused": _(
            "That did not work (the page may be too old). Please reload it and try again."
        ),
    }
