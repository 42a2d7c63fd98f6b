"""The call flow: a small state machine from the first ring to the goodbye.

Every webhook is one turn. `advance(line, state, event, facts)` takes where the
call is (`State`, which travels in the signed action URL Twilio requests next),
what the caller did (`Keys`, `NoAnswer`, a `Recording`, `DialEnded`, or
`Arrive` after a redirect) and read-only `Facts` from the database, and
returns a `Turn`: the next state, what to say and ask (`Say`, `Ask`,
`Record`, `Dial`, `GoTo`, `Hangup`), what to store (`effects`, carried out
by the caller of this module) and how the call log should read (`outcome`).
Nothing here touches HTTP or the database, so every path is a plain unit test.

Because the whole state is in the action URL, a webhook Twilio delivers twice
produces the same turn twice: retry counters cannot be counted double, and
any app server can answer any step. The effects are idempotent per call.

The call, top to bottom:

    start -> LANGUAGE (only when several languages are offered; silence: default)
          -> CALLBACK_NUMBER -> CONFIRM_CALLBACK     (only when the number is withheld)
          -> EXISTING: "we'll call you back"         (only when the caller has a request)
          -> POSTCODE -> CONFIRM_POSTCODE -> REQUEST_TYPE -> VOICE_MESSAGE
          -> (store the request) -> DONE: the code, twice; goodbye

A number (its own or a typed one) holds at most `max_open_requests_per_number`
open requests on each helpline (the repeat-caller menu, too, tells only that
line's): a caller at the limit who asks for a new one hears why, and is asked
again (EXISTING: their code, cancelling; CONFIRM_CALLBACK: another number),
with the operator a key away; the third time ends as any stuck question does.
Checked when the caller asks, not when the request is stored:
nothing a caller said is ever dropped at the end of the call.

Every question shares the rules in `_answer`: `*` repeats it, `0` reaches the
operator (when one is configured), silence asks once more and then ends
politely, and the third invalid answer transfers to the operator or says
goodbye with the helpline hours. OPERATOR dials; when nobody answers,
OPERATOR_MESSAGE records a message for the operators.

Calls the line places start with `call_back()` instead of `start()`, and then
follow the same rules:

    CALLBACK_CODE (the code, twice) -> CONFIRM_CANCEL
    BRIDGE_OFFER (the volunteer: press 1) -> BRIDGE_DIAL (<Dial> the caller)
    CALLDOWN ("do you still need help?": 1 keeps, 2 closes; a machine hears nothing)
    CLAIM_NOTICE (a volunteer took the request: within how long, and the code)

Caller ID is easy to forge, so a caller's code is never read out, and a request
never cancelled, on a call *from* their number: the repeat caller hears that
they will be called back, and only the call *to* the number on record
(app/calls/outbound.py) reads the code and offers cancelling.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from babel.dates import format_date

from app.calls.bridge import Bridge
from app.calls.calldown import CLOSED, KEPT, NOT_REACHED, OPERATOR, CalldownInfo
from app.config import RequestType
from app.helplines import DEFAULT_SLUG
from app.models import CallOutcome, CallStep, RequestStatus
from app.phone_numbers import TYPED_NUMBER
from app.requests.intake import ACTIVE
from app.zones.postcodes import POSTCODE
from voice.prompts import Catalog

# Seconds Twilio waits for a key after a question has been read out (and, when
# typing several digits, between two keys). Never under 8: many callers are
# elderly, and some need both hands to find the keys.
MENU_TIMEOUT = 8
TYPING_TIMEOUT = 10
# A silence after the question is answered by asking once more; the next one ends.
SILENCES_BEFORE_GOODBYE = 2
# The third invalid answer to one question puts the caller through to a person.
INVALID_ANSWERS_BEFORE_HELP = 3
MESSAGE_SECONDS = 60
OPERATOR_MESSAGE_SECONDS = 120
# Seconds of silence that end a recording (and, right after the beep, skip it).
RECORDING_SILENCE = 5
OPERATOR_RING_SECONDS = 25


# -- the configuration the flow needs -------------------------------------------------


@dataclass(frozen=True)
class Line:
    """The phone line as configured: languages, menus, the operator, the hours."""

    languages: tuple[str, ...]
    default_language: str
    catalogs: dict[str, Catalog]
    request_types: tuple[RequestType, ...]
    voices: dict[str, str]  # the <Say> voice of each language
    operator_phone: str
    hours: dict[str, str]
    area: dict[str, str]  # the zone profile's area, as spoken in each language
    max_open_requests_per_number: int
    helpline: str = DEFAULT_SLUG  # the slug of the helpline this line belongs to (app/helplines.py)
    hotline_number: str = ""  # the caller ID of calls through the hotline
    claim_timeout_hours: int = 24  # how soon a volunteer who took a request calls

    def say(self, language: str, sentence: str, **fields: str) -> Say:
        return Say(self.catalogs[language].say(sentence, **fields), language)

    def request_type(self, code: str) -> RequestType | None:
        return next((t for t in self.request_types if t.code == code), None)

    def type_label(self, code: str, language: str) -> str:
        known = self.request_type(code)
        return known.label(language) if known else code


# -- the state that travels in the action URL -----------------------------------------


@dataclass(frozen=True)
class State:
    """Where a call is: the question asked, and what the caller has chosen so far."""

    step: CallStep
    language: str
    turn: int = 0  # the webhook's number in this call; the log never goes back to a lower one
    silences: int = 0  # for the current question
    invalid: int = 0  # for the current question
    postcode: str = ""
    request_type: str = ""
    reference: str = ""  # the caller's existing request this call is about
    bridge: int = 0  # the volunteer's call through the hotline (app/calls/bridge.py)
    calldown: int = 0  # the "still need help?" call (app/calls/calldown.py)


# What the caller has always chosen by the time the flow asks each question: a state
# without it (from a broken or forged action URL) is not one the flow could be in.
CHOSEN_BEFORE: dict[CallStep, tuple[str, ...]] = {
    CallStep.CONFIRM_POSTCODE: ("postcode",),
    CallStep.REQUEST_TYPE: ("postcode",),
    CallStep.VOICE_MESSAGE: ("postcode", "request_type"),
}


# -- what the caller did ---------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    digits: str


@dataclass(frozen=True)
class NoAnswer:
    """The question timed out (or a recording stayed empty): Twilio fell through."""


@dataclass(frozen=True)
class Recording:
    url: str
    seconds: int


@dataclass(frozen=True)
class DialEnded:
    answered: bool
    seconds: int = 0  # how long the dialled person talked


@dataclass(frozen=True)
class Arrive:
    """A redirect into a state that speaks first (after something was stored)."""


Event = Keys | NoAnswer | Recording | DialEnded | Arrive


# -- what the flow may read ------------------------------------------------------------


@dataclass(frozen=True)
class RequestInfo:
    reference: str
    request_type: str
    status: str
    verification_code: str


@dataclass(frozen=True)
class Place:
    postcode: str
    name: str  # the neighbourhood, read back after the digits
    zone_id: int


class Facts(Protocol):
    """Read-only answers from the database about this call and its caller."""

    @property
    def caller_withheld(self) -> bool: ...

    def active_request(self) -> RequestInfo | None:
        """The caller's open or claimed request on this helpline (never asked for a
        withheld number)."""

    def request(self, reference: str) -> RequestInfo | None:
        """One of the caller's requests, by reference."""

    def place(self, postcode: str) -> Place | None:
        """The postcode's neighbourhood and zone, or None outside every zone."""

    def stored_request(self) -> RequestInfo | None:
        """The request this call created."""

    def callback_number(self) -> str:
        """What a caller with a withheld number typed to be called back on."""

    def open_request_count(self) -> int:
        """How many open or claimed requests the number this call's request would be
        stored under already has on this helpline: the caller's own, or the one they typed."""

    def bridge(self, bridge_id: int) -> Bridge | None:
        """Whom a volunteer's call through the hotline dials (None: no longer theirs)."""

    def calldown(self, calldown_id: int) -> CalldownInfo | None:
        """What a calldown asks about (None: the request is no longer open)."""


# -- what the caller hears -------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    text: str
    language: str


@dataclass(frozen=True)
class Pause:
    seconds: int = 1


@dataclass(frozen=True)
class Ask:
    """<Gather>: read out `prompts` and post the keys pressed to `state`.

    When no key comes, Twilio falls through: to `otherwise` when given, else
    back to `state` with NoAnswer.
    """

    state: State
    prompts: tuple[Say | Pause, ...]
    max_digits: int | None = 1  # None: until # or the timeout
    timeout: int = MENU_TIMEOUT
    otherwise: tuple[Verb, ...] | None = None


@dataclass(frozen=True)
class Record:
    """<Record> after a beep, posted to `state`; an empty one falls through as NoAnswer."""

    state: State
    max_seconds: int
    finish_on_key: str  # "" leaves Twilio's default: any key ends the recording


@dataclass(frozen=True)
class Dial:
    """<Dial> the operator; the outcome is posted to `state`, or with no state the call
    simply continues with what follows (used when the database may be down)."""

    number: str
    state: State | None
    caller_id: str = ""  # the number the dialled phone shows; "" : the call's own


@dataclass(frozen=True)
class GoTo:
    """<Redirect> to `state`, which then speaks (Arrive)."""

    state: State


@dataclass(frozen=True)
class Hangup:
    pass


Verb = Say | Pause | Ask | Record | Dial | GoTo | Hangup


# -- what to store ---------------------------------------------------------------------


@dataclass(frozen=True)
class CreateRequest:
    postcode: str
    request_type: str
    language: str
    message_url: str | None = None
    message_seconds: int | None = None


@dataclass(frozen=True)
class CancelRequest:
    reference: str


@dataclass(frozen=True)
class SaveCallbackNumber:
    number: str


@dataclass(frozen=True)
class SaveOperatorMessage:
    url: str
    seconds: int


@dataclass(frozen=True)
class CallBack:
    """Call the number on record back to read the code of `reference` (in `language`)."""

    reference: str
    language: str


@dataclass(frozen=True)
class BridgeConnecting:
    bridge: int


@dataclass(frozen=True)
class BridgeEnded:
    bridge: int
    answered: bool
    seconds: int


@dataclass(frozen=True)
class CalldownEnded:
    calldown: int
    result: str  # app/calls/calldown.py: kept, closed, operator, not_reached


Effect = (
    CreateRequest
    | CancelRequest
    | SaveCallbackNumber
    | SaveOperatorMessage
    | CallBack
    | BridgeConnecting
    | BridgeEnded
    | CalldownEnded
)


@dataclass(frozen=True)
class Turn:
    """The answer to one webhook."""

    state: State  # where the call is now: the call log's last step
    reply: tuple[Verb, ...]
    effects: tuple[Effect, ...] = ()
    outcome: CallOutcome | None = None  # None: the log's outcome stays as it is


@dataclass(frozen=True)
class Invalid:
    """Not an answer to the question: what to tell the caller before asking again."""

    sentences: tuple[Say, ...]
    outcome: CallOutcome = CallOutcome.GAVE_UP  # if this was the last straw


# -- the machine -----------------------------------------------------------------------


def start(line: Line, facts: Facts) -> Turn:
    """The first webhook of a call: the language menu, or straight to the first question."""
    state = State(step=CallStep.LANGUAGE, language=line.default_language, turn=1)
    if len(line.languages) > 1:
        return Turn(state, _question(line, state, facts))
    return _after_language(line, state, facts, before=(line.say(state.language, "welcome"),))


def advance(line: Line, state: State, event: Event, facts: Facts) -> Turn:
    """Every later webhook: where the call was and what the caller did -> the next turn."""
    now = replace(state, turn=state.turn + 1)
    if isinstance(event, Arrive):
        return Turn(now, _question(line, now, facts))
    if now.step is CallStep.VOICE_MESSAGE:
        return _store_request(now, event)
    if now.step is CallStep.OPERATOR:
        return _after_dial(line, now, event, facts)
    if now.step is CallStep.OPERATOR_MESSAGE:
        return _after_operator_message(line, now, event)
    if now.step is CallStep.BRIDGE_DIAL:
        return _after_bridge(line, now, event)
    return _answer(line, now, event, facts)


def call_back(line: Line, state: State, facts: Facts, machine: bool = False) -> Turn:
    """The first webhook of a call the line placed: who is calling, then `state`'s question.

    `machine`: Twilio's answering-machine detection heard one; a calldown then hangs up
    (it is tried again later) rather than leave a message anyone could play back.
    """
    if state.step is CallStep.CALLDOWN and machine:
        return Turn(state, (Hangup(),), effects=(CalldownEnded(state.calldown, NOT_REACHED),))
    hello = (line.say(state.language, "callback_hello"),)
    if state.step in (CallStep.BRIDGE_OFFER, CallStep.CALLDOWN, CallStep.CLAIM_NOTICE):
        hello = ()  # the question names the hotline itself
    return Turn(state, _question(line, state, facts, before=hello))


def apology(line: Line, language: str, offer_operator: bool) -> tuple[Verb, ...]:
    """What a caller hears when something broke: sorry, then a person or the hours.

    Used when the database may be down, so it needs nothing but the configuration,
    and its <Dial> has no action: when nobody answers, the goodbye follows.
    """
    language = language if language in line.catalogs else line.default_language
    verbs: list[Verb] = [line.say(language, "technical_problem")]
    if offer_operator and line.operator_phone:
        verbs += [line.say(language, "connecting"), Dial(line.operator_phone, None)]
    verbs += [
        line.say(language, "call_again", hours=line.hours[language]),
        line.say(language, "goodbye"),
        Hangup(),
    ]
    return tuple(verbs)


def spell(digits: str) -> str:
    """'10115' -> '1, 0, 1, 1, 5': read out digit by digit, with a breath between."""
    return ", ".join(digits)


# -- the rules every question shares ---------------------------------------------------


def _answer(line: Line, state: State, event: Event, facts: Facts) -> Turn:
    lang = state.language
    if isinstance(event, NoAnswer):
        if state.silences + 1 >= SILENCES_BEFORE_GOODBYE:
            return _after_silence(line, state, facts)
        again = replace(state, silences=state.silences + 1)
        return Turn(again, _question(line, again, facts, before=(line.say(lang, "not_heard"),)))
    if not isinstance(event, Keys):
        raise ValueError(f"{event!r} does not answer the question {state.step}")
    keys = event.digits
    if not keys:
        return _answer(line, state, NoAnswer(), facts)
    if "*" in keys:
        return Turn(state, _question(line, state, facts))
    if keys == "0" and line.operator_phone:
        if state.step is CallStep.CALLDOWN:
            put_through = _to_operator(line, state)
            return replace(put_through, effects=(CalldownEnded(state.calldown, OPERATOR),))
        return _to_operator(line, state)
    answered = ANSWERS[state.step](line, state, keys, facts)
    if isinstance(answered, Turn):
        return answered
    if state.invalid + 1 >= INVALID_ANSWERS_BEFORE_HELP:
        return _stuck(line, state, answered, facts)
    again = replace(state, invalid=state.invalid + 1)
    return Turn(again, _question(line, again, facts, before=answered.sentences))


def _after_silence(line: Line, state: State, facts: Facts) -> Turn:
    lang = state.language
    if state.step is CallStep.CALLDOWN:
        # Nobody chose: as good as no answer, so the call is tried once more.
        said = (line.say(lang, "goodbye"), Hangup())
        return Turn(state, said, effects=(CalldownEnded(state.calldown, NOT_REACHED),))
    if state.step is CallStep.LANGUAGE:
        return _after_language(line, state, facts)
    if state.step in (
        CallStep.EXISTING,
        CallStep.DONE,
        CallStep.CALLBACK_CODE,
        CallStep.BRIDGE_OFFER,
    ):
        return Turn(state, (line.say(lang, "goodbye"), Hangup()), outcome=CallOutcome.REPEAT_CALLER)
    if state.step in (CallStep.CALLBACK_NUMBER, CallStep.CONFIRM_CALLBACK):
        explained = (line.say(lang, "not_heard"), line.say(lang, "no_number"))
    else:
        explained = (line.say(lang, "not_heard"),)
    return Turn(state, explained + _goodbye_with_hours(line, lang), outcome=CallOutcome.GAVE_UP)


def _stuck(line: Line, state: State, why: Invalid, facts: Facts) -> Turn:
    """The third invalid answer: a person if there is one, else a kind goodbye."""
    if line.operator_phone:
        return _to_operator(line, state, before=why.sentences)
    lang = state.language
    said = why.sentences
    if why.outcome is not CallOutcome.OUT_OF_AREA:
        said += (line.say(lang, "sorry_no_success"),)
    if state.step is CallStep.CALLBACK_NUMBER:
        said += (line.say(lang, "no_number"),)
    return Turn(state, said + _goodbye_with_hours(line, lang), outcome=why.outcome)


def _goodbye_with_hours(line: Line, lang: str) -> tuple[Verb, ...]:
    return (
        line.say(lang, "call_again", hours=line.hours[lang]),
        line.say(lang, "goodbye"),
        Hangup(),
    )


def _ask(line: Line, state: State, step: CallStep, facts: Facts, before=(), **chosen) -> Turn:
    """Move on to the next question (its retry counters start again)."""
    new = replace(state, step=step, silences=0, invalid=0, **chosen)
    return Turn(new, _question(line, new, facts, before=before))


# -- the questions, in the order a caller meets them -----------------------------------


def _question(line: Line, state: State, facts: Facts, before=()) -> tuple[Verb, ...]:
    """What the caller hears when `state` asks its question (again)."""
    lang = state.language
    say = line.say
    before = tuple(before)
    match state.step:
        case CallStep.LANGUAGE:
            # Each option in its own language and voice, so every caller hears theirs.
            options = tuple(
                say(code, "language_option", digit=str(i))
                for i, code in enumerate(line.languages, start=1)
            )
            return (Ask(state, before + (say(lang, "welcome"),) + options),)
        case CallStep.CALLBACK_NUMBER:
            prompt = before + (say(lang, "ask_callback_number"),)
            return (Ask(state, prompt, max_digits=None, timeout=TYPING_TIMEOUT),)
        case CallStep.CONFIRM_CALLBACK:
            return _confirm_number(line, state, facts.callback_number(), before)
        case CallStep.EXISTING:
            request = facts.request(state.reference)
            if request is None:
                summary = (say(lang, "already_closed"),)
            else:
                claimed = request.status == RequestStatus.CLAIMED
                sentence = "existing_claimed" if claimed else "existing_open"
                summary = (say(lang, sentence, type=line.type_label(request.request_type, lang)),)
            return (Ask(state, before + summary + (say(lang, "existing_menu"),)),)
        case CallStep.CONFIRM_CANCEL:
            return (Ask(state, before + (say(lang, "confirm_cancel"),)),)
        case CallStep.CALLBACK_CODE:
            request = facts.request(state.reference)
            if request is None or request.status not in ACTIVE or not request.verification_code:
                return before + (say(lang, "already_closed"), say(lang, "goodbye"), Hangup())
            code = _code_twice(line, state, request.verification_code)
            return before + code + (Ask(state, (say(lang, "callback_menu"),)),)
        case CallStep.CLAIM_NOTICE:
            request = facts.request(state.reference)
            goodbye = (say(lang, "goodbye"), Hangup())
            if request is None or request.status != RequestStatus.CLAIMED:
                return before + goodbye
            hours = str(line.claim_timeout_hours)
            notice = say(lang, "claim_notice", hours=hours)
            code = _code_twice(line, state, request.verification_code)
            return before + (notice,) + code + goodbye
        case CallStep.CALLDOWN:
            asked = facts.calldown(state.calldown)
            if asked is None:
                return before + (say(lang, "goodbye"), Hangup())
            intro = say(
                lang,
                "calldown_intro",
                type=line.type_label(asked.request_type, lang),
                date=format_date(asked.asked_on, format="long", locale=lang),
            )
            menu = (say(lang, "calldown_menu"),)
            if line.operator_phone:
                menu += (say(lang, "operator_hint"),)
            return (Ask(state, before + (intro,) + menu),)
        case CallStep.BRIDGE_OFFER:
            bridge = facts.bridge(state.bridge)
            if bridge is None:
                return before + (say(lang, "bridge_gone"), say(lang, "goodbye"), Hangup())
            place = facts.place(bridge.postcode)
            offer = say(
                lang,
                "bridge_offer",
                reference=spell(bridge.reference.replace("-", "")),
                type=line.type_label(bridge.request_type, lang),
                place=place.name if place else spell(bridge.postcode),
            )
            return (Ask(state, before + (offer,)),)
        case CallStep.POSTCODE:
            prompt = before + (say(lang, "ask_postcode"),)
            return (Ask(state, prompt, max_digits=5, timeout=TYPING_TIMEOUT),)
        case CallStep.CONFIRM_POSTCODE:
            place = facts.place(state.postcode)
            name = place.name if place else ""
            readback = say(lang, "read_back_place", digits=spell(state.postcode), place=name)
            return (Ask(state, before + (readback, say(lang, "confirm"))),)
        case CallStep.REQUEST_TYPE:
            options = tuple(
                say(lang, "request_type_option", label=t.label(lang), digit=t.digit)
                for t in line.request_types
            )
            prompt = before + (say(lang, "ask_request_type"),) + options
            return (Ask(state, prompt + (say(lang, "repeat_hint"),)),)
        case CallStep.VOICE_MESSAGE:
            return before + (
                say(lang, "ask_message"),
                Record(state, max_seconds=MESSAGE_SECONDS, finish_on_key=""),
            )
        case CallStep.DONE:
            code = _stored_code(facts)
            return (
                before
                + (say(lang, "request_stored"), say(lang, "code_explained"))
                + _code_twice(line, state, code)
                + (say(lang, "what_next"),)
                + _offer_code_again(line, state)
            )
    raise ValueError(f"no question at step {state.step}")


def _language(line: Line, state: State, keys: str, facts: Facts) -> Turn | Invalid:
    # Compared as text: str.isdigit() also takes "²" or "١", which int() refuses or reads.
    options = {str(i): code for i, code in enumerate(line.languages, start=1)}
    if keys in options:
        return _after_language(line, replace(state, language=options[keys]), facts)
    return Invalid((line.say(state.language, "not_understood"),))


def _after_language(line: Line, state: State, facts: Facts, before=()) -> Turn:
    lang = state.language
    before = tuple(before)
    if line.operator_phone:
        before += (line.say(lang, "operator_hint"),)
    if facts.caller_withheld:
        # Without a number nobody can call back, and there is no earlier request to find.
        return _ask(line, state, CallStep.CALLBACK_NUMBER, facts, before)
    existing = facts.active_request()
    if existing is not None:
        return _ask(line, state, CallStep.EXISTING, facts, before, reference=existing.reference)
    return _ask(line, state, CallStep.POSTCODE, facts, before)


def _callback_number(line: Line, state: State, keys: str, facts: Facts) -> Turn | Invalid:
    if not TYPED_NUMBER.fullmatch(keys):
        return Invalid((line.say(state.language, "callback_number_invalid"),))
    new = replace(state, step=CallStep.CONFIRM_CALLBACK, silences=0, invalid=0)
    return Turn(
        new, _confirm_number(line, new, keys, before=()), effects=(SaveCallbackNumber(keys),)
    )


def _confirm_number(line: Line, state: State, number: str, before) -> tuple[Verb, ...]:
    lang = state.language
    readback = line.say(lang, "read_back", digits=spell(number))
    return (Ask(state, tuple(before) + (readback, line.say(lang, "confirm"))),)


def _confirm_callback(line: Line, state: State, keys: str, facts: Facts) -> Turn | Invalid:
    if keys == "1":
        if facts.open_request_count() >= line.max_open_requests_per_number:
            # Not how many: anyone can type anyone's number.
            return _request_limit(line, state, "request_limit_typed")
        return _ask(line, state, CallStep.POSTCODE, facts)
    if keys == "2":
        return _ask(line, state, CallStep.CALLBACK_NUMBER, facts)
    return Invalid((line.say(state.language, "not_understood"),))


def _existing(line: Line, state: State, keys: str, facts: Facts) -> Turn | Invalid:
    lang = state.language
    if keys in ("1", "2"):
        # The code or cancelling: only on a call to the number on record (see the top).
        said = (line.say(lang, "calling_back"), line.say(lang, "goodbye"), Hangup())
        effects = (CallBack(state.reference, lang),)
        return Turn(state, said, effects=effects, outcome=CallOutcome.REPEAT_CALLER)
    if keys == "3":
        count = facts.open_request_count()
        if count >= line.max_open_requests_per_number:
            return _request_limit(line, state, "request_limit", count=str(count))
        return _ask(line, state, CallStep.POSTCODE, facts)
    return Invalid((line.say(lang, "not_understood"),))


def _callback_code(line: Line, state: State, keys: str, facts: Facts) -> Turn | Invalid:
    if keys == "1":
        return _ask(line, state, CallStep.CONFIRM_CANCEL, facts)
    if keys == "2":
        return Turn(state, _question(line, state, facts))
    return Invalid((line.say(state.language, "not_understood"),))


def _calldown(line: Line, state: State, keys: str, facts: Facts) -> Turn | Invalid:
    lang = state.language
    goodbye = (line.say(lang, "goodbye"), Hangup())
    if keys == "1":
        said = (line.say(lang, "calldown_kept"),) + goodbye
        return Turn(state, said, effects=(CalldownEnded(state.calldown, KEPT),))
    if keys == "2":
        said = (line.say(lang, "cancelled"),) + goodbye
        return Turn(state, said, effects=(CalldownEnded(state.calldown, CLOSED),))
    return Invalid((line.say(lang, "not_understood"),))


def _bridge_offer(line: Line, state: State, keys: str, facts: Facts) -> Turn | Invalid:
    lang = state.language
    if keys != "1":
        return Invalid((line.say(lang, "not_understood"),))
    bridge = facts.bridge(state.bridge)
    if bridge is None:
        return Turn(state, (line.say(lang, "bridge_gone"), line.say(lang, "goodbye"), Hangup()))
    new = replace(state, step=CallStep.BRIDGE_DIAL, silences=0, invalid=0)
    # The hotline's number, never the volunteer's: the caller knows it, and it is
    # the one number of the call that gives nobody away.
    dial = Dial(bridge.caller_number, new, caller_id=line.hotline_number)
    said = (line.say(lang, "bridge_connecting"), dial)
    return Turn(new, said, effects=(BridgeConnecting(state.bridge),))


def _after_bridge(line: Line, state: State, event: Event) -> Turn:
    lang = state.language
    if not isinstance(event, DialEnded):
        raise ValueError(f"{event!r} does not end a call through the hotline")
    ended = BridgeEnded(state.bridge, event.answered, event.seconds)
    said: tuple[Verb, ...] = (line.say(lang, "goodbye"), Hangup())
    if not event.answered:
        said = (line.say(lang, "bridge_unreachable"),) + said
    return Turn(state, said, effects=(ended,))


def _request_limit(line: Line, state: State, sentence: str, **fields: str) -> Invalid:
    """No new request for this number: why, and (when there is one) that 0 reaches a person;
    then the question again."""
    lang = state.language
    said = (line.say(lang, sentence, **fields),)
    if line.operator_phone:
        said += (line.say(lang, "operator_hint"),)
    return Invalid(said, outcome=CallOutcome.REPEAT_CALLER)


def _confirm_cancel(line: Line, state: State, keys: str, facts: Facts) -> Turn | Invalid:
    lang = state.language
    if keys == "1":
        request = facts.request(state.reference)
        status = request.status if request else ""
        if status in (RequestStatus.OPEN, RequestStatus.CLAIMED, RequestStatus.CANCELLED):
            # Cancelled already: this is Twilio delivering the same answer twice.
            said = line.say(lang, "cancelled")
            return Turn(
                state,
                (said, line.say(lang, "goodbye"), Hangup()),
                effects=(CancelRequest(state.reference),),
                outcome=CallOutcome.CANCELLED,
            )
        said = line.say(lang, "already_closed")
        return Turn(
            state, (said, line.say(lang, "goodbye"), Hangup()), outcome=CallOutcome.REPEAT_CALLER
        )
    if keys == "2":
        said = (line.say(lang, "kept"), line.say(lang, "goodbye"), Hangup())
        return Turn(state, said, outcome=CallOutcome.REPEAT_CALLER)
    return Invalid((line.say(lang, "not_understood"),))


def _postcode(line: Line, state: State, keys: str, facts: Facts) -> Turn | Invalid:
    lang = state.language
    if not POSTCODE.fullmatch(keys):
        return Invalid((line.say(lang, "postcode_has_five_digits"),))
    if facts.place(keys) is None:
        area = line.area.get(lang, "")
        said = line.say(lang, "out_of_area", digits=spell(keys), area=area)
        return Invalid((said,), outcome=CallOutcome.OUT_OF_AREA)
    return _ask(line, state, CallStep.CONFIRM_POSTCODE, facts, postcode=keys)


def _confirm_postcode(line: Line, state: State, keys: str, facts: Facts) -> Turn | Invalid:
    if keys == "1":
        return _ask(line, state, CallStep.REQUEST_TYPE, facts)
    if keys == "2":
        return _ask(line, state, CallStep.POSTCODE, facts, postcode="")
    return Invalid((line.say(state.language, "not_understood"),))


def _request_type(line: Line, state: State, keys: str, facts: Facts) -> Turn | Invalid:
    chosen = next((t for t in line.request_types if t.digit == keys), None)
    if chosen is None:
        return Invalid((line.say(state.language, "not_understood"),))
    return _ask(line, state, CallStep.VOICE_MESSAGE, facts, request_type=chosen.code)


def _store_request(state: State, event: Event) -> Turn:
    """The message was left (or skipped): store the request, then say its code."""
    if isinstance(event, Recording) and event.seconds > 0:
        message_url, message_seconds = event.url, event.seconds
    elif isinstance(event, Recording | NoAnswer):
        message_url, message_seconds = None, None
    else:
        raise ValueError(f"{event!r} does not end a recording")
    store = CreateRequest(
        postcode=state.postcode,
        request_type=state.request_type,
        language=state.language,
        message_url=message_url,
        message_seconds=message_seconds,
    )
    done = replace(state, step=CallStep.DONE, silences=0, invalid=0)
    # The code exists only once the request is stored, so the next webhook says it.
    return Turn(done, (GoTo(done),), effects=(store,), outcome=CallOutcome.REQUEST_CREATED)


def _done(line: Line, state: State, keys: str, facts: Facts) -> Turn:
    """After the code: any key hears it again."""
    code = _stored_code(facts)
    return Turn(state, _code_twice(line, state, code) + _offer_code_again(line, state))


def _stored_code(facts: Facts) -> str:
    request = facts.stored_request()
    if request is None or not request.verification_code:
        raise LookupError("the call's request is not stored")
    return request.verification_code


def _code_twice(line: Line, state: State, code: str) -> tuple[Verb, ...]:
    lang = state.language
    return (
        line.say(lang, "your_code", code=spell(code)),
        Pause(1),
        line.say(lang, "code_again", code=spell(code)),
    )


def _offer_code_again(line: Line, state: State) -> tuple[Verb, ...]:
    lang = state.language
    goodbye = (line.say(lang, "goodbye"), Hangup())
    return (Ask(state, (line.say(lang, "hear_code_again"),), otherwise=goodbye),)


# -- a person on the line --------------------------------------------------------------


def _to_operator(line: Line, state: State, before=()) -> Turn:
    lang = state.language
    new = replace(state, step=CallStep.OPERATOR, silences=0, invalid=0)
    said = tuple(before) + (line.say(lang, "connecting"),)
    return Turn(new, said + (Dial(line.operator_phone, new),), outcome=CallOutcome.TRANSFERRED)


def _after_dial(line: Line, state: State, event: Event, facts: Facts) -> Turn:
    lang = state.language
    if not isinstance(event, DialEnded):
        raise ValueError(f"{event!r} does not end a transfer")
    if event.answered:
        return Turn(state, (line.say(lang, "goodbye"), Hangup()), outcome=CallOutcome.TRANSFERRED)
    new = replace(state, step=CallStep.OPERATOR_MESSAGE)
    said = (line.say(lang, "nobody_free"),)
    if facts.caller_withheld and not facts.callback_number():
        said += (line.say(lang, "say_your_number"),)
    record = Record(new, max_seconds=OPERATOR_MESSAGE_SECONDS, finish_on_key="#")
    return Turn(new, said + (record,), outcome=CallOutcome.GAVE_UP)


def _after_operator_message(line: Line, state: State, event: Event) -> Turn:
    lang = state.language
    if isinstance(event, Recording) and event.seconds > 0:
        said = (line.say(lang, "message_thanks"), line.say(lang, "goodbye"), Hangup())
        return Turn(
            state,
            said,
            effects=(SaveOperatorMessage(event.url, event.seconds),),
            outcome=CallOutcome.OPERATOR_MESSAGE,
        )
    if isinstance(event, Recording | NoAnswer):
        return Turn(state, _goodbye_with_hours(line, lang), outcome=CallOutcome.GAVE_UP)
    raise ValueError(f"{event!r} does not end a recording")


ANSWERS: dict[CallStep, Callable[[Line, State, str, Facts], Turn | Invalid]] = {
    CallStep.LANGUAGE: _language,
    CallStep.CALLBACK_NUMBER: _callback_number,
    CallStep.CONFIRM_CALLBACK: _confirm_callback,
    CallStep.EXISTING: _existing,
    CallStep.CONFIRM_CANCEL: _confirm_cancel,
    CallStep.CALLBACK_CODE: _callback_code,
    CallStep.BRIDGE_OFFER: _bridge_offer,
    CallStep.CALLDOWN: _calldown,
    CallStep.POSTCODE: _postcode,
    CallStep.CONFIRM_POSTCODE: _confirm_postcode,
    CallStep.REQUEST_TYPE: _request_type,
    CallStep.DONE: _done,
}
