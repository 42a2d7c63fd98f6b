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

The page also rings: it asks (GET /phone/ringing) for a call the line places to
its number, or to the signed-in person's own number when that rings the simulator
(app/calls/outbound.py rings_simulator), and answers or declines it through
voice/simulator/answering.py, as `hotline call --answer-outbound` does. The call
is named by a signed token, bound to the person who saw it ring.

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
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.calls import call_log
from app.calls.outbound import OUTBOUND, rings_simulator, twilio_configured
from app.database import db_session, get_db
from app.models import CallOutcome
from app.phone_numbers import ANONYMOUS, readable_number
from voice.simulator import (
    MESSAGE_SECONDS,
    Phone,
    PhoneCall,
    PhoneError,
    answering,
    fictional_number,
    is_fictional,
    key_script,
)

# Its script and style sheet (in board/static) are served under /phone/static, behind
# the same access rule as the page.
bp = Blueprint("test_phone", __name__, url_prefix="/phone", static_folder="static")

SNAPSHOT_SALT = "hotline.test-phone.call"
RINGING_SALT = "hotline.test-phone.ringing"
# A ringing call's token is good for this long (the worker rings a call out sooner).
RINGING_MAX_AGE = 10 * 60
# How often the page's script asks whether its phone rings, in seconds.
RINGING_POLL_SECONDS = 3
# A call untouched for this long is over: Twilio would have hung up long ago.
SNAPSHOT_MAX_AGE = 30 * 60
KEYS = "0123456789*#"
# The moves the page without JavaScript offers besides keys (key script words).
NO_SCRIPT_MOVES = frozenset({"-", "answer", "noanswer", "hangup"})


def may_use(user, access: str) -> bool:
    """Whether `user` may use the test phone under the `test_phone` setting `access`."""
    if access == "everyone":
        return True
    return access != "off" and user.is_authenticated and user.is_operator and user.approved


@bp.before_request
def only_those_allowed():
    access = current_app.config["HOTLINE"].test_phone
    if access == "off":
        abort(404)
    if may_use(current_user, access):
        return None
    page = request.endpoint == "test_phone.page" or (
        request.endpoint in _HTML_TOO and not (request.is_json or _wants_json())
    )
    if not current_user.is_authenticated:
        if page:
            return current_app.login_manager.unauthorized()
        return _refuse(_("Please sign in as an operator to use the test phone."), 401)
    # Signed in, but not an approved operator.
    refusal = _("The test phone is for operators.")
    if page:
        return render_template("board/test_phone.html", refusal=refusal), 403
    return _refuse(refusal, 403)


@bp.get("")
def page():
    """The keypad, with a fresh fictional number to call from."""
    return render_template(
        "board/test_phone.html",
        caller=fictional_number(db_session()),
        helplines=_dialable_helplines(),
        texts=_texts(),
        message_seconds=MESSAGE_SECONDS,
        own_number=_own_number(),
        poll_seconds=RINGING_POLL_SECONDS,
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
    if not request.is_json and "call" in request.form:
        return _act_without_script()
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


# -- the phone that rings ----------------------------------------------------------------


@bp.get("/ringing")
def ringing():
    """Whether a call the line places rings this page: ?number= is the page's own
    (fictional) number. JSON for the page's script; without it, a page with a link to ask again."""
    number = request.args.get("number", "").replace(" ", "")
    waiting = _ringing_here(number)
    if _wants_json():
        if waiting is None:
            return jsonify(ringing=None)
        return jsonify(
            ringing={
                "token": _ringing_token(waiting),
                "text": _("Incoming call from %(number)s", number=_readable(_from_number(waiting))),
            }
        )
    return _ringing_page(number, waiting)


@bp.post("/answer")
def answer():
    """Pick up the ringing call: {"ringing": token} (or the no-JS page's form); the line
    plays its webhooks as Twilio would, and the call goes on with /phone/act."""
    taken = _take(_posted("ringing"))
    if taken is None or taken.placement is None:  # gone, or no longer needed
        return _gone()
    try:
        call = answering.answer(current_app._get_current_object(), taken)
    except PhoneError:
        return _line_failed()
    if not request.is_json:
        return _ringing_page(_posted("number"), None, call)
    return _reply(call)


@bp.post("/decline")
def decline():
    """Let the ringing call go unanswered: its status callback hears no-answer, so the
    line counts it as Twilio's unanswered call (a calldown tried again, a caller not reached)."""
    taken = _take(_posted("ringing"))
    if taken is None:
        return _gone()
    try:
        answering.decline(current_app._get_current_object(), taken)
    except PhoneError:
        return _line_failed()
    message = _("You declined the call: the line counts it as not answered.")
    if not request.is_json:
        flash(message, "info")
        return redirect(url_for("test_phone.ringing", number=_posted("number")))
    return jsonify(declined=True, message=message)


def _ringing_here(number: str) -> answering.Waiting | None:
    """The oldest call ringing this page: to its fictional number, or to the signed-in
    person's own number (never to anyone else's)."""
    settings = current_app.config["HOTLINE"]
    number = number if is_fictional(number) else ""  # a real number rings Twilio's phone
    me = f"user:{current_user.id}" if current_user.is_authenticated else None
    # Working out whom a call rings may write (app/calls/calldown.py): a GET only looks.
    with get_db().session() as session, session.no_autoflush:
        waiting = answering.waiting_calls(session, current_app._get_current_object())
        session.rollback()
    for call in waiting:
        if not rings_simulator(settings, call.placement):
            continue
        recipient = call.placement.recipient
        if recipient.startswith("user:"):
            # A call to a person with an account rings their page only.
            if recipient == me:
                return call
        elif number and call.to == number:
            return call
    return None


def _ringing_token(waiting: answering.Waiting) -> str:
    """The ringing call, signed and bound to whoever saw it ring."""
    me = current_user.id if current_user.is_authenticated else None
    return _tokens().dumps({"job": waiting.job_id, "to": waiting.to, "user": me})


def _take(token) -> answering.Taken | None:
    """The call a ringing token names, taken off the queue; None if the token is forged,
    old or another person's, or the call no longer rings this page."""
    if not isinstance(token, str):
        return None
    try:
        ringing = _tokens().loads(token, max_age=RINGING_MAX_AGE)
        job_id, to, user = int(ringing["job"]), str(ringing["to"]), ringing["user"]
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    me = current_user.id if current_user.is_authenticated else None
    if user != me:
        return None
    # Asked again: the rule (who may pick up whose call) holds at the moment of answering.
    still = _ringing_here(to)
    if still is None or still.job_id != job_id:
        return None
    return answering.take(current_app._get_current_object(), job_id)


def _ringing_page(number: str, waiting, call: PhoneCall | None = None):
    """The page for a browser without JavaScript: what rings, or the call just answered."""
    return render_template(
        "board/test_phone_ringing.html",
        number=number,
        token=_ringing_token(waiting) if waiting is not None else "",
        incoming=_("Incoming call from %(number)s", number=_readable(_from_number(waiting))),
        call=call,
        snapshot=_snapshot(call) if call is not None and not call.ended else "",
        result=_result(call.call_sid) if call is not None and call.ended else None,
    )


def _act_without_script():
    """A move posted by the no-JS page's form: keys (pressed, then the line's timeout),
    or a word ("hangup")."""
    number = _posted("number")
    call = _resume(request.form.get("call"))
    if call is None:
        flash(_("This call is over or has expired. Please start a new call."), "error")
        return redirect(url_for("test_phone.ringing", number=number))
    keys, word = request.form.get("keys", "").strip(), request.form.get("do", "")
    try:
        if word in NO_SCRIPT_MOVES and key_script.fits(call, move := key_script.parse_word(word)):
            key_script.perform(call, move)
        elif keys and all(k in KEYS for k in keys) and call.waiting_for == "keys":
            call.press(keys)  # the whole number at once, then the line's timeout
        else:
            flash(_("Press a key, or choose what the caller does."), "error")
    except PhoneError:
        return _line_failed()
    return _ringing_page(number, None, call)


def _own_number() -> str:
    """The signed-in person's own number, when calls to it ring this page (see
    rings_simulator: only without a Twilio account); else empty."""
    settings = current_app.config["HOTLINE"]
    if not current_user.is_authenticated or twilio_configured(settings):
        return ""
    return _readable(current_user.phone or "")


def _from_number(waiting=None) -> str:
    """The number the ringing call comes from: its helpline's (the line's own without one)."""
    if waiting is not None and waiting.placement is not None and waiting.placement.from_number:
        return waiting.placement.from_number
    return answering.hotline_number(current_app._get_current_object())


def _readable(number: str) -> str:
    return readable_number(number, current_app.config["HOTLINE"].phone_country)


def _tokens() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=RINGING_SALT)


def _posted(name: str) -> str:
    """A field of the posted JSON object, or of the no-JS page's form."""
    value = _json_object().get(name) if request.is_json else request.form.get(name)
    return value if isinstance(value, str) else ""


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _gone():
    message = _("This call is no longer ringing.")
    if not request.is_json:
        flash(message, "error")
        return redirect(url_for("test_phone.ringing", number=_posted("number")))
    return _refuse(message, 410)


# Pages a browser without JavaScript opens too (the others answer the page's script).
_HTML_TOO = frozenset(
    {"test_phone.ringing", "test_phone.answer", "test_phone.decline", "test_phone.act"}
)


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
        "call": None if call.ended else _snapshot(call),
        "heard": [{"text": h.text, "lang": h.language} for h in call.heard],
        "waiting_for": call.waiting_for,
        # A call the line placed <Dial>s the person it puts you through to, not the operator.
        "dialling": call.direction == OUTBOUND and call.waiting_for == "operator",
        "typed": call.typed,
        "timeout": call.timeout,
        "ended": call.ended,
    }
    if call.ended:
        answer["result"] = _result(call.call_sid)
    return jsonify(answer)


def _snapshot(call: PhoneCall) -> str:
    """The call, signed, to go on with it in the next request."""
    return _snapshots().dumps({**call.snapshot(), "to": call.phone.hotline_number})


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
        "dialling": _("The line is ringing the person it puts you through to."),
        "ended": _("The call has ended."),
        "pressed": _("You press {key}."),
        "silence": _("You stay silent."),
        "spoke": _("You speak for {seconds} seconds."),
        "answered": _("The operator answers."),
        "missed": _("Nobody answers."),
        "hung_up": _("You hang up."),
        "you_answer": _("You answer the call."),
        "typed": _("Typed so far: {keys}"),
        "no_server": _("The server did not answer. Please try again."),
        "refused": _(
            "That did not work (the page may be too old). Please reload it and try again."
        ),
    }
