"""TwiML: the one place where the flow's replies become XML, and states become URLs.

Every <Say> gets its language's locale and configured voice. Every action URL
carries the whole call state in its query string: Twilio signs the full URL
it requests, so the state cannot be forged, and any app server can answer
the next step without remembering anything.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote_plus

from flask import Response, current_app, request

from app.models import CallStep
from app.requests.intake import REFERENCE_ALPHABET
from app.zones.postcodes import POSTCODE
from voice.flow import (
    CHOSEN_BEFORE,
    OPERATOR_RING_SECONDS,
    RECORDING_SILENCE,
    Ask,
    Dial,
    GoTo,
    Hangup,
    Line,
    Pause,
    Record,
    Say,
    State,
    Verb,
)

# The largest turn an action URL may carry. A call lasts four hours at most (Twilio's
# limit) and every turn speaks for seconds, so no call gets near it; it keeps the
# turn, and the one after it, well inside the call log's integer column.
MAX_TURN = 100_000
# Retry counters are reset with every new question; anything above this is not ours.
MAX_COUNT = 99
REFERENCE = re.compile(f"[{REFERENCE_ALPHABET}]{{3}}-[{REFERENCE_ALPHABET}]{{3}}")

# Query parameters of an action URL that say how the request came about.
ON_NO_ANSWER = "nothing"  # a <Gather> timed out or a <Record> stayed empty
ON_ARRIVE = "arrive"  # a <Redirect> into a state that speaks first


def respond(line: Line, verbs: tuple[Verb, ...]) -> Response:
    """The TwiML response for a reply of the flow, as text/xml."""
    body = "".join(_verb(line, verb) for verb in verbs)
    return Response(_document(body), status=200, mimetype="text/xml")


def acknowledge() -> Response:
    """An empty TwiML response: for Twilio's status callbacks, which nobody hears."""
    return Response(_document(""), status=200, mimetype="text/xml")


# The TwiML is written as text, exactly as the twilio library's VoiceResponse writes it
# (its attributes in alphabetical order, an empty element as <Hangup />, the same
# escaping as xml.etree's; tests/test_twiml.py compares the two). Building the
# library's element tree and serialising it was a tenth of a webhook's time.
def _document(body: str) -> str:
    if not body:
        return '<?xml version="1.0" encoding="UTF-8"?><Response />'
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>'


def _verb(line: Line, verb: Verb) -> str:
    match verb:
        case Say(text=text, language=language):
            return _say(text, line.voices[language], line.catalogs[language].locale)
        case Pause(seconds=seconds):
            return _element("Pause", {"length": seconds})
        case Ask():
            attributes = {
                "action": action_url(verb.state),
                "finishOnKey": "#",
                "input": "dtmf",
                "method": "POST",
                "timeout": verb.timeout,
            }
            if verb.max_digits:
                attributes["numDigits"] = verb.max_digits
            prompts = "".join(_verb(line, prompt) for prompt in verb.prompts)
            gather = _element("Gather", attributes, inside=prompts)
            if verb.otherwise is None:
                return gather + _redirect(action_url(verb.state, on=ON_NO_ANSWER))
            return gather + "".join(_verb(line, after) for after in verb.otherwise)
        case Record():
            attributes = {
                "action": action_url(verb.state),
                "maxLength": verb.max_seconds,
                "method": "POST",
                "playBeep": "true",
                "timeout": RECORDING_SILENCE,
                "trim": "trim-silence",
            }
            if verb.finish_on_key:
                attributes["finishOnKey"] = verb.finish_on_key
            # Twilio does not request the action for an empty recording: it goes on here.
            record = _element("Record", attributes)
            return record + _redirect(action_url(verb.state, on=ON_NO_ANSWER))
        case Dial(number=number, state=state, caller_id=caller_id):
            attributes = {"timeout": OPERATOR_RING_SECONDS}
            if caller_id:
                attributes["callerId"] = caller_id
            if state is not None:
                attributes.update(action=action_url(state), method="POST")
            return _element("Dial", attributes, text=number)
        case GoTo(state=state):
            return _redirect(action_url(state, on=ON_ARRIVE))
        case Hangup():
            return "<Hangup />"
        case _:
            raise TypeError(f"not a TwiML verb: {verb!r}")


def _redirect(url: str) -> str:
    return _element("Redirect", {"method": "POST"}, text=url)


@lru_cache(maxsize=4096)
def _say(text: str, voice: str, locale: str) -> str:
    # The same sentences come again and again (a postcode or a code varies some):
    # each is escaped once.
    return _element("Say", {"language": locale, "voice": voice}, text=text)


def _element(name: str, attributes: dict, text: str = "", inside: str = "") -> str:
    """<name a="1" b="2">text or inside</name>, or <name a="1" /> when empty."""
    written = "".join(
        f' {key}="{_attribute_text(str(value))}"' for key, value in sorted(attributes.items())
    )
    if text:
        return f"<{name}{written}>{_text(text)}</{name}>"
    if inside:
        return f"<{name}{written}>{inside}</{name}>"
    return f"<{name}{written} />"


def _text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attribute_text(text: str) -> str:
    # As xml.etree writes attributes: line breaks and tabs as character references.
    return (
        _text(text)
        .replace('"', "&quot;")
        .replace("\r", "&#13;")
        .replace("\n", "&#10;")
        .replace("\t", "&#09;")
    )


# -- states in URLs --------------------------------------------------------------------


def state_query(state: State) -> dict[str, str]:
    """The query parameters that carry a state (defaults left out, to keep URLs short)."""
    query = {"step": state.step.value, "lang": state.language, "turn": str(state.turn)}
    optional = {
        "silences": state.silences,
        "invalid": state.invalid,
        "postcode": state.postcode,
        "type": state.request_type,
        "ref": state.reference,
        "bridge": state.bridge,
        "calldown": state.calldown,
    }
    query.update({k: str(v) for k, v in optional.items() if v})
    return query


def state_from_query(args, line: Line) -> State:
    """The state an action URL carries. Raises ValueError or KeyError on a broken URL.

    Only Twilio requests action URLs (they are signed), so a state the flow could
    never have written means a bug or a leaked auth token: it is refused (the
    caller hears the apology) rather than acted on or written to the call log.
    """
    language = args["lang"]
    if language not in line.catalogs:
        # Signed by Twilio, so ours, but from before a configuration change.
        language = line.default_language
    postcode = args.get("postcode", "")
    if postcode and not POSTCODE.fullmatch(postcode):
        raise ValueError(f"not a postcode: {postcode!r}")
    request_type = args.get("type", "")
    if request_type and line.request_type(request_type) is None:
        raise ValueError(f"not a configured request type: {request_type!r}")
    reference = args.get("ref", "")
    if reference and not REFERENCE.fullmatch(reference):
        raise ValueError(f"not a request reference: {reference!r}")
    state = State(
        step=CallStep(args["step"]),
        language=language,
        turn=_count(args["turn"], MAX_TURN),
        silences=_count(args.get("silences", "0"), MAX_COUNT),
        invalid=_count(args.get("invalid", "0"), MAX_COUNT),
        postcode=postcode,
        request_type=request_type,
        reference=reference,
        bridge=_count(args.get("bridge", "0"), MAX_TURN),
        calldown=_count(args.get("calldown", "0"), MAX_TURN),
    )
    missing = [name for name in CHOSEN_BEFORE.get(state.step, ()) if not getattr(state, name)]
    if missing:
        raise ValueError(f"a state at {state.step} without {', '.join(missing)}")
    return state


_quoted = lru_cache(maxsize=4096)(quote_plus)


def whole_number(text: str | None, largest: int = 999_999_999) -> int | None:
    """A count Twilio sends or our action URLs carry (seconds, a turn), or None.

    Not int() alone: that also reads "-5", " 7", "+7", "1_000" and "٧", and its
    numbers outgrow the database's integer columns (nine digits always fit).
    """
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > len(str(largest)):
        return None
    number = int(text)
    return number if number <= largest else None


def _count(text: str, largest: int) -> int:
    number = whole_number(text, largest)
    if number is None:
        raise ValueError(f"not a whole number from 0 to {largest}: {text!r}")
    return number


def action_url(state: State, on: str | None = None) -> str:
    """Where Twilio posts the caller's answer to `state`.

    Absolute under the configured public address, else relative: Twilio then
    resolves it against the URL it requested, which is what it signs.
    """
    query = state_query(state)
    if on:
        query["on"] = on
    # What urlencode() writes, with each value quoted once per process: the same few
    # (steps, languages, small numbers) come on every webhook.
    path = "/voice/step?" + "&".join(f"{key}={_quoted(value)}" for key, value in query.items())
    base = current_app.config["HOTLINE"].public_base_url
    return base + path if base else request.script_root + path
