"""`hotline call`: ring the helpline from the terminal, through the real webhooks.

The phone is voice/simulator/phone.py: every request is signed as Twilio signs it and
every answer is played as Twilio plays it. Without --url the call goes to this
app in-process (its database, its configuration); with --url to a running server.

Which URL is signed over HTTP: Twilio signs the URL it requested, which is the
server's public address (the one pasted into the Twilio console), and the server
checks against its `public_base_url` when that is set, else against the URL it
received. So this signs for --public-url when given, else the configured
`public_base_url`, else --url itself; requests still go to --url. A server
behind a proxy is thus reached directly (--url http://127.0.0.1:8000) while the
signature covers https://hotline.example.org, exactly as Twilio's would.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from app import migrations_runner
from app.calls import call_log
from app.cli.setup import LOCAL_BASE_URL
from app.database import database_exists, get_db
from app.helplines import helpline_for_number
from app.models import Call, CallOutcome
from app.phone_numbers import ANONYMOUS, caller_number, is_dialable, is_withheld
from app.zones.postcodes import zone_counts
from voice.simulator import answering, key_script
from voice.simulator.phone import (
    HOTLINE_NUMBER,
    LineUnreachable,
    Phone,
    PhoneCall,
    PhoneError,
    SignatureRefused,
    fictional_number,
)

# Turns of silence after the key script ran out before giving up on the line
# (the menu itself ends a call after two silences).
MAX_SILENT_TURNS = 10

HINTS = {
    "keys": "keys",
    "recording": "after the beep (rec:SECONDS, - or a key)",
    "operator": "ringing the operator (answer, noanswer, busy)",
}

EPILOG = """\b
The key script: one word per move, in the order the line asks.
  1  10115  123#  *     keys at a question (# ends early)
  -  or  wait           stay silent (the question times out)
  rec  rec:12           a message after the beep (12 s; default 10), then #
  rec:12:-              ... then fall silent; rec:12:hangup: then hang up
  answer  answer:90     the operator picks up (and talks 90 s)
  noanswer  busy        the operator does not pick up / is busy
  hangup                put the phone down
When the script runs out, the caller stays silent until the line ends the call.
Without --keys you are asked at every question (Enter alone: silence).

\b
Examples:
  hotline call --keys "1 10115 1 1 #"           the German happy path
  hotline call --keys "2 123# 10115 1 2 rec:15"  English, a mistake, a message
  hotline call --from anonymous                  a withheld number, interactively
  hotline call --to +48583000000 --keys "1 80001 1 1 #"   another helpline's number
  hotline call --url http://127.0.0.1:5000 --keys "1 10115 1 1 #"
"""


@click.command("call", epilog=EPILOG)
@click.option(
    "--from",
    "caller",
    metavar="NUMBER",
    help="The caller's number (+4930123456), or 'anonymous' (or another spelling Twilio "
    "sends, e.g. 'restricted', '+7378742833') for a withheld one. "
    "Default: a random number of the range kept free for films (+49 30 23125 xxx).",
)
@click.option(
    "--to",
    "dialled",
    metavar="NUMBER",
    help="The helpline number dialled, which chooses the helpline (see [[helpline]] in the "
    "configuration). Default: the first helpline's.",
)
@click.option("--keys", metavar="SCRIPT", help='What the caller does, e.g. "1 10115 1 1 #".')
@click.option(
    "--url",
    metavar="BASE",
    help="Call a running server (e.g. http://127.0.0.1:5000) instead of this app in-process.",
)
@click.option(
    "--public-url",
    metavar="BASE",
    help="With --url: the address the server checks signatures against (its "
    "public_base_url). Default: the configured public_base_url, else --url.",
)
@click.option(
    "--answer-outbound",
    is_flag=True,
    help="Be the phone the line calls: take the next call it would place (a code call "
    "back, a call through the hotline, a calldown, a claim notice), through Twilio or "
    "ringing a fictional number, and answer it here instead, in-process.",
)
@with_appcontext
def call_command(
    caller: str | None,
    dialled: str | None,
    keys: str | None,
    url: str | None,
    public_url: str | None,
    answer_outbound: bool,
) -> None:
    """Call the helpline without a phone: hear the menu, press keys, store a request."""
    settings = current_app.config["HOTLINE"]
    if dialled is not None and not is_dialable(dialled.strip()):
        raise click.BadParameter(
            f"'{dialled}' is not a phone number like +48583000000", param_hint="'--to'"
        )
    dialled = (dialled or "").strip() or settings.helplines[0].phone_number or HOTLINE_NUMBER
    try:
        script = key_script.parse(keys) if keys is not None else None
    except key_script.KeyScriptError as e:
        raise click.BadParameter(str(e), param_hint="'--keys'") from None
    if answer_outbound:
        if url is not None or caller is not None:
            raise click.BadParameter("answers in-process only, without --url or --from")
        _check_database()
        _answer_outbound(keys, script)
        return
    if caller is not None:
        caller = _checked_caller(caller)
    if public_url is not None and url is None:
        raise click.BadParameter("needs --url", param_hint="'--public-url'")

    if url is None:
        _check_database()
        phone = Phone.for_app(current_app._get_current_object(), hotline_number=dialled)
        board = settings.public_base_url or LOCAL_BASE_URL
        where = f"this app in-process (database {_database_name()})"
    else:
        url = _checked_base_url(url, "--url")
        signed_for = _checked_base_url(public_url, "--public-url") if public_url else ""
        signed_for = signed_for or settings.public_base_url or url
        phone = Phone.over_http(
            url,
            settings.twilio_auth_token,
            signed_for,
            api_base_url=settings.twilio_api_base_url,
            hotline_number=dialled,
        )
        board = signed_for
        where = f"the server at {url}"
        if signed_for != url:
            where += f" (signed for {signed_for})"

    caller = caller or _fictional_caller()
    click.echo(f"Calling the helpline: {where}, from {caller}.")
    if len(settings.helplines) > 1:
        helpline = helpline_for_number(settings.helplines, dialled)
        click.echo(f"Dialling {dialled}: {helpline.name} ({helpline.slug}).")
    call = None
    try:
        listener = Listener()
        call = phone.call(caller)
        listener.show(call)
        moves = AskedMoves() if script is None else ScriptedMoves(keys or "", script)
        leftover = _drive(call, moves, listener)
    except SignatureRefused:
        raise click.ClickException(_refused(url or "", phone.public_base_url)) from None
    except LineUnreachable as e:
        raise click.ClickException(
            f"Cannot reach the helpline: {e}. Is the server running (make run)?"
        ) from None
    except PhoneError as e:
        _hang_up_quietly(call)
        raise click.ClickException(
            f"The line answered something a phone cannot play: {e}"
        ) from None
    except key_script.KeyScriptError as e:
        _hang_up_quietly(call)
        _summary(call, board)
        raise click.ClickException(f"The key script does not fit the call: {e}.") from None
    except KeyboardInterrupt:
        click.echo("")
        _hang_up_quietly(call)
        _summary(call, board)
        sys.exit(130)

    outcome = _summary(call, board)
    if leftover:
        raise click.ClickException(
            f"The call ended before the key script did: '{' '.join(leftover)}' was not used."
        )
    if outcome == CallOutcome.ERROR:
        raise click.ClickException("The line met an error (see the server's log).")


def _answer_outbound(keys: str | None, script) -> None:
    """Take the oldest call waiting to be placed and play it here, as the phone that rings."""
    app = current_app._get_current_object()
    with get_db().session() as session:
        job_id = answering.oldest_job(session)
    # Taken here, so that no worker places it through Twilio as well (or rings it out).
    taken = answering.take(app, job_id) if job_id is not None else None
    if taken is None:
        raise click.ClickException("No call is waiting to be placed.")
    if taken.placement is None:
        click.echo("That call is no longer needed (its request moved on); nothing to answer.")
        return
    click.echo(f"The helpline calls {taken.to} ({taken.kind}).")
    listener = Listener()
    call = answering.answer(app, taken)
    listener.show(call)
    moves = AskedMoves() if script is None else ScriptedMoves(keys or "", script)
    try:
        leftover = _drive(call, moves, listener)
    except key_script.KeyScriptError as e:
        _hang_up_quietly(call)
        raise click.ClickException(f"The key script does not fit the call: {e}.") from None
    if leftover:
        raise click.ClickException(
            f"The call ended before the key script did: '{' '.join(leftover)}' was not used."
        )


# -- the caller's moves -------------------------------------------------------------------


class ScriptedMoves:
    """The moves of --keys, in order; None once they have run out."""

    def __init__(self, script: str, moves: list[key_script.Move]):
        self.words = script.split()
        self.moves = moves
        self.used = 0

    def next(self, call: PhoneCall) -> key_script.Move | None:
        if self.used >= len(self.moves):
            return None
        self.used += 1
        return self.moves[self.used - 1]

    def current(self) -> str:
        """The word just played, as an error message names it."""
        return f"word {self.used} '{self.words[self.used - 1]}'"

    def leftover(self) -> list[str]:
        return self.words[self.used :]


class AskedMoves:
    """Moves typed at the terminal (or piped in), a line at a time; the end of input hangs up."""

    def __init__(self) -> None:
        self.pending: list[key_script.Move] = []
        # Piped in, the moves are not on the screen: the transcript shows them.
        self.echo = not sys.stdin.isatty()

    def next(self, call: PhoneCall) -> key_script.Move | None:
        while not self.pending:
            hint = HINTS.get(call.waiting_for or "keys", "keys")
            try:
                line = click.prompt(f"  {hint}", default="", show_default=False, prompt_suffix="> ")
            except click.Abort:  # end of input (Ctrl-D, or the pipe ran dry)
                return key_script.HangUp()
            try:
                self.pending = key_script.parse(line) or [key_script.Silence()]
            except key_script.KeyScriptError as e:
                click.echo(f"  {e}")
        return self.pending.pop(0)

    def leftover(self) -> list[str]:
        return []


def _drive(call: PhoneCall, moves: ScriptedMoves | AskedMoves, listener: Listener) -> list[str]:
    """Play the moves until the call ends; returns the words of the script left over."""
    silent_turns = 0
    while not call.ended:
        move = moves.next(call)
        if move is None:
            # The script ran out: the caller stays silent, nobody answers the operator's phone.
            if silent_turns == 0:
                click.echo("  (the key script has ended: the caller stays silent)")
            silent_turns += 1
            if silent_turns > MAX_SILENT_TURNS:
                raise key_script.KeyScriptError("the line kept waiting after the script ended")
            move = (
                key_script.OperatorMisses("no-answer")
                if call.waiting_for == "operator"
                else key_script.Silence()
            )
        if not key_script.fits(call, move):
            why = f"the line {key_script.WAITING[call.waiting_for or 'keys']}"
            if isinstance(moves, AskedMoves):
                # At the terminal a wrong move is explained and asked for again, not fatal.
                click.echo(f"  That does not fit: {why}.")
                moves.pending.clear()
                continue
            raise key_script.KeyScriptError(f"{moves.current()}: {why}")
        if isinstance(moves, ScriptedMoves) or moves.echo:
            click.echo(f"> {key_script.describe(move)}")
        key_script.perform(call, move)
        listener.show(call)
    return moves.leftover()


# -- what the caller hears --------------------------------------------------------------


class Listener:
    """Prints what the caller hears, with each sentence's language, as it is heard."""

    def __init__(self) -> None:
        self.shown = 0

    def show(self, call: PhoneCall) -> None:
        for heard in call.heard[self.shown :]:
            click.echo(f"  [{heard.language}] {heard.text}")
        self.shown = len(call.heard)
        if call.waiting_for == "recording":
            click.echo("  (beep: the line is recording)")
        elif call.waiting_for == "operator":
            click.echo("  (the line is ringing the operator)")


def _summary(call: PhoneCall | None, board: str) -> CallOutcome | None:
    """The call as the call log has it: its outcome, and the request it stored."""
    if call is None:
        return None
    click.echo("")
    click.echo(f"The call ended after {round(call.clock)} s and {call.keypresses} keys.")
    logged = _logged_call(call.call_sid)
    if logged is None:
        click.echo(f"Outcome: see the server's call log (call {call.call_sid}).")
        return None
    outcome = CallOutcome(logged.outcome) if logged.outcome else None
    if outcome is None:
        click.echo(f"Outcome: none yet (call {call.call_sid}, last step {logged.last_step}).")
        return None
    with force_locale("en"):
        text = str(call_log.OUTCOME_TEXTS[outcome])
    click.echo(f"Outcome: {text} ({outcome}, last step: {logged.last_step or 'none'})")
    if logged.request_reference:
        page = f"{board.rstrip('/')}/requests/{logged.request_reference}"
        click.echo(f"Request {logged.request_reference} is on the board: {page}")
    return outcome


def _logged_call(call_sid: str) -> Call | None:
    """The call's row in this app's call log: there when the server shares its database."""
    if not database_exists(get_db().url):
        return None
    try:
        with get_db().session() as session:
            return call_log.call_for(session, call_sid)
    except SQLAlchemyError:
        return None


def _fictional_caller() -> str:
    """A fictional number without an open request here; any one when there is no database."""
    if not database_exists(get_db().url):
        return fictional_number()
    try:
        with get_db().session() as session:
            return fictional_number(session)
    except SQLAlchemyError:
        return fictional_number()


def _hang_up_quietly(call: PhoneCall | None) -> None:
    """Put the phone down so the call log gets its end, unless the line is gone too."""
    if call is None or call.ended:
        return
    with contextlib.suppress(PhoneError):
        call.hang_up()


# -- checking what was asked --------------------------------------------------------------


def _checked_caller(raw: str) -> str:
    """A number to call from, or a withheld one as given ('restricted', '+7378742833')."""
    if is_withheld(raw):
        return raw.strip() or ANONYMOUS
    if caller_number(raw) is None:
        raise click.BadParameter(
            f"'{raw}' is not a phone number; use one like +4930123456, or '{ANONYMOUS}'",
            param_hint="'--from'",
        )
    return raw.strip()


def _checked_base_url(raw: str, option: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(
            f"'{raw}' is not a web address like http://127.0.0.1:5000", param_hint=f"'{option}'"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise click.BadParameter(
            f"'{raw}' must be the server's base address, without a path", param_hint=f"'{option}'"
        )
    return f"{parts.scheme}://{parts.netloc}"


def _check_database() -> None:
    """In-process, the webhooks need the schema (and zones, or every postcode is outside)."""
    url = get_db().url
    try:
        current = migrations_runner.current(url) if database_exists(url) else None
    except SQLAlchemyError as e:
        reason = str(e.orig if getattr(e, "orig", None) else e).strip().splitlines()[0]
        raise click.ClickException(
            f"Cannot open the database {_database_name()}: {reason}"
        ) from None
    if current is None:
        raise click.ClickException(
            f"The database {_database_name()} is not set up. Run: hotline setup (or make run)."
        )
    if current != migrations_runner.head():
        raise click.ClickException(
            f"The database {_database_name()} is at revision {current}, not the newest. "
            "Run: hotline db upgrade"
        )
    with get_db().session() as session:
        if not zone_counts(session):
            click.echo("Warning: no zones are imported, so every postcode is outside the area.")
            click.echo("Run: hotline setup (or hotline zones import)")


def _database_name() -> str:
    url = make_url(get_db().url)
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return url.render_as_string(hide_password=True)


def _refused(url: str, signed_for: str) -> str:
    settings = current_app.config["HOTLINE"]
    if os.environ.get("TWILIO_AUTH_TOKEN"):
        source = "the environment variable TWILIO_AUTH_TOKEN"
    else:
        generated = Path(current_app.instance_path) / "twilio_auth_token"
        if generated.is_file() and generated.read_text().strip() == settings.twilio_auth_token:
            source = f"{generated} (generated on the first run)"
        else:
            source = f"twilio.auth_token in {settings.source}"
    return (
        f"The helpline at {url} refused the call (HTTP 403): it does not accept the "
        f"signature. This signed for {signed_for} with the auth token from {source}. "
        "Use the server's token (TWILIO_AUTH_TOKEN=... hotline call ...), and if the "
        "server's public_base_url differs, pass it as --public-url."
    )
